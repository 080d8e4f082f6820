// The lab's fourth contender (issue 30): a Transformer at the page's default size trains on the
// CPU path, writes 七绝 with the meter and shows each layer's and head's attention; the README's
// class link races all four cells at about the same parameter count; a Transformer whose heads
// cannot split its embedding is refused with a message naming them; a small one trains and
// writes on the threaded CPU build and on WebGPU too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, launch, openApp, outputDir, mean, noticeTexts, waitForStep, waitForPaused } from './harness.mjs';

let server, isolated;
before(async () => { [server, isolated] = await Promise.all([serve(), serve({ isolate: true })]); });
after(() => { server.close(); isolated.close(); });

const state = (page) => page.evaluate(() => window.shige.state());

test('a Transformer at the page\'s default size, on the CPU: it trains, writes 七绝 with the meter, and shows each head\'s attention (en, zh, keyboard)', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    // Choosing the cell is all a user does: the form brings the Transformer's sizes.
    const page = await openApp(context, server.url, '?lang=en&starter=0&cell=transformer');
    const run = (await state(page)).runs[0];
    assert.equal(run.info.backend, 'cpu');
    assert.deepEqual({ cell: run.info.cell, embedding: run.info.embedding, heads: run.info.heads, layers: run.info.layers, bias: run.info.bias },
      { cell: 'transformer', embedding: 128, heads: 4, layers: 2, bias: true });
    assert.equal(await page.isVisible('input[name="heads"]'), true, 'the heads are a setting');
    assert.equal(await page.isVisible('input[name="hidden"]'), false, 'a Transformer has no hidden state to set');

    await page.click('#start');
    await waitForStep(page, 30, { timeout: 600_000 });
    await page.click('#pause');
    await waitForPaused(page);
    const losses = (await state(page)).runs[0].history.losses.map(([, l]) => l);
    assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.5, `the loss falls: ${losses.slice(0, 5)} … ${losses.slice(-5)}`);

    await page.selectOption('#form', 'qijue');
    await page.check('#meter');
    await page.fill('#start-char', '月');
    await page.click('#generate');
    await page.waitForSelector('#poems li[data-done="true"]', { timeout: 120_000 });
    const poem = await page.$eval('#poems li', (li) => li.dataset.poem);
    assert.match(poem, /^月[^，。]{6}，[^，。]{7}。[^，。]{7}，[^，。]{7}。$/u);
    assert.match(await page.$eval('#poems li .poem-tones', (e) => e.textContent), /It passes the 格律 check/u, 'the meter\'s poem passes the 格律 check');

    // The inspector: attention maps, one a layer and head, instead of gates and hidden units.
    await page.click('#poems li .poem-char >> nth=9');
    await page.waitForSelector('#attention:not([hidden])');
    assert.equal(await page.isHidden('#recurrent-maps'), true);
    assert.equal(await page.$$eval('#attention-maps canvas', (c) => c.length), 2 * 4);
    assert.deepEqual(await page.$$eval('#attention-maps figcaption', (c) => c.slice(0, 2).map((e) => e.textContent)), ['layer 1, head 1', 'layer 1, head 2']);
    // Reading the 10th character (the 9th written) to write it: each head's strongest, by name.
    const chars = [...poem];
    assert.ok((await page.textContent('#attention-readout')).startsWith(`Reading “${chars[8]}” to write “${chars[9]}”, each head looked most at: layer 1, head 1: “`));
    // A cell by pointer, then by keyboard: the two characters and the weight.
    const box = await page.$eval('#attention-maps canvas', (c) => { const b = c.getBoundingClientRect(); return { x: b.x, y: b.y, w: b.width }; });
    const n = chars.length + 1;                       // BOS and every character
    const cell = box.w / n;
    await page.mouse.move(box.x + cell * 1.5, box.y + cell * 3.5);   // reading the 3rd character, at the 1st
    assert.match(await page.textContent('#attention-readout'), new RegExp(`^layer 1, head 1: reading “${chars[2]}”, it gave “${chars[0]}” \\(2 back\\) weight 0\\.\\d{3}$`, 'u'));
    await page.focus('#attention-maps canvas >> nth=7');
    await page.keyboard.press('ArrowLeft');
    assert.match(await page.textContent('#attention-readout'), /^layer 2, head 4: reading “.”, it gave “.” \(\d+ back\) weight [01]\.\d{3}$/u);
    await page.$eval('#inspector', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'attention-en.png') });

    await page.click('#lang-switch');
    await page.waitForFunction(() => /^第 1 层第 1 头/.test(document.querySelector('#attention-maps figcaption')?.textContent ?? ''));
    assert.match(await page.textContent('#attention-readout'), /^读到“.”、要写“.”时，各头最关注：第 1 层第 1 头：“/u);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.$eval('#attention', (e) => e.scrollIntoView());
    await page.screenshot({ path: join(outputDir, 'attention-390-zh.png') });
  } finally {
    await context.close();
  }
});

test('the README\'s class link races all four cells at about one parameter count; heads that cannot split the embedding are named', { timeout: 900_000 }, async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const link = readme.match(/\[four cells[^\]]*\]\([^)]*(\?exp=[A-Za-z0-9_-]+)\)/)?.[1];
  assert.ok(link, 'the README has the four-cell class link');
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, `${link}&lang=en`);
    assert.equal(await page.getAttribute('#example-four', 'href'), link, 'the share panel\'s example is the same link');
    const runs = (await state(page)).runs;
    assert.deepEqual(runs.map((r) => r.info.cell).sort(), ['gru', 'lstm', 'rnn', 'transformer']);
    const params = runs.map((r) => r.info.params);
    assert.ok(Math.max(...params) / Math.min(...params) < 1.1, `parameters within 10%: ${params}`);
    // Every run takes a step (the race can start).
    await page.click('#start');
    await waitForStep(page, 1, { timeout: 600_000 });
    await page.click('#pause');
    await waitForPaused(page);

    // A link whose Transformer has 3 heads for an embedding of 128: refused, naming the heads.
    const bad = Buffer.from(JSON.stringify({ v: 1, runs: [{ cell: 'transformer', embedding: 128, heads: 3, layers: 2 }] })).toString('base64url');
    await page.goto(`${server.url}?exp=${bad}&lang=en`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.waitForFunction(() => document.querySelectorAll('#notices .notice-text').length > 0);
    const said = (await noticeTexts(page)).join(' | ');
    assert.match(said, /the embedding \(128\) must split evenly into the heads \(3\).*Try 2 heads/u, said);
  } finally {
    await context.close();
  }
});

for (const [path, open] of [
  ['the threaded CPU build', () => ({ at: isolated, webgpu: false, backend: 'cpu' })],
  ['WebGPU (SwiftShader)', () => ({ at: server, webgpu: true, backend: 'webgpu' })],
]) {
  test(`a small Transformer on ${path}: its loss is finite and falls, and its poem comes with attention`, { timeout: 900_000 }, async () => {
    const { at, webgpu, backend } = open();
    const context = await launch({ webgpu });
    try {
      const page = await openApp(context, at.url, `?lang=en&cell=transformer&embedding=16&heads=2&layers=1&batchSize=8&maxSeqLen=24&learningRate=0.01&backend=${backend}`);
      const s = await state(page);
      assert.equal(s.runs[0].info.cell, 'transformer');
      if (webgpu) assert.match(s.runs[0].info.backend, /^webgpu/);
      else assert.equal(s.build.threaded, true);
      await page.click('#start');
      await waitForStep(page, 12, { timeout: 600_000 });
      await page.click('#pause');
      await waitForPaused(page);
      const losses = (await state(page)).runs[0].history.losses.map(([, l]) => l);
      assert.ok(losses.every(Number.isFinite) && mean(losses.slice(-3)) < mean(losses.slice(0, 3)), `${losses}`);
      await page.click('.chip:text("月")');
      await page.waitForSelector('#poems li[data-done="true"]', { timeout: 300_000 });
      await page.click('#poems li .poem-char >> nth=1');
      await page.waitForSelector('#attention:not([hidden])');
      assert.equal(await page.$$eval('#attention-maps canvas', (c) => c.length), 2);
    } finally {
      await context.close();
    }
  });
}
