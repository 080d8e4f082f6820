// A Transformer's poem, inside: for each layer and head, which earlier characters each character
// looked at while the next one was chosen (the core's `poem_attention`, one row a position,
// each row summing to 1). One small map a head: rows the position read, columns the positions
// it looked at (only earlier ones: the attention is causal). The inspector's character is
// outlined in every map, and the readout names what each head looked at most for it. Hover,
// tap or the arrow keys read one cell: the two characters and the weight. The inspector draws it
// again after a language switch. Imports dom.js and ../i18n.js.
import { t, formatNumber } from '../i18n.js';
import { $, ylGnBu } from './dom.js';

const MAP_PX = 160;            // a map's side (most), whatever the poem's length


/** The character at a map's position: BOS is "the start". */
const label = (chars, j) => chars[j] ?? t('inspect.bos');

/**
 * Shows `attention` (`{ chars, maps: { weights: [layer][head][i][j] } }`, or null for a recurrent
 * cell: the section hides) for a poem of `steps` with step `selected` in the inspector.
 */
export function showAttention(attention, steps, selected) {
  const section = $('attention');
  section.hidden = !attention?.maps.weights.length;
  if (section.hidden) return;
  const { chars, maps: { weights } } = attention;
  // The maps cover the poem's last block of positions: BOS and every character but the crop.
  const offset = steps.length + 1 - chars.length;
  const row = Math.min(chars.length - 1, Math.max(0, selected - offset));
  const figures = [];
  const strongest = [];
  weights.forEach((heads, layer) => heads.forEach((w, head) => {
    const name = t('inspect.head', { layer: layer + 1, head: head + 1 });
    const best = w[row].reduce((b, v, j) => (j <= row && v > w[row][b] ? j : b), 0);
    strongest.push(t('inspect.headLooked', { head: name, char: label(chars, best), weight: formatNumber(w[row][best], 2) }));
    figures.push(mapFor(chars, w, name, row, best));
  }));
  // A row a layer, a column a head (narrow screens shrink the maps, never the grid).
  $('attention-maps').style.gridTemplateColumns = `repeat(${weights[0].length}, minmax(0, ${MAP_PX}px))`;
  $('attention-maps').replaceChildren(...figures);
  const reading = label(chars, row);
  const writing = steps[row + offset]?.char;
  $('attention-readout').textContent = t(writing ? 'inspect.attentionRow' : 'inspect.attentionEnd', { read: reading, char: writing ?? '' })
    + strongest.join(t('notice.listSeparator'));
}

function mapFor(chars, w, name, selectedRow, best) {
  const n = chars.length;
  const cell = MAP_PX / n;
  const figure = document.createElement('figure');
  figure.className = 'attention-map';
  const canvas = document.createElement('canvas');
  canvas.tabIndex = 0;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', t('inspect.attentionLabel', { head: name, n }));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(MAP_PX * ratio);
  canvas.height = Math.round(MAP_PX * ratio);
  let cursor = [selectedRow, best];
  const draw = () => {
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#f4f4f4';
    ctx.fillRect(0, 0, MAP_PX, MAP_PX);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        ctx.fillStyle = ylGnBu(w[i][j]);   // linear in the weight
        ctx.fillRect(j * cell, i * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    // The inspector's character: its row.
    ctx.strokeStyle = '#111';
    ctx.lineWidth = 1.5;
    ctx.strokeRect(0.75, selectedRow * cell + 0.75, (selectedRow + 1) * cell - 1.5, Math.max(1, cell - 1.5));
    if (document.activeElement === canvas) {
      ctx.strokeStyle = '#b3261e';
      ctx.lineWidth = 2;
      ctx.strokeRect(cursor[1] * cell + 1, cursor[0] * cell + 1, Math.max(2, cell - 2), Math.max(2, cell - 2));
    }
  };
  const read = ([i, j]) => {
    cursor = [i, j];
    $('attention-readout').textContent = t('inspect.attentionCell', {
      head: name, read: label(chars, i), looked: label(chars, j), back: i - j, weight: formatNumber(w[i][j], 3),
    });
    draw();
  };
  const cellAt = (e) => {
    // The map as drawn on the page (CSS may have shrunk it).
    const box = canvas.getBoundingClientRect();
    const [i, j] = [Math.floor(((e.clientY - box.top) / box.height) * n), Math.floor(((e.clientX - box.left) / box.width) * n)];
    return i >= 0 && i < n && j >= 0 && j <= i ? [i, j] : null;
  };
  canvas.onpointermove = (e) => { const c = cellAt(e); if (c) read(c); };
  canvas.onpointerdown = canvas.onpointermove;
  canvas.onfocus = () => read(cursor);
  canvas.onblur = draw;
  canvas.onkeydown = (e) => {
    const moves = { ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0], Home: [0, -n], End: [0, n] };
    const move = moves[e.key];
    if (!move) return;
    e.preventDefault();
    const i = Math.min(n - 1, Math.max(0, cursor[0] + move[0]));
    // Only earlier positions (and itself) can be looked at.
    read([i, Math.min(i, Math.max(0, cursor[1] + move[1]))]);
  };
  draw();
  const caption = document.createElement('figcaption');
  caption.textContent = name;
  figure.append(canvas, caption);
  return figure;
}
