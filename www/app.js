// The page: wires the DOM to the trainer worker. Nothing here blocks on training.
import * as i18n from './i18n.js';
import { t, formatNumber } from './i18n.js';
import { call, on, startWorker } from './trainer-client.js';
import * as offline from './offline.js';
import * as notices from './notices.js';
import { attempt, download, describeError, translate } from './notices.js';
import { TrainingChart, FlowChart, COLORS } from './chart.js';
import * as share from './share.js';
import { reveal, retranslate as retranslateInspector } from './internals.js';
import * as library from './library.js';
import { labelColumns } from './dom.js';
import { applyToForm, isSetting, parseSetting, LIMITS } from './settings-schema.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

// ---- state from the worker ----------------------------------------------------------------
let current = null;                      // the worker's last state
const stats = new Map();                 // runId -> { steps, seconds (this session), total (all training), loss, bestPpl }
let runOrder = '';                       // run ids and names, to rebuild the charts only when they change
const chart = new TrainingChart($('chart'));
const flowChart = new FlowChart($('flow-chart'));

const colorOf = (runId) => COLORS[Math.max(0, current?.runs.findIndex((r) => r.id === runId) ?? 0) % COLORS.length];

function applyState(state) {
  current = state;
  // A run whose model was swapped for a newer copy (taking over the autosave) redraws too.
  const order = state.runs.map((r) => `${r.id}:${r.name}:${r.generation}`).join('|');
  for (const r of state.runs) {
    const s = stats.get(r.id) ?? { steps: 0, seconds: 0, loss: null, bestPpl: null };
    s.total = r.trainedSeconds ?? 0;
    s.bestPpl = Math.min(s.bestPpl ?? Infinity, ...r.history.evals.map(([, p]) => p));
    if (!Number.isFinite(s.bestPpl)) s.bestPpl = null;
    s.loss ??= r.history.losses.at(-1)?.[1] ?? null;
    stats.set(r.id, s);
  }
  if (order !== runOrder) {
    runOrder = order;
    const runs = state.runs.map((r) => ({ id: r.id, name: r.name, color: colorOf(r.id), history: r.history, flow: r.history.flow }));
    chart.setRuns(runs);
    flowChart.setRuns(runs);
  }
  showCorpus(state.corpus);
  renderRuns();
  renderWriteRuns();
  // Undo belongs to the new-model group: a teacher who hid it keeps it hidden.
  $('undo').hidden = !state.undo || teacherHidden.includes('new-model');
  showBackend(state.runs[0]?.info);
  setButtons();
  scheduleLibrary();
}

// The library list is read from storage: at most every two seconds.
let libraryTimer = null;
function scheduleLibrary() {
  if (libraryTimer || !document.body.dataset.ready) return;
  libraryTimer = setTimeout(() => { libraryTimer = null; library.refresh().catch(() => {}); }, 2000);
}

function showBackend(info) {
  if (!info) return;
  const why = !info.fallbackReason ? '' : info.skippedSoftwareWebgpu ? t('backend.skippedSoftware') : t('backend.unavailable');
  delete $('backend').dataset.i18n;   // no longer "starting…"
  // "cpu" or "webgpu: <adapter>", as the reader would write them.
  const name = info.backend === 'cpu' ? 'CPU' : info.backend.replace(/^webgpu/, 'WebGPU');
  $('backend').textContent = `${name}${why}`;
  $('backend').title = info.fallbackReason ?? t('backend.title');
}

function showCorpus(c) {
  $('corpus-name').textContent = c.id === 'builtin' ? t('corpus.builtinName') : c.name;
  const info = c.info;
  const row = (label, value, id = '') => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (id) dd.id = id;
    div.append(dt, dd);
    return div;
  };
  const rows = [
    row(t('corpus.kept'), formatNumber(info.poemsKept), 'poems-kept'),
    row(t('corpus.split'), `${formatNumber(info.poemsTrain)} / ${formatNumber(info.poemsValidation)}`),
    ...info.dropped.map(([why, n]) => row(t('corpus.dropped', { why: t(`dropReason.${why}`, { defaultValue: why }) }), formatNumber(n))),
    row(t('corpus.vocabulary'), formatNumber(info.vocabSize), 'vocab-size'),
    row(t('corpus.charsPerEpoch'), formatNumber(info.charsPerEpoch)),
  ];
  $('corpus-stats').replaceChildren(...rows);
}

// ---- runs table ---------------------------------------------------------------------------
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

function renderRuns() {
  const body = $('runs').tBodies[0];
  const focused = document.activeElement?.dataset?.action ? `${document.activeElement.closest('tr')?.dataset.run}:${document.activeElement.dataset.action}` : null;
  body.replaceChildren(...current.runs.map((run) => {
    const s = stats.get(run.id);
    const tr = document.createElement('tr');
    tr.dataset.run = run.id;
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; return td; };
    const nameCell = document.createElement('td');
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = colorOf(run.id);
    const name = document.createElement('input');
    name.className = 'run-name';
    name.value = run.name;
    name.setAttribute('aria-label', t('runs.rename'));
    name.dataset.action = 'rename';
    name.onchange = () => attempt(async () => applyState(await call('renameRun', { runId: run.id, name: name.value })));
    nameCell.append(swatch, name);
    const cps = charsPerSecond(run, s);
    const actions = document.createElement('td');
    actions.className = 'actions';
    const button = (label, action, fn, group) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.dataset.action = action;
      if (group) b.dataset.group = group;
      b.onclick = () => attempt(fn);
      actions.append(b);
      return b;
    };
    button(run.running ? t('runs.pause') : t('runs.train'), 'toggle',
      async () => applyState(await call(run.running ? 'pause' : 'train', { runId: run.id })));
    button(t('runs.saveOne'), 'save', () => saveRun(run.id), 'save');
    const remove = button(t('runs.remove'), 'remove', async () => {
      if (!confirm(t('runs.confirmRemove', { name: run.name }))) return;
      applyState(await call('removeRun', { runId: run.id }));
    }, 'runs-edit');
    remove.disabled = current.runs.length === 1;
    if (run.error) tr.title = run.error;
    tr.append(nameCell, cell(t(`cell.${run.info.cell}`)), cell(formatNumber(run.info.params)), cell(formatNumber(run.info.step)),
      cell(s.loss == null ? '–' : formatNumber(s.loss, 3)), cell(cps == null ? '–' : formatNumber(cps)),
      cell(s.bestPpl == null ? '–' : formatNumber(s.bestPpl, 1)), cell(formatTime(s.total)), actions);
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

function setButtons() {
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

const selectedRun = () => current?.runs.find((r) => r.id === $('write-run').value) ?? current?.runs[0];

function renderWriteRuns() {
  const select = $('write-run');
  const keep = select.value;
  select.replaceChildren(...current.runs.map((r) => {
    const o = document.createElement('option');
    o.value = r.id;
    o.textContent = r.name;
    return o;
  }));
  if (current.runs.some((r) => r.id === keep)) select.value = keep;
}

// ---- worker events ------------------------------------------------------------------------
// Events after the last state snapshot extend its histories, which the exports and the shared
// link read, the same way the worker extends its own.
on('progress', ({ runId, step, loss, seconds, epochs, gradNorm }) => {
  const s = stats.get(runId);
  const run = current?.runs.find((r) => r.id === runId);
  if (!s || !run) return;
  s.steps += 1; s.seconds += seconds; s.total += seconds; s.loss = loss;
  run.info.step = step; run.info.epochs = epochs;
  run.history.losses.push([step, loss]);
  (run.history.gradNorms ??= []).push([step, gradNorm]);
  chart.addLoss(runId, step, loss);
  scheduleTable();
});
on('eval', ({ runId, step, perplexity }) => {
  const run = current?.runs.find((r) => r.id === runId);
  if (run?.starter && !starterShown) showStarter(step, perplexity);
  const s = stats.get(runId);
  if (s) s.bestPpl = Math.min(s.bestPpl ?? Infinity, perplexity);
  run?.history.evals.push([step, perplexity]);
  chart.addEval(runId, step, perplexity);
  scheduleTable();
});
on('flow', ({ runId, step, wholePoem, lastChar }) => {
  const run = current?.runs.find((r) => r.id === runId);
  if (run) run.history.flow = { step, wholePoem, lastChar };
  flowChart.update(runId, { step, wholePoem, lastChar });
});
on('state', ({ state }) => applyState(state));
/** A worker event's text; `inner` is the underlying error's own key, translated too. */
const eventText = ({ key, vars, inner }) => () => translate(key, inner ? { ...vars, message: translate(inner.key, inner.vars) } : vars);
on('error', (e) => notices.show(eventText(e)));
on('warning', (e) => notices.show(eventText(e), { kind: 'warning' }));
on('restored', ({ runs }) => {
  const list = () => runs.map((r) => t('notice.restoredRun', { name: r.name, step: formatNumber(r.step),
    time: r.savedAt ? new Date(r.savedAt).toLocaleTimeString(i18n.language() === 'en' ? 'en-GB' : 'zh-CN', { timeStyle: 'short' }) : '–' })).join(t('notice.listSeparator'));
  notices.show(() => t('notice.restored', { runs: list() }), { kind: 'info', id: 'restored' });
});
on('fatal', ({ message }) => notices.show(() => t('notice.workerDied', { message })));
on('tookOver', ({ runs }) => notices.show(() => t('notice.tookOver', {
  runs: runs.map((r) => t('notice.tookOverRun', { name: r.name, step: formatNumber(r.step) })).join(t('notice.listSeparator')) }), { kind: 'info', id: 'took-over' }));
// After a crash, the worker found another version installed by another tab: only a reload
// brings this page's scripts and the module together again.
on('needsReload', () => notices.show(() => t('update.afterCrash'), { kind: 'warning', id: 'update', actions: [
  { label: () => t('update.reload'), run: () => location.reload() },
] }));
on('autosave', (e) => {
  if (e.state === 'on') { notices.clear('autosave'); notices.show(() => t('notice.autosaveOk'), { kind: 'info', id: 'autosave-ok' }); return; }
  const actions = [];
  if (e.offerDownload) actions.push({ label: () => t('notice.download'), run: () => saveRun(e.runId) });
  if (e.state === 'other-tab') {
    actions.push({ label: () => t('notice.takeOver'), run: async () => applyState(await call('takeOverAutosave')) });
    actions.push({ label: () => t('notice.saveAsOwn'), run: async () => applyState(await call('saveAsOwn')) });
  }
  notices.show(() => autosaveMessage(e), { kind: 'warning', id: 'autosave', actions });
});
on('unrestorable', ({ modelId, name, message }) => {
  notices.show(() => t('notice.unrestorable', { name, message }), { kind: 'warning', id: `broken-${modelId}`, actions: [
    { label: () => t('notice.download'), run: async () => download(await call('storedBytes', { modelId }), `${name}.ckpt`) },
  ] });
});

function autosaveMessage(e) {
  if (e.state === 'other-tab') return e.lostLock ? t('notice.lockLost') : t('notice.otherTab');
  if (e.state === 'unavailable') return t('notice.noStorage');
  return t('notice.autosaveFailed', { reason: e.quota ? t('notice.quota') : e.reason });
}

let tablePending = false;
function scheduleTable() {
  if (tablePending) return;
  tablePending = true;
  setTimeout(() => { tablePending = false; if (current) renderRuns(); }, 250);
}

// ---- settings -----------------------------------------------------------------------------
function readSettings() {
  const f = new FormData($('settings'));
  const num = (k) => Number(f.get(k));
  return {
    cell: f.get('cell'), embedding: num('embedding'), hidden: num('hidden'), layers: num('layers'), tied: f.get('tied') === 'on',
    learningRate: num('learningRate'), outputDropout: num('outputDropout'), batchSize: num('batchSize'), maxSeqLen: num('maxSeqLen'), seed: num('seed'),
    backend: f.get('backend'),
  };
}
function writeSettings(s) {
  for (const [k, v] of Object.entries(s ?? {})) {
    const input = $('settings').elements.namedItem(k);
    if (!input) continue;
    if (input.type === 'checkbox') input.checked = !!v; else input.value = v;
  }
}
async function checkSettings() {
  if (!current) return true;
  const settings = readSettings();
  try {
    const [params, { bytes, budget }] = await Promise.all([call('countParams', { settings }), call('memoryNeed', { settings })]);
    $('param-count').textContent = formatNumber(params);
    const tooBig = bytes > budget;
    $('settings-warning').textContent = tooBig ? t('settings.tooBig', { gib: formatNumber(bytes / 2 ** 30, 1) }) : '';
    for (const id of ['add-run', 'reset']) $(id).disabled = tooBig;
    return !tooBig;
  } catch (e) {
    $('settings-warning').textContent = describeError(e);
    return false;
  }
}
$('settings').addEventListener('input', () => checkSettings());
/**
 * URL parameters preset the form (e.g. ?hidden=32&batchSize=8 for a quick demo), each checked
 * against the form's own limits: a bad one is named in a notice and the form keeps its value.
 * Returns whether any preset was applied.
 */
function applyPresets() {
  let applied = false;
  for (const [name, raw] of params) {
    if (!isSetting(name)) continue;
    const { value, problem } = parseSetting(name, raw);
    if (problem) {
      notices.show(() => t('settings.badPreset', { problem: translate(problem.key, problem) }), { kind: 'warning', id: `preset-${name}` });
      continue;
    }
    writeSettings({ [name]: value });
    applied = true;
  }
  return applied;
}

// ---- actions ------------------------------------------------------------------------------
$('start').onclick = () => attempt(async () => applyState(await call('train', {})));
// Pause stays enabled until the worker answers, so the focus can move on to Train then.
$('pause').onclick = () => attempt(async () => applyState(await call('pause', {})));
$('add-run').onclick = () => attempt(async () => {
  if (!(await checkSettings())) return;
  applyState(await call('addRun', { settings: readSettings() }));
});
$('budget').onclick = () => attempt(async () => {
  const first = current.runs[0];
  const settings = readSettings();
  const hidden = await call('hiddenForBudget', { settings, params: first.info.params });
  writeSettings({ hidden });
  const params = await call('countParams', { settings: { ...settings, hidden } });
  await checkSettings();
  $('settings-warning').textContent = t('runs.budgetResult', { hidden, params: formatNumber(params), name: first.name, target: formatNumber(first.info.params) });
});
$('reset').onclick = () => attempt(async () => {
  if (!(await checkSettings())) return;
  if (!confirm(t('runs.confirmNew'))) return;
  applyState(await call('reset', { settings: readSettings() }));
});
$('undo').onclick = () => attempt(async () => {
  if (!confirm(t('runs.confirmUndo'))) return;
  applyState(await call('undo'));
});
async function saveRun(runId) {
  const run = current.runs.find((r) => r.id === runId) ?? selectedRun();
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

// ---- corpus -------------------------------------------------------------------------------
function setBusy() {
  for (const id of ['start', 'pause', 'add-run', 'reset', 'save', 'generate']) $(id).disabled = true;
}
async function useCorpus(args, name, transfer = []) {
  $('corpus-name').textContent = t('corpus.reading', { name });
  setBusy();
  try {
    applyState(await call('setCorpus', args, transfer));
    $('poems').replaceChildren();
    $('arrival').replaceChildren();
    notices.clear('need-file');
  } catch (e) {
    notices.show(() => t('corpus.failed', { name, message: describeError(e) }));
    if (current) applyState(current);
  }
}
async function useFile(file) {
  if (file.size > LIMITS.corpusBytes) return notices.show(() => t('corpus.tooLarge', { name: file.name, mib: Math.round(file.size / 2 ** 20) }));
  // The buffer moves to the worker: the page keeps no copy.
  const bytes = new Uint8Array(await file.arrayBuffer());
  return useCorpus({ bytes, name: file.name }, file.name, [bytes.buffer]);
}
const chooseCorpus = () => $('corpus-file').click();
$('corpus-choose').onclick = chooseCorpus;
$('corpus-file').onchange = (e) => { const f = e.target.files[0]; e.target.value = ''; if (f) useFile(f); };
$('corpus-default').onclick = () => useCorpus({ builtin: true }, t('corpus.builtinName'));
const zone = $('drop-zone');
zone.onkeydown = (e) => { if ((e.key === 'Enter' || e.key === ' ') && e.target === zone) { e.preventDefault(); chooseCorpus(); } };
// The whole poems section takes a dropped file; the dashed zone shows it.
const dropArea = $('corpus-section');
dropArea.ondragover = (e) => { e.preventDefault(); zone.classList.add('over'); };
dropArea.ondragleave = (e) => { if (!dropArea.contains(e.relatedTarget)) zone.classList.remove('over'); };
dropArea.ondrop = (e) => { e.preventDefault(); zone.classList.remove('over'); const f = e.dataTransfer.files[0]; if (f) useFile(f); };

// ---- writing ------------------------------------------------------------------------------
// With the penalty input's 1.2, the sampling that `shige eval --sampling-sweep` chose (BENCHMARKS.md).
const TOP_P = 0.9;
// Rhyme applies to forms with lines only.
const syncRhyme = () => { $('rhyme').disabled = $('form').value === 'free'; };
$('form').addEventListener('change', syncRhyme);
syncRhyme();
$('temperature').oninput = () => { $('temperature-value').value = $('temperature').value; };
/** The sampling options of the writing form (the quality measurement uses them too). */
function samplingOptions() {
  return { temperature: Number($('temperature').value), topK: Number($('top-k').value), topP: TOP_P,
    seed: Number($('seed').value), repetitionPenalty: Math.max(1, Number($('penalty').value) || 1) };
}

async function write(start, { arrival = false } = {}) {
  const run = selectedRun();
  // A poem on arrival is a rhymed 五绝: it fits the room kept for it, so nothing moves.
  const form = arrival ? 'wujue' : $('form').value;
  const acrostic = arrival ? '' : $('acrostic').value.trim();
  const options = {
    ...samplingOptions(), start: acrostic ? '' : start, form, acrostic, maxChars: 80,
    rhyme: arrival || (form !== 'free' && $('rhyme').checked),
  };
  // Its own seed: the form's seed (and the poem a click on 月 writes first) stays the visitor's.
  if (arrival) options.seed = Math.floor(Math.random() * 2 ** 31);
  if (!acrostic && !start) return showWriteError(() => t('write.needStart'));
  const t0 = performance.now();
  try {
    const written = await call('generate', { runId: run.id, options });
    showWriteError(null);
    if (!arrival) $('seed').value = String(options.seed + 1);   // next click, next poem
    await addPoem(written, { ...options, ms: performance.now() - t0, run, arrival });
  } catch (e) { showWriteError(() => describeError(e)); }
}
/** A writing error goes under the form (not in the banners at the top, out of view). */
let writeError = null;
function showWriteError(text) {
  writeError = text;
  $('write-error').hidden = !text;
  $('write-error').textContent = text ? text() : '';
  if (text) $('start-char').setAttribute('aria-invalid', 'true'); else $('start-char').removeAttribute('aria-invalid');
}
const poemMeta = new WeakMap();   // poem <li> -> rewrites its meta line in the current language
async function addPoem(written, o) {
  const li = document.createElement('li');
  li.dataset.poem = written.text;
  const text = document.createElement('div');
  text.className = 'poem-text';
  text.lang = 'zh-Hans';
  const meta = document.createElement('div');
  meta.className = 'poem-meta';
  const head = o.acrostic ? `藏头 ${o.acrostic}` : o.start;
  const step = o.run.info.step;
  const copy = document.createElement('button');
  copy.type = 'button';
  let copied = false;
  const label = document.createElement('span');
  label.lang = i18n.language();
  // Rewritten on a language switch, like every other string on the page.
  const writeMeta = () => {
    label.lang = i18n.language();
    label.textContent = t('write.meta', { head, form: t(`form.${o.form}`), temperature: o.temperature, seed: o.seed,
      step, run: o.run.name, ms: Math.round(o.ms) }) + (o.rhyme ? ` · ${t('write.rhymed')}` : '') + (o.repetitionPenalty > 1 ? ` · ${t('write.penaltyMeta', { p: o.repetitionPenalty })}` : '');
    copy.textContent = t(copied ? 'write.copied' : 'write.copy');
  };
  copy.onclick = () => navigator.clipboard?.writeText(written.text).then(() => { copied = true; writeMeta(); });
  writeMeta();
  poemMeta.set(li, writeMeta);
  meta.append(label, ' ', copy);
  li.append(text, meta);
  $('poem-placeholder')?.remove();
  if (o.arrival) $('arrival').append(li); else $('poems').prepend(li);
  await reveal(text, written, { cell: o.run.info.cell, animate: !o.arrival, show: !o.arrival });
  // `done` marks the poems the visitor asked for; the one written on arrival is `arrival`.
  if (o.arrival) li.dataset.arrival = 'true'; else li.dataset.done = 'true';
}
$('chips').onclick = (e) => { if (e.target.classList.contains('chip')) write(e.target.textContent); };
$('generate-form').onsubmit = (e) => { e.preventDefault(); write($('start-char').value.trim()); };

// ---- quality ------------------------------------------------------------------------------
const QUALITY_SAMPLES = 30;
$('measure').onclick = () => attempt(async () => {
  const run = selectedRun();
  $('measure').disabled = true;
  $('quality-table').tBodies[0].replaceChildren();
  try {
    showQuality(await call('quality', { runId: run.id, samples: QUALITY_SAMPLES, options: samplingOptions() }), run);
  } finally {
    $('measure').disabled = false;
  }
});
let lastQuality = null;
function showQuality(q, run) {
  lastQuality = [q, run];
  const pct = (x) => `${formatNumber(x * 100, 1)}%`;
  const best = stats.get(run.id)?.bestPpl;
  const rows = [
    [t('quality.run'), `${run.name} · ${t('quality.step', { step: formatNumber(run.info.step) })}`],
    [t('quality.perplexity'), best == null ? '–' : formatNumber(best, 1)],
    [t('quality.wellFormed'), pct(q.wellFormed)],
    [t('quality.rhyme'), `${pct(q.rhymeWujue)} / ${pct(q.rhymeQijue)}`],
    [t('quality.rhymeConstrained'), pct(q.rhymeQijueConstrained)],
    [t('quality.copied'), t('quality.chars', { mean: formatNumber(q.copiedMean, 1), max: q.copiedMax })],
    [t('quality.copiesALine'), pct(q.copiesALine)],
    [t('quality.repeated'), pct(q.repeated)],
    [t('quality.speed'), t('quality.perSecond', { n: formatNumber(q.charsPerSecond) })],
  ];
  $('quality-table').tBodies[0].replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
  $('quality-table').dataset.samples = String(q.samples);
}

// ---- lab, share, export -------------------------------------------------------------------
for (const radio of document.querySelectorAll('input[name="flow-kind"]')) {
  radio.onchange = () => flowChart.setKind(radio.value);
}
let shareShown = null;   // the share status, to rewrite it in another language
const shareOutput = (text) => { shareShown = text; $('share-output').textContent = typeof text === 'function' ? text() : text; };
async function copyText(text) {
  shareOutput(text);   // shown at once; the clipboard may ask for permission, or never answer
  try {
    await Promise.race([navigator.clipboard.writeText(text), new Promise((_, no) => setTimeout(no, 2000))]);
    shareOutput(() => t('share.copied', { url: text }));
  } catch { /* the link stays shown to copy by hand */ }
}
$('copy-link').onclick = () => copyText(share.link(current, { lang: i18n.language() }));
$('copy-teacher-link').onclick = () => {
  const hide = [...document.querySelectorAll('#teacher-groups input:checked')].map((i) => i.value);
  copyText(share.link(current, { hide, lang: i18n.language() }));
};
function renderTeacherGroups() {
  $('teacher-groups').replaceChildren(...share.GROUPS.map((g) => {
    const label = document.createElement('label');
    label.className = 'check';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = g;
    const span = document.createElement('span');
    span.textContent = t(`teacher.group.${g}`);
    label.append(box, span);
    return label;
  }));
}
const stamp = () => new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
$('export-csv').onclick = () => download(share.csv(current.runs), `shige-runs-${stamp()}.csv`, 'text/csv');
$('export-json').onclick = () => download(share.json(current), `shige-runs-${stamp()}.json`, 'application/json');
$('export-png').onclick = () => attempt(async () => download(await chart.png(t('chart.pngTitle')), `shige-chart-${stamp()}.png`));

// ---- language -----------------------------------------------------------------------------
$('lang-switch').onclick = () => i18n.switchTo(i18n.other());
i18n.onChange(() => {
  runOrder = '';
  renderTeacherGroups();
  notices.retranslate();
  if (current) applyState(current);
  library.refresh().catch(() => {});
  if (lastQuality) showQuality(...lastQuality);
  if (writeError) showWriteError(writeError);
  for (const li of [...$('poems').children, ...$('arrival').children]) poemMeta.get(li)?.();
  retranslateInspector();
  if (shareShown) shareOutput(shareShown);
});

// Leaving or hiding the page saves what trained since the last autosave (as far as the
// browser lets the write finish): from the moment the worker runs, whatever start-up did.
let workerStarted = false;
const flush = () => { if (workerStarted) call('flush').catch(() => {}); };
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flush(); });
window.addEventListener('pagehide', flush);

// ---- start --------------------------------------------------------------------------------
// For tests and the curious: the charts' data and the worker, from the console.
window.shige = { call, state: () => current, chart, flowChart, stats, checkForUpdate: offline.checkForUpdate };

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

async function openExperiment(exp) {
  applyState(await call('openExperiment', { corpus: exp.corpus, runs: exp.runs }));
  afterExperiment(exp);
}
/** The form shows the link's settings, and a link made on a file asks for that file. */
function afterExperiment(exp) {
  writeSettings(current.runs[0].settings);
  if (exp.corpus.hash && current.corpus.id !== exp.corpus.hash) {
    notices.show(() => t('share.needFile', { name: exp.corpus.name }), { kind: 'info', id: 'need-file', actions: [
      { label: () => t('corpus.choose'), run: chooseCorpus },
    ] });
  }
}

/**
 * A shared link is applied once: afterwards the address no longer carries it (nor the presets),
 * so a reload, a restored tab or Back never starts the class over. `lang` and the teacher's
 * `hide` stay.
 */
function forgetLink() {
  const url = new URL(location.href);
  for (const k of [...url.searchParams.keys()]) if (k === 'exp' || k === 'starter' || isSetting(k)) url.searchParams.delete(k);
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}

let teacherHidden = [];
async function startPage() {
  const lang = params.get('lang');
  if (lang && Object.hasOwn(i18n.LANGUAGES, lang)) {
    try { localStorage.setItem('shige.lang', lang); } catch { /* not remembered */ }
  }
  await i18n.setup();
  applyToForm($('settings'));
  renderTeacherGroups();
  teacherHidden = share.applyTeacherMode(params);
  // Nothing below may leave the page without a model, a library or ready buttons.
  const presets = applyPresets();
  let exp = null;
  try { exp = share.fromUrl(params); } catch (e) { notices.show(() => t('share.refused', { message: describeError(e) })); }
  library.setup({ opened: (state) => { applyState(state); writeSettings(state.runs[0].settings); } });
  $('backend').textContent = t('backend.offlineCopy');
  const offlineCopy = await offline.register({ onUpdate: (apply, { installedElsewhere }) => notices.show(() => t(installedElsewhere ? 'update.installed' : 'update.ready'), { kind: 'info', id: 'update', actions: [
    { label: () => t('update.reload'), run: apply },
  ] }) });
  if (offlineCopy === 'failed') notices.show(() => t('update.noOfflineCopy'), { kind: 'warning', id: 'offline' });
  offline.buildId().then((id) => { if (id) $('build-id').textContent = id; });
  startWorker();
  workerStarted = true;
  try {
    await attempt(async () => {
      const settings = readSettings();
      // The starter model, unless the link asks for particular settings or an experiment.
      const starter = !exp && !presets && params.get('starter') !== '0';
      const state = await call('start', { settings, backend: settings.backend, starter, starterName: t('starter.name'), experiment: exp?.runs ?? null });
      applyState(state);
      if (state.opened === 'experiment') afterExperiment(exp);
      else if (exp && state.restored) {
        // This browser has models of its own: ask before the link replaces them (they stay in
        // the library, and Undo swaps them back).
        const names = state.runs.map((r) => r.name).join(t('notice.listSeparator'));
        if (!state.trained || confirm(t('share.confirmOpen', { runs: names }))) await openExperiment(exp);
        else writeSettings(state.runs[0].settings);
      } else if (state.restored) writeSettings(state.runs[0].settings);
    });
    await checkSettings();
  } finally {
    forgetLink();
    await library.refresh().catch(() => {});
    document.body.dataset.ready = 'true';
  }
  writeOnArrival();
}

/** A visitor sees a poem without asking: the page's model writes one as it opens (when it has
 *  been trained at all), from one of the start characters. */
function writeOnArrival() {
  const run = selectedRun();
  const placeholder = $('poem-placeholder');
  if (!placeholder) return;
  if (!run || run.info.step === 0) {
    placeholder.dataset.i18n = 'write.pickChar';
    placeholder.textContent = t('write.pickChar');
    return;
  }
  const chips = [...document.querySelectorAll('.chip')].map((c) => c.textContent);
  write(chips[Math.floor(Math.random() * chips.length)], { arrival: true });
}
startPage();
