// Before class: which paths this device has, a few timed steps of each open run's settings (and
// the form's, where no run has them) on a fresh model beside them, and how far each gets in the
// minutes given. Imports session.js, protocol.js, runs.js and ../settings-schema.js.
import { EXPERIMENT_KEYS } from '../settings-schema.js';
import { session } from './session.js';
import { Coded } from './protocol.js';
import { createRun, starterCurve } from './runs.js';

/**
 * Before class: which paths this device has, a few timed steps of each open run's settings
 * (on a fresh model beside them, so the runs themselves do not change), and how far each
 * gets in `minutes` with the runs taking turns: its steps, and the held-out loss its own
 * curve or the starter's reaches there.
 */
export async function checkDevice({ minutes = 20, form = null }) {
  const { wasm, build, corpus, runs } = session;
  if (!corpus.info) throw new Coded('error.lesson.notStarted');
  // The form's settings too, where no open run has them: what a teacher means to run.
  const same = (a, b) => EXPERIMENT_KEYS.every((k) => a[k] === b[k]);
  const candidates = runs.map((r) => ({ id: r.id, name: r.name, settings: r.settings, step: r.trainer.info().step, evals: r.history.evals }));
  if (form && !runs.some((r) => same(r.settings, form))) candidates.push({ id: null, name: null, settings: form, step: 0, evals: [] });
  let adapter = null;
  try {
    const found = await navigator.gpu?.requestAdapter();
    if (found) adapter = [found.info?.vendor, found.info?.architecture, found.info?.description].filter(Boolean).join(' ') || 'WebGPU';
  } catch { /* no WebGPU */ }
  const paths = { adapter, threaded: build?.dir.startsWith('pkg-threads') ?? false, relaxedSimd: build?.dir === 'pkg-threads-relaxed',
    threads: wasm.isThreaded() ? session.threads : 1 };
  const timed = [];
  for (const run of candidates) {
    const need = wasm.estimateMemory(run.settings, corpus.info.vocabSize);
    const entry = { runId: run.id, name: run.name, step: run.step, history: run.evals };
    if (need > wasm.memoryBudget()) { timed.push({ ...entry, fits: false, gib: need / 2 ** 30 }); continue; }
    let probe;
    try {
      probe = await createRun(run.settings, run.name, corpus, runs);
    } catch (e) {
      if (e?.key !== 'settings.tooBig') throw e;
      timed.push({ ...entry, fits: true, beside: false });
      continue;
    }
    try {
      await probe.trainer.trainSteps(1);           // the first step compiles and allocates
      const started = performance.now();
      await probe.trainer.trainSteps(3);
      timed.push({ ...entry, fits: true, beside: true, msPerStep: (performance.now() - started) / 3, backend: probe.trainer.info().backend });
    } finally {
      probe.trainer.free();
    }
  }
  // Runs take turns, one step each: in `minutes`, each trains minutes / (sum of their step times).
  const turn = timed.reduce((sum, r) => sum + (r.msPerStep ?? 0), 0);
  const starter = await starterCurve(null);
  for (const r of timed) {
    if (!r.msPerStep) continue;
    r.steps = Math.floor((minutes * 60_000) / turn);
    const at = r.step + r.steps;
    const own = r.history.length > 1 && r.history.at(-1)[0] >= at ? r.history : null;
    const curve = own ?? starter?.evals;
    if (curve?.length) {
      const perplexity = interpolate(curve, at);
      Object.assign(r, { loss: Math.log(perplexity), source: own ? 'own' : 'starter' });
    }
  }
  for (const r of timed) delete r.history;
  return { paths, runs: timed, minutes };
}

/** `curve` ([[step, value], …], steps rising) at `step`: linear between points, the end values beyond. */
function interpolate(curve, step) {
  if (step <= curve[0][0]) return curve[0][1];
  for (let i = 1; i < curve.length; i++) {
    const [s1, v1] = curve[i];
    if (step <= s1) {
      const [s0, v0] = curve[i - 1];
      return v0 + ((v1 - v0) * (step - s0)) / Math.max(1, s1 - s0);
    }
  }
  return curve.at(-1)[1];
}
