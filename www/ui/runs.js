// The runs table, the charts, the progress line, the backend, Train/Pause/Save/Load and the
// training events that update them. Imports dom.js, state.js, settings.js, ../i18n.js,
// ../notices.js, ../trainer-client.js, ../chart.js, ../share.js and ../settings-schema.js.
import { t, formatNumber } from '../i18n.js';
import { call, on } from '../trainer-client.js';
import * as notices from '../notices.js';
import { attempt, download } from '../notices.js';
import { TrainingChart, FlowChart } from '../chart.js';
import * as share from '../share.js';
import { LIMITS } from '../settings-schema.js';
import { $, actionButton, labelColumns, nameInput, textCell } from './dom.js';
import { applyState, colorOf, current, params, runById, selectedRun, stats } from './state.js';
import { checkSettings, writeSettings } from './settings.js';

export const chart = new TrainingChart($('chart'));
export const flowChart = new FlowChart($('flow-chart'));
let runOrder = '';                       // run ids and names, to rebuild the charts only when they change

/** Gives the charts the state's runs, when they changed (or after `redrawCharts`). */
export function renderCharts(state) {
  // A run whose model was swapped for a newer copy (taking over the autosave) redraws too.
  const order = state.runs.map((r) => `${r.id}:${r.name}:${r.generation}`).join('|');
  if (order === runOrder) return;
  runOrder = order;
  const runs = state.runs.map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id), history: r.history, flow: r.history.flow }));
  chart.setRuns(runs);
  flowChart.setRuns(runs);
}
/** The charts are drawn again on the next state (their legends in another language). */
export function redrawCharts() { runOrder = ''; }
for (const radio of document.querySelectorAll('input[name="flow-kind"]')) {
  radio.onchange = () => flowChart.setKind(radio.value);
}

export function showBackend(info) {
  if (!info) return;
  const why = !info.fallbackReason ? '' : info.skippedSoftwareWebgpu ? t('backend.skippedSoftware') : t('backend.unavailable');
  delete $('backend').dataset.i18n;   // no longer "starting…"
  // "cpu" or "webgpu: <adapter>", as the reader would write them.
  const name = info.backend === 'cpu' ? 'CPU' : info.backend.replace(/^webgpu/, 'WebGPU');
  $('backend').textContent = `${name}${why}`;
  $('backend').title = info.fallbackReason ?? t('backend.title');
}

// ---- the runs table -----------------------------------------------------------------------
function formatTime(seconds) {
  if (seconds < 90) return t('time.seconds', { n: Math.round(seconds) });
  if (seconds < 5400) return t('time.minutes', { n: Math.round(seconds / 60) });
  return t('time.hours', { n: formatNumber(seconds / 3600, 1) });
}

function charsPerSecond(run, s) {
  const i = run.info;
  const perStep = i.corpus.charsPerEpoch / Math.max(1, i.batchesPerEpoch);
  return s.seconds > 0 ? (s.steps * perStep) / s.seconds : null;
}

export function renderRuns() {
  const body = $('runs').tBodies[0];
  const focused = document.activeElement?.dataset?.action ? `${document.activeElement.closest('tr')?.dataset.run}:${document.activeElement.dataset.action}` : null;
  body.replaceChildren(...current.runs.map((run) => {
    const s = stats.get(run.id);
    const tr = document.createElement('tr');
    tr.dataset.run = run.id;
    const nameCell = document.createElement('td');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colorOf(run.id);
    nameCell.append(swatch, nameInput(run.name, t('runs.rename'), async (name) => applyState(await call('renameRun', { runId: run.id, name })), { action: 'rename' }));
    const cps = charsPerSecond(run, s);
    const actions = document.createElement('td');
    actions.className = 'actions';
    const button = (label, action, fn, group) => actionButton(actions, label, action, fn, { group });
    button(run.running ? t('runs.pause') : t('runs.train'), 'toggle',
      async () => applyState(await call(run.running ? 'pause' : 'train', { runId: run.id })));
    button(t('runs.saveOne'), 'save', () => saveRun(run.id), 'save');
    const remove = button(t('runs.remove'), 'remove', async () => {
      if (!confirm(t('runs.confirmRemove', { name: run.name }))) return;
      applyState(await call('removeRun', { runId: run.id }));
    }, 'runs-edit');
    remove.disabled = current.runs.length === 1;
    if (run.error) tr.title = run.error;
    tr.append(nameCell, textCell(t(`cell.${run.info.cell}`)), textCell(formatNumber(run.info.params)), textCell(formatNumber(run.info.step)),
      textCell(s.loss == null ? '–' : formatNumber(s.loss, 3)), textCell(cps == null ? '–' : formatNumber(cps)),
      textCell(s.bestPpl == null ? '–' : formatNumber(s.bestPpl, 1)), textCell(formatTime(s.total)), actions);
    return tr;
  }));
  labelColumns($('runs'));
  share.applyTeacherMode(params);
  if (focused) {
    const [runId, action] = focused.split(':');
    body.querySelector(`tr[data-run="${runId}"] [data-action="${action}"]`)?.focus();
  }
  updateProgress();
}

function updateProgress() {
  const run = selectedRun();
  if (!run) return;
  const epochs = run.info.epochs;
  const frac = epochs - Math.floor(epochs);
  $('epoch-progress').value = frac;
  const s = stats.get(run.id);
  delete $('progress-text').dataset.i18n;   // no longer "not started"
  const perS = s.seconds > 0 ? s.steps / s.seconds : 0;
  const left = perS > 0 ? ((1 - frac) * run.info.batchesPerEpoch) / perS : null;
  const at = { name: run.name, epoch: Math.floor(epochs) + 1, pct: formatNumber(frac * 100, 1), eta: left == null ? '–' : formatTime(left) };
  $('progress-text').textContent = t(run.running ? 'runs.progress' : 'runs.progressPaused', at);
}

export function setButtons() {
  const anyRunning = current.runs.some((r) => r.running);
  const allRunning = current.runs.every((r) => r.running);
  const hadFocus = document.activeElement;
  $('start').disabled = allRunning;
  $('pause').disabled = !anyRunning;
  for (const id of ['add-run', 'budget', 'reset', 'save', 'generate']) $(id).disabled = false;
  for (const chip of document.querySelectorAll('.chip')) chip.disabled = false;
  // A button that disables itself must not drop the focus to <body>.
  if (hadFocus === $('start') && $('start').disabled) $('pause').focus();
  if (hadFocus === $('pause') && $('pause').disabled) $('start').focus();
}

let tablePending = false;
function scheduleTable() {
  if (tablePending) return;
  tablePending = true;
  setTimeout(() => { tablePending = false; if (current) renderRuns(); }, 250);
}

/** A first visit opens the trained starter model: say what it is and how good it is (a notice,
 *  so its arrival never pushes the page down). */
let starterShown = false;
function showStarter(step, perplexity) {
  starterShown = true;
  const figure = Object.assign(document.createElement('strong'), { id: 'starter-perplexity' });
  notices.show(() => {
    figure.textContent = formatNumber(perplexity, 2);
    return [t('starter.intro', { step: formatNumber(step) }), ' ', figure, t('starter.afterFigure'), t('starter.next')];
  }, { kind: 'info', id: 'starter' });
}

// ---- training events ----------------------------------------------------------------------
// Events after the last state snapshot extend its histories, which the exports and the shared
// link read, the same way the worker extends its own.
on('progress', ({ runId, step, loss, seconds, epochs, gradNorm }) => {
  const s = stats.get(runId);
  const run = runById(runId);
  if (!s || !run) return;
  s.steps += 1; s.seconds += seconds; s.total += seconds; s.loss = loss;
  run.info.step = step; run.info.epochs = epochs;
  run.history.losses.push([step, loss]);
  (run.history.gradNorms ??= []).push([step, gradNorm]);
  chart.addLoss(runId, step, loss);
  scheduleTable();
});
on('eval', ({ runId, step, perplexity }) => {
  const run = runById(runId);
  if (run?.starter && !starterShown) showStarter(step, perplexity);
  const s = stats.get(runId);
  if (s) s.bestPpl = Math.min(s.bestPpl ?? Infinity, perplexity);
  if (run?.history.evals.at(-1)?.[0] === step) run.history.evals.pop();   // as the worker does
  run?.history.evals.push([step, perplexity]);
  chart.addEval(runId, step, perplexity);
  scheduleTable();
});
on('flow', ({ runId, step, wholePoem, lastChar }) => {
  const run = runById(runId);
  if (run) run.history.flow = { step, wholePoem, lastChar };
  flowChart.update(runId, { step, wholePoem, lastChar });
});

// ---- actions ------------------------------------------------------------------------------
$('start').onclick = () => attempt(async () => applyState(await call('train', {})));
// Pause stays enabled until the worker answers, so the focus can move on to Train then.
$('pause').onclick = () => attempt(async () => applyState(await call('pause', {})));

/** Downloads a run's checkpoint (the selected run's if `runId` is not open). */
export async function saveRun(runId) {
  const run = runById(runId) ?? selectedRun();
  const bytes = await call('save', { runId: run.id });
  download(bytes, `shige-${run.name.replace(/[^\p{L}\p{N}_-]+/gu, '_')}-step${run.info.step}.ckpt`);
}
$('save').onclick = () => attempt(() => saveRun(selectedRun()?.id));
$('load').onclick = () => $('load-file').click();
$('load-file').onchange = (e) => attempt(async () => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  if (file.size > LIMITS.checkpointBytes) {
    notices.show(() => t('error.checkpointFile', { mib: Math.round(file.size / 2 ** 20), limit: LIMITS.checkpointBytes / 2 ** 20 }));
    return;
  }
  const bytes = new Uint8Array(await file.arrayBuffer());
  const state = await call('load', { bytes, name: file.name.replace(/\.(ckpt|safetensors)$/, '') }, [bytes.buffer]);
  applyState(state);
  writeSettings(state.runs[0].settings);
  await checkSettings();
});
