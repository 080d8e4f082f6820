// Runs and corpora: making a run (fresh, from a checkpoint, the starter), finding one, parsing a
// corpus, the memory check, and the first set of a new workspace. Imports session.js,
// protocol.js and ../settings-schema.js.
import { checkSettings, DEFAULTS } from '../settings-schema.js';
import { session } from './session.js';
import { Coded, message, uid, warn } from './protocol.js';

export const BUILTIN = { id: 'builtin', url: 'default-corpus.txt' };
const STARTER_URL = 'starter.ckpt';
// Its training curve and held-out figures (scripts/starter-curve.mjs), drawn as its history.
const STARTER_CURVE_URL = 'starter-curve.json';

export function targetRuns(runId) { return runId ? session.runs.filter((r) => r.id === runId) : session.runs; }
export function findRun(runId) {
  const run = session.runs.find((r) => r.id === runId) ?? (runId === undefined ? session.runs[0] : null);
  if (!run) throw new Coded('error.noSuchRun');
  return run;
}

export function newRun(trainer, { id = uid('m'), name, settings, history, trainedSeconds = 0 } = {}) {
  const info = trainer.info();
  return {
    // The settings are the model's own (a stored model may have been opened with a smaller batch).
    id, name: name || defaultName(info), trainer, settings: settingsOf(info, settings?.backend),
    history: history ?? { losses: [], evals: [], flow: null },
    // steps and seconds: this session's; trainedSeconds: all the model's training, saved with it.
    info, running: false, steps: 0, seconds: 0, trainedSeconds, savedStep: info.step, savedTime: performance.now(), saving: null,
    evalAt: info.step, evalMs: 0, flowAt: -Infinity, startedAt: Date.now(), error: null,
  };
}
/** A stored model's record as a run; `copy`: a new library entry, not the record itself. */
export function runFromRecord(trainer, record, { copy = false } = {}) {
  const { settings, history, trainedSeconds } = record;
  const run = copy ? newRun(trainer, { name: `${record.name} (copy)`, settings, history, trainedSeconds })
    : newRun(trainer, { id: record.id, name: record.name, settings, history, trainedSeconds });
  // Stored compact (the starter, untrained): it stays so until it is trained.
  if (record.compact) run.compact = { bytes: record.bytes, step: record.step };
  return run;
}
function defaultName(info) {
  const base = info.cell.toUpperCase();
  const taken = new Set(session.runs.map((r) => r.name));
  for (let i = 1; ; i++) if (!taken.has(`${base} ${i}`)) return `${base} ${i}`;
}
function settingsOf(i, backend = session.backendPreference) {
  return { cell: i.cell, embedding: i.embedding, hidden: i.hidden, heads: i.heads, layers: i.layers, tied: i.tied, bias: i.bias,
    learningRate: i.learningRate, outputDropout: i.outputDropout, batchSize: i.batchSize, maxSeqLen: i.maxSeqLen, seed: i.seed, backend };
}

/**
 * Opens a saved model (a file, the library, the workspace, the starter). One whose batch would
 * not fit a tab's memory opens with the largest batch that does (the wasm module checks), and
 * the page says so, instead of crashing on the first step.
 */
export async function loadTrainer(bytes, corpusBytes, backend, name) {
  const trainer = await session.wasm.Trainer.load(bytes, corpusBytes, backend ?? session.backendPreference);
  const info = trainer.info();
  if (info.batchReducedFrom) warn('notice.batchReduced', { name, from: info.batchReducedFrom, to: info.batchSize });
  return trainer;
}

/** Fresh runs from `[{ name, settings }]` on a corpus; none are kept if one cannot be made. */
export async function createRuns(specs, onCorpus) {
  const fresh = [];
  try {
    for (const { name, settings } of specs) fresh.push(await createRun(settings, name, onCorpus, fresh));
  } catch (e) {
    for (const r of fresh) r.trainer.free();
    throw e;
  }
  return fresh;
}

/** Refuses a run that would not fit beside `others` (the runs that stay in memory). */
function checkMemory(settings, vocabSize, others = []) {
  const { wasm } = session;
  const need = wasm.estimateMemory(settings, vocabSize)
    + others.reduce((sum, r) => sum + wasm.estimateMemory(r.settings, r.trainer.info().corpus.vocabSize), 0);
  if (need > wasm.memoryBudget()) {
    throw new Coded('settings.tooBig', { gib: (need / 2 ** 30).toFixed(1) });
  }
}

export async function createRun(given, name, onCorpus = session.corpus, others = session.runs) {
  const { settings, problems } = checkSettings(given);
  if (problems.length) throw new Coded(problems[0].key, problems[0]);
  checkMemory(settings, onCorpus.info.vocabSize, others);
  const trainer = await session.wasm.Trainer.create(onCorpus.data, settings);
  return newRun(trainer, { name, settings });
}

/** A held-out evaluation of `run` at `step`, run a slice at a time by the loop. */
export function evalJob(run, step) {
  return { kind: 'eval', run, step, next: 0, total: 0, tokens: 0, ms: 0 };
}

// ---- corpora ----------------------------------------------------------------------------
export async function fetchBuiltin() {
  // A school network that drops the request: said as such, with what to do (the link stays).
  const res = await fetch(BUILTIN.url).catch((e) => { throw new Coded('error.builtinUnreachable', { message: e?.message ?? String(e) }); });
  if (!res.ok) throw new Coded('error.builtinMissing', { status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}

/** Parses a corpus without touching the current one (throws on bad input). */
export function parseCorpus(bytes, name, id) {
  const data = session.wasm.CorpusData.parse(bytes);
  return { id, name, bytes, data, info: data.info() };
}

// ---- a new workspace's first set ----------------------------------------------------------
/** The trained model the site ships (starter.ckpt, compact), as a run on the built-in corpus;
 * null if the site has none. */
async function loadStarter(name) {
  const res = await fetch(STARTER_URL).catch(() => null);
  if (!res?.ok) return null;
  const bytes = new Uint8Array(await res.arrayBuffer());
  const trainer = await loadTrainer(bytes, session.corpus.bytes, session.backendPreference, name);
  const curve = await starterCurve(trainer.info().step);
  const run = newRun(trainer, { name, history: curve && { losses: curve.losses, evals: curve.evals, flow: null },
    trainedSeconds: curve?.trainedSeconds ?? 0 });
  run.starter = true;
  run.compact = { bytes, step: trainer.info().step };
  return run;
}

/** The starter's shipped curve, if the site has one for this very model (its last step). */
/** The starter's shipped curve (`starter-curve.json`), if it is the starter of `step` (any, if null). */
export async function starterCurve(step) {
  try {
    const res = await fetch(STARTER_CURVE_URL);
    if (!res.ok) return null;
    const curve = await res.json();
    if ((step != null && curve.step !== step) || !Array.isArray(curve.losses) || !Array.isArray(curve.evals)) {
      console.warn(`shige worker: ${STARTER_CURVE_URL} is not the starter's (step ${curve.step}, the model's ${step})`);
      return null;
    }
    return curve;
  } catch (e) {
    console.warn(`shige worker: no ${STARTER_CURVE_URL}:`, e);
    return null;
  }
}

/**
 * The first set of a new workspace. A shared experiment, the starter model or the page's
 * settings, in that order; whichever cannot be made (a link or preset the tab cannot hold, a
 * site without a starter) is said, and the next is used, down to the form's defaults: the page
 * always starts with a model, ready to train. Returns the runs and which it was ('experiment',
 * 'settings', 'starter' or 'defaults').
 */
export async function firstRuns({ settings, useStarter, starterName, experiment }) {
  const { backendPreference, corpus } = session;
  if (experiment) {
    try {
      const specs = experiment.map(({ name, settings: s }) => ({ name, settings: { ...settings, ...s, backend: backendPreference } }));
      return { runs: await createRuns(specs, corpus), source: 'experiment' };
    } catch (e) {
      warn('notice.experimentRefused', { message: message(e) }, e);
    }
  } else {
    try {
      if (!useStarter) return { runs: [await createRun(settings, undefined, corpus, [])], source: 'settings' };
    } catch (e) {
      warn('notice.settingsRefused', { message: message(e) }, e);
    }
  }
  const starter = await loadStarter(starterName).catch((e) => { console.warn('shige worker: no starter model:', e); return null; });
  if (starter) {
    // A first visit shows the starter model's held-out perplexity before any training.
    session.jobs.push(evalJob(starter, starter.trainer.info().step));
    return { runs: [starter], source: 'starter' };
  }
  return { runs: [await createRun({ ...DEFAULTS, backend: backendPreference }, undefined, corpus, [])], source: 'defaults' };
}
