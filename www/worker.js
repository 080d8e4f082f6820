// The trainer's worker: owns the wasm runs so training never blocks the page.
// Messages in: { id, op, args }; replies: { id, ok, result | error }; events: { event, ... }.
//
// One loop does everything, one small piece at a time: a message, a slice of an evaluation,
// or one training step of one run (runs take turns). After every piece it yields to the event
// loop, so a click (write a poem, pause, save) is answered before the next step.
// IndexedDB writes run beside the loop, never in it: a slow or failing disk cannot stall training.
import * as store from './store.js';
import { evalInterval } from './schedule.js';
import { checkSettings, DEFAULTS, LIMITS } from './settings-schema.js';
import { relaxedSimd, threads } from './vendor/wasm-feature-detect.js';

const AUTOSAVE_EVERY = 200;          // steps per run …
const AUTOSAVE_MS = 60_000;          // … or a minute of training, whichever comes first
const FLOW_EVERY = 50;               // steps per run between gradient-flow measurements
const EVAL_SLICE = 4;                // validation batches per loop piece
const BUILTIN = { id: 'builtin', url: 'default-corpus.txt' };
const STARTER_URL = 'starter.ckpt';

let wasm = null;                     // the wasm module (a fresh instance after a crash)
let instance = 0;
let backendPreference = 'auto';
const corpus = { id: null, name: '', bytes: null, data: null, info: null };
let runs = [];                       // the runs on the page, in order
let undoSlot = null;                 // { corpus, runs } the page had before the last replace
let workspace = { id: null, owner: false };
const autosave = { state: 'on', failures: 0, nextTryStep: 0, warned: false };
let trash = [];                      // library models deleted in this session (for undo)

const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);
const message = (e) => (e instanceof Error ? e.message : String(e));
const uid = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
/** A failure the page can put in the reader's language: `key` names its string in locales/. */
class Coded extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key;
    this.vars = vars;
  }
}
/** The translation key of an error from the wasm module (see `Coded` in crates/wasm), if it has one. */
const coded = (e) => (e?.key ? { key: e.key, vars: { ...e.vars } } : null);
/** A warning for the page; `cause`, an error whose own key (if any) is translated inside it. */
const warn = (key, vars = {}, cause = null) => post({ event: 'warning', key, vars, inner: coded(cause) });

// ---- the loop ---------------------------------------------------------------------------
const inbox = [];
const jobs = [];                     // background pieces: evaluation slices, gradient flow
let wake = null;
let turn = 0;

self.onmessage = ({ data }) => {
  // Pause takes effect at once: no further step starts, whatever is queued.
  if (data.op === 'pause') for (const r of targetRuns(data.args?.runId)) r.running = false;
  inbox.push(data);
  wake?.();
};

// A macrotask boundary: lets queued messages in (the CPU backend's promises resolve in
// microtasks, so without this the worker would never see them while training).
const channel = new MessageChannel();
const ticks = [];
channel.port1.onmessage = () => ticks.shift()?.();
const tick = () => new Promise((resolve) => { ticks.push(resolve); channel.port2.postMessage(0); });

async function loop() {
  for (;;) {
    // Nothing a piece throws may end the loop: every later button would hang.
    try {
      if (inbox.length) {
        await handle(inbox.shift());
      } else if (jobs.length) {
        await runJob(jobs.shift());
      } else {
        const active = runs.filter((r) => r.running);
        if (!active.length) {
          await new Promise((resolve) => { wake = resolve; });
          wake = null;
          continue;
        }
        await trainOne(active[turn++ % active.length]);
      }
    } catch (e) {
      console.error('shige worker: a piece of work failed:', e);
      for (const r of runs) r.running = false;
      warn('notice.workerError', { message: message(e) }, e);
      announce();
    }
    await tick();
  }
}

async function handle({ id, op, args }) {
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown operation ${op}`);
    const result = await ops[op](args ?? {});
    post({ id, ok: true, result }, result instanceof Uint8Array ? [result.buffer] : []);
  } catch (e) {
    // A coded error is the user's (a bad file, an unknown character): said on the page, not a bug.
    if (!e?.key) console.error(`shige worker: ${op} failed:`, e);
    // Every call is answered, whatever the recovery does. A failed recovery has its own notice
    // (`shown`: the page says it once).
    const crash = await crashed(e);
    if (crash === false) post({ id, ok: false, error: message(e), key: e?.key, vars: e?.vars });
    else if (crash === null) post({ id, ok: false, error: message(e), key: 'error.restarted', vars: { message: message(e) } });
    else post({ id, ok: false, error: message(crash), key: crash.key, vars: crash.vars, shown: true });
  }
}

// ---- runs -------------------------------------------------------------------------------
function targetRuns(runId) { return runId ? runs.filter((r) => r.id === runId) : runs; }
function findRun(runId) {
  const run = runs.find((r) => r.id === runId) ?? (runId === undefined ? runs[0] : null);
  if (!run) throw new Coded('error.noSuchRun');
  return run;
}

function newRun(trainer, { id = uid('m'), name, settings, history, trainedSeconds = 0 } = {}) {
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
function defaultName(info) {
  const base = info.cell.toUpperCase();
  const taken = new Set(runs.map((r) => r.name));
  for (let i = 1; ; i++) if (!taken.has(`${base} ${i}`)) return `${base} ${i}`;
}
function settingsOf(i, backend = backendPreference) {
  return { cell: i.cell, embedding: i.embedding, hidden: i.hidden, layers: i.layers, tied: i.tied,
    learningRate: i.learningRate, outputDropout: i.outputDropout, batchSize: i.batchSize, maxSeqLen: i.maxSeqLen, seed: i.seed, backend };
}

/**
 * Opens a saved model (a file, the library, the workspace, the starter). One whose batch would
 * not fit a tab's memory opens with the largest batch that does (the wasm module checks), and
 * the page says so, instead of crashing on the first step.
 */
async function loadTrainer(bytes, corpusBytes, backend, name) {
  const trainer = await wasm.Trainer.load(bytes, corpusBytes, backend ?? backendPreference);
  const info = trainer.info();
  if (info.batchReducedFrom) warn('notice.batchReduced', { name, from: info.batchReducedFrom, to: info.batchSize });
  return trainer;
}

/** Fresh runs from `[{ name, settings }]` on a corpus; none are kept if one cannot be made. */
async function createRuns(specs, onCorpus) {
  const fresh = [];
  try {
    for (const { name, settings } of specs) fresh.push(await createRun(settings, name, onCorpus, fresh));
  } catch (e) {
    for (const r of fresh) r.trainer.free();
    throw e;
  }
  return fresh;
}

function summary(run) {
  // A trainer in a module that panicked cannot answer: its last answer stands in until it is
  // restored, so reporting the state never throws.
  let info = run.info;
  try { info = run.trainer.info(); run.info = info; } catch { /* the module is being restored */ }
  return { id: run.id, name: run.name, running: run.running, settings: run.settings, info, generation: run.generation ?? 0,
    steps: run.steps, seconds: run.seconds, trainedSeconds: run.trainedSeconds, savedStep: run.savedStep,
    history: run.history, error: run.error, starter: !!run.starter };
}
function state() {
  return {
    build: { threaded: build?.dir.startsWith('pkg-threads') ?? false, relaxedSimd: build?.dir === 'pkg-threads-relaxed', why: build?.why ?? null },
    corpus: { id: corpus.id, name: corpus.name, info: corpus.info },
    runs: runs.map(summary), undo: !!undoSlot, autosave: autosave.state, workspace: workspace.id,
  };
}
const announce = () => {
  try { post({ event: 'state', state: state() }); } catch (e) { console.error('shige worker: the state could not be sent:', e); }
};

async function trainOne(run) {
  const started = performance.now();
  let losses;
  try {
    losses = await run.trainer.trainSteps(1);
  } catch (e) {
    run.running = false;
    if ((await crashed(e)) !== false) return;
    run.error = message(e);
    post({ event: 'error', runId: run.id, key: 'notice.runError', vars: { name: run.name, message: message(e) }, inner: coded(e) });
    announce();
    return;
  }
  const seconds = (performance.now() - started) / 1000;
  const info = run.trainer.info();
  run.steps += 1; run.seconds += seconds; run.trainedSeconds += seconds;
  run.history.losses.push([info.step, losses[0]]);
  (run.history.gradNorms ??= []).push([info.step, info.gradNorm]);
  post({ event: 'progress', runId: run.id, step: info.step, loss: losses[0], seconds, epochs: info.epochs,
    gradNorm: info.gradNorm, batchesPerEpoch: info.batchesPerEpoch, charsPerEpoch: info.corpus.charsPerEpoch });
  const evalEvery = evalInterval(info.batchesPerEpoch, run.evalMs, 1000 * run.seconds / run.steps);
  if (info.corpus.poemsValidation > 0 && info.step - run.evalAt >= evalEvery && !jobs.some((j) => j.run === run && j.kind === 'eval')) {
    run.evalAt = info.step;
    jobs.push(evalJob(run, info.step));
  }
  if (info.step - run.flowAt >= FLOW_EVERY) {
    run.flowAt = info.step;
    jobs.push({ kind: 'flow', run, step: info.step });
  }
  if (info.step - run.savedStep >= AUTOSAVE_EVERY || performance.now() - run.savedTime >= AUTOSAVE_MS) await autosaveRun(run);
}

/** A held-out evaluation of `run` at `step`, run a slice at a time by `runJob`. */
function evalJob(run, step) {
  return { kind: 'eval', run, step, next: 0, total: 0, tokens: 0, ms: 0 };
}

async function runJob(job) {
  const { run } = job;
  if (!runs.includes(run)) return;
  try {
    if (job.kind === 'eval') {
      const total = run.trainer.evalBatches();
      const end = Math.min(total, job.next + EVAL_SLICE);
      const sliceStarted = performance.now();
      const part = await run.trainer.evaluatePart(job.next, end);
      job.ms += performance.now() - sliceStarted;
      job.total += part.total; job.tokens += part.tokens; job.next = end;
      if (end < total) { jobs.unshift(job); return; }
      run.evalMs = job.ms;
      const perplexity = Math.exp(job.total / Math.max(1, job.tokens));
      run.history.evals.push([job.step, perplexity]);
      post({ event: 'eval', runId: run.id, step: job.step, perplexity, loss: Math.log(perplexity) });
    } else if (job.kind === 'flow') {
      const flow = await run.trainer.gradientFlow();
      run.history.flow = { step: job.step, ...flow };
      post({ event: 'flow', runId: run.id, step: job.step, ...flow });
    }
  } catch (e) {
    if ((await crashed(e)) === false) warn('notice.runError', { name: run.name, message: message(e) }, e);
  }
}

// ---- storage: autosave, locks, the workspace --------------------------------------------
// Each run is a model in the library; the workspace lists the runs open in the page. Only the
// tab holding the workspace's Web Lock writes them, so two tabs never overwrite each other.

function modelRecord(run, bytes) {
  const lastEval = run.history.evals.at(-1);
  return { id: run.id, name: run.name, corpusId: corpus.id, corpusName: corpus.name, bytes,
    history: run.history, settings: run.settings, step: run.trainer.info().step, trainedSeconds: run.trainedSeconds,
    perplexity: lastEval ? lastEval[1] : null, savedAt: Date.now(), workspace: workspace.id };
}
function workspaceRecord() {
  return { id: workspace.id, corpusId: corpus.id, corpusName: corpus.name, runIds: runs.map((r) => r.id) };
}

function canAutosave() { return autosave.state === 'on' || autosave.state === 'failing'; }

/** Saves one run beside the loop; failures back off and are reported once. */
async function autosaveRun(run, { force = false } = {}) {
  if (!canAutosave()) return;
  if (run.saving) {
    if (!force) return;
    await run.saving;   // a forced save (Pause, rename) comes after the one in flight
  }
  const step = run.trainer.info().step;
  if (step === run.savedStep && !force) return;
  if (!force && autosave.state === 'failing' && step < autosave.nextTryStep) return;
  run.savedTime = performance.now();
  let bytes;
  try {
    bytes = await run.trainer.save();      // the only part on the loop: reading the weights
  } catch (e) {
    if ((await crashed(e)) === false) warn('notice.saveFailed', { name: run.name, message: message(e) });
    return;
  }
  // Another tab may have taken this model over while its weights were read: its copy is newer.
  if (!holds(run.id)) return;
  run.saving = store.save({ models: [modelRecord(run, bytes)], meta: { workspace: workspaceRecord() } })
    .then(() => {
      run.savedStep = step;
      if (autosave.state === 'failing') {
        autosave.state = 'on'; autosave.failures = 0; autosave.warned = false;
        post({ event: 'autosave', state: 'on' });
      }
    })
    .catch((e) => { run.savedStep = step; autosaveFailed(e, run.id, step); })
    .finally(() => { run.saving = null; });
}

/** Notes a failed write: says so once (with a download), then backs off 200, 400, 800 … steps. */
function autosaveFailed(error, runId, step = 0) {
  autosave.failures += 1;
  autosave.state = 'failing';
  autosave.nextTryStep = step + AUTOSAVE_EVERY * 2 ** Math.min(autosave.failures, 6);
  if (autosave.warned) return;
  autosave.warned = true;
  post({ event: 'autosave', state: 'failing', runId, offerDownload: true, reason: store.describe(error), quota: store.isQuota(error) });
}

/** Saves every run, the corpus and the workspace in one transaction (waits for it). */
async function saveWorkspace({ corpusRecord = null, extraMeta = {} } = {}) {
  if (!canAutosave()) return;
  const models = [];
  for (const run of runs) models.push(modelRecord(run, await run.trainer.save()));
  if (!runs.every((r) => holds(r.id))) return;
  await store.save({ models, corpus: corpusRecord, meta: { workspace: workspaceRecord(), ...extraMeta } });
  for (const run of runs) { run.savedStep = run.trainer.info().step; run.savedTime = performance.now(); }
}

// Web Locks, one per model: a tab writes a model only while it holds that model's lock.
const held = new Map();              // model id -> release()
/** Whether this tab may write model `id` (always, in a browser without Web Locks). */
const holds = (id) => !navigator.locks || held.has(id);

/** Whether another tab holds model `id`'s lock (has it open). */
async function openElsewhere(id) {
  if (!navigator.locks?.query || held.has(id)) return false;
  const { held: locks = [] } = await navigator.locks.query();
  return locks.some((l) => l.name === `shige-model-${id}`);
}

/** Takes a model's lock if no other tab holds it (or takes it over with `steal`). */
function lockModel(id, { steal = false } = {}) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    const request = navigator.locks.request(`shige-model-${id}`, steal ? { steal: true } : { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(false); return undefined; }
      resolve(true);
      return new Promise((release) => held.set(id, release));
    });
    request.catch((e) => {
      // Another tab took the lock over: stop writing this model at once.
      if (e?.name !== 'AbortError' || !held.has(id)) return;
      held.delete(id);
      if (runs.some((r) => r.id === id) && autosave.state !== 'unavailable') {
        autosave.state = 'other-tab';
        post({ event: 'autosave', state: 'other-tab', lostLock: true });
        announce();
      }
    });
  });
}

/** Holds the locks of the page's runs (and lets go of the others); true if it holds them all. */
async function lockRuns({ steal = false } = {}) {
  for (const [id, release] of held) {
    if (!runs.some((r) => r.id === id)) { release(); held.delete(id); }
  }
  let all = true;
  for (const r of runs) {
    if (!held.has(r.id) && !(await lockModel(r.id, { steal }))) all = false;
  }
  workspace.owner = all;
  return all;
}

/** After the runs changed: autosave on if this tab holds every run's lock. */
async function claimRuns(options) {
  if (autosave.state === 'unavailable') return;
  const owner = await lockRuns(options);
  if (owner && autosave.state === 'other-tab') autosave.state = 'on';
  if (!owner) autosave.state = 'other-tab';
}

// ---- crashes ----------------------------------------------------------------------------
let recovering = null;
let rescued = null;                  // [{ run, bytes }] taken from a panicked module, until reloaded
/**
 * After a Rust panic the module is unusable: save every run's last good step from the old
 * module, start a fresh one and load them back. Returns false if it was no crash, null once
 * recovered, or the error that stopped the recovery. A recovery that fails itself (no network
 * for the module, a new version deployed meanwhile) says so and keeps what it rescued: the next
 * call tries again, and nothing it throws reaches the loop.
 */
async function crashed(error) {
  let panic;
  try { panic = wasm?.panicMessage?.(); } catch { panic = message(error); }
  if (!panic) return false;
  recovering ??= recover(panic, error)
    .then(() => null, (e) => {
      console.error('shige worker: recovery failed:', e);
      const failure = e?.key ? e : new Coded('notice.recoveryFailed', { panic, message: message(e) });
      // A new version elsewhere has its own notice with a Reload button ('needsReload').
      if (failure.key !== 'update.afterCrash') warn(failure.key, failure.vars);
      announce();
      return failure;
    })
    .finally(() => { recovering = null; });
  return recovering;
}

async function recover(panic, error) {
  console.error('shige worker: the wasm module panicked:', panic, error);
  if (!rescued) {
    rescued = [];
    for (const run of runs) {
      run.running = false;
      let bytes = await run.trainer.rescue().catch(() => null);
      if (!bytes && canAutosave()) bytes = (await store.getModel(run.id).catch(() => null))?.bytes ?? null;
      rescued.push({ run, bytes });
    }
  }
  jobs.length = 0;
  // This page's scripts must never meet another version's module: if another tab installed a
  // new version meanwhile, keep the rescued models in storage and ask for a reload instead.
  const current = await fetchBuildId();
  if (loadedBuild && current && current !== loadedBuild) {
    if (canAutosave()) {
      await store.save({ models: rescued.filter((r) => r.bytes).map(({ run, bytes }) => modelRecord(run, bytes)) }).catch(() => {});
    }
    post({ event: 'needsReload' });
    throw new Coded('update.afterCrash', { panic });
  }
  await loadWasm();
  if (corpus.bytes) corpus.data = wasm.CorpusData.parse(corpus.bytes);
  const restored = [];
  for (const { run, bytes } of rescued) {
    if (!bytes) continue;
    run.trainer = await loadTrainer(bytes, corpus.bytes, run.settings.backend, run.name);
    restored.push(`${run.name} at step ${run.trainer.info().step}`);
  }
  runs = rescued.filter((s) => s.bytes).map((s) => s.run);
  rescued = null;
  warn('notice.crashed', { panic, restored: restored.join(', ') || '–' });
  announce();
}

/** The id of the build the service worker serves now (null where there is none to ask). */
async function fetchBuildId() {
  try { return (await (await fetch('build.json', { cache: 'no-cache' })).json()).id ?? null; } catch { return null; }
}
let loadedBuild = null;              // the build this worker's scripts and first module came from

/**
 * Which build to run: the threaded CPU build where the page is cross-origin isolated, the
 * browser runs wasm threads and there is no hardware GPU to train on (with relaxed SIMD's fused
 * multiply-add where the browser has it); else the default build (WebGPU, and the CPU on one thread).
 */
async function pickBuild() {
  if (backendPreference === 'webgpu') return { dir: 'pkg', why: 'WebGPU asked for' };
  if (!self.crossOriginIsolated) return { dir: 'pkg', why: 'the page is not cross-origin isolated' };
  if (!(await threads().catch(() => false))) return { dir: 'pkg', why: 'this browser has no WebAssembly threads' };
  if (backendPreference === 'auto' && navigator.gpu) {
    const adapter = await navigator.gpu.requestAdapter().catch(() => null);
    const software = adapter?.info?.isFallbackAdapter ?? adapter?.isFallbackAdapter ?? false;
    if (adapter && !software) return { dir: 'pkg', why: 'a hardware GPU is there' };
  }
  // GET, not HEAD: the service worker answers only GETs, so offline a HEAD would miss its cache.
  const has = async (dir) => (await fetch(`./${dir}/shige.js`).catch(() => null))?.ok ?? false;
  if ((await relaxedSimd().catch(() => false)) && (await has('pkg-threads-relaxed'))) return { dir: 'pkg-threads-relaxed', why: null };
  if (!(await has('pkg-threads'))) return { dir: 'pkg', why: 'this site has no threaded build' };
  return { dir: 'pkg-threads', why: null };
}

let build = null;
async function loadWasm() {
  instance += 1;
  if (instance === 1) loadedBuild = await fetchBuildId();
  build ??= await pickBuild();
  // A second import of the same URL would return the crashed instance: change the URL.
  const url = `./${build.dir}/shige.js${instance === 1 ? '' : `?instance=${instance}`}`;
  const mod = await import(url);
  await mod.default();
  if (mod.isThreaded?.()) {
    // Every core but one for the pool (the page and this worker keep going), at least two.
    await mod.initThreadPool(Math.max(2, (navigator.hardwareConcurrency || 2) - 1));
  }
  wasm = mod;
}

// ---- corpora ----------------------------------------------------------------------------
async function fetchBuiltin() {
  const res = await fetch(BUILTIN.url);
  if (!res.ok) throw new Coded('error.builtinMissing', { status: res.status });
  return new Uint8Array(await res.arrayBuffer());
}

/** Parses a corpus without touching the current one (throws on bad input). */
function parseCorpus(bytes, name, id) {
  const data = wasm.CorpusData.parse(bytes);
  return { id, name, bytes, data, info: data.info() };
}

/** Refuses a run that would not fit beside `others` (the runs that stay in memory). */
function checkMemory(settings, vocabSize, others = []) {
  const need = wasm.estimateMemory(settings, vocabSize)
    + others.reduce((sum, r) => sum + wasm.estimateMemory(r.settings, r.trainer.info().corpus.vocabSize), 0);
  if (need > wasm.memoryBudget()) {
    throw new Coded('settings.tooBig', { gib: (need / 2 ** 30).toFixed(1) });
  }
}

async function createRun(given, name, onCorpus = corpus, others = runs) {
  const { settings, problems } = checkSettings(given);
  if (problems.length) throw new Coded(problems[0].key, problems[0]);
  checkMemory(settings, onCorpus.info.vocabSize, others);
  const trainer = await wasm.Trainer.create(onCorpus.data, settings);
  return newRun(trainer, { name, settings });
}

/** Makes `next` (a corpus and its runs) the page's set; the old set becomes the undo slot. */
async function replaceWorkspace(next, { persistCorpus }) {
  for (const r of runs) r.running = false;
  const previous = { corpus: { ...corpus }, runs, workspaceId: workspace.id, owner: workspace.owner };
  const nextId = uid('w');
  // Nothing changes in the page until the new set is stored in one transaction. If storage
  // is off or failing, the swap happens in memory only and the previous set stays in memory.
  let stored = false;
  if (canAutosave()) {
    const models = [];
    for (const run of next.runs) models.push({ ...modelRecordFor(run, next.corpus, nextId), bytes: await run.trainer.save() });
    // Also keep the current set's latest state, so the swap loses nothing.
    for (const run of runs) models.push(modelRecord(run, await run.trainer.save()));
    const corpusRecord = persistCorpus ? { id: next.corpus.id, name: next.corpus.name, bytes: next.corpus.bytes } : null;
    try {
      await store.save({ models, corpus: corpusRecord, meta: {
        workspace: { id: nextId, corpusId: next.corpus.id, corpusName: next.corpus.name, runIds: next.runs.map((r) => r.id) },
        undo: workspace.id ? workspaceRecord() : null,
      } });
      stored = true;
    } catch (e) {
      autosaveFailed(e, next.runs[0]?.id);
    }
  }
  Object.assign(corpus, next.corpus);
  runs = next.runs;
  if (!previous.runs.length) {
    undoSlot = null;
  } else if (stored) {
    // The previous set is in storage (saved above): free its memory, reload it on Undo.
    undoSlot = { lazy: { corpusId: previous.corpus.id, corpusName: previous.corpus.name, runIds: previous.runs.map((r) => r.id) } };
    for (const r of previous.runs) r.trainer.free();
    if (previous.corpus.data !== next.corpus.data) previous.corpus.data?.free();
  } else {
    undoSlot = previous;
  }
  jobs.length = 0;
  workspace = { id: nextId, owner: false };
  await claimRuns();
}

function modelRecordFor(run, onCorpus, workspaceId) {
  const lastEval = run.history.evals.at(-1);
  return { id: run.id, name: run.name, corpusId: onCorpus.id, corpusName: onCorpus.name, history: run.history,
    settings: run.settings, step: run.trainer.info().step, trainedSeconds: run.trainedSeconds,
    perplexity: lastEval ? lastEval[1] : null, savedAt: Date.now(), workspace: workspaceId };
}

// ---- start-up ---------------------------------------------------------------------------
/** The trained model the site ships (starter.ckpt, compact), as a run on the built-in corpus;
 * null if the site has none. */
async function loadStarter(name) {
  const res = await fetch(STARTER_URL).catch(() => null);
  if (!res?.ok) return null;
  const trainer = await loadTrainer(new Uint8Array(await res.arrayBuffer()), corpus.bytes, backendPreference, name);
  const run = newRun(trainer, { name });
  run.starter = true;
  return run;
}

/** Loads the workspace saved in this browser; models that fail to load are set aside. */
async function restoreWorkspace(saved) {
  let bytes;
  if (saved.corpusId === BUILTIN.id) bytes = await fetchBuiltin();
  else bytes = (await store.getCorpus(saved.corpusId))?.bytes;
  if (!bytes) throw new Coded('error.corpusMissing');
  const restoredCorpus = parseCorpus(bytes, saved.corpusName, saved.corpusId);
  const restored = [];
  const savedAt = new Map();
  for (const id of saved.runIds) {
    const record = await store.getModel(id);
    if (!record) continue;
    try {
      const trainer = await loadTrainer(record.bytes, bytes, record.settings?.backend, record.name);
      savedAt.set(id, record.savedAt);
      restored.push(newRun(trainer, { id, name: record.name, settings: record.settings, history: record.history, trainedSeconds: record.trainedSeconds }));
    } catch (e) {
      // Keep the file as it is, under its own key, and offer it: never overwrite it. One key per
      // model, so reloading the page does not add another copy each time.
      const aside = { ...record, id: `broken-${id}`, name: `${record.name} (could not be opened)`, broken: message(e), workspace: null };
      await store.save({ models: [aside] }).catch(() => {});
      post({ event: 'unrestorable', modelId: aside.id, name: record.name, message: message(e) });
    }
  }
  return { corpus: restoredCorpus, runs: restored, savedAt };
}

/**
 * The first set of a new workspace. A shared experiment, the starter model or the page's
 * settings, in that order; whichever cannot be made (a link or preset the tab cannot hold, a
 * site without a starter) is said, and the next is used, down to the form's defaults: the page
 * always starts with a model, ready to train. Returns the runs and which it was ('experiment',
 * 'settings', 'starter' or 'defaults').
 */
async function firstRuns({ settings, useStarter, starterName, experiment }) {
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
    jobs.push(evalJob(starter, starter.trainer.info().step));
    return { runs: [starter], source: 'starter' };
  }
  return { runs: [await createRun({ ...DEFAULTS, backend: backendPreference }, undefined, corpus, [])], source: 'defaults' };
}

const ops = {
  /** Loads wasm, then the saved workspace (if any), else a first set on the built-in corpus:
   * the shared experiment, the starter model or a fresh run (see `firstRuns`). */
  async start({ settings, backend, starter: useStarter = false, starterName = 'Starter', experiment = null }) {
    backendPreference = backend ?? 'auto';
    await loadWasm();
    let saved = null;
    if (!store.available()) {
      autosave.state = 'unavailable';
    } else {
      try {
        saved = await store.getMeta('workspace');
      } catch (e) {
        autosave.state = 'unavailable';
        console.warn('shige worker: no storage:', e);
      }
    }
    let restored = null;
    let opened = 'restored';
    if (saved?.runIds?.length) {
      try {
        restored = await restoreWorkspace(saved);
      } catch (e) {
        warn('notice.restoreFailed', { message: message(e) });
      }
    }
    if (restored?.runs.length) {
      Object.assign(corpus, restored.corpus);
      runs = restored.runs;
      workspace = { id: saved.id, owner: false };
      await claimRuns();
      const undo = await store.getMeta('undo').catch(() => null);
      if (undo?.runIds?.length) undoSlot = { lazy: undo };
      // Say where each run picks up: training after its last save is not in it.
      post({ event: 'restored', runs: runs.map((r) => ({ name: r.name, step: r.savedStep, savedAt: restored.savedAt.get(r.id) })) });
    } else {
      Object.assign(corpus, parseCorpus(await fetchBuiltin(), '', BUILTIN.id));
      ({ runs, source: opened } = await firstRuns({ settings, useStarter, starterName, experiment }));
      workspace = { id: uid('w'), owner: false };
      await claimRuns();
      if (canAutosave()) await saveWorkspace().catch((e) => autosaveFailed(e, runs[0].id));
    }
    if (autosave.state === 'other-tab') post({ event: 'autosave', state: 'other-tab' });
    if (autosave.state === 'unavailable') post({ event: 'autosave', state: 'unavailable' });
    return { ...state(), restored: !!restored?.runs.length, opened, trained: runs.some((r) => r.trainer.info().step > 0) };
  },

  state() { return state(); },

  /** The page is being hidden or closed: save what has trained since the last save. */
  async flush() {
    for (const r of runs) await autosaveRun(r);
    await Promise.all(runs.map((r) => r.saving));
    return state();
  },

  async train({ runId }) {
    for (const r of targetRuns(runId)) { r.running = true; r.error = null; r.steps = 0; r.seconds = 0; }
    // An evaluation still pending (the starter model's, measured as the page opens: seconds of
    // work) would hold up the first step; training measures again every few hundred steps.
    for (let i = jobs.length - 1; i >= 0; i--) if (jobs[i].kind === 'eval' && targetRuns(runId).includes(jobs[i].run)) jobs.splice(i, 1);
    announce();
    return state();
  },

  async pause({ runId }) {
    for (const r of targetRuns(runId)) await autosaveRun(r, { force: true });
    // Answer once the saves are on disk: a reload right after Pause loses nothing.
    await Promise.all(targetRuns(runId).map((r) => r.saving));
    announce();
    return state();
  },

  async addRun({ settings, name }) {
    const run = await createRun(settings, name);
    runs.push(run);
    await lockRuns();
    if (canAutosave()) await saveWorkspace().catch((e) => autosaveFailed(e, runs[0]?.id));
    announce();
    return state();
  },

  async removeRun({ runId }) {
    const run = findRun(runId);
    if (runs.length === 1) throw new Coded('error.lastRun');
    run.running = false;
    // The dialog promises the model stays saved: save what it trained since its last autosave.
    await autosaveRun(run, { force: true });
    await run.saving;
    if (autosave.state !== 'on') throw new Coded('error.removeUnsaved', { name: run.name });
    runs = runs.filter((r) => r !== run);
    run.trainer.free();
    // The model stays in the library; only the page's list changes.
    if (canAutosave()) await store.save({ meta: { workspace: workspaceRecord() } }).catch((e) => autosaveFailed(e, runs[0]?.id));
    announce();
    return state();
  },

  async renameRun({ runId, name }) {
    const run = findRun(runId);
    const clean = String(name ?? '').trim().slice(0, 60);
    if (!clean) throw new Coded('error.emptyName');
    run.name = clean;
    if (canAutosave()) await autosaveRun(run, { force: true });
    announce();
    return state();
  },

  /** A new corpus: fresh runs with the current settings on it; the current set is kept for undo. */
  async setCorpus({ bytes, name, builtin }) {
    const data = builtin ? await fetchBuiltin() : bytes;
    const id = builtin ? BUILTIN.id : await store.hashBytes(data);
    const next = parseCorpus(data, builtin ? '' : name, id);      // throws on bad input: nothing changed
    const fresh = await createRuns(runs.map((r) => ({ name: r.name, settings: r.settings })), next);
    await replaceWorkspace({ corpus: next, runs: fresh }, { persistCorpus: !builtin });
    announce();
    return state();
  },

  /** A fresh set of one run with these settings on the current corpus; the current set is kept for undo. */
  async reset({ settings }) {
    const run = await createRun(settings, undefined, corpus, []);
    await replaceWorkspace({ corpus: { ...corpus }, runs: [run] }, { persistCorpus: false });
    announce();
    return state();
  },

  /** Loads a checkpoint file as the page's model; the current set is kept for undo. */
  async load({ bytes, name }) {
    if (bytes.byteLength > LIMITS.checkpointBytes) throw new Coded('error.checkpointFile', { mib: Math.round(bytes.byteLength / 2 ** 20), limit: LIMITS.checkpointBytes / 2 ** 20 });
    const trainer = await loadTrainer(bytes, corpus.bytes, backendPreference, name);
    const run = newRun(trainer, { name: name || undefined });
    await replaceWorkspace({ corpus: { ...corpus }, runs: [run] }, { persistCorpus: false });
    announce();
    return state();
  },

  /** Swaps the current set with the one it replaced (nothing is dropped). */
  async undo() {
    if (!undoSlot) throw new Coded('error.nothingToUndo');
    if (undoSlot.lazy) undoSlot = await restoreWorkspace(undoSlot.lazy);
    await replaceWorkspace({ corpus: undoSlot.corpus, runs: undoSlot.runs }, { persistCorpus: false });
    announce();
    return state();
  },

  /** Opens a shared experiment: its runs, fresh, on its corpus (the built-in one until the
   * user chooses the file it names); the current set is kept for undo. */
  async openExperiment({ corpus: spec, runs: specs }) {
    const sameFile = spec?.hash && corpus.id === spec.hash;
    const next = sameFile || corpus.id === BUILTIN.id ? { ...corpus } : parseCorpus(await fetchBuiltin(), '', BUILTIN.id);
    const fresh = await createRuns(specs.map(({ name, settings }) => ({ name, settings: { ...settings, backend: backendPreference } })), next);
    await replaceWorkspace({ corpus: next, runs: fresh }, { persistCorpus: false });
    announce();
    return state();
  },

  /** Steals the autosave from the other tab. That tab trained on since this one opened, so
   * its saved state is loaded first wherever it is ahead: older weights never overwrite newer. */
  async takeOverAutosave() {
    await lockRuns({ steal: true });
    const reloaded = [];
    for (const run of runs) {
      const record = await store.getModel(run.id).catch(() => null);
      if (!record?.bytes || !(record.step > run.trainer.info().step)) continue;
      const trainer = await loadTrainer(record.bytes, corpus.bytes, run.settings.backend, record.name);
      run.trainer.free();
      Object.assign(run, { trainer, name: record.name, history: record.history ?? run.history, trainedSeconds: record.trainedSeconds ?? run.trainedSeconds,
        savedStep: record.step, evalAt: record.step, generation: (run.generation ?? 0) + 1 });
      reloaded.push({ name: run.name, step: record.step });
    }
    autosave.state = 'on';
    await saveWorkspace();
    if (reloaded.length) post({ event: 'tookOver', runs: reloaded });
    announce();
    return state();
  },

  /** Keeps this tab's runs as new library entries with their own lock. */
  async saveAsOwn() {
    for (const r of runs) { r.id = uid('m'); r.name = `${r.name} (copy)`; }
    workspace = { id: uid('w'), owner: false };
    autosave.state = 'on';
    await claimRuns();
    await saveWorkspace();
    announce();
    return state();
  },

  generate({ runId, options }) { return findRun(runId).trainer.generate(options); },

  /** The quality figures of a run's poems (the CLI's `shige eval` table, fewer samples). */
  quality({ runId, samples, options }) { return findRun(runId).trainer.quality(samples, options); },

  save({ runId }) { return findRun(runId).trainer.save(); },

  /** A model's checkpoint: the page's copy if it is open, else the stored one (e.g. one set
   * aside because it could not be opened). */
  async storedBytes({ modelId }) {
    const run = runs.find((r) => r.id === modelId);
    if (run) return run.trainer.save();
    const record = await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    return record.bytes;
  },

  vocabulary({ runId }) { return findRun(runId).trainer.vocabulary(); },

  countParams({ settings }) { return wasm.countParams(settings, corpus.info.vocabSize); },

  hiddenForBudget({ settings, params }) { return wasm.hiddenForBudget(settings, corpus.info.vocabSize, params); },

  /** Bytes these settings need to train on the current corpus, and the most a tab may use. */
  memoryNeed({ settings }) { return { bytes: wasm.estimateMemory(settings, corpus.info.vocabSize), budget: wasm.memoryBudget() }; },

  // ---- the library: every model saved in this browser ----------------------------------
  async listLibrary() {
    if (!canAutosave() && autosave.state !== 'other-tab') return { models: [], available: false };
    const open = new Set(runs.map((r) => r.id));
    const models = (await store.listModels()).map((m) => ({ ...m, open: open.has(m.id) }));
    return { models, available: true, trash: trash.map((m) => ({ id: m.id, name: m.name })) };
  },

  /** Opens a stored model as the page's model; the current set is kept for undo. */
  async openModel({ modelId }) {
    const record = await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    if (record.broken) throw new Coded('error.broken', { message: record.broken });
    const sameCorpus = record.corpusId === corpus.id;
    const bytes = sameCorpus ? corpus.bytes
      : record.corpusId === BUILTIN.id ? await fetchBuiltin() : (await store.getCorpus(record.corpusId))?.bytes;
    if (!bytes) throw new Coded('error.corpusMissing');
    const next = sameCorpus ? { ...corpus } : parseCorpus(bytes, record.corpusName, record.corpusId);
    const trainer = await loadTrainer(record.bytes, bytes, record.settings?.backend, record.name);
    // The same library entry, unless another tab has it open: then a copy of it.
    const free = await lockModel(record.id);
    const run = free
      ? newRun(trainer, { id: record.id, name: record.name, settings: record.settings, history: record.history, trainedSeconds: record.trainedSeconds })
      : newRun(trainer, { name: `${record.name} (copy)`, settings: record.settings, history: record.history, trainedSeconds: record.trainedSeconds });
    await replaceWorkspace({ corpus: next, runs: [run] }, { persistCorpus: false });
    announce();
    return state();
  },

  async renameModel({ modelId, name }) {
    const clean = String(name ?? '').trim().slice(0, 60);
    if (!clean) throw new Coded('error.emptyName');
    const run = runs.find((r) => r.id === modelId);
    if (run) { await ops.renameRun({ runId: modelId, name: clean }); return ops.listLibrary(); }
    const record = await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ models: [{ ...record, name: clean }] });
    return ops.listLibrary();
  },

  async duplicateModel({ modelId }) {
    const run = runs.find((r) => r.id === modelId);
    const record = run ? modelRecord(run, await run.trainer.save()) : await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ models: [{ ...record, id: uid('m'), name: `${record.name} (2)`, workspace: null, savedAt: Date.now() }] });
    return ops.listLibrary();
  },

  /** Deletes a stored model (not one open in the page); `undoDelete` brings it back. */
  async deleteModel({ modelId }) {
    if (runs.some((r) => r.id === modelId)) throw new Coded('error.modelOpen');
    if (await openElsewhere(modelId)) throw new Coded('error.modelOpenElsewhere');
    const record = await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ deleteModels: [modelId] });
    trash.push(record);
    return ops.listLibrary();
  },

  async undoDelete({ modelId }) {
    const record = trash.find((m) => m.id === modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ models: [record] });
    trash = trash.filter((m) => m !== record);
    return ops.listLibrary();
  },

  /** Tests: the fused GRU against the tensor-op GRU on this browser's WebGPU. */
  gruKernelCheck({ backend }) { return wasm.gruKernelCheck(backend ?? 'webgpu'); },
  adamKernelCheck({ backend }) { return wasm.adamKernelCheck(backend ?? 'webgpu'); },
  outputKernelCheck({ backend }) { return wasm.outputKernelCheck(backend ?? 'webgpu'); },

  /** Tests only: makes the module panic while it holds a run's trainer. */
  panicForTests({ runId }) { wasm.panicForTests(findRun(runId).trainer); },
};

loop();
