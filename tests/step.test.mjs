// A lesson in one step (issue 31): Step trains exactly one step on every path, the panel's
// before/after probabilities are the model's own before and after, the lab's line gains a
// heatmap column with every evaluation and keeps them across a reload, and Check this device
// reports the paths and a speed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, launch, openApp, uploadCorpus, dataDir, outputDir, TINY, step, waitForStep, waitForPaused, ready, noticeTexts } from './harness.mjs';

let plain, isolated;
before(async () => { [plain, isolated] = await Promise.all([serve(), serve({ isolate: true })]); });
after(() => { plain.close(); isolated.close(); });

const state = (page) => page.evaluate(() => window.shige.state());
const guesses = (page, runId, text, ends) => page.evaluate((a) => window.shige.call('guesses', a), { runId, text, ends, k: 0 });

/**
 * Two identical runs (same settings, same seed: same weights and batches); Step only the first.
 * The second still is the first's "before", so each probability is checked against a direct
 * evaluation of the model before and after the step.
 */
async function stepChecked(page) {
  await page.click('#add-run');
  await page.waitForFunction(() => window.shige.state().runs.length === 2);
  const [a, b] = (await state(page)).runs;
  assert.deepEqual({ ...a.settings, backend: null }, { ...b.settings, backend: null });
  const { reports } = await page.evaluate((runId) => window.shige.call('step', { runId }), a.id);
  assert.equal(reports.length, 1);
  const report = reports[0];
  const [a2, b2] = (await state(page)).runs;
  assert.equal(a2.info.step, a.info.step + 1, 'exactly one step');
  assert.equal(b2.info.step, b.info.step, 'the other run did not move');
  assert.equal(report.step, a.info.step + 1);
  assert.ok(report.rows.length === a.settings.batchSize || report.rows.length > 0);
  let checked = 0;
  for (const row of report.rows.slice(0, 3)) {
    const before = await guesses(page, b.id, row.chars, row.ends);
    const after = await guesses(page, a.id, row.chars, row.ends);
    assert.equal(before.length, row.before.length);
    for (let i = 0; i < before.length; i++) {
      assert.ok(Math.abs(before[i].probability - row.before[i]) <= 1e-5, `before ${i}: ${before[i].probability} vs ${row.before[i]}`);
      assert.ok(Math.abs(after[i].probability - row.after[i]) <= 1e-5, `after ${i}: ${after[i].probability} vs ${row.after[i]}`);
      checked += 1;
    }
  }
  assert.ok(checked > 0);
  assert.ok(report.groups.length >= 4 && report.groups.every((g) => g.gradNorm > 0 && g.updateRatio > 0));
  return report;
}

for (const [path, open] of [
  ['CPU on one thread', () => ({ server: plain, webgpu: false, query: TINY })],
  ['threaded CPU', () => ({ server: isolated, webgpu: false, query: TINY })],
  ['WebGPU (SwiftShader)', () => ({ server: plain, webgpu: true, query: `${TINY}&backend=webgpu` })],
]) {
  test(`Step on ${path}: exactly one step, and the panel's probabilities are the model's before and after`, { timeout: 900_000 }, async () => {
    const { server, webgpu, query } = open();
    const context = await launch({ webgpu });
    try {
      const page = await openApp(context, server.url, query);
      const backend = (await state(page)).runs[0].info.backend;
      if (path.startsWith('WebGPU')) assert.match(backend, /^webgpu/);
      else assert.equal(backend, 'cpu');
      if (path === 'threaded CPU') assert.equal((await state(page)).build.threaded, true);
      await stepChecked(page);
    } finally {
      await context.close();
    }
  });
}

test('the Step button and S: one step of every run, drawn in the panel, zh and en; not while training', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, plain.url, TINY);
    await page.click('#start');
    await waitForStep(page, 1);
    assert.equal(await page.isDisabled('#step'), true, 'no Step while training');
    await page.click('#pause');
    await waitForPaused(page);
    const from = await step(page);
    await page.click('#step');
    await page.waitForFunction((n) => window.shige.state().runs[0].info.step === n + 1, from);
    await page.waitForSelector('#step-panel:not([hidden])');
    const report = (await page.evaluate(() => window.shige.stepReports()))[0];
    assert.equal(report.step, from + 1);
    const row = report.rows[0];
    const bars = await page.$$eval('#step-bars .step-bar', (els) => els.map((e) => e.querySelector('.label').textContent));
    assert.deepEqual(bars.slice(0, [...row.chars].length), [...row.chars]);
    assert.equal(bars.length, [...row.chars].length + (row.ends ? 1 : 0));
    assert.match(await page.textContent('#step-summary'), new RegExp(`Step ${report.step}.*loss on this poem (fell|rose) from`));
    assert.equal(await page.$$eval('#step-groups tbody tr', (r) => r.length), report.groups.length);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.$eval('#step-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'step-panel-1280.png') });

    // The key, and another poem of the batch; then in Chinese. The key is not the button's
    // (it is for anywhere but a field): nothing keeps the focus.
    await page.evaluate(() => document.activeElement?.blur());
    await page.keyboard.press('s');
    await page.waitForFunction((n) => window.shige.stepReports()[0]?.step === n + 1, report.step, { timeout: 120_000 })
      .catch(async (e) => { throw new Error(`S took no step: ${JSON.stringify({ step: (await state(page)).runs[0].info.step, notices: await noticeTexts(page), disabled: await page.isDisabled('#step') })}`, { cause: e }); });
    assert.equal((await state(page)).runs[0].info.step, from + 2);
    await page.selectOption('#step-row', '1');
    const second = (await page.evaluate(() => window.shige.stepReports()))[0].rows[1];
    await page.waitForFunction((c) => document.querySelector('#step-bars .step-bar .label')?.textContent === c, [...second.chars][0]);
    await page.click('#lang-switch');
    await page.waitForFunction(() => /这首诗的损失从/.test(document.getElementById('step-summary').textContent));
    assert.match(await page.textContent('#step-groups tbody tr:first-child td:first-child'), /嵌入层/);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.$eval('#step-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'step-panel-390.png') });
  } finally {
    await context.close();
  }
});

test('how a prediction learns: a column per evaluation, the same after a reload; a new line starts again; unknown characters are refused', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, plain.url, TINY);
    // The homework's small corpus: evaluations come every few steps and cost little.
    page.on('dialog', (d) => d.accept());
    await uploadCorpus(page, join(dataDir, 'tangshi.txt'));
    await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
    const line = '春风花月明';
    await page.fill('#guess-line', line);
    await page.click('#guess-form button[type="submit"]');
    await page.waitForFunction((l) => window.shige.state().runs[0].history.guesses?.line === l, line);
    assert.equal((await state(page)).runs[0].history.guesses.steps.length, 1, 'one column: the model as it is now');

    await page.click('#start');
    await page.waitForFunction(() => window.shige.state().runs[0].history.guesses.steps.length >= 3, null, { timeout: 600_000, polling: 200 });
    await page.click('#pause');
    await waitForPaused(page);
    const run = (await state(page)).runs[0];
    const g = run.history.guesses;
    // After the first, one column a held-out evaluation, at its step.
    assert.deepEqual(g.steps.slice(1), run.history.evals.map(([s]) => s).filter((s) => s > g.steps[0]));
    assert.ok(g.probabilities.every((col) => col.length === [...line].length && col.every((p) => p > 0 && p < 1)));
    assert.ok(g.top.every((col) => col.every((top) => top.length === 5)));
    const canvas = `#guess-maps canvas[data-run="${run.id}"]`;
    assert.equal(await page.getAttribute(canvas, 'data-columns'), String(g.steps.length));
    // Read a cell with the keyboard: the newest column, the second character.
    await page.focus(canvas);
    await page.keyboard.press('ArrowDown');
    const readout = await page.textContent('#guess-readout');
    assert.ok(readout.includes(`step ${g.steps.at(-1).toLocaleString('en')}: “风” had probability`), readout);
    assert.ok(readout.includes(g.top.at(-1)[1][0][0]), 'the likeliest guess is named');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.$eval('#guess-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'guess-map-1280.png') });

    await page.reload();
    await ready(page);
    assert.deepEqual((await state(page)).runs[0].history.guesses, g, 'saved with the run');
    assert.equal(await page.getAttribute(canvas, 'data-columns'), String(g.steps.length));

    // A character the model has never seen is refused, and the line stays.
    await page.fill('#guess-line', '春风☃');
    await page.click('#guess-form button[type="submit"]');
    await page.waitForSelector('.notice:has-text("does not know “☃”")');
    assert.equal((await state(page)).runs[0].history.guesses.line, line);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.$eval('#guess-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'guess-map-390.png') });
  } finally {
    await context.close();
  }
});

test('check this device: the paths, a positive speed for each run, an estimate, and a run too big for a tab', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, isolated.url, TINY);
    await page.click('#add-run');
    await page.waitForFunction(() => window.shige.state().runs.length === 2);
    await page.fill('#check-minutes', '10');
    await page.click('#check-device');
    await page.waitForFunction(() => window.shige.deviceCheck());
    const report = await page.evaluate(() => window.shige.deviceCheck());
    assert.equal(report.paths.threaded, true);
    assert.ok(report.paths.threads >= 2);
    assert.equal(report.runs.length, 2);
    for (const r of report.runs) {
      assert.ok(r.fits && r.beside && r.msPerStep > 0, JSON.stringify(r));
      assert.ok(r.steps > 0 && Number.isFinite(r.loss), JSON.stringify(r));
    }
    const text = await page.textContent('#device-report');
    assert.match(text, /This device: .*CPU on \d+ threads/);
    assert.match(text, /steps\/s on CPU/);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.$eval('#check-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'device-check-1280.png') });
    assert.equal(await step(page), 0, 'the runs themselves did not train');

    // The form's settings, too big for a tab: said plainly, in Chinese too.
    await page.fill('#settings [name="hidden"]', '4096');
    await page.fill('#settings [name="embedding"]', '4096');
    await page.fill('#settings [name="batchSize"]', '512');
    await page.fill('#settings [name="maxSeqLen"]', '512');
    await page.click('#check-device');
    await page.waitForFunction(() => window.shige.deviceCheck()?.runs.length === 3);
    const big = (await page.evaluate(() => window.shige.deviceCheck())).runs[2];
    assert.equal(big.fits, false);
    await page.waitForSelector('#device-report .warning:has-text("will not fit")');
    await page.click('#lang-switch');
    await page.waitForSelector('#device-report .warning:has-text("放不下")');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.$eval('#check-title', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'device-check-390.png') });
  } finally {
    await context.close();
  }
});
