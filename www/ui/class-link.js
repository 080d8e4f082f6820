// The class link on the projector: the link the share panel just made (the experiment's or the
// teacher's) as a QR code under its buttons, a large-print view a class can scan from the back
// of the room, and the code as a PNG for a slide or a worksheet. Imports dom.js, qr.js,
// ../i18n.js and ../notices.js.
import { onChange, t } from '../i18n.js';
import { attempt, describeError, download } from '../notices.js';
import { $ } from './dom.js';
import * as qr from './qr.js';

let shown = null;   // the link drawn, or null

/** Names the codes for screen readers in the current language. */
function label() {
  if (!shown) return;
  for (const id of ['link-qr-canvas', 'link-dialog-qr']) $(id).setAttribute('aria-label', t('classLink.qrLabel', { url: shown }));
}

/**
 * Shows `url` as a QR code under the share buttons (the encoder loads on the first one). A link
 * too long for a code says so there instead; the link itself stays shown as text.
 */
export async function show(url) {
  shown = url;
  let code;
  try {
    code = await qr.encode(url);
  } catch (e) {
    if (shown !== url) return;
    $('link-qr').hidden = true;
    $('link-qr-error').hidden = false;
    $('link-qr-error').textContent = describeError(e);
    return;
  }
  if (shown !== url) return;   // a newer link came while the encoder loaded
  // 4 px a module: sharp at the figure's size and at twice that on a dense screen.
  const canvas = $('link-qr-canvas');
  const px = (code.size + 2 * qr.QUIET) * 4;
  canvas.width = px;
  canvas.height = px;
  qr.drawCode(canvas.getContext('2d'), code, 0, 0, px);
  canvas.dataset.url = url;
  label();
  $('link-qr-error').hidden = true;
  $('link-qr').hidden = false;
}

/** The large-print view of the link shown: the code as big as the screen allows, the link beside it. */
export async function openLarge() {
  if (!shown) return;
  const url = shown;
  const dialog = $('link-dialog');
  await qr.render($('link-dialog-qr'), url, { unit: 12 });
  $('link-dialog-url').textContent = url;
  label();
  if (!dialog.open) dialog.showModal();
  fitUrl();
}

/** The link's text as large as fits its box: a short link reads from the back of the room, a
 *  long one (a whole experiment) still fits without scrolling. */
function fitUrl() {
  const el = $('link-dialog-url');
  const box = el.parentElement;
  let px = 64;
  el.style.fontSize = `${px}px`;
  while (px > 14 && box.scrollHeight > box.clientHeight) el.style.fontSize = `${(px -= 4)}px`;
}
window.addEventListener('resize', () => { if ($('link-dialog').open) fitUrl(); });

/** Downloads the code of the link shown as a PNG, large enough for a slide or a print-out. */
async function downloadPng() {
  if (!shown) return;
  const canvas = document.createElement('canvas');
  await qr.render(canvas, shown, { unit: 16 });
  download(await qr.png(canvas), 'shige-class-link.png');
}

$('link-qr-large').onclick = () => attempt(openLarge);
for (const id of ['link-qr-png', 'link-dialog-png']) $(id).onclick = () => attempt(downloadPng);
$('link-dialog-close').onclick = () => $('link-dialog').close();

// The codes' names follow the language (the rest of the view is data-i18n).
onChange(label);
