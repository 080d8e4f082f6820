// Storage: autosave (with back-off), saving the workspace (the runs open in the page), swapping
// it for another (the old one kept for Undo) and restoring it; writes run beside the loop.
// Imports session.js, protocol.js, locks.js, runs.js, recovery.js and ../store.js.
import * as store from '../store.js';
import { canAutosave, modelRecord, runBytes, session, workspaceRecord } from './session.js';
import { Coded, message, post, uid, warn } from './protocol.js';
import { claimRuns, holds } from './locks.js';
import { BUILTIN, fetchBuiltin, loadTrainer, parseCorpus, runFromRecord } from './runs.js';
import { crashed } from './recovery.js';

const AUTOSAVE_EVERY = 200;          // steps per run …
const AUTOSAVE_MS = 60_000;          // … or a minute of training, whichever comes first

/** Whether `run`, now at `step`, is due an autosave. */
export const autosaveDue = (run, step) => step - run.savedStep >= AUTOSAVE_EVERY || performance.now() - run.savedTime >= AUTOSAVE_MS;

/** Saves one run beside the loop; failures back off and are reported once. */
export async function autosaveRun(run, { force = false } = {}) {
  const { autosave } = session;
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
    bytes = await runBytes(run);      // the only part on the loop: reading the weights
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
export function autosaveFailed(error, runId, step = 0) {
  const { autosave } = session;
  autosave.failures += 1;
  autosave.state = 'failing';
  autosave.nextTryStep = step + AUTOSAVE_EVERY * 2 ** Math.min(autosave.failures, 6);
  if (autosave.warned) return;
  autosave.warned = true;
  post({ event: 'autosave', state: 'failing', runId, offerDownload: true, reason: store.describe(error), quota: store.isQuota(error) });
}

/** Saves every run, the corpus and the workspace in one transaction (waits for it). */
export async function saveWorkspace({ corpusRecord = null, extraMeta = {} } = {}) {
  if (!canAutosave()) return;
  const models = [];
  for (const run of session.runs) models.push(modelRecord(run, await runBytes(run)));
  if (!session.runs.every((r) => holds(r.id))) return;
  await store.save({ models, corpus: corpusRecord, meta: { workspace: workspaceRecord(), ...extraMeta } });
  for (const run of session.runs) { run.savedStep = run.trainer.info().step; run.savedTime = performance.now(); }
}

/** Makes `next` (a corpus and its runs) the page's set; the old set becomes the undo slot. */
export async function replaceWorkspace(next, { persistCorpus }) {
  const { corpus, runs, workspace } = session;
  for (const r of runs) r.running = false;
  const previous = { corpus: { ...corpus }, runs, workspaceId: workspace.id, owner: workspace.owner };
  const nextId = uid('w');
  // Nothing changes in the page until the new set is stored in one transaction. If storage
  // is off or failing, the swap happens in memory only and the previous set stays in memory.
  let stored = false;
  if (canAutosave()) {
    const models = [];
    for (const run of next.runs) models.push(modelRecord(run, await runBytes(run), { corpus: next.corpus, workspaceId: nextId }));
    // Also keep the current set's latest state, so the swap loses nothing.
    for (const run of runs) models.push(modelRecord(run, await runBytes(run)));
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
  session.runs = next.runs;
  if (!previous.runs.length) {
    session.undoSlot = null;
  } else if (stored) {
    // The previous set is in storage (saved above): free its memory, reload it on Undo.
    session.undoSlot = { lazy: { corpusId: previous.corpus.id, corpusName: previous.corpus.name, runIds: previous.runs.map((r) => r.id) } };
    for (const r of previous.runs) r.trainer.free();
    if (previous.corpus.data !== next.corpus.data) previous.corpus.data?.free();
  } else {
    session.undoSlot = previous;
  }
  session.jobs.length = 0;
  session.workspace = { id: nextId, owner: false };
  await claimRuns();
}

/** Loads a workspace saved in this browser; models that fail to load are set aside. */
export async function restoreWorkspace(saved) {
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
      restored.push(runFromRecord(trainer, record));
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
