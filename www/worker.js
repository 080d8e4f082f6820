// The trainer's worker: owns the wasm Trainer so training never blocks the page.
// Messages in: { id, op, args }; replies: { id, ok, result | error }; events: { event, ... }.
import init, { Trainer } from './pkg/shige.js';
import * as store from './store.js';

let trainer = null;
let corpus = null;           // bytes of the corpus the trainer uses
let corpusName = '';
let running = false;
let settings = {};
let history = { losses: [], evals: [] };   // for the chart, saved with the model
let lastAutosave = 0;

const AUTOSAVE_EVERY = 200;  // steps
const STEPS_PER_CALL = 1;    // one step per call keeps generate/pause responsive

// All trainer calls run one at a time, in order.
let queue = Promise.resolve();
const serial = (fn) => { const run = queue.then(fn, fn); queue = run.catch(() => {}); return run; };

const post = (msg) => self.postMessage(msg);
const message = (e) => (e instanceof Error ? e.message : String(e));

async function makeTrainer(bytes, options) {
  return Trainer.create(bytes, options);
}

function info() {
  return { ...trainer.info(), corpusName, running, history, settings };
}

function autosave() {
  return serial(saveNow);
}

async function saveNow() {
  const bytes = await trainer.save();
  await store.put('model', { bytes, corpusName, history, settings, savedAt: Date.now() });
  lastAutosave = trainer.info().step;
}

const ops = {
  // Loads wasm, then the autosaved model (if any) or a fresh one on the given corpus.
  async start({ defaultCorpus, options }) {
    await init();
    settings = options;
    const saved = await store.get('model').catch(() => null);
    const savedCorpus = await store.get('corpus').catch(() => null);
    if (saved && savedCorpus) {
      try {
        trainer = await Trainer.load(saved.bytes, savedCorpus.bytes, saved.settings?.backend ?? options.backend);
        corpus = savedCorpus.bytes; corpusName = saved.corpusName; history = saved.history ?? history;
        settings = saved.settings ?? options;
        lastAutosave = trainer.info().step;
        return { ...info(), restored: true };
      } catch (e) {
        post({ event: 'warning', message: `The saved model could not be restored (${message(e)}); starting a new one.` });
      }
    }
    corpus = defaultCorpus; corpusName = 'the built-in 全唐诗';
    trainer = await makeTrainer(corpus, options);
    await store.put('corpus', { bytes: corpus });
    return { ...info(), restored: false };
  },

  // A new corpus: a new model on it, the previous one kept for undo. On bad input the
  // current model is kept.
  async setCorpus({ bytes, name, options }) {
    const next = await makeTrainer(bytes, options);   // throws on bad input; nothing changed yet
    await pauseTraining();
    await keepForUndo();
    trainer = next; corpus = bytes; corpusName = name; settings = options;
    history = { losses: [], evals: [] };
    await store.put('corpus', { bytes });
    await autosave();
    return info();
  },

  // A fresh model with new settings; the previous one is kept for undo.
  async reset({ options }) {
    const next = await makeTrainer(corpus, options);
    await pauseTraining();
    await keepForUndo();
    trainer = next; settings = options; history = { losses: [], evals: [] };
    await autosave();
    return info();
  },

  async undoReset() {
    const previous = await store.get('undo');
    if (!previous) throw new Error('there is no previous model to restore');
    await pauseTraining();
    trainer = await Trainer.load(previous.bytes, previous.corpus, previous.settings?.backend);
    history = previous.history; settings = previous.settings;
    corpus = previous.corpus; corpusName = previous.corpusName;
    await store.put('corpus', { bytes: corpus });
    await store.del('undo');
    await autosave();
    return info();
  },

  async train() {
    if (running) return info();
    running = true;
    trainLoop();
    return info();
  },

  async pause() {
    await pauseTraining();
    await autosave();
    return info();
  },

  generate(options) { return serial(() => trainer.generate(options)); },

  async evaluate() {
    const result = await serial(() => trainer.evaluate());
    return result;
  },

  save() { return serial(() => trainer.save()); },

  // Loads a checkpoint file (from this page or the CLI); on failure the current model stays.
  async load({ bytes }) {
    const next = await Trainer.load(bytes, corpus, settings.backend);
    await pauseTraining();
    await keepForUndo();
    trainer = next; history = { losses: [], evals: [] };
    await autosave();
    return info();
  },

  info() { return info(); },

  vocabulary() { return trainer.vocabulary(); },
};

// The model about to be replaced (with its corpus), so "Undo" can bring it back.
async function keepForUndo() {
  const bytes = await serial(() => trainer.save());
  await store.put('undo', { bytes, history, settings, corpus, corpusName });
}

let loopDone = Promise.resolve();
async function pauseTraining() {
  running = false;
  await loopDone;
}

function trainLoop() {
  loopDone = (async () => {
    let evalAt = trainer.info().step;
    while (running) {
      const started = performance.now();
      let losses;
      try {
        losses = await serial(() => trainer.trainSteps(STEPS_PER_CALL));
      } catch (e) {
        running = false;
        post({ event: 'error', message: message(e) });
        await recover();
        break;
      }
      const seconds = (performance.now() - started) / 1000;
      const i = trainer.info();
      for (let k = 0; k < losses.length; k++) history.losses.push([i.step - losses.length + k + 1, losses[k]]);
      post({ event: 'progress', losses: Array.from(losses), seconds, info: i });
      const evalEvery = Math.max(10, Math.min(200, Math.round(i.batchesPerEpoch / 10)));
      if (i.poemsValidation > 0 && i.step - evalAt >= evalEvery) {
        evalAt = i.step;
        try {
          const ev = await serial(() => trainer.evaluate());
          history.evals.push([i.step, ev.perplexity]);
          post({ event: 'eval', step: i.step, ...ev });
        } catch (e) { post({ event: 'error', message: message(e) }); }
      }
      if (i.step - lastAutosave >= AUTOSAVE_EVERY) {
        await autosave().catch((e) => post({ event: 'warning', message: `autosave failed: ${message(e)}` }));
      }
    }
    post({ event: 'stopped', info: info() });
  })();
}

// After a failure (e.g. the GPU was lost) make sure a working model exists: keep the current
// one if it can still be saved, else fall back to the last autosave on the CPU.
async function recover() {
  try {
    await autosave();
  } catch {
    const saved = await store.get('model').catch(() => null);
    if (saved) {
      trainer = await Trainer.load(saved.bytes, corpus, 'cpu');
      history = saved.history ?? history;
      post({ event: 'warning', message: `Recovered the model saved at step ${trainer.info().step}, now on the CPU.` });
    }
  }
}

// Operations run one after another, in the order they arrive; only `pause` acts at once
// (it stops the training loop, which runs beside the queue one step at a time).
let ops_queue = Promise.resolve();
self.onmessage = ({ data: { id, op, args } }) => {
  const run = async () => {
    try {
      post({ id, ok: true, result: await ops[op](args ?? {}) });
    } catch (e) {
      console.error(`shige worker: ${op} failed:`, e);
      post({ id, ok: false, error: message(e) });
    }
  };
  if (op === 'pause') running = false;
  ops_queue = ops_queue.then(run);
};
