// Inside a poem: while a poem is written, the model's top next characters at each step; a
// click on a character of a finished poem shows that step's distribution and heatmaps of the
// gate (GRU update gate z, LSTM forget gate f) and of the hidden units over the poem, or for a
// Transformer each layer's and head's attention (ui/attention.js).
import { t, formatNumber } from './i18n.js';
import { charDetail } from './ui/tones.js';
import { showAttention } from './ui/attention.js';

const $ = (id) => document.getElementById(id);
const REVEAL_MS = 70;

/**
 * Renders a written poem into `el` as clickable characters; resolves when all are shown. Each
 * 句 (up to ，。！？；) is kept whole, so a narrow screen wraps between 句, never inside one.
 * `show: false` writes it without opening the inspector (a poem nobody asked for yet).
 */
export async function reveal(el, written, { cell, animate = true, show = true }) {
  el.textContent = '';
  const steps = written.steps ?? [];
  const spans = [];
  for (let i = 0; i < steps.length; i++) {
    const span = document.createElement('button');
    span.type = 'button';
    span.className = 'poem-char';
    span.textContent = steps[i].char;
    span.setAttribute('aria-pressed', 'false');
    span.onclick = () => inspect(written, i, cell, spans);
    // Left and right arrows walk through the poem, a character at a time.
    span.onkeydown = (e) => {
      const next = e.key === 'ArrowRight' ? i + 1 : e.key === 'ArrowLeft' ? i - 1 : null;
      if (next == null || !spans[next]) return;
      e.preventDefault();
      spans[next].focus();
      inspect(written, next, cell, spans);
    };
    spans.push(span);
  }
  if (!steps.length) { el.textContent = written.text; return; }
  const coupletEnd = /[。！？；]/u;
  const verseEnd = /[，。！？；]/u;
  let verse = null;
  for (let i = 0; i < spans.length; i++) {
    if (!verse) { verse = Object.assign(document.createElement('span'), { className: 'verse' }); el.append(verse); }
    verse.append(spans[i]);
    if (verseEnd.test(steps[i].char)) verse = null;
    if (coupletEnd.test(steps[i].char) && i < spans.length - 1) el.append(document.createElement('br'));
    if (animate) {
      inspect(written, i, cell, spans);
      await new Promise((r) => setTimeout(r, REVEAL_MS));
    }
  }
  if (show) inspect(written, spans.length - 1, cell, spans);
}

let shown = null;   // the step in the inspector, to redraw it in another language

/** Redraws the inspector in the current language. */
export function retranslate() {
  if (shown) inspect(...shown);
}

/** Shows step `i` of a written poem in the inspector. */
export function inspect(written, i, cell, spans) {
  shown = [written, i, cell, spans];
  const aside = $('inspector');
  aside.hidden = false;
  // One character is selected on the whole page: the one the inspector shows.
  for (const s of document.querySelectorAll('.poem-char.selected')) { s.classList.remove('selected'); s.setAttribute('aria-pressed', 'false'); }
  spans?.[i]?.classList.add('selected');
  spans?.[i]?.setAttribute('aria-pressed', 'true');
  const step = written.steps[i];
  const chosen = step.probability == null ? '' : ` ${t('inspect.chosen', { char: step.char, pct: formatNumber(step.probability * 100, step.probability < 0.01 ? 2 : 1) })}`;
  $('inspect-step').textContent = t('inspect.step', { n: i + 1, char: step.char }) + chosen;
  // The character's 平仄 and 平水韵 groups (and its place in the pattern), as on hover.
  const mark = written.marks?.chars.find((c) => c.at === i);
  $('inspect-tone').hidden = !mark;
  $('inspect-tone').textContent = mark ? charDetail(mark) : '';
  const list = $('inspect-top');
  list.textContent = '';
  for (const [c, p] of step.top) {
    const li = document.createElement('li');
    li.className = c === step.char ? 'chosen' : '';
    const ch = document.createElement('span');
    ch.className = 'top-char';
    ch.textContent = c;
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.width = `${Math.max(1, p * 100)}%`;
    const pct = document.createElement('span');
    pct.className = 'pct';
    pct.textContent = `${formatNumber(p * 100, 1)}%`;
    li.append(ch, bar, pct);
    list.append(li);
  }
  // A Transformer has no recurrent state: its attention instead.
  $('recurrent-maps').hidden = !!written.attention;
  showAttention(written.attention, written.steps, i);
  if (written.attention) return;
  const hasGates = written.steps.some((s) => s.gate?.length);
  $('gate-title').textContent = hasGates ? t(cell === 'lstm' ? 'inspect.gateLstm' : 'inspect.gateGru') : t('inspect.noGate');
  $('gate-map').hidden = !hasGates;
  if (hasGates) heatmap($('gate-map'), written.steps.map((s) => s.gate), i, [0, 1]);
  heatmap($('hidden-map'), written.steps.map((s) => s.hidden), i, [-1, 1]);
  $('gate-map').setAttribute('aria-label', t('inspect.heatmapLabel', { what: $('gate-title').textContent, n: written.steps.length }));
  $('hidden-map').setAttribute('aria-label', t('inspect.heatmapLabel', { what: t('inspect.hidden'), n: written.steps.length }));
}

/** Units down, characters across; `range` maps to white..red (or blue..white..red when it spans 0). */
function heatmap(canvas, columns, selected, [lo, hi]) {
  const units = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const ctx = canvas.getContext('2d');
  const cellW = Math.max(4, Math.floor(480 / Math.max(1, columns.length)));
  canvas.width = cellW * columns.length;
  const rowH = units > 160 ? 160 / units : Math.max(1, Math.floor(160 / units));
  canvas.height = Math.ceil(rowH * units);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  columns.forEach((col, x) => {
    (col ?? []).forEach((v, y) => {
      const f = Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
      ctx.fillStyle = lo < 0 ? diverging(f) : sequential(f);
      ctx.fillRect(x * cellW, y * rowH, cellW, Math.max(rowH, 1));
    });
  });
  ctx.strokeStyle = '#111';
  ctx.lineWidth = 2;
  ctx.strokeRect(selected * cellW + 1, 1, cellW - 2, canvas.height - 2);
}

const sequential = (f) => `rgb(255, ${Math.round(255 - 200 * f)}, ${Math.round(255 - 215 * f)})`;
const diverging = (f) => (f < 0.5
  ? `rgb(${Math.round(60 + 390 * f)}, ${Math.round(110 + 290 * f)}, 255)`
  : `rgb(255, ${Math.round(255 - 400 * (f - 0.5))}, ${Math.round(255 - 430 * (f - 0.5))})`);
