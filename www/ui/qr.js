// QR codes, for the class link on a projector (ui/class-link.js) and a poem's card (ui/card.js).
// The encoder is qrcode-generator (vendor/qrcode.js, from assets/package.json; MIT), imported
// the first time a code is drawn: a visit that never draws one never loads it (the service
// worker precaches it, so cards and codes work offline). Imports nothing of the page.

let encoder = null;
const load = () => (encoder ??= import('../vendor/qrcode.js').then((m) => m.default));

/**
 * The code of `text` as a square of modules: `{ size, dark(row, col) }`. Medium error
 * correction (a projected or printed code survives a smudge), low where the text is too long
 * for that; throws `{ key: 'classLink.tooLong' }` where it does not fit a code at all.
 */
export async function encode(text) {
  const qrcode = await load();
  // The encoder reads a string as bytes, one per char code: hand it the UTF-8 bytes.
  const bytes = String.fromCharCode(...new TextEncoder().encode(text));
  for (const level of ['M', 'L']) {
    try {
      const qr = qrcode(0, level);
      qr.addData(bytes, 'Byte');
      qr.make();
      const size = qr.getModuleCount();
      return { size, dark: (r, c) => qr.isDark(r, c) };
    } catch { /* too long for this level: try the next */ }
  }
  throw Object.assign(new Error('too long for a QR code'), { key: 'classLink.tooLong', vars: { n: text.length } });
}

/** The quiet zone scanners need around a code, in modules. */
export const QUIET = 4;

/**
 * Draws `code` (from `encode`) into `ctx` at (x, y), `px` pixels a side with its quiet zone, on
 * white: each module is a whole number of pixels where `px` allows, so it stays sharp.
 */
export function drawCode(ctx, code, x, y, px) {
  const n = code.size + 2 * QUIET;
  const unit = Math.max(1, Math.floor(px / n));
  const offset = Math.floor((px - unit * n) / 2);
  ctx.save();
  ctx.fillStyle = '#fff';
  ctx.fillRect(x, y, px, px);
  ctx.fillStyle = '#000';
  for (let r = 0; r < code.size; r++) {
    for (let c = 0; c < code.size; c++) {
      if (code.dark(r, c)) ctx.fillRect(x + offset + (c + QUIET) * unit, y + offset + (r + QUIET) * unit, unit, unit);
    }
  }
  ctx.restore();
}

/** Draws the code of `text` onto `canvas`, `unit` pixels a module (the canvas takes its size). */
export async function render(canvas, text, { unit = 8 } = {}) {
  const code = await encode(text);
  const px = (code.size + 2 * QUIET) * unit;
  canvas.width = px;
  canvas.height = px;
  drawCode(canvas.getContext('2d'), code, 0, 0, px);
  return code;
}

/** A canvas as PNG bytes. */
export const png = (canvas) => new Promise((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('no PNG'))), 'image/png'));
