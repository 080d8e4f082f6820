// The page's mirror of the worker's state: its last state, each run's figures, the run being
// written with, and `applyState`, which redraws the page through the renderer app.js sets.
// Imports dom.js and ../chart.js (the runs' colours).
import { COLORS } from '../chart.js';
import { $ } from './dom.js';

/** The address the page was opened with (a shared link, presets, `lang`, the teacher's `hide`). */
export const params = new URLSearchParams(location.search);
export let current = null;                // the worker's last state
export const stats = new Map();           // runId -> { steps, seconds (this session), total (all training), loss, bestPpl }
let render = () => {};

/** Sets what redraws the page from a state (app.js: every view, in order). */
export function setRenderer(fn) { render = fn; }

export function applyState(state) {
  current = state;
  for (const r of state.runs) {
    const s = stats.get(r.id) ?? { steps: 0, seconds: 0, loss: null, bestPpl: null };
    s.total = r.trainedSeconds ?? 0;
    s.bestPpl = Math.min(s.bestPpl ?? Infinity, ...r.history.evals.map(([, p]) => p));
    if (!Number.isFinite(s.bestPpl)) s.bestPpl = null;
    s.loss ??= r.history.losses.at(-1)?.[1] ?? null;
    stats.set(r.id, s);
  }
  render(state);
}

export const runById = (runId) => current?.runs.find((r) => r.id === runId);
export const colorOf = (runId) => COLORS[Math.max(0, current?.runs.findIndex((r) => r.id === runId) ?? 0) % COLORS.length];
/** The run the writing form writes with (the first, until one is chosen). */
export const selectedRun = () => runById($('write-run').value) ?? current?.runs[0];
