// The classroom lab (issue 9): RNN, LSTM and GRU side by side on one chart, the gradient
// flow, the insides of a poem, a shared link that reproduces the runs, exports, and the page
// in Chinese and English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, launch, openApp, withApp, uploadCorpus, dataDir, outputDir, TINY, DEFAULT, waitForPaused } from './harness.mjs';
import en from '../www/locales/en.js';
import zh from '../www/locales/zh-Hans.js';

const TANGSHI = join(dataDir, 'tangshi.txt');
let server;
before(async () => { server = await serve(); });
after(() => server.close());

const state = (page) => page.evaluate(() => window.shige.state());
const totalSteps = (page) => page.evaluate(() => window.shige.state().runs.reduce((n, r) => n + r.info.step, 0));

async function addRun(page, cell) {
  const n = (await state(page)).runs.length;
  await page.selectOption('select[name="cell"]', cell);
  await page.click('#add-run');
  await page.waitForFunction((n) => window.shige.state().runs.length > n, n);
}

async function trainAll(page, steps) {
  await page.click('#start');
  await page.waitForFunction((n) => window.shige.state().runs.every((r) => r.info.step >= n), steps, { timeout: 900_000, polling: 200 });
  await page.click('#pause');
  await waitForPaused(page);
  await page.waitForFunction((n) => window.shige.state().runs.every((r) => r.history.losses.length >= n), steps);
}

const firstLosses = async (page, k) => (await state(page)).runs.map((r) => ({ name: r.name, cell: r.settings.cell, losses: r.history.losses.slice(0, k).map(([, l]) => l) }));

/** Every string of a table, flattened. */
const strings = (table, prefix = '') => Object.entries(table).flatMap(([k, v]) => (typeof v === 'string' ? [[prefix + k, v]] : strings(v, `${prefix}${k}.`)));

test('three cells side by side: chart, gradient flow, inside a poem, CSV, a link that reproduces the runs', { timeout: 1_200_000 }, async () => {
  const context = await launch({ webgpu: false });
  let link;
  let original;
  try {
    const page = await openApp(context, server.url, TINY);
    page.on('dialog', (d) => d.accept());
    await uploadCorpus(page, TANGSHI);
    await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
    await addRun(page, 'lstm');
    await addRun(page, 'rnn');
    const runs = (await state(page)).runs;
    assert.deepEqual(runs.map((r) => r.settings.cell), ['gru', 'lstm', 'rnn']);
    // The page's default recipe: output dropout 0.3 (its masks follow the seed, so the link
    // below still reproduces the losses).
    assert.deepEqual(runs.map((r) => r.settings.outputDropout), [0.3, 0.3, 0.3]);
    // The same seed, corpus and batch order for every run.
    assert.deepEqual(new Set(runs.map((r) => r.settings.seed)).size, 1);
    await trainAll(page, 30);

    // One chart: a loss series per run with its points, in the legend with the run's name.
    const counts = await page.evaluate(() => window.shige.chart.counts());
    for (const r of runs) assert.ok(counts[r.id].loss >= 30, `${r.name}: ${counts[r.id].loss} points`);
    // The chart is drawn (and uPlot loaded) once it is scrolled near.
    await page.locator('#chart').scrollIntoViewIfNeeded();
    await page.waitForSelector('#chart .u-legend .u-series');
    const legend = await page.$$eval('#chart .u-legend .u-series', (els) => els.map((e) => e.textContent));
    for (const name of ['GRU 1', 'LSTM 1', 'RNN 1']) assert.ok(legend.some((l) => l.includes(`${name} · loss`)), `${name} in ${legend}`);

    // Gradient flow: T points per run.
    await page.waitForFunction(() => Object.values(window.shige.flowChart.counts()).every((n) => n > 0));
    const flow = await page.evaluate(() => window.shige.flowChart.counts());
    const t = (await state(page)).runs[0].history.flow.lastChar.length;
    assert.ok(t >= 16, `T = ${t}`);
    for (const r of runs) assert.equal(flow[r.id], t, `${r.name}: ${flow[r.id]} of ${t} points`);
    assert.equal(Number(await page.getAttribute('#flow-chart', 'data-points')), t);
    // A gradient that vanished to 0 or to a denormal (a plain RNN's, after a while) is drawn on
    // the floor: uPlot's log axis throws below ~1e-22, and the chart must keep drawing.
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.evaluate(({ id, t }) => window.shige.flowChart.update(id, { step: 1, wholePoem: Array(t).fill(1e-3), lastChar: Array.from({ length: t }, (_, i) => (i % 2 ? 0 : 1e-40)) }), { id: runs[2].id, t });
    await page.waitForTimeout(500);
    assert.deepEqual(errors, []);
    assert.equal((await page.evaluate(() => window.shige.flowChart.counts()))[runs[2].id], t);
    assert.ok((await page.$eval('#flow-chart', (el) => el.getBoundingClientRect().width)) > 300, 'the chart keeps its width');

    // A poem, then a click on one of its characters: the distribution and the heatmaps.
    await page.selectOption('#write-run', { label: 'LSTM 1' });
    await page.click('.chip:text("月")');
    await page.waitForSelector('#poems li[data-done]');
    await page.click('#poems li .poem-char >> nth=2');
    assert.ok((await page.$$('#inspect-top li')).length >= 5);
    assert.match(await page.textContent('#inspect-step'), /^Character 3/);
    assert.match(await page.textContent('#gate-title'), /LSTM forget gate/);
    for (const id of ['gate-map', 'hidden-map']) {
      const size = await page.$eval(`#${id}`, (c) => [c.width, c.height, c.hidden]);
      assert.ok(size[0] > 0 && size[1] > 0 && !size[2], `${id}: ${size}`);
    }

    // The quality panel: the same figures as `shige eval`, rhyme-constrained 七绝 always rhyme.
    await page.click('#quality summary');
    await page.click('#measure');
    await page.waitForFunction(() => document.querySelectorAll('#quality-table tbody tr').length === 9, null, { timeout: 300_000 });
    const quality = Object.fromEntries(await page.$$eval('#quality-table tbody tr', (rows) => rows.map((r) => [r.cells[0]?.textContent ?? r.querySelector('th').textContent, r.querySelector('td').textContent])));
    assert.equal(quality['Rhyme rate 七绝 with rhyme on'], '100.0%');
    assert.match(quality['Writing speed'], /characters\/s/);
    // Rhyme is for forms with lines only.
    assert.ok(await page.isDisabled('#rhyme'));
    await page.selectOption('#form', 'qijue');
    assert.ok(!(await page.isDisabled('#rhyme')));
    await page.check('#rhyme');
    await page.click('.chip:text("山")');
    await page.waitForFunction(() => document.querySelectorAll('#poems li[data-done]').length >= 2);
    assert.match(await page.getAttribute('#poems li', 'data-poem'), /^山[^，。]{6}，[^，。]{7}。[^，。]{7}，[^，。]{7}。$/u);
    await page.selectOption('#form', 'free');

    // CSV: a row per run per step, including the steps trained since the page last heard the
    // whole state (exported while training, as a student would).
    const paused = Object.fromEntries((await state(page)).runs.map((r) => [r.name, r.info.step]));
    await page.click('#start');
    await page.waitForFunction((paused) => window.shige.state().runs.every((r) => window.shige.chart.counts()[r.id].loss >= paused[r.name] + 3), paused, { timeout: 300_000, polling: 200 });
    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
    await page.click('#pause');
    await waitForPaused(page);
    const rows = (await readFile(await csv.path(), 'utf8')).trim().split('\n');
    assert.equal(rows[0], 'step,run,cell,loss,heldout_perplexity,grad_norm');
    for (const r of runs) {
      const steps = rows.filter((row) => row.split(',')[1] === r.name).map((row) => Number(row.split(',')[0]));
      assert.ok(steps.length >= paused[r.name] + 3, `${r.name}: ${steps.length} rows, ${paused[r.name]} steps before the export`);
      assert.deepEqual(steps, steps.map((_, i) => i + 1), `${r.name}: every step once, in order`);
    }
    // The worker's own record agrees with what the page exported.
    const truth = await page.evaluate(() => window.shige.call('state'));
    for (const r of truth.runs) {
      const exported = rows.filter((row) => row.split(',')[1] === r.name).map((row) => Number(row.split(',')[3]));
      assert.deepEqual(exported, r.history.losses.slice(0, exported.length).map(([, l]) => l), r.name);
    }
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('#export-png')]);
    assert.deepEqual([...(await readFile(await png.path())).subarray(1, 4)].map((b) => String.fromCharCode(b)).join(''), 'PNG');
    await page.screenshot({ path: join(outputDir, 'lab-three-cells.png'), fullPage: true });

    await page.click('#copy-link');
    link = (await page.textContent('#share-output')).replace(/^Copied: /, '');
    assert.match(link, /\?exp=/);
    original = await firstLosses(page, 5);
  } finally {
    await context.close();
  }

  // A fresh browser opens the link: the same runs, and once the same file is chosen, the same losses.
  const fresh = await launch({ webgpu: false });
  try {
    const page = await openApp(fresh, link, '');
    await page.waitForSelector('[data-notice="need-file"]');
    assert.match(await page.textContent('[data-notice="need-file"]'), /tangshi\.txt/);
    await uploadCorpus(page, TANGSHI);
    await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
    await trainAll(page, 5);
    const again = await firstLosses(page, 5);
    assert.deepEqual(again.map((r) => [r.name, r.cell]), original.map((r) => [r.name, r.cell]));
    for (const [a, b] of again.map((r, i) => [r, original[i]])) {
      for (let k = 0; k < 5; k++) assert.ok(Math.abs(a.losses[k] - b.losses[k]) < 1e-5, `${a.name} step ${k + 1}: ${a.losses[k]} vs ${b.losses[k]}`);
    }
  } finally {
    await fresh.close();
  }
});

test('Chinese by default, English on the switch, remembered; every string comes from the tables', { timeout: 600_000 }, async () => {
  // Both tables hold the same keys.
  assert.deepEqual(strings(zh).map(([k]) => k).sort(), strings(en).map(([k]) => k).sort());
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, '?embedding=16&hidden=32&batchSize=8&maxSeqLen=24');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-Hans');
    assert.equal(await page.textContent('#runs-title'), zh.runs.title);
    await page.click('.chip:text("月")');
    await page.waitForSelector('#poems li[data-done]');
    await page.click('#poems li .poem-char >> nth=1');
    await page.screenshot({ path: join(outputDir, 'page-zh.png'), fullPage: true });
    const visibleText = () => page.evaluate(() => document.body.innerText);
    const zhText = await visibleText();
    // English strings longer than a word must not appear on the Chinese page (and vice versa).
    const leftovers = (text, table, other) => strings(table)
      .filter(([k, v]) => v.length > 6 && !/{{/.test(v) && v !== strings(other).find(([k2]) => k2 === k)?.[1])
      .filter(([, v]) => text.includes(v)).map(([k]) => k);
    assert.deepEqual(leftovers(zhText, en, zh), [], 'English left on the Chinese page');

    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const enText = await visibleText();
    assert.deepEqual(leftovers(enText, zh, en), [], 'Chinese (from the tables) left on the English page');
    for (const el of await page.$$('[data-i18n]')) {
      if (!(await el.isVisible())) continue;
      const key = await el.getAttribute('data-i18n');
      const want = key.split('.').reduce((o, k) => o[k], en);
      assert.equal(await el.textContent(), want, key);
    }
    assert.equal(await page.getAttribute('#poems li .poem-text', 'lang'), 'zh-Hans', 'poems stay marked Chinese');
    await page.screenshot({ path: join(outputDir, 'page-en.png'), fullPage: true });

    // Remembered: a reload without ?lang stays English.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.equal(await page.textContent('#runs-title'), en.runs.title);
  } finally {
    await context.close();
  }
});

test('teacher mode hides the chosen controls', { timeout: 300_000 }, () => withApp(server.url, { webgpu: false, query: `${TINY}&hide=settings,load,corpus` }, async (page) => {
  for (const selector of ['#settings', '#load', '#corpus-section']) assert.equal(await page.isVisible(selector), false, selector);
  for (const selector of ['#start', '#chips', '#chart']) assert.ok(await page.isVisible(selector), selector);
}));

test('three runs at the default size on the CPU: a poem and Pause each answer within 2 steps', { timeout: 1_800_000 }, () => withApp(server.url, { webgpu: false, query: DEFAULT }, async (page) => {
  await addRun(page, 'lstm');
  await addRun(page, 'rnn');
  const runs = (await state(page)).runs;
  assert.deepEqual(runs.map((r) => [r.settings.cell, r.settings.hidden, r.settings.embedding]), [['gru', 256, 128], ['lstm', 256, 128], ['rnn', 256, 128]]);
  await page.click('#start');
  await page.waitForFunction(() => window.shige.state().runs.every((r) => r.info.step >= 2), null, { timeout: 600_000, polling: 200 });
  const before = await totalSteps(page);
  await page.click('.chip:text("山")');
  await page.waitForFunction(() => document.querySelectorAll('#poems li').length > 0, null, { timeout: 300_000, polling: 50 });
  const atPoem = await totalSteps(page);
  console.log(`three runs: poem after ${atPoem - before} steps`);
  assert.ok(atPoem - before <= 2, `the poem came ${atPoem - before} steps after the click`);
  const atPause = await totalSteps(page);
  await page.click('#pause');
  await waitForPaused(page);
  await page.waitForTimeout(3000);
  const stopped = await totalSteps(page);
  console.log(`three runs: stopped ${stopped - atPause} steps after Pause`);
  assert.ok(stopped - atPause <= 2, `training went on for ${stopped - atPause} steps after Pause`);
}));
