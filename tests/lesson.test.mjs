// A lesson in one step (issue 31), parts 4, 5 and 7: runs that name themselves by what differs
// from the first run (in Chinese and English), the class link as a QR code (in large print for
// a projector, and as a PNG), and a written poem as a picture (a PNG card in vertical layout,
// read back from its layout data, with a QR code back to the site). Screenshots of each new
// panel on a phone (390 × 844) and a laptop (1280 × 800); axe-core on the open panels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import jsQR from 'jsqr';
import { AxeBuilder } from '@axe-core/playwright';
import { serve, launch, openApp, outputDir, scratchDir, TINY } from './harness.mjs';
import en from '../www/locales/en.js';
import zh from '../www/locales/zh-Hans.js';

let server;
before(async () => { server = await serve(); });
after(() => server.close());

const SIZES = [{ name: 'phone', width: 390, height: 844 }, { name: 'laptop', width: 1280, height: 800 }];
const state = (page) => page.evaluate(() => window.shige.state());

/**
 * Pixels of an image in the page (a canvas, or PNG bytes), `crop`ped to a square if asked and
 * scaled down to at most 480 px a side (nearest pixel: a code's modules stay sharp), read back
 * as RGBA for jsQR.
 */
function pixels(page, { selector = null, b64 = null, crop = null }) {
  return page.evaluate(async ({ selector, b64, crop }) => {
    const source = selector ? document.querySelector(selector)
      : await createImageBitmap(new Blob([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], { type: 'image/png' }));
    const { x = 0, y = 0, size } = crop ?? {};
    const w = crop ? size : source.width;
    const h = crop ? size : source.height;
    const scale = Math.min(1, 480 / Math.max(w, h));
    const out = new OffscreenCanvas(Math.round(w * scale), Math.round(h * scale));
    const ctx = out.getContext('2d');
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(source, x, y, w, h, 0, 0, out.width, out.height);
    return { w: out.width, h: out.height, data: Array.from(ctx.getImageData(0, 0, out.width, out.height).data) };
  }, { selector, b64, crop });
}
const decode = ({ w, h, data }) => jsQR(new Uint8ClampedArray(data), w, h)?.data ?? null;

/** What a QR code on a canvas of the page says (decoded here, from the canvas's pixels). */
const decodeCanvas = async (page, selector, crop = null) => decode(await pixels(page, { selector, crop }));
/** What a QR code in a PNG file says. */
const decodePng = async (page, bytes, crop = null) => decode(await pixels(page, { b64: bytes.toString('base64'), crop }));

/** A PNG file's width and height, from its IHDR chunk (after the 8-byte signature). */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature');
  assert.equal(bytes.subarray(12, 16).toString('latin1'), 'IHDR');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** Saves a download and returns its bytes. */
async function downloaded(page, action) {
  const [download] = await Promise.all([page.waitForEvent('download'), action()]);
  const scratch = await scratchDir('shige-download-');
  const file = join(scratch.dir, download.suggestedFilename());
  await download.saveAs(file);
  const bytes = await readFile(file);
  await scratch.remove();
  return { name: download.suggestedFilename(), bytes };
}

/** axe-core's violations on the page as it is (dialogs open), by rule. */
async function axeViolations(page) {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

/** The page at both sizes, `selector` (if any) scrolled into view. */
async function screenshots(page, name, selector = null) {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    if (selector) await page.locator(selector).scrollIntoViewIfNeeded();
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(outputDir, `lesson-${name}-${size.name}.png`) });
  }
}

// ---- 4. Runs that name themselves -----------------------------------------------------------
// From TINY (embedding 16, hidden 32, batch 8, sequence cap 24, lr 0.01; GRU, 1 layer, dropout
// 0.3, untied): one setting changed at a time, and then the issue's own example.
const CHANGES = [
  { set: { cell: 'lstm' }, en: 'LSTM 1', zh: 'LSTM 1' },   // the cell alone: the worker's name says it
  { set: { hidden: 48 }, en: 'GRU · hidden 48', zh: 'GRU · 隐藏 48' },
  { set: { embedding: 24 }, en: 'GRU · embedding 24', zh: 'GRU · 嵌入 24' },
  { set: { layers: 2 }, en: 'GRU · layers 2', zh: 'GRU · 2 层' },
  { set: { learningRate: 0.003 }, en: 'GRU · lr 0.003', zh: 'GRU · lr 0.003' },
  { set: { batchSize: 4 }, en: 'GRU · batch 4', zh: 'GRU · 批 4' },
  { set: { maxSeqLen: 32 }, en: 'GRU · seq cap 32', zh: 'GRU · 序列 32' },
  { set: { outputDropout: 0.5 }, en: 'GRU · dropout 0.5', zh: 'GRU · dropout 0.5' },
  { set: { tied: true }, en: 'GRU · tied', zh: 'GRU · 共享输出' },
  { set: { cell: 'lstm', learningRate: 0.003, hidden: 512 }, en: 'LSTM · lr 0.003 · hidden 512', zh: 'LSTM · lr 0.003 · 隐藏 512' },
];

async function setForm(page, settings) {
  for (const [k, v] of Object.entries(settings)) {
    const selector = `#settings [name="${k}"]`;
    if (k === 'cell') await page.selectOption(selector, v);
    else if (k === 'tied') await page.setChecked(selector, v);
    else await page.fill(selector, String(v));
  }
}

for (const lang of ['en', 'zh']) {
  test(`a new run is named by what differs from the first run (${lang}); it can still be renamed`, { timeout: 600_000 }, async () => {
    const context = await launch({ webgpu: false });
    try {
      const page = await openApp(context, server.url, TINY.replace('lang=en', `lang=${lang === 'zh' ? 'zh-Hans' : 'en'}`));
      const first = (await state(page)).runs[0];
      assert.equal(first.name, 'GRU 1');
      for (const change of CHANGES) {
        const n = (await state(page)).runs.length;
        await setForm(page, change.set);
        await page.click('#add-run');
        await page.waitForFunction((n) => window.shige.state().runs.length > n, n);
        const added = (await state(page)).runs.at(-1);
        assert.equal(added.name, change[lang], JSON.stringify(change.set));
        for (const [k, v] of Object.entries(change.set)) assert.equal(added.settings[k], v, `${k} of ${added.name}`);
        // Back to the first run's settings for the next change.
        await setForm(page, Object.fromEntries(Object.keys(change.set).map((k) => [k, first.settings[k]])));
      }
      // The same change again: a name of its own.
      await setForm(page, { hidden: 48 });
      await page.click('#add-run');
      await page.waitForFunction((n) => window.shige.state().runs.length > n, CHANGES.length + 1);
      assert.equal((await state(page)).runs.at(-1).name, `${CHANGES[1][lang]} (2)`);
      // The runs table shows the names; a name is still the user's to change.
      const names = await page.$$eval('#runs .run-name', (inputs) => inputs.map((i) => i.value));
      assert.deepEqual(names, (await state(page)).runs.map((r) => r.name));
      const input = page.locator('#runs tbody tr').nth(2).locator('.run-name');
      await input.fill('隐藏更大');
      await input.press('Enter');
      await page.waitForFunction(() => window.shige.state().runs[2].name === '隐藏更大');
      if (lang === 'zh') await screenshots(page, 'run-names', '#runs');
    } finally {
      await context.close();
    }
  });
}

// ---- 5. The class link on the projector -----------------------------------------------------
test('the share panel shows the link as a QR code that decodes to it, in large print and as a PNG; the teacher\'s link too', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.ok(await page.isHidden('#link-qr'), 'no code before there is a link');
    // The QR encoder is not part of the first visit's page: it loads with the first code.
    assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.includes('vendor/qrcode.js'))), false);
    await page.click('#copy-link');
    await page.waitForSelector('#link-qr:not([hidden])');
    const link = (await page.textContent('#share-output')).replace(/^Copied: /, '');
    assert.match(link, /\?exp=.*&lang=en$/);
    assert.equal(await decodeCanvas(page, '#link-qr-canvas'), link, 'the code is the link');
    assert.equal(await page.getAttribute('#link-qr-canvas', 'aria-label'), en.classLink.qrLabel.replace('{{url}}', link));
    await screenshots(page, 'share-qr', '#link-qr');
    await page.setViewportSize({ width: 1280, height: 800 });

    // Large print, by keyboard: the code fills most of the screen's height, the link beside it.
    await page.focus('#link-qr-large');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('link-dialog').open);
    assert.equal(await decodeCanvas(page, '#link-dialog-qr'), link);
    assert.equal(await page.textContent('#link-dialog-url'), link);
    const big = await page.$eval('#link-dialog-qr', (c) => c.getBoundingClientRect().width);
    assert.ok(big >= 0.8 * 800 - 80, `the projected code is ${big} px wide on a 1280 × 800 screen`);
    const fits = await page.$eval('.projector-text', (el) => el.scrollHeight <= el.clientHeight + 1);
    assert.ok(fits, 'the link fits beside the code without scrolling');
    assert.deepEqual(await axeViolations(page), [], 'axe on the large-print view');
    await screenshots(page, 'projector');
    await page.setViewportSize({ width: 1280, height: 800 });
    const bigPng = await downloaded(page, () => page.click('#link-dialog-png'));
    assert.equal(await decodePng(page, bigPng.bytes), link, 'the downloaded PNG is the code of the link');
    const { width, height } = pngSize(bigPng.bytes);
    assert.ok(width === height && width >= 600, `a PNG of ${width} × ${height}`);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.getElementById('link-dialog').open);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'link-qr-large', 'the focus goes back where it was');
    assert.deepEqual(await axeViolations(page), [], 'axe on the share panel with its code');

    // The teacher's class link: the chosen controls hidden, straight onto the projector.
    await page.click('.teacher summary');
    await page.check('#teacher-groups input[value="settings"]');
    await page.click('#project-teacher-link');
    await page.waitForFunction(() => document.getElementById('link-dialog').open);
    const classLink = await page.textContent('#link-dialog-url');
    assert.match(classLink, /\?exp=.*&hide=settings&lang=en$/);
    assert.equal(await decodeCanvas(page, '#link-dialog-qr'), classLink);
    assert.equal(await page.textContent('#share-output'), classLink);
    await page.click('#link-dialog-close');

    // In Chinese, the view's words and the code's name follow.
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-Hans');
    assert.equal(await page.textContent('#link-qr-large'), zh.classLink.large);
    assert.equal(await page.getAttribute('#link-qr-canvas', 'aria-label'), zh.classLink.qrLabel.replace('{{url}}', classLink));
  } finally {
    await context.close();
  }
});

// ---- 7. A poem as a picture -----------------------------------------------------------------
test('a written poem as a PNG card (offline too): vertical columns right to left, title, byline, 平仄 marks, a QR code to the site; Share or download', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e.message));
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(server.url);   // Chinese, the starter model
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.selectOption('#form', 'qijue');
    await page.check('#meter');
    await page.fill('#start-char', '月');
    await page.click('#generate');
    await page.waitForSelector('#poems li[data-done="true"]', { timeout: 120_000 });
    const poem = await page.getAttribute('#poems li', 'data-poem');
    assert.match(poem, /^月[^，。]{6}，[^，。]{7}。[^，。]{7}，[^，。]{7}。$/u);

    // The offline app makes cards too: the QR encoder, never loaded by this page yet, comes
    // from the service worker's precache.
    await page.waitForFunction(() => navigator.serviceWorker.controller, null, { timeout: 120_000 });
    await page.waitForFunction(async () => Boolean(await caches.match('vendor/qrcode.js', { ignoreSearch: true })), null, { timeout: 120_000, polling: 500 });
    assert.equal(await page.evaluate(() => performance.getEntriesByType('resource').some((e) => e.name.includes('vendor/qrcode.js'))), false);
    await context.setOffline(true);
    await page.click('#poems li [data-action="card"]');
    await page.waitForFunction(() => document.getElementById('card-dialog').open);
    await context.setOffline(false);
    const card = await page.evaluate(() => window.shige.lastCard());
    assert.equal(card.width, 1080);
    assert.equal(card.height, 1440);
    assert.deepEqual(await page.$eval('#card-canvas', (c) => [c.width, c.height]), [1080, 1440]);
    assert.equal(card.title, '月', 'titled by its start character');
    // The poem, read back in vertical order: columns right to left, top to bottom in each.
    const glyphs = card.items.filter((i) => i.kind === 'poem');
    const xs = [...new Set(glyphs.map((g) => g.x))].sort((a, b) => b - a);
    assert.equal(xs.length, 4, 'one 句 a column');
    const read = xs.map((x) => glyphs.filter((g) => g.x === x).sort((a, b) => a.y - b.y).map((g) => g.ch).join(''));
    assert.deepEqual(read, poem.split(/[，。]/u).filter(Boolean));
    assert.equal(read.join(''), poem.replace(/[，。]/gu, ''));
    // Each 句's mark is set under its last character, a little right of the column's centre.
    const hung = card.items.filter((i) => i.kind === 'mark');
    assert.deepEqual(hung.map((m) => m.ch), ['，', '。', '，', '。']);
    for (const [k, m] of hung.entries()) {
      const last = glyphs.filter((g) => g.x === xs[k]).sort((a, b) => b.y - a.y)[0];
      assert.ok(m.x > last.x && m.y > last.y && m.x - last.x < last.size && m.y - last.y < last.size, `mark ${k}: ${JSON.stringify([m, last])}`);
    }
    // The title to the right of the poem, the model's name beside it, all inside the card.
    const titles = card.items.filter((i) => i.kind === 'title');
    const bylines = card.items.filter((i) => i.kind === 'byline');
    assert.equal(titles.map((i) => i.ch).join(''), '月');
    assert.ok(Math.min(...titles.map((i) => i.x)) > Math.max(...bylines.map((i) => i.x)));
    assert.ok(Math.min(...bylines.map((i) => i.x)) > xs[0], 'the byline right of the poem');
    assert.match(bylines.map((i) => i.ch).join(''), /^起步模型︵唐＋宋︶·?训练\d+步$/u);
    for (const i of card.items) assert.ok(i.x > 0 && i.x < 1080 && i.y > 0 && i.y < 1440, JSON.stringify(i));
    // A poem written by the meter shows its 平仄 marks here too: one a character; off, none.
    assert.equal(card.tones, true);
    assert.equal(card.items.filter((i) => i.kind === 'tone').length, 28);
    assert.ok(card.items.filter((i) => i.kind === 'tone').every((i) => ['○', '●', '◐'].includes(i.ch)));
    await screenshots(page, 'card');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(await axeViolations(page), [], 'axe on the card');
    await page.uncheck('#card-tones');
    await page.waitForFunction(() => !window.shige.lastCard().tones);
    assert.equal((await page.evaluate(() => window.shige.lastCard())).items.filter((i) => i.kind === 'tone').length, 0);

    // The QR code on the card leads back to the site.
    const site = await page.evaluate(() => location.origin + location.pathname);
    const qr = (await page.evaluate(() => window.shige.lastCard())).qr;
    assert.equal(qr.url, site);
    assert.equal(await decodeCanvas(page, '#card-canvas', { x: qr.x - 8, y: qr.y - 8, size: qr.size + 16 }), site);

    // Download: a PNG of the card's size, the bytes the page made.
    const file = await downloaded(page, () => page.click('#card-download'));
    assert.deepEqual(pngSize(file.bytes), { width: 1080, height: 1440 });
    assert.equal(file.bytes.length, (await page.evaluate(() => window.shige.lastCard())).bytes);
    assert.equal(file.name, 'shige-月.png');
    assert.equal(await decodePng(page, file.bytes, { x: qr.x - 8, y: qr.y - 8, size: qr.size + 16 }), site, 'the saved card\'s code');

    // Share: the Web Share API with the file where the browser shares files …
    await page.evaluate(() => {
      window.sharedCard = null;
      navigator.canShare = (data) => Array.isArray(data?.files) && data.files.length === 1;
      navigator.share = async (data) => { window.sharedCard = { name: data.files[0].name, type: data.files[0].type, size: data.files[0].size, title: data.title }; };
    });
    await page.click('#card-share');
    await page.waitForFunction(() => window.sharedCard);
    const shared = await page.evaluate(() => window.sharedCard);
    assert.deepEqual(shared, { name: 'shige-月.png', type: 'image/png', size: file.bytes.length, title: '月' });
    // … and a download where it does not.
    await page.evaluate(() => { navigator.canShare = () => false; });
    const fallback = await downloaded(page, () => page.click('#card-share'));
    assert.deepEqual(pngSize(fallback.bytes), { width: 1080, height: 1440 });

    // Closed with Escape, back to the poem's button; in English, the byline is in English and
    // the poem as it was.
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.getElementById('card-dialog').open);
    assert.equal(await page.evaluate(() => document.activeElement?.dataset.action), 'card');
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.equal(await page.textContent('#poems li [data-action="card"]'), en.card.make);
    await page.click('#poems li [data-action="card"]');
    await page.waitForFunction(() => document.getElementById('card-dialog').open);
    const english = await page.evaluate(() => window.shige.lastCard());
    assert.match(english.items.filter((i) => i.kind === 'byline').map((i) => i.ch).join(''), /step/);
    assert.equal(english.items.filter((i) => i.kind === 'poem').map((i) => i.ch).join(''), read.join(''));
    assert.equal(await page.textContent('#card-download'), en.card.download);
  } finally {
    await context.close();
  }
});
