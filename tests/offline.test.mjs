// The offline, installable app (issue 10): it reloads and trains with the network off, works
// under a subpath, never talks to another origin, offers a new deploy without reloading by
// itself, keeps a library of models, and works from the keyboard alone.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve, launch, siteCopy, openApp, site, dataDir, outputDir, shigeBin, TINY, waitForStep, waitForPaused, readDb } from './harness.mjs';

const TANGSHI = join(dataDir, 'tangshi.txt');
let server;
before(async () => { server = await serve(); });
after(() => server.close());

/** Every request the context makes that leaves the page's origin. */
function foreignRequests(context, origin) {
  const foreign = [];
  context.on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !/^(data|blob):/.test(url)) foreign.push(url);
  });
  return foreign;
}

async function trainAndWrite(page, steps = 5) {
  const from = await page.evaluate(() => window.shige.state().runs[0].info.step);
  await page.click('#start');
  await waitForStep(page, from + steps, { timeout: 300_000 });
  await page.click('#pause');
  await waitForPaused(page);
  const n = await page.$$eval('#poems li[data-done]', (l) => l.length);
  await page.click('.chip:text("月")');
  await page.waitForFunction((n) => document.querySelectorAll('#poems li[data-done]').length > n, n, { timeout: 120_000 });
  return page.getAttribute('#poems li', 'data-poem');
}

for (const base of ['/', '/shige/']) {
  test(`offline after one visit, served under ${base}: reload, train 5 steps, write from 月; no other origin`, { timeout: 900_000 }, async () => {
    const local = base === '/' ? server : await serve({ base });
    const context = await launch({ webgpu: false });
    const foreign = foreignRequests(context, new URL(local.url).origin);
    try {
      const page = await openApp(context, local.url, TINY);
      assert.ok(await page.evaluate(() => !!navigator.serviceWorker.controller), 'the service worker controls the page');
      await page.waitForFunction(() => document.getElementById('build-id').textContent !== '–');
      await context.setOffline(true);
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
      assert.ok((await trainAndWrite(page)).startsWith('月'));
      // Reloaded under the service worker: cross-origin isolated, and offline the worker still
      // finds the threaded build (with relaxed SIMD, precached) and trains on it.
      assert.ok(await page.evaluate(() => self.crossOriginIsolated));
      assert.deepEqual(await page.evaluate(() => window.shige.state().build), { threaded: true, relaxedSimd: true, why: null });
      await page.screenshot({ path: join(outputDir, `offline${base.replace(/\//g, '-')}.png`) });
      assert.deepEqual(foreign, [], 'requests left the origin');
    } finally {
      await context.close();
      if (local !== server) local.close();
    }
  });
}

test('a browser with no room to store the app: a notice says there is no offline copy, and it still trains and writes', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    // What a nearly full disk gives an origin (Chromium keeps 2 GB of the disk free).
    const cdp = await context.newCDPSession(context.pages()[0]);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(server.url).origin, quotaSize: 1_000_000 });
    const page = await openApp(context, server.url, TINY);
    const notice = await page.waitForSelector('[data-notice="offline"]', { timeout: 120_000 });
    assert.match(await notice.textContent(), /could not save an offline copy/);
    assert.equal(await page.evaluate(() => navigator.serviceWorker.controller), null);
    assert.ok((await trainAndWrite(page, 3)).startsWith('月'));
  } finally {
    await context.close();
  }
});

test('a new deploy while the page is open: an update prompt, and the new files after reload', { timeout: 600_000 }, async () => {
  const local = await siteCopy();
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, local.url, TINY);
    await page.waitForFunction(() => document.getElementById('build-id').textContent !== '–');
    const first = await page.textContent('#build-id');
    // Deploy: a changed stylesheet and a new precache list.
    await local.redeploy();
    const second = JSON.parse(await readFile(join(local.dir, 'build.json'), 'utf8')).id;
    assert.notEqual(second, first);
    await page.evaluate(() => window.shige.checkForUpdate());
    const notice = await page.waitForSelector('[data-notice="update"]', { timeout: 120_000 });
    assert.match(await notice.textContent(), /A new version of Shige is ready/);
    assert.equal(await page.textContent('#build-id'), first, 'nothing changed under the open page');
    await Promise.all([page.waitForEvent('load', { timeout: 120_000 }), notice.$('button:text("Reload to use it")').then((b) => b.click())]);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.waitForFunction((id) => document.getElementById('build-id').textContent === id, second);
    const css = await page.evaluate(async () => (await fetch('style.css')).text());
    assert.match(css, /deployed again/);
  } finally {
    await context.close();
    await local.remove();
  }
});

test('the library: two named models survive a reload; rename, duplicate, delete and undo', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    page.on('dialog', (d) => d.accept());
    const rename = async (selector, name) => { await page.fill(selector, name); await page.press(selector, 'Enter'); };
    await rename('#runs tbody tr:first-child .run-name', 'First poems');
    await page.click('#start');
    await waitForStep(page, 3);
    // Trained until its first held-out evaluation, so its library entry has a perplexity.
    await page.waitForFunction(() => window.shige.state().runs[0].history.evals.length > 0, null, { timeout: 120_000 });
    await page.click('#pause');
    await waitForPaused(page);
    // A second model: New model keeps the first in the library.
    await page.fill('input[name="hidden"]', '24');
    await page.click('#reset');
    await page.waitForFunction(() => window.shige.state().runs[0].info.hidden === 24);
    await rename('#runs tbody tr:first-child .run-name', 'Second poems');
    await page.waitForFunction(() => window.shige.state().runs[0].name === 'Second poems');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    const names = () => page.$$eval('#library tbody .run-name', (els) => els.map((e) => e.value).sort());
    await page.waitForFunction(() => document.querySelectorAll('#library tbody tr').length >= 2);
    assert.deepEqual(await names(), ['First poems', 'Second poems']);

    const row = (name) => `#library tbody tr[data-name="${name}"]`;
    await page.fill(`${row('First poems')} .run-name`, 'Renamed poems');
    await page.press(`${row('First poems')} .run-name`, 'Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('#library .run-name')].some((e) => e.value === 'Renamed poems'));
    await page.click(`${row('Renamed poems')} button[data-action="duplicate"]`);
    await page.waitForFunction(() => document.querySelectorAll('#library tbody tr').length === 3);
    assert.deepEqual(await names(), ['Renamed poems', 'Renamed poems (2)', 'Second poems']);
    await page.click(`${row('Renamed poems (2)')} button[data-action="delete"]`);
    await page.waitForFunction(() => document.querySelectorAll('#library tbody tr').length === 2);
    await page.click('.notice:has-text("was deleted") button:text("Undo")');
    await page.waitForFunction(() => document.querySelectorAll('#library tbody tr').length === 3);
    // Open the renamed one: it replaces the page's model, whose step it keeps, and its entry
    // keeps its training time and held-out perplexity.
    const listed = (await readDb(page, 'listing')).find((m) => m.name === 'Renamed poems');
    assert.ok(listed.trainedSeconds > 0 && listed.perplexity > 0, JSON.stringify(listed));
    await page.click(`${row('Renamed poems')} button[data-action="open"]`);
    await page.waitForFunction(() => window.shige.state().runs[0].name === 'Renamed poems');
    assert.ok((await page.evaluate(() => window.shige.state().runs[0].info.step)) >= 3);
    assert.equal(await page.evaluate(() => window.shige.state().runs[0].trainedSeconds), listed.trainedSeconds);
    const reopened = await readDb(page, 'listing', listed.id);
    assert.equal(reopened.trainedSeconds, listed.trainedSeconds);
    assert.equal(reopened.perplexity, listed.perplexity);
    const stored = await readDb(page, 'models');
    assert.equal(stored.filter((m) => m.name.startsWith('Renamed poems')).length, 2);
  } finally {
    await context.close();
  }
});

/** Presses Tab until `selector` has the focus (the way a keyboard user gets there). */
async function tabTo(page, selector, limit = 250) {
  for (let i = 0; i < limit; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s), selector)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error(`Tab never reached ${selector}`);
}

test('keyboard only: load a corpus, train, pause, write from 月, save and load a model', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    await tabTo(page, '#corpus-choose');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
    await chooser.setFiles(TANGSHI);
    await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
    // The drop zone is reachable too, and opens the same picker.
    await page.keyboard.press('Shift+Tab');
    await tabTo(page, '#drop-zone');
    const [again] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
    const before = await page.evaluate(() => window.shige.state().workspace);
    await again.setFiles(TANGSHI);
    await page.waitForFunction((w) => window.shige.state().workspace !== w, before, { timeout: 120_000 });

    await tabTo(page, '#start');
    await page.keyboard.press('Enter');
    await waitForStep(page, 5);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'pause', 'focus moves to Pause when Train disables itself');
    await page.keyboard.press('Enter');
    await waitForPaused(page);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'start', 'focus moves back to Train');

    await tabTo(page, '.chip:nth-child(7)');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#poems li[data-done]');
    assert.ok((await page.getAttribute('#poems li', 'data-poem')).startsWith('月'));

    await tabTo(page, '#save');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const saved = join(outputDir, 'keyboard.ckpt');
    await download.saveAs(saved);
    const step = await page.evaluate(() => window.shige.state().runs[0].info.step);
    await tabTo(page, '#load');
    const [picker] = await Promise.all([page.waitForEvent('filechooser'), page.keyboard.press('Enter')]);
    await picker.setFiles(saved);
    await page.waitForFunction((s) => window.shige.state().undo && window.shige.state().runs[0].info.step === s, step);
  } finally {
    await context.close();
  }
});

test('Train right after the starter model opens: the first step does not wait for its held-out evaluation', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, '?lang=en');
    const from = await page.evaluate(() => window.shige.state().runs[0].info.step);
    await page.click('#start');
    await waitForStep(page, from + 1);
    // The evaluation (seconds of work as the page opens) was set aside, not finished first.
    assert.equal(await page.$('#starter-perplexity'), null);
    await page.click('#pause');
    await waitForPaused(page);
  } finally {
    await context.close();
  }
});

test('a first visit opens the starter model: its held-out perplexity matches shige eval, its curve is drawn, the library keeps it compact with its perplexity, and it writes the first poem', { timeout: 900_000 }, async () => {
  const starter = join(site, 'starter.ckpt');
  const starterBytes = (await readFile(starter)).byteLength;
  const curve = JSON.parse(await readFile(join(site, 'starter-curve.json'), 'utf8'));
  const corpus = join(site, 'default-corpus.txt');
  const cli = JSON.parse(execFileSync(shigeBin, ['eval', '--model', starter, '--corpus', corpus, '--samples', '0', '--json'], { encoding: 'utf8' }));
  const expected = execFileSync(shigeBin, ['generate', '--model', starter, '--start', '月'], { encoding: 'utf8' }).trim();
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, '?lang=en');
    await page.waitForSelector('#starter-perplexity', { timeout: 600_000 });
    const shown = Number((await page.textContent('#starter-perplexity')).replace(/,/g, ''));
    assert.ok(Math.abs(shown - cli.heldOutPerplexity) / cli.heldOutPerplexity < 0.01, `page ${shown} vs shige eval ${cli.heldOutPerplexity}`);
    const run = await page.evaluate(() => window.shige.state().runs[0]);
    assert.ok(run.starter && run.info.step === cli.step, 'the page opened the starter, untrained further');
    // Its own training curve, shipped beside it, is on the chart before any training; the
    // page's evaluation replaces the shipped figure of the last step.
    assert.equal(curve.step, cli.step);
    assert.ok(Math.abs(curve.perplexity - cli.heldOutPerplexity) / cli.heldOutPerplexity < 1e-3, `shipped ${curve.perplexity} vs ${cli.heldOutPerplexity}`);
    assert.ok(curve.losses.length > 100 && curve.evals.length > 3, 'a whole curve');
    assert.deepEqual(await page.evaluate((id) => window.shige.chart.counts()[id], run.id), { loss: curve.losses.length, perplexity: curve.evals.length });
    // The library keeps it as the 2.7 MB file it came in, with its perplexity, until trained.
    let stored;
    for (let i = 0; i < 100 && !stored; i++) stored = await readDb(page, 'models', run.id) ?? await new Promise((r) => setTimeout(r, 100));
    assert.equal(stored.size, starterBytes, 'stored at its compact size');
    assert.equal(stored.compact, true);
    assert.ok(stored.perplexity > 0 && Math.abs(stored.perplexity - cli.heldOutPerplexity) / cli.heldOutPerplexity < 0.01, `library perplexity ${stored.perplexity}`);
    await page.click('.chip:text("月")');
    await page.waitForSelector('#poems li[data-done]');
    assert.equal(await page.getAttribute('#poems li', 'data-poem'), expected, 'the same poem as shige generate from the same file');
    await page.screenshot({ path: join(outputDir, 'starter.png'), fullPage: true });
    // Trained further, it is stored whole (weights and Adam moments), and its curve goes on.
    await page.click('#start');
    await waitForStep(page, cli.step + 2);
    await page.click('#pause');
    await waitForPaused(page);
    let trained;
    for (let i = 0; i < 100; i++) {
      trained = await readDb(page, 'models', run.id);
      if (trained.step > cli.step) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(trained.step > cli.step && trained.compact === false && trained.size > 4 * starterBytes, `after training: step ${trained.step}, ${trained.size} bytes`);
    assert.ok((await page.evaluate((id) => window.shige.chart.counts()[id].loss, run.id)) > curve.losses.length);
  } finally {
    await context.close();
  }
});
