// The page: wires the DOM to the trainer worker. Nothing here blocks on training.
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

// ---- worker calls -------------------------------------------------------------------------
let nextId = 1;
const pending = new Map();
function call(op, args) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args });
  });
}
worker.onmessage = ({ data }) => {
  if (data.id) {
    const p = pending.get(data.id);
    pending.delete(data.id);
    data.ok ? p.resolve(data.result) : p.reject(new Error(data.error));
    return;
  }
  events[data.event]?.(data);
};
worker.onerror = (e) => showError(`The trainer stopped unexpectedly: ${e.message ?? 'unknown error'}. Reload the page; your model was autosaved.`);

// ---- errors -------------------------------------------------------------------------------
function showError(text) {
  $('error-text').textContent = text;
  $('error').hidden = false;
}
$('error-close').onclick = () => { $('error').hidden = true; };
async function attempt(fn) {
  try { return await fn(); } catch (e) { showError(e.message); return undefined; }
}

// ---- chart (uPlot) ------------------------------------------------------------------------
const series = { step: [], loss: [], smooth: [], ppl: [] };
let chart = null;
function makeChart() {
  const el = $('chart');
  chart = new uPlot({
    width: el.clientWidth || 800,
    height: 300,
    scales: { x: { time: false }, ppl: { distr: 3 } },
    series: [
      { label: 'step' },
      { label: 'loss', stroke: '#e0b4ae', width: 1, scale: 'y' },
      { label: 'loss (smoothed)', stroke: '#b3261e', width: 2, scale: 'y' },
      { label: 'held-out perplexity', stroke: '#2a6fb0', width: 2, scale: 'ppl', points: { show: true }, spanGaps: true },
    ],
    axes: [{ label: 'step' }, { label: 'loss (nats/char)', scale: 'y' }, { label: 'perplexity', scale: 'ppl', side: 1, grid: { show: false } }],
  }, [[], [], [], []], el);
  new ResizeObserver(() => chart.setSize({ width: el.clientWidth, height: 300 })).observe(el);
}
function resetChart(history) {
  for (const k of Object.keys(series)) series[k].length = 0;
  const evals = new Map((history?.evals ?? []).map(([s, p]) => [s, p]));
  for (const [step, loss] of history?.losses ?? []) addPoint(step, loss, evals.get(step));
  redraw();
}
function addPoint(step, loss, ppl) {
  const prev = series.smooth.length ? series.smooth[series.smooth.length - 1] : loss;
  series.step.push(step); series.loss.push(loss); series.smooth.push(0.9 * prev + 0.1 * loss);
  series.ppl.push(ppl ?? null);
}
function redraw() {
  chart.setData([series.step, series.loss, series.smooth, series.ppl]);
  $('chart').dataset.points = String(series.step.length);
}

// ---- state display ------------------------------------------------------------------------
let current = null;
let speed = { steps: 0, seconds: 0 };   // this training run, for steps/s and ETA
function formatInt(n) { return Number(n).toLocaleString('en-US'); }
function showInfo(info) {
  current = info;
  const why = !info.fallbackReason ? '' : info.skippedSoftwareWebgpu ? ' (faster than software WebGPU)' : ' (WebGPU unavailable)';
  $('backend').textContent = info.backend + why;
  $('backend').title = info.fallbackReason ?? 'Where training runs';
  $('corpus-name').textContent = info.corpusName;
  const dropped = info.dropped.map(([why, n]) => `<div><dt>Dropped: ${why}</dt><dd>${formatInt(n)}</dd></div>`).join('');
  $('corpus-stats').innerHTML =
    `<div><dt>Poems kept</dt><dd id="poems-kept">${formatInt(info.poemsKept)}</dd></div>` +
    `<div><dt>Training / held out</dt><dd>${formatInt(info.poemsTrain)} / ${formatInt(info.poemsValidation)}</dd></div>` +
    dropped +
    `<div><dt>Vocabulary</dt><dd id="vocab-size">${formatInt(info.vocabSize)}</dd></div>` +
    `<div><dt>Characters per epoch</dt><dd>${formatInt(info.charsPerEpoch)}</dd></div>`;
  $('param-count').textContent = `${formatInt(info.params)} (embedding ${info.embedding}, hidden ${info.hidden}, ${info.layers} layer${info.layers > 1 ? 's' : ''})`;
  $('step').textContent = formatInt(info.step);
  const frac = info.epochs - Math.floor(info.epochs);
  $('epoch-progress').value = frac;
  $('progress-text').textContent = `epoch ${Math.floor(info.epochs) + 1}, ${(frac * 100).toFixed(1)}%`;
  setRunning(info.running);
}
function setRunning(running) {
  $('start').disabled = running;
  $('pause').disabled = !running;
  for (const id of ['reset', 'save', 'generate']) $(id).disabled = false;
  for (const chip of document.querySelectorAll('.chip')) chip.disabled = false;
}

const events = {
  progress({ losses, seconds, info }) {
    for (let k = 0; k < losses.length; k++) addPoint(info.step - losses.length + k + 1, losses[k]);
    redraw();
    speed.steps += losses.length; speed.seconds += seconds;
    const charsPerStep = info.charsPerEpoch / Math.max(1, info.batchesPerEpoch);
    const stepsPerS = speed.steps / speed.seconds;
    $('loss').textContent = series.smooth[series.smooth.length - 1].toFixed(3);
    $('steps-per-s').textContent = stepsPerS.toFixed(2);
    $('chars-per-s').textContent = formatInt(Math.round(stepsPerS * charsPerStep));
    const left = (1 - (info.epochs % 1)) * info.batchesPerEpoch / stepsPerS;
    $('eta').textContent = left < 90 ? `${Math.round(left)} s` : left < 5400 ? `${Math.round(left / 60)} min` : `${(left / 3600).toFixed(1)} h`;
    showInfo({ ...current, ...info, running: true });
  },
  eval({ step, perplexity }) {
    const i = series.step.lastIndexOf(step);
    if (i >= 0) series.ppl[i] = perplexity;
    redraw();
    $('perplexity').textContent = perplexity.toFixed(1);
  },
  error({ message }) { showError(message); },
  warning({ message }) { showError(message); },
  stopped({ info }) { showInfo({ ...info, running: false }); speed = { steps: 0, seconds: 0 }; },
};

// ---- settings -----------------------------------------------------------------------------
function readSettings() {
  const f = new FormData($('settings'));
  const num = (k) => Number(f.get(k));
  return {
    embedding: num('embedding'), hidden: num('hidden'), layers: num('layers'),
    learningRate: num('learningRate'), batchSize: num('batchSize'), maxSeqLen: num('maxSeqLen'),
    backend: f.get('backend'),
  };
}
function writeSettings(s) {
  for (const [k, v] of Object.entries(s ?? {})) {
    const input = $('settings').elements.namedItem(k);
    if (input) input.value = v;
  }
}
// URL parameters override the defaults (e.g. ?hidden=32&batchSize=8 for a quick demo).
for (const [k, v] of new URLSearchParams(location.search)) {
  const input = $('settings').elements.namedItem(k);
  if (input) input.value = v;
}

// ---- actions ------------------------------------------------------------------------------
$('start').onclick = () => attempt(async () => showInfo(await call('train')));
$('pause').onclick = () => attempt(async () => { $('pause').disabled = true; showInfo(await call('pause')); });
$('reset').onclick = () => attempt(async () => {
  if (!confirm('Start a new model with these settings? The current one can be restored with “Undo”.')) return;
  const info = await call('reset', { options: readSettings() });
  resetChart(info.history); showInfo(info); $('undo-reset').hidden = false;
});
$('undo-reset').onclick = () => attempt(async () => {
  const info = await call('undoReset');
  writeSettings(info.settings);
  resetChart(info.history); showInfo(info); $('undo-reset').hidden = true;
});
$('save').onclick = () => attempt(async () => {
  const bytes = await call('save');
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  a.download = `shige-step${current.step}.ckpt`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
});
$('load-file').onchange = (e) => attempt(async () => {
  const file = e.target.files[0];
  e.target.value = '';
  if (!file) return;
  const info = await call('load', { bytes: new Uint8Array(await file.arrayBuffer()) });
  writeSettings({ embedding: info.embedding, hidden: info.hidden, layers: info.layers });   // the loaded model's shape
  resetChart(info.history); showInfo(info);
  $('undo-reset').hidden = false;
});

function setBusy() {
  for (const id of ['start', 'pause', 'reset', 'save', 'generate']) $(id).disabled = true;
  for (const chip of document.querySelectorAll('.chip')) chip.disabled = true;
}
async function useCorpus(bytes, name) {
  $('corpus-name').textContent = `${name} (reading…)`;
  setBusy();
  try {
    const info = await call('setCorpus', { bytes, name, options: readSettings() });
    resetChart(info.history); showInfo(info);
    $('poems').innerHTML = '';
    $('undo-reset').hidden = false;
  } catch (e) {
    showError(`${name}: ${e.message}. The current model and corpus are unchanged.`);
    if (current) showInfo({ ...current, running: false });
  }
}
const MAX_FILE = 256 * 1024 * 1024;
async function useFile(file) {
  if (file.size > MAX_FILE) return showError(`${file.name} is ${Math.round(file.size / 2 ** 20)} MiB; the limit is 256 MiB.`);
  await useCorpus(new Uint8Array(await file.arrayBuffer()), file.name);
}
$('corpus-file').onchange = (e) => { const f = e.target.files[0]; e.target.value = ''; if (f) useFile(f); };
$('corpus-default').onclick = async () => useCorpus(await fetchDefaultCorpus(), 'the built-in 全唐诗');
const zone = $('drop-zone');
zone.ondragover = (e) => { e.preventDefault(); zone.classList.add('over'); };
zone.ondragleave = () => zone.classList.remove('over');
zone.ondrop = (e) => { e.preventDefault(); zone.classList.remove('over'); const f = e.dataTransfer.files[0]; if (f) useFile(f); };

// ---- generation ---------------------------------------------------------------------------
const FORM_NAMES = { free: 'free', wujue: '五绝', qijue: '七绝', wulv: '五律', qilv: '七律' };
$('temperature').oninput = () => { $('temperature-value').value = $('temperature').value; };
async function write(start) {
  const form = $('form').value;
  const acrostic = $('acrostic').value.trim();
  const options = {
    start: acrostic ? '' : start, form, acrostic,
    temperature: Number($('temperature').value), topK: Number($('top-k').value), topP: 0.95,
    seed: Number($('seed').value), maxChars: 80,
  };
  if (!acrostic && !start) return showError('Type a start character or pick one above.');
  const t0 = performance.now();
  try {
    const poem = await call('generate', options);
    addPoem(poem, { ...options, ms: performance.now() - t0 });
    $('seed').value = String(options.seed + 1);   // next click, next poem
  } catch (e) { showError(e.message); }
}
function addPoem(poem, o) {
  const li = document.createElement('li');
  const text = document.createElement('div');
  text.className = 'poem-text';
  text.textContent = poem.replace(/([。！？；])/g, '$1\n').trim();
  const meta = document.createElement('div');
  meta.className = 'poem-meta';
  meta.textContent = `${o.acrostic ? '藏头 ' + o.acrostic : o.start} · ${FORM_NAMES[o.form]} · T=${o.temperature} · seed ${o.seed} · step ${current?.step ?? 0} · ${Math.round(o.ms)} ms`;
  const copy = document.createElement('button');
  copy.type = 'button'; copy.textContent = 'Copy';
  copy.onclick = () => navigator.clipboard?.writeText(poem).then(() => { copy.textContent = 'Copied'; });
  meta.append(copy);
  li.append(text, meta);
  li.dataset.poem = poem;
  $('poems').prepend(li);
}
$('chips').onclick = (e) => { if (e.target.classList.contains('chip')) write(e.target.textContent); };
$('generate-form').onsubmit = (e) => { e.preventDefault(); write($('start-char').value.trim()); };

// ---- start --------------------------------------------------------------------------------
async function fetchDefaultCorpus() {
  const res = await fetch('default-corpus.txt');
  if (!res.ok) throw new Error(`the built-in corpus could not be loaded (HTTP ${res.status})`);
  return new Uint8Array(await res.arrayBuffer());
}
makeChart();
// For tests and the curious: the chart's data and the worker, from the console.
window.shige = { series, call, info: () => current };
attempt(async () => {
  const info = await call('start', { defaultCorpus: await fetchDefaultCorpus(), options: readSettings() });
  writeSettings(info.settings);
  resetChart(info.history);
  showInfo(info);
  document.body.dataset.ready = 'true';
});
