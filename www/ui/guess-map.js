// How a prediction learns: for the lab's line, one heatmap a run — rows the line's characters,
// columns the held-out evaluations (the steps the curve is sampled at), each cell the
// probability the run gave that character there, on one colour scale for every run so the race
// compares. Hover, tap or the arrow keys read a cell: its step, its character and the five
// likeliest guesses. The columns are the worker's (saved with the run). Imports dom.js,
// state.js, ../i18n.js, ../notices.js and ../trainer-client.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import { attempt } from '../notices.js';
import { $, ylGnBu } from './dom.js';
import { applyState, current, runById } from './state.js';

const CELL_HEIGHT = 18;
const LABEL_WIDTH = 22;
const maps = new Map();       // runId -> { canvas, cursor: [column, row] }
let shown = null;             // writes the readout again (in another language)

/** Where a probability sits on the colour scale: logarithmic from 0.0001 (0) to 1 (1), since an
 * untrained model gives every character about 1/vocabulary and learning multiplies that. */
const position = (p) => Math.min(1, Math.max(0, (Math.log10(Math.max(p, 1e-12)) + 4) / 4));
/** A probability's colour: light yellow (0.0001 and below) through teal to dark blue (1). */
export const colorFor = (p) => ylGnBu(position(p));

/** The colour scale's key, once: a gradient with its probabilities marked. */
function legend() {
  const key = document.createElement('div');
  key.className = 'guess-legend';
  key.setAttribute('aria-hidden', 'true');
  const ticks = [1e-4, 1e-3, 1e-2, 1e-1, 1];
  key.style.background = `linear-gradient(to right, ${ticks.map((p) => colorFor(p)).join(', ')})`;
  for (const p of ticks) {
    const tick = document.createElement('span');
    tick.textContent = String(p);
    tick.style.left = `${position(p) * 100}%`;
    key.append(tick);
  }
  return key;
}

$('guess-form').onsubmit = (e) => {
  e.preventDefault();
  attempt(async () => applyState(await call('guessLine', { line: $('guess-line').value })));
};

/** Draws every run's heatmap from the state's histories. */
export function renderMaps(state) {
  const runs = state.runs;
  const line = runs.find((r) => r.history.guesses)?.history.guesses.line;
  if (line && document.activeElement !== $('guess-line')) $('guess-line').value = line;
  for (const id of maps.keys()) if (!runs.some((r) => r.id === id)) maps.delete(id);
  $('guess-maps').replaceChildren(...runs.map((run) => figureFor(run)));
  $('guess-legend').replaceChildren(...(runs.some((r) => r.history.guesses?.steps.length) ? [legend()] : []));
}

/** New columns for one run (the worker's 'guesses' event). */
export function update(runId, guesses) {
  const run = runById(runId);
  if (!run) return;
  run.history.guesses = guesses;
  const old = maps.get(runId)?.canvas.closest('figure');
  if (old) old.replaceWith(figureFor(run)); else renderMaps(current);
}

function figureFor(run) {
  const figure = document.createElement('figure');
  figure.className = 'guess-map';
  const caption = document.createElement('figcaption');
  const g = run.history.guesses;
  if (g?.missing) {
    caption.textContent = t('lesson.missingChar', { run: run.name, char: g.missing });
    figure.append(caption);
    return figure;
  }
  if (!g?.steps.length) {
    caption.textContent = t('lesson.noColumns', { run: run.name });
    figure.append(caption);
    return figure;
  }
  caption.textContent = t('lesson.mapLabel', { run: run.name, line: g.line });
  const chars = [...g.line];
  const canvas = document.createElement('canvas');
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', caption.textContent);
  canvas.dataset.run = run.id;
  canvas.dataset.columns = String(g.steps.length);
  const columns = g.steps.length;
  const width = Math.max(320, Math.min(720, LABEL_WIDTH + columns * 14));
  const columnWidth = (width - LABEL_WIDTH) / columns;
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(chars.length * CELL_HEIGHT * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${chars.length * CELL_HEIGHT}px`;
  const state = maps.get(run.id) ?? { cursor: [columns - 1, 0], columns };
  state.canvas = canvas;
  // A cursor on the newest column stays on the newest as columns arrive.
  const latest = state.cursor[0] >= state.columns - 1;
  state.cursor = [latest ? columns - 1 : Math.min(state.cursor[0], columns - 1), Math.min(state.cursor[1], chars.length - 1)];
  state.columns = columns;
  maps.set(run.id, state);

  const draw = () => {
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, chars.length * CELL_HEIGHT);
    ctx.font = `${CELL_HEIGHT - 4}px "Noto Serif CJK SC", "Noto Sans CJK SC", serif`;
    ctx.textBaseline = 'middle';
    ctx.fillStyle = '#222';
    chars.forEach((c, row) => ctx.fillText(c, 2, row * CELL_HEIGHT + CELL_HEIGHT / 2));
    g.probabilities.forEach((column, x) => column.forEach((p, row) => {
      ctx.fillStyle = colorFor(p);
      ctx.fillRect(LABEL_WIDTH + x * columnWidth, row * CELL_HEIGHT, Math.ceil(columnWidth), CELL_HEIGHT);
    }));
    if (document.activeElement === canvas) {
      const [x, row] = state.cursor;
      ctx.strokeStyle = '#b3261e';
      ctx.lineWidth = 2;
      ctx.strokeRect(LABEL_WIDTH + x * columnWidth + 1, row * CELL_HEIGHT + 1, Math.max(2, columnWidth - 2), CELL_HEIGHT - 2);
    }
  };
  const read = ([x, row]) => {
    state.cursor = [x, row];
    shown = () => read(state.cursor);   // written again after a language switch
    const top = g.top[x][row].map(([c, p]) => `${c} ${formatNumber(p, 3)}`).join(t('notice.listSeparator'));
    $('guess-readout').textContent = t('lesson.cell', { run: run.name, step: formatNumber(g.steps[x]), char: chars[row], p: formatNumber(g.probabilities[x][row], 4), top });
    draw();
  };
  const cellAt = (e) => {
    const box = canvas.getBoundingClientRect();
    const x = Math.floor((e.clientX - box.left - LABEL_WIDTH) / columnWidth);
    const row = Math.floor((e.clientY - box.top) / CELL_HEIGHT);
    return x >= 0 && x < columns && row >= 0 && row < chars.length ? [x, row] : null;
  };
  canvas.onpointermove = (e) => { const cell = cellAt(e); if (cell) read(cell); };
  canvas.onpointerdown = canvas.onpointermove;
  canvas.onfocus = () => read(state.cursor);
  canvas.onblur = draw;
  canvas.onkeydown = (e) => {
    const moves = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1], Home: [-columns, 0], End: [columns, 0] };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    const [x, row] = state.cursor;
    read([Math.min(columns - 1, Math.max(0, x + move[0])), Math.min(chars.length - 1, Math.max(0, row + move[1]))]);
  };
  draw();
  figure.append(canvas, caption);
  return figure;
}

/** After a language switch: the maps are drawn again with the state; the readout here. */
export function retranslate() {
  if (!shown) return;
  const write = shown;
  // The canvas was replaced: only the words of the cell last read are written again.
  try { write(); } catch { $('guess-readout').textContent = ''; }
}
