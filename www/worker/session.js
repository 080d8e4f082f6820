// The worker's one mutable state object (the wasm module, the corpus, the runs, the workspace,
// autosave, the background jobs) and what is read from it: the state the page mirrors and the
// records the library stores. Imports protocol.js only.
import { post } from './protocol.js';

export const session = {
  wasm: null,                        // the wasm module (a fresh instance after a crash)
  instance: 0,                       // how many times the module was loaded
  build: null,                       // { dir, why }: which wasm build runs (wasm-loader.js)
  threads: 1,                        // the threaded build's pool size
  loadedBuild: null,                 // the build id this worker's scripts and first module came from
  backendPreference: 'auto',
  corpus: { id: null, name: '', bytes: null, data: null, info: null },
  runs: [],                          // the runs on the page, in order
  undoSlot: null,                    // { corpus, runs } the page had before the last replace, or { lazy }
  workspace: { id: null, owner: false },
  autosave: { state: 'on', failures: 0, nextTryStep: 0, warned: false },
  trash: [],                         // library models deleted in this session (for undo)
  jobs: [],                          // background pieces: evaluation slices, gradient flow
};

function summary(run) {
  // A trainer in a module that panicked cannot answer: its last answer stands in until it is
  // restored, so reporting the state never throws.
  let info = run.info;
  try { info = run.trainer.info(); run.info = info; } catch { /* the module is being restored */ }
  return { id: run.id, name: run.name, running: run.running, settings: run.settings, info, generation: run.generation ?? 0,
    steps: run.steps, seconds: run.seconds, trainedSeconds: run.trainedSeconds, savedStep: run.savedStep,
    history: run.history, error: run.error, starter: !!run.starter };
}

/** What the page mirrors: the build, the corpus, the runs, undo, autosave and the workspace. */
export function state() {
  const { build, corpus, runs, undoSlot, autosave, workspace } = session;
  return {
    build: { threaded: build?.dir.startsWith('pkg-threads') ?? false, relaxedSimd: build?.dir === 'pkg-threads-relaxed', why: build?.why ?? null },
    corpus: { id: corpus.id, name: corpus.name, info: corpus.info },
    runs: runs.map(summary), undo: !!undoSlot, autosave: autosave.state, workspace: workspace.id,
  };
}
export const announce = () => {
  try { post({ event: 'state', state: state() }); } catch (e) { console.error('shige worker: the state could not be sent:', e); }
};
/** Sends the changed state to the page and returns it: the answer of an operation that changed it. */
export function announced() {
  announce();
  return state();
}

export function canAutosave() { return session.autosave.state === 'on' || session.autosave.state === 'failing'; }

/** Whether `run` is still the compact file it was opened from (the starter's int8 copy, with no
 * optimizer state): not trained since. */
const stillCompact = (run) => run.compact != null && run.trainer.info().step === run.compact.step;

/** A run's checkpoint to store or download: the compact file it was opened from while it has not
 * been trained since (4.1 MB for the starter, not the 48 MB of full weights and Adam moments),
 * else the full checkpoint. Always a buffer of the caller's own: the loop hands a result's buffer
 * to the page (transferred, not copied), which would leave the run's compact copy empty. */
export function runBytes(run) {
  return stillCompact(run) ? Promise.resolve(run.compact.bytes.slice()) : run.trainer.save();
}

/** A run's library entry (`bytes`: its checkpoint), on the page's corpus and workspace unless told.
 * `step` and `compact` describe `bytes`; they are asked of the trainer unless given (a trainer
 * whose module panicked cannot answer: recovery gives them). */
export function modelRecord(run, bytes, { corpus = session.corpus, workspaceId = session.workspace.id,
  step = run.trainer.info().step, compact = stillCompact(run) } = {}) {
  const lastEval = run.history.evals.at(-1);
  return { id: run.id, name: run.name, corpusId: corpus.id, corpusName: corpus.name, bytes, compact,
    history: run.history, settings: run.settings, step, trainedSeconds: run.trainedSeconds,
    perplexity: lastEval ? lastEval[1] : null, savedAt: Date.now(), workspace: workspaceId };
}
export function workspaceRecord() {
  const { workspace, corpus, runs } = session;
  return { id: workspace.id, corpusId: corpus.id, corpusName: corpus.name, runIds: runs.map((r) => r.id) };
}
