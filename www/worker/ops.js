// The operations the page calls ({ id, op, args } in, the result out), one function each; most
// answer with the new state. Imports the other worker modules but loop.js, and ../store.js,
// ../settings-schema.js.
import * as store from '../store.js';
import { LIMITS } from '../settings-schema.js';
import { announced, canAutosave, modelRecord, runBytes, session, state, workspaceRecord } from './session.js';
import { Coded, post, uid, warn, message } from './protocol.js';
import { BUILTIN, createRun, createRuns, fetchBuiltin, findRun, firstRuns, loadTrainer, newRun, parseCorpus, runFromRecord, targetRuns } from './runs.js';
import { claimRuns, lockModel, lockRuns, openElsewhere } from './locks.js';
import { autosaveFailed, autosaveRun, replaceWorkspace, restoreWorkspace, saveWorkspace } from './persist.js';
import { loadWasm } from './wasm-loader.js';
import { recordStep, setGuessLine } from './steps.js';
import { checkDevice } from './check.js';

/** A name as the page may give it: trimmed, at most 60 characters, never empty. */
function cleanName(name) {
  const clean = String(name ?? '').trim().slice(0, 60);
  if (!clean) throw new Coded('error.emptyName');
  return clean;
}

async function storedModel(modelId) {
  const record = await store.getModel(modelId);
  if (!record) throw new Coded('error.notStored');
  return record;
}

export const ops = {
  /** Loads wasm, then the saved workspace (if any), else a first set on the built-in corpus:
   * the shared experiment, the starter model or a fresh run (see `firstRuns`). */
  async start({ settings, backend, starter: useStarter = false, starterName = 'Starter', experiment = null }) {
    const { autosave, corpus } = session;
    session.backendPreference = backend ?? 'auto';
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
      session.runs = restored.runs;
      session.workspace = { id: saved.id, owner: false };
      await claimRuns();
      const undo = await store.getMeta('undo').catch(() => null);
      if (undo?.runIds?.length) session.undoSlot = { lazy: undo };
      // Say where each run picks up: training after its last save is not in it.
      post({ event: 'restored', runs: session.runs.map((r) => ({ name: r.name, step: r.savedStep, savedAt: restored.savedAt.get(r.id) })) });
    } else {
      Object.assign(corpus, parseCorpus(await fetchBuiltin(), '', BUILTIN.id));
      ({ runs: session.runs, source: opened } = await firstRuns({ settings, useStarter, starterName, experiment }));
      session.workspace = { id: uid('w'), owner: false };
      await claimRuns();
      if (canAutosave()) await saveWorkspace().catch((e) => autosaveFailed(e, session.runs[0].id));
    }
    if (autosave.state === 'other-tab') post({ event: 'autosave', state: 'other-tab' });
    if (autosave.state === 'unavailable') post({ event: 'autosave', state: 'unavailable' });
    return { ...state(), restored: !!restored?.runs.length, opened, trained: session.runs.some((r) => r.trainer.info().step > 0) };
  },

  state() { return state(); },

  /** The page is being hidden or closed: save what has trained since the last save. */
  async flush() {
    for (const r of session.runs) await autosaveRun(r);
    await Promise.all(session.runs.map((r) => r.saving));
    return state();
  },

  async train({ runId }) {
    const { jobs } = session;
    for (const r of targetRuns(runId)) { r.running = true; r.error = null; r.steps = 0; r.seconds = 0; }
    // An evaluation still pending (the starter model's, measured as the page opens: seconds of
    // work) would hold up the first step; training measures again every few hundred steps.
    for (let i = jobs.length - 1; i >= 0; i--) if (jobs[i].kind === 'eval' && targetRuns(runId).includes(jobs[i].run)) jobs.splice(i, 1);
    return announced();
  },

  async pause({ runId }) {
    for (const r of targetRuns(runId)) await autosaveRun(r, { force: true });
    // Answer once the saves are on disk: a reload right after Pause loses nothing.
    await Promise.all(targetRuns(runId).map((r) => r.saving));
    return announced();
  },

  /** The lab's Step: exactly one step of the run (or of every run) while paused, and what it
   * did (`Trainer.observedStep`: each poem's probabilities before and after, each part's
   * gradient and update). */
  async step({ runId }) {
    const runs = targetRuns(runId);
    if (runs.some((r) => r.running)) throw new Coded('error.lesson.stepWhileTraining');
    const reports = [];
    for (const run of runs) {
      const started = performance.now();
      const report = await run.trainer.observedStep();
      await recordStep(run, report.loss, (performance.now() - started) / 1000);
      reports.push({ runId: run.id, name: run.name, ...report });
      // Saved like Pause: a class steps, looks, and may reload.
      await autosaveRun(run, { force: true });
    }
    await Promise.all(runs.map((r) => r.saving));
    return { state: announced(), reports };
  },

  /** Before class: this device's paths and each run's speed and reach (see check.js). */
  checkDevice(args) { return checkDevice(args); },

  /** A run's guesses along `text` (teacher-forced; `ends`: the last is the poem's end). */
  guesses({ runId, text, ends = false, k = 5 }) { return findRun(runId).trainer.guesses(text, ends, k); },

  /** The line the lab's heatmap follows (every run's, from now on). */
  async guessLine({ line }) {
    await setGuessLine(line);
    return announced();
  },

  async addRun({ settings, name }) {
    const run = await createRun(settings, name);
    session.runs.push(run);
    await lockRuns();
    if (canAutosave()) await saveWorkspace().catch((e) => autosaveFailed(e, session.runs[0]?.id));
    return announced();
  },

  async removeRun({ runId }) {
    const run = findRun(runId);
    if (session.runs.length === 1) throw new Coded('error.lastRun');
    run.running = false;
    // The dialog promises the model stays saved: save what it trained since its last autosave.
    await autosaveRun(run, { force: true });
    await run.saving;
    if (session.autosave.state !== 'on') throw new Coded('error.removeUnsaved', { name: run.name });
    session.runs = session.runs.filter((r) => r !== run);
    run.trainer.free();
    // The model stays in the library; only the page's list changes.
    if (canAutosave()) await store.save({ meta: { workspace: workspaceRecord() } }).catch((e) => autosaveFailed(e, session.runs[0]?.id));
    return announced();
  },

  async renameRun({ runId, name }) {
    const run = findRun(runId);
    run.name = cleanName(name);
    if (canAutosave()) await autosaveRun(run, { force: true });
    await run.saving;   // on disk before the answer: a reload right after keeps the name
    return announced();
  },

  /** A new corpus: fresh runs with the current settings on it; the current set is kept for undo. */
  async setCorpus({ bytes, name, builtin }) {
    const data = builtin ? await fetchBuiltin() : bytes;
    const id = builtin ? BUILTIN.id : await store.hashBytes(data);
    const next = parseCorpus(data, builtin ? '' : name, id);      // throws on bad input: nothing changed
    const fresh = await createRuns(session.runs.map((r) => ({ name: r.name, settings: r.settings })), next);
    await replaceWorkspace({ corpus: next, runs: fresh }, { persistCorpus: !builtin });
    return announced();
  },

  /** A fresh set of one run with these settings on the current corpus; the current set is kept for undo. */
  async reset({ settings }) {
    const run = await createRun(settings, undefined, session.corpus, []);
    await replaceWorkspace({ corpus: { ...session.corpus }, runs: [run] }, { persistCorpus: false });
    return announced();
  },

  /** Loads a checkpoint file as the page's model; the current set is kept for undo. */
  async load({ bytes, name }) {
    if (bytes.byteLength > LIMITS.checkpointBytes) throw new Coded('error.checkpointFile', { mib: Math.round(bytes.byteLength / 2 ** 20), limit: LIMITS.checkpointBytes / 2 ** 20 });
    const trainer = await loadTrainer(bytes, session.corpus.bytes, session.backendPreference, name);
    const run = newRun(trainer, { name: name || undefined });
    await replaceWorkspace({ corpus: { ...session.corpus }, runs: [run] }, { persistCorpus: false });
    return announced();
  },

  /** Swaps the current set with the one it replaced (nothing is dropped). */
  async undo() {
    if (!session.undoSlot) throw new Coded('error.nothingToUndo');
    if (session.undoSlot.lazy) session.undoSlot = await restoreWorkspace(session.undoSlot.lazy);
    await replaceWorkspace({ corpus: session.undoSlot.corpus, runs: session.undoSlot.runs }, { persistCorpus: false });
    return announced();
  },

  /** Opens a shared experiment: its runs, fresh, on its corpus (the built-in one until the
   * user chooses the file it names); the current set is kept for undo. */
  async openExperiment({ corpus: spec, runs: specs }) {
    const { corpus, backendPreference } = session;
    const sameFile = spec?.hash && corpus.id === spec.hash;
    const next = sameFile || corpus.id === BUILTIN.id ? { ...corpus } : parseCorpus(await fetchBuiltin(), '', BUILTIN.id);
    const fresh = await createRuns(specs.map(({ name, settings }) => ({ name, settings: { ...settings, backend: backendPreference } })), next);
    await replaceWorkspace({ corpus: next, runs: fresh }, { persistCorpus: false });
    return announced();
  },

  /** Steals the autosave from the other tab. That tab trained on since this one opened, so
   * its saved state is loaded first wherever it is ahead: older weights never overwrite newer. */
  async takeOverAutosave() {
    await lockRuns({ steal: true });
    const reloaded = [];
    for (const run of session.runs) {
      const record = await store.getModel(run.id).catch(() => null);
      if (!record?.bytes || !(record.step > run.trainer.info().step)) continue;
      const trainer = await loadTrainer(record.bytes, session.corpus.bytes, run.settings.backend, record.name);
      run.trainer.free();
      Object.assign(run, { trainer, name: record.name, history: record.history ?? run.history, trainedSeconds: record.trainedSeconds ?? run.trainedSeconds,
        savedStep: record.step, evalAt: record.step, generation: (run.generation ?? 0) + 1 });
      reloaded.push({ name: run.name, step: record.step });
    }
    session.autosave.state = 'on';
    await saveWorkspace();
    if (reloaded.length) post({ event: 'tookOver', runs: reloaded });
    return announced();
  },

  /** Keeps this tab's runs as new library entries with their own lock. */
  async saveAsOwn() {
    for (const r of session.runs) { r.id = uid('m'); r.name = `${r.name} (copy)`; }
    session.workspace = { id: uid('w'), owner: false };
    session.autosave.state = 'on';
    await claimRuns();
    await saveWorkspace();
    return announced();
  },

  /** A poem, with its 平仄 marks and 格律 findings (crates/core/src/text/marks.rs). */
  async generate({ runId, options }) {
    const written = await findRun(runId).trainer.generate(options);
    written.marks = session.wasm.meterMarks(written.text);
    return written;
  },

  /** The quality figures of a run's poems (the CLI's `shige eval` table, fewer samples). */
  quality({ runId, samples, options }) { return findRun(runId).trainer.quality(samples, options); },

  save({ runId }) { return runBytes(findRun(runId)); },

  /** A model's checkpoint: the page's copy if it is open, else the stored one (e.g. one set
   * aside because it could not be opened). */
  async storedBytes({ modelId }) {
    const run = session.runs.find((r) => r.id === modelId);
    if (run) return runBytes(run);
    return (await storedModel(modelId)).bytes;
  },

  vocabulary({ runId }) { return findRun(runId).trainer.vocabulary(); },

  countParams({ settings }) { return session.wasm.countParams(settings, session.corpus.info.vocabSize); },

  hiddenForBudget({ settings, params }) { return session.wasm.hiddenForBudget(settings, session.corpus.info.vocabSize, params); },

  /** Bytes these settings need to train on the current corpus, and the most a tab may use. */
  memoryNeed({ settings }) { return { bytes: session.wasm.estimateMemory(settings, session.corpus.info.vocabSize), budget: session.wasm.memoryBudget() }; },

  // ---- the library: every model saved in this browser ----------------------------------
  async listLibrary() {
    if (!canAutosave() && session.autosave.state !== 'other-tab') return { models: [], available: false };
    const open = new Set(session.runs.map((r) => r.id));
    const models = (await store.listModels()).map((m) => ({ ...m, open: open.has(m.id) }));
    return { models, available: true, trash: session.trash.map((m) => ({ id: m.id, name: m.name })) };
  },

  /** Opens a stored model as the page's model; the current set is kept for undo. */
  async openModel({ modelId }) {
    const { corpus } = session;
    const record = await storedModel(modelId);
    if (record.broken) throw new Coded('error.broken', { message: record.broken });
    const sameCorpus = record.corpusId === corpus.id;
    const bytes = sameCorpus ? corpus.bytes
      : record.corpusId === BUILTIN.id ? await fetchBuiltin() : (await store.getCorpus(record.corpusId))?.bytes;
    if (!bytes) throw new Coded('error.corpusMissing');
    const next = sameCorpus ? { ...corpus } : parseCorpus(bytes, record.corpusName, record.corpusId);
    const trainer = await loadTrainer(record.bytes, bytes, record.settings?.backend, record.name);
    // The same library entry, unless another tab has it open: then a copy of it.
    const run = runFromRecord(trainer, record, { copy: !(await lockModel(record.id)) });
    await replaceWorkspace({ corpus: next, runs: [run] }, { persistCorpus: false });
    return announced();
  },

  async renameModel({ modelId, name }) {
    const clean = cleanName(name);
    const run = session.runs.find((r) => r.id === modelId);
    if (run) { await ops.renameRun({ runId: modelId, name: clean }); return ops.listLibrary(); }
    const record = await storedModel(modelId);
    await store.save({ models: [{ ...record, name: clean }] });
    return ops.listLibrary();
  },

  async duplicateModel({ modelId }) {
    const run = session.runs.find((r) => r.id === modelId);
    const record = run ? modelRecord(run, await runBytes(run)) : await store.getModel(modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ models: [{ ...record, id: uid('m'), name: `${record.name} (2)`, workspace: null, savedAt: Date.now() }] });
    return ops.listLibrary();
  },

  /** Deletes a stored model (not one open in the page); `undoDelete` brings it back. */
  async deleteModel({ modelId }) {
    if (session.runs.some((r) => r.id === modelId)) throw new Coded('error.modelOpen');
    if (await openElsewhere(modelId)) throw new Coded('error.modelOpenElsewhere');
    const record = await storedModel(modelId);
    await store.save({ deleteModels: [modelId] });
    session.trash.push(record);
    return ops.listLibrary();
  },

  async undoDelete({ modelId }) {
    const record = session.trash.find((m) => m.id === modelId);
    if (!record) throw new Coded('error.notStored');
    await store.save({ models: [record] });
    session.trash = session.trash.filter((m) => m !== record);
    return ops.listLibrary();
  },

  /** Tests: the fused GRU against the tensor-op GRU on this browser's WebGPU. */
  gruKernelCheck({ backend }) { return session.wasm.gruKernelCheck(backend ?? 'webgpu'); },
  adamKernelCheck({ backend }) { return session.wasm.adamKernelCheck(backend ?? 'webgpu'); },
  outputKernelCheck({ backend }) { return session.wasm.outputKernelCheck(backend ?? 'webgpu'); },

  /** Tests only: makes the module panic while it holds a run's trainer. */
  panicForTests({ runId }) { session.wasm.panicForTests(findRun(runId).trainer); },
};
