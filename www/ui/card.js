// A poem as a picture: a written poem as a PNG card in the traditional vertical layout (竖排:
// columns right to left, one 句 a column, its mark set under its last character), with
// its title and the model's name, optional 平仄 marks, the page's fonts and a small QR code back
// to the site. The layout is data (each glyph and where it stands), so a test reads the card
// back from `lastCard` instead of from its pixels; the canvas only draws it. Share hands the
// file to the Web Share API where the browser takes files, else downloads it. Everything is
// drawn in the tab, so the offline app makes cards too. Imports dom.js, qr.js, tones.js,
// ../i18n.js and ../notices.js.
import { onChange, t } from '../i18n.js';
import { attempt, download } from '../notices.js';
import { $ } from './dom.js';
import * as qr from './qr.js';
import { GLYPH } from './tones.js';

/** The card's size: 3:4, a phone's screen and a printed page alike. */
export const WIDTH = 1080;
export const HEIGHT = 1440;
const MARGIN = 84;
const FOOTER = 200;                        // the QR code and the site's name along the foot
const QR_SIZE = 156;
const MAX_ROWS = 14;                       // a longer 句 (free verse) goes on in the next column
const BREAK = /[，。！？；]/u;              // ends a 句: the next one starts a column
const MARK = /[，。！？；：、,.!?;:]/u;      // set with the character before it
const SPACE = /[\s\u3000]/u;
// Upright in a vertical line: Chinese characters and full-width forms; anything else (a run
// name's Latin letters and digits) is turned on its side, as vertical Chinese prints it.
const UPRIGHT = /[\p{Script=Han}\u3000-\u303f\uff00-\uffef○●◐]/u;
// Brackets turn with the line: their vertical forms (︵ ︶ for （ ）).
const VERTICAL = { '（': '︵', '）': '︶', '《': '︽', '》': '︾', '「': '﹁', '」': '﹂', '『': '﹃', '』': '﹄', '【': '︻', '】': '︼' };
const INK = '#222';
const PAPER = '#fbf8f1';
const RED = '#a52119';
const TONE_COLOR = { broken: '#b00020', rescued: '#7a4f00' };

/** The layout of the last card drawn (and `bytes`, its PNG's size, once one was made). */
export let lastCard = null;

/**
 * The poem's columns: `[{ chars: [{ ch, at, mark }] }]`, one a 句 (cut at ，。！？；), the
 * marks (，。、…) set with the character before them rather than given a place of their own.
 * `at` counts characters of `text`, as the 平仄 marks do.
 */
export function columns(text) {
  const cols = [];
  let col = null;
  [...text].forEach((ch, at) => {
    if (ch === '\n') { col = null; return; }
    if (SPACE.test(ch)) return;
    if (MARK.test(ch)) {
      const last = col?.chars.at(-1) ?? cols.at(-1)?.chars.at(-1);
      if (last && !last.mark) last.mark = ch;          // a leading or doubled mark is dropped
      if (BREAK.test(ch)) col = null;
      return;
    }
    if (!col || col.chars.length === MAX_ROWS) cols.push(col = { chars: [] });
    col.chars.push({ ch, at });
  });
  return cols;
}

/** The card's title: the acrostic, else the start the poem was asked for, else its first 句, else 无题. */
export function titleOf({ text, start = '', acrostic = '' }) {
  if (acrostic) return acrostic;
  if (start) return start;
  return columns(text)[0]?.chars.map((c) => c.ch).join('') || t('card.untitled');
}

/**
 * Sets `text` in one vertical line from (x, top): Chinese upright a character at a time, other
 * runs on their side. Returns the items and the line's length. `measure(text, size)` gives a
 * run's width in the font it will be drawn in.
 */
function verticalLine(text, { x, top, size, kind, font, color, measure, step = 1.1 }) {
  const items = [];
  let y = top;
  for (const [run] of text.matchAll(new RegExp(`${UPRIGHT.source}|[^${UPRIGHT.source.slice(1, -1)}]+`, 'gu'))) {
    if (UPRIGHT.test(run)) {
      items.push({ kind, ch: VERTICAL[run] ?? run, x, y: y + (size * step) / 2, size, font, color });
      y += size * step;
    } else {
      const text = run.trim();
      const length = text ? measure(text, size, font) : size * 0.3;
      if (text) items.push({ kind, ch: text, x, y: y + length / 2 + size * 0.1, size, font, color, rotate: true });
      y += length + size * 0.2;
    }
  }
  return { items, length: y - top };
}

/**
 * The card as data: `{ width, height, items, qr }`. Each item is one glyph (or one sideways
 * run of Latin text) with its centre (x, y), size and kind: `title`, `byline`, `poem`, `mark`
 * (a 句's punctuation), `tone` (a 平仄 mark), `seal` or `footer`. `poem` items read, columns
 * right to left and top to bottom within a column, as the poem's characters.
 */
export function layout(card, { tones = false, measure }) {
  const items = [];
  const bodyTop = MARGIN + 16;
  const bottom = HEIGHT - MARGIN - FOOTER;
  const height = bottom - bodyTop;
  const cols = columns(card.text);
  const rows = Math.max(1, ...cols.map((c) => c.chars.length));
  // The title and the byline: their columns at the right, the title large, the name small
  // and lower, as a poet's name stands under the title.
  const title = [...card.title];
  const ts = Math.min(80, height / (title.length * 1.12));
  const titleWidth = ts * 1.6;
  const bylineAt = ts * 1.5;
  let bs = 30;
  const bylineLength = (size) => verticalLine(card.byline, { x: 0, top: 0, size, measure, font: 'ui' }).length;
  while (bs > 14 && bylineLength(bs) > height - bylineAt) bs -= 2;
  const bylineWidth = bs * 1.8;
  const gap = 36;
  // The poem's characters as large as the room allows: each row tall enough for a mark set
  // under its last character, each column wide enough for the 平仄 marks beside it when shown.
  const room = WIDTH - 2 * MARGIN - titleWidth - bylineWidth - gap;
  const widthPerColumn = tones ? 1.8 : 1.6;
  const s = Math.min(104, height / (rows * 1.2), room / (Math.max(1, cols.length) * widthPerColumn));
  const pitch = s * widthPerColumn;
  const used = titleWidth + bylineWidth + gap + cols.length * pitch;
  const right = Math.min(WIDTH - MARGIN, (WIDTH + used) / 2);
  // The whole block a little above the middle of the room left by the foot.
  const blockHeight = Math.max(rows * s * 1.2, title.length * ts * 1.12, bylineAt + bylineLength(bs));
  const top = bodyTop + Math.max(0, height - blockHeight) * 0.4;

  const titleX = right - titleWidth / 2;
  items.push(...verticalLine(card.title, { x: titleX, top, size: ts, kind: 'title', font: 'poem', color: INK, measure, step: 1.12 }).items);
  const byline = verticalLine(card.byline, { x: right - titleWidth - bylineWidth / 2, top: top + bylineAt, size: bs, kind: 'byline', font: 'ui', color: '#5f574c', measure });
  items.push(...byline.items);

  const marksAt = new Map((card.marks?.chars ?? []).map((m) => [m.at, m]));
  cols.forEach((col, i) => {
    const x = right - titleWidth - bylineWidth - gap - pitch * (i + 0.5);
    col.chars.forEach((c, j) => {
      const y = top + s * 1.2 * (j + 0.5);
      items.push({ kind: 'poem', ch: c.ch, x, y, size: s, font: 'poem', color: INK, column: i, row: j });
      // Under its character and a little to the right, as vertical Chinese sets ，and 。: in its
      // own column, never read as the neighbour's.
      if (c.mark) items.push({ kind: 'mark', ch: c.mark, x: x + s * 0.28, y: y + s * 0.6, size: s * 0.7, font: 'poem', color: INK, ink: true });
      const m = marksAt.get(c.at);
      if (tones && m && m.ch === c.ch) {
        items.push({ kind: 'tone', ch: GLYPH[m.tone] ?? '?', x: x + s * 0.66, y: y - s * 0.12, size: s * 0.28, font: 'poem', color: TONE_COLOR[m.status] ?? '#444', ink: true });
      }
    });
  });

  // A seal under the title, where it fits: the site's name, white on red.
  const titleEnd = top + title.length * ts * 1.12;
  const seal = Math.min(96, titleWidth);
  if (bottom - titleEnd > seal + 24) {
    items.push({ kind: 'seal', ch: '诗', x: titleX, y: bottom - seal * 0.75, size: seal * 0.42, font: 'poem', color: '#fff', box: { x: titleX - seal / 2, y: bottom - seal, size: seal } });
    items.push({ kind: 'seal', ch: '歌', x: titleX, y: bottom - seal * 0.27, size: seal * 0.42, font: 'poem', color: '#fff' });
  }

  // The foot: a QR code back to the site, its name and address beside it.
  const qrY = HEIGHT - MARGIN - QR_SIZE;
  const textX = MARGIN + QR_SIZE + 28;
  items.push({ kind: 'footer', ch: '诗歌 Shige', x: textX, y: qrY + 34, size: 38, font: 'ui', color: RED, align: 'left', weight: 'bold' });
  items.push({ kind: 'footer', ch: card.footer, x: textX, y: qrY + 86, size: 24, font: 'ui', color: '#5f574c', align: 'left' });
  items.push({ kind: 'footer', ch: card.url.replace(/^https?:\/\//, '').replace(/\/(index\.html)?$/, ''), x: textX, y: qrY + 126, size: 22, font: 'ui', color: '#5f574c', align: 'left' });
  return { width: WIDTH, height: HEIGHT, title: card.title, text: card.text, tones, items, qr: { x: MARGIN, y: qrY, size: QR_SIZE, url: card.url } };
}

const fontOf = (item, fonts) => `${item.weight ?? 'normal'} ${Math.round(item.size)}px ${fonts[item.font]}`;

/** Draws a layout on `canvas`: paper, a thin red frame, the glyphs, the QR code. */
export async function draw(canvas, card, fonts) {
  canvas.width = card.width;
  canvas.height = card.height;
  const code = await qr.encode(card.qr.url);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = PAPER;
  ctx.fillRect(0, 0, card.width, card.height);
  ctx.strokeStyle = RED;
  ctx.lineWidth = 3;
  ctx.strokeRect(40, 40, card.width - 80, card.height - 80);
  ctx.lineWidth = 1;
  ctx.strokeRect(50, 50, card.width - 100, card.height - 100);
  for (const item of card.items) {
    if (item.box) {
      ctx.fillStyle = RED;
      ctx.fillRect(item.box.x, item.box.y, item.box.size, item.box.size);
    }
    ctx.save();
    ctx.font = fontOf(item, fonts);
    ctx.fillStyle = item.color;
    ctx.textAlign = item.align ?? 'center';
    ctx.textBaseline = 'middle';
    ctx.translate(item.x, item.y);
    if (item.rotate) ctx.rotate(Math.PI / 2);
    if (item.ink) {
      // Punctuation and marks sit off-centre in their em box: centre the ink itself.
      const m = ctx.measureText(item.ch);
      ctx.textAlign = 'left';
      ctx.textBaseline = 'alphabetic';
      ctx.fillText(item.ch, (m.actualBoundingBoxLeft - m.actualBoundingBoxRight) / 2, (m.actualBoundingBoxAscent - m.actualBoundingBoxDescent) / 2);
    } else {
      ctx.fillText(item.ch, 0, 0);
    }
    ctx.restore();
  }
  qr.drawCode(ctx, code, card.qr.x, card.qr.y, card.qr.size);
}

// ---- the dialog ------------------------------------------------------------------------------
let poem = null;   // the poem the dialog shows: { text, marks, start, acrostic, model, step, tones }

/** The page's fonts: the poems' serif for the poem and title, the page's own for the rest. */
function pageFonts() {
  const sample = document.querySelector('.poem-text');
  return { poem: sample ? getComputedStyle(sample).fontFamily : 'serif', ui: getComputedStyle(document.body).fontFamily };
}

async function redraw() {
  const canvas = $('card-canvas');
  const fonts = pageFonts();
  await document.fonts?.ready;
  const measure = (text, size, font) => {
    const ctx = canvas.getContext('2d');
    ctx.font = `${Math.round(size)}px ${fonts[font]}`;
    return ctx.measureText(text).width;
  };
  const card = layout({
    text: poem.text, marks: poem.marks, title: titleOf(poem), byline: t('card.byline', { name: poem.model, step: poem.step }),
    footer: t('card.footer'), url: location.origin + location.pathname,
  }, { tones: $('card-tones').checked, measure });
  await draw(canvas, card, fonts);
  canvas.setAttribute('aria-label', t('card.label', { title: card.title, poem: poem.text }));
  lastCard = card;
}

/** Opens the card of a written poem (`tones`: start with its 平仄 marks shown). */
export async function open(written) {
  poem = written;
  $('card-tones').checked = Boolean(written.tones);
  await redraw();
  if (!$('card-dialog').open) $('card-dialog').showModal();
}

const fileName = () => `shige-${lastCard.title.replace(/[^\p{L}\p{N}_-]+/gu, '_')}.png`;
async function pngFile() {
  const blob = await qr.png($('card-canvas'));
  lastCard.bytes = blob.size;
  return blob;
}
async function downloadCard() {
  download(await pngFile(), fileName());
}
/** The Web Share API where the browser shares files (phones, mostly), else a download. */
async function shareCard() {
  const blob = await pngFile();
  const file = new File([blob], fileName(), { type: 'image/png' });
  if (navigator.canShare?.({ files: [file] })) {
    try {
      await navigator.share({ files: [file], title: lastCard.title });
      return;
    } catch (e) {
      if (e?.name === 'AbortError') return;   // the visitor closed the share sheet
    }
  }
  download(blob, fileName());
}

$('card-tones').onchange = () => attempt(redraw);
$('card-download').onclick = () => attempt(downloadCard);
$('card-share').onclick = () => attempt(shareCard);
$('card-close').onclick = () => $('card-dialog').close();
// An open card is drawn again in the new language (its byline and foot are words).
onChange(() => { if (poem && $('card-dialog').open) attempt(redraw); });
