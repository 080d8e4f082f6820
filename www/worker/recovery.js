// Crash recovery: after a Rust panic, rescue every run's last good step, load a fresh module and
// the runs back (or ask for a reload where a new version is installed). Imports session.js,
// protocol.js, runs.js, wasm-loader.js and ../store.js.
import * as store from '../store.js';
import { announce, canAutosave, modelRecord, session, workspaceRecord } from './session.js';
import { Coded, message, post, warn } from './protocol.js';
import { loadTrainer } from './runs.js';
import { fetchBuildId, loadWasm } from './wasm-loader.js';

let recovering = null;
let rescued = null;                  // [{ run, bytes }] taken from a panicked module, until reloaded

/**
 * After a Rust panic the module is unusable: save every run's last good step from the old
 * module, start a fresh one and load them back. Returns false if it was no crash, null once
 * recovered, or the error that stopped the recovery. A recovery that fails itself (no network
 * for the module, a new version deployed meanwhile) says so and keeps what it rescued: the next
 * call tries again, and nothing it throws reaches the loop.
 */
export async function crashed(error) {
  let panic;
  try { panic = session.wasm?.panicMessage?.(); } catch { panic = message(error); }
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
    for (const run of session.runs) {
      run.running = false;
      // What each rescued file is comes from what is known, never from the crashed trainer:
      // it is still borrowed by the panic and throws "busy".
      const bytes = await run.trainer.rescue().catch(() => null);
      if (bytes) {
        rescued.push({ run, bytes, step: run.trainer.rescuedStep(), compact: false });
        continue;
      }
      const saved = canAutosave() ? await store.getModel(run.id).catch(() => null) : null;
      rescued.push({ run, bytes: saved?.bytes ?? null, step: saved?.step ?? 0, compact: !!saved?.compact });
    }
  }
  session.jobs.length = 0;
  // This page's scripts must never meet another version's module: if another tab installed a
  // new version meanwhile, keep the rescued models in storage and ask for a reload instead.
  const current = await fetchBuildId();
  if (session.loadedBuild && current && current !== session.loadedBuild) {
    if (canAutosave()) {
      const models = rescued.filter((r) => r.bytes).map(({ run, bytes, step, compact }) => modelRecord(run, bytes, { step, compact }));
      // Stored as the workspace too, so the reload opens these runs at their rescued steps.
      await store.save({ models, meta: { workspace: workspaceRecord() } }).catch((e) => console.error('shige worker: the rescued models could not be stored:', e));
    }
    post({ event: 'needsReload' });
    throw new Coded('update.afterCrash', { panic });
  }
  await loadWasm();
  const { corpus } = session;
  if (corpus.bytes) corpus.data = session.wasm.CorpusData.parse(corpus.bytes);
  const restored = [];
  for (const { run, bytes } of rescued) {
    if (!bytes) continue;
    run.trainer = await loadTrainer(bytes, corpus.bytes, run.settings.backend, run.name);
    restored.push(`${run.name} at step ${run.trainer.info().step}`);
  }
  session.runs = rescued.filter((s) => s.bytes).map((s) => s.run);
  rescued = null;
  warn('notice.crashed', { panic, restored: restored.join(', ') || '–' });
  announce();
}
