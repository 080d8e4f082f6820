// The app in Debian's headless Chromium: WebGPU (SwiftShader) and CPU fallback, training,
// generation, persistence and bad input.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve, withApp, uploadCorpus, mean, dataDir, outputDir, shigeBin, TINY, step, waitForStep, waitForPaused } from './harness.mjs';

const TANGSHI = join(dataDir, 'tangshi.txt');
let server;
before(async () => { server = await serve(); });
after(() => server.close());

const losses = (page, run = 0) => page.evaluate((i) => window.shige.state().runs[i].history.losses.map(([, l]) => l), run);
const poems = (page) => page.$$eval('#poems li', (lis) => lis.map((li) => li.dataset.poem));

async function trainUntil(page, n) {
  await page.click('#start');
  await waitForStep(page, n);
  await page.click('#pause');
  await waitForPaused(page);
  // The page's history lags the worker's by the events in flight: wait for the last one.
  await page.waitForFunction((n) => window.shige.state().runs[0].history.losses.length >= n, n);
}

async function writePoem(page, chip) {
  const before = (await poems(page)).length;
  await page.click(`.chip:text("${chip}")`);
  await page.waitForFunction((n) => document.querySelectorAll('#poems li[data-done]').length > n, before, { timeout: 120_000 });
  return (await poems(page))[0];
}

async function uploadAndWait(page, file, name = 'tangshi.txt') {
  await uploadCorpus(page, file);
  await page.waitForFunction((name) => document.getElementById('corpus-name').textContent === name, name, { timeout: 120_000 });
}

const acceptDialogs = (page) => page.on('dialog', (d) => d.accept());
const lastNotice = (page) => page.textContent('#notices .notice-text');

test('WebGPU: trains on tangshi.txt, loss falls, writes poems from 月 in free form and 五绝', { timeout: 1_200_000 }, () => withApp(server.url, { webgpu: true, query: `${TINY}&backend=webgpu` }, async (page) => {
  assert.match(await page.textContent('#backend'), /^WebGPU/);
  await uploadAndWait(page, TANGSHI);
  assert.equal(await page.textContent('#poems-kept'), '118');
  await trainUntil(page, 30);
  const l = await losses(page);
  assert.ok(l.length >= 30, `${l.length} points`);
  assert.ok(mean(l.slice(-10)) < mean(l.slice(0, 10)), `first ${mean(l.slice(0, 10))} last ${mean(l.slice(-10))}`);

  const runId = await page.evaluate(() => window.shige.state().runs[0].id);
  const vocabulary = new Set(await page.evaluate((runId) => window.shige.call('vocabulary', { runId }), runId));
  const free = await writePoem(page, '月');
  assert.ok(free.startsWith('月'), free);
  for (const c of free) assert.ok(vocabulary.has(c), `${c} not in the vocabulary: ${free}`);

  await page.selectOption('#form', 'wujue');
  const jue = await writePoem(page, '月');
  assert.match(jue, /^月[^，。]{4}，[^，。]{5}。[^，。]{5}，[^，。]{5}。$/u);
  await page.screenshot({ path: join(outputDir, 'webgpu-trained.png'), fullPage: true });
}));

test('on Chromium\'s WebGPU (SwiftShader) the GRU kernels match the tensor-op GRU, forward and gradients, and the Adam and softmax kernels their tensor ops', { timeout: 600_000 }, () => withApp(server.url, { webgpu: true }, async (page) => {
  const report = await page.evaluate(() => window.shige.call('gruKernelCheck', { backend: 'webgpu' }));
  assert.match(report.backend, /^webgpu/);
  assert.ok(report.differences, 'the WebGPU device runs the fused GRU');
  for (const [what, diff] of report.differences) assert.ok(diff < 1e-4, `${what}: max abs diff ${diff}`);
  const [fused, tensorOps] = report.dispatches;
  assert.ok(fused * 3 < tensorOps, `fused ${fused} vs tensor ops ${tensorOps} dispatches`);
  console.log(`SwiftShader: largest difference ${Math.max(...report.differences.map(([, d]) => d))}, dispatches ${fused} vs ${tensorOps}`);

  // Adam's kernels: the same gradient norm, weights and moments as its tensor ops, and a NaN gradient flagged.
  const adam = await page.evaluate(() => window.shige.call('adamKernelCheck', { backend: 'webgpu' }));
  assert.ok(adam.difference != null, 'the WebGPU device runs the Adam kernels');
  assert.ok(adam.difference < 1e-5, `Adam: max abs diff ${adam.difference}`);
  assert.ok(adam.normDifference < 1e-5, `Adam: gradient norm relative diff ${adam.normDifference}`);
  assert.deepEqual(adam.flags, [0, 1]);
  assert.ok(adam.dispatches[0] * 3 < adam.dispatches[1], `Adam: kernel ${adam.dispatches[0]} vs tensor ops ${adam.dispatches[1]} dispatches`);
  console.log(`SwiftShader Adam: largest difference ${adam.difference}, dispatches ${adam.dispatches[0]} vs ${adam.dispatches[1]}`);

  // The output layer's softmax kernel: the same loss and gradients as its tensor ops.
  const output = await page.evaluate(() => window.shige.call('outputKernelCheck', { backend: 'webgpu' }));
  assert.ok(output.differences, 'the WebGPU device runs the softmax kernel');
  for (const [what, diff] of output.differences) assert.ok(diff < 1e-5, `output layer ${what}: max abs diff ${diff}`);
  assert.ok(output.dispatches[0] < output.dispatches[1], `output layer: kernel ${output.dispatches[0]} vs tensor ops ${output.dispatches[1]} dispatches`);
  console.log(`SwiftShader output layer: largest difference ${Math.max(...output.differences.map(([, d]) => d))}, dispatches ${output.dispatches[0]} vs ${output.dispatches[1]}`);
}));

test('auto backend passes over a software WebGPU adapter (SwiftShader) for the faster CPU', { timeout: 300_000 }, () => withApp(server.url, { webgpu: true }, async (page) => {
  assert.equal(await page.textContent('#backend'), 'CPU (faster than software WebGPU)');
  assert.match(await page.getAttribute('#backend', 'title'), /software adapter \(webgpu: .+\)/);
}));

test('CPU fallback: without WebGPU the backend is cpu and training works; Undo swaps models', { timeout: 600_000 }, () => withApp(server.url, { webgpu: false }, async (page) => {
  acceptDialogs(page);
  assert.equal(await page.textContent('#backend'), 'CPU (WebGPU unavailable)');
  await uploadAndWait(page, TANGSHI);
  await trainUntil(page, 30);
  const l = await losses(page);
  assert.ok(mean(l.slice(-10)) < mean(l.slice(0, 10)));
  const trainedStep = await step(page);
  await page.screenshot({ path: join(outputDir, 'cpu-trained.png'), fullPage: true });

  // Undo swaps: the model the upload replaced comes back with its corpus…
  await page.click('#undo');
  await page.waitForFunction(() => document.getElementById('corpus-name').textContent.includes('全唐诗'), null, { timeout: 120_000 });
  assert.equal(await step(page), 0);
  assert.ok(Number((await page.textContent('#vocab-size')).replace(/,/g, '')) > 5000);
  // …and Undo again brings the trained one back: nothing was dropped.
  await page.click('#undo');
  await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
  assert.equal(await step(page), trainedStep);
}));

test('persistence and bad input (CPU)', { timeout: 900_000 }, () => withApp(server.url, { webgpu: false }, async (page) => {
  await uploadAndWait(page, TANGSHI);
  assert.ok(await page.isVisible('#undo'), 'the replaced model can be brought back');
  await trainUntil(page, 20);
  const trained = String(await step(page));

  // Reload: the model and its step come back from IndexedDB.
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
  assert.equal(String(await step(page)), trained);
  assert.match(await page.textContent('#corpus-name'), /tangshi/);

  // Save to a file, load it back: same poem for the same seed.
  await page.fill('#seed', '7');
  const before = await writePoem(page, '山');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#save')]);
  const saved = join(outputDir, 'saved.ckpt');
  await download.saveAs(saved);
  await page.setInputFiles('#load-file', saved);
  await page.waitForFunction((s) => window.shige.state().runs[0].info.step === Number(s) && window.shige.state().undo, trained);
  await page.fill('#seed', '7');
  assert.equal(await writePoem(page, '山'), before);

  // The page's checkpoint works in the CLI, and the CLI's in the page.
  const fromCli = execFileSync(shigeBin, ['generate', '--model', saved, '--start', '月', '--form', 'wujue'], { encoding: 'utf8' });
  assert.match(fromCli.trim(), /^月[^，。]{4}，[^，。]{5}。[^，。]{5}，[^，。]{5}。$/u);
  const cliCkpt = join(outputDir, 'cli.ckpt');
  execFileSync(shigeBin, ['train', '--corpus', TANGSHI, '--embedding', '8', '--hidden', '16', '--epochs', '1',
    '--min-char-freq', '1', '--out', cliCkpt, '--force'], { stdio: 'ignore' });
  await page.setInputFiles('#load-file', cliCkpt);
  await page.waitForFunction(() => window.shige.state().runs[0].info.hidden === 16, null, { timeout: 60_000 });
  assert.equal(await page.inputValue('input[name="hidden"]'), '16', 'the settings show the loaded shape');
  assert.ok((await writePoem(page, '月')).startsWith('月'));

  // A file that is not a checkpoint: an error, and the loaded model stays.
  const junk = join(outputDir, 'junk.ckpt');
  await writeFile(junk, 'not a checkpoint');
  await page.setInputFiles('#load-file', junk);
  await page.waitForSelector('.notice.error');
  assert.match(await lastNotice(page), /not a Shige checkpoint/);
  assert.equal(await page.evaluate(() => window.shige.state().runs[0].info.hidden), 16);
  const step16 = await step(page);

  // Bad files: a readable error each, and the model still writes.
  const binary = join(outputDir, 'binary.bin');
  await writeFile(binary, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
  await uploadCorpus(page, binary);
  await page.waitForFunction(() => document.querySelector('#notices .notice-text')?.textContent.includes('binary'));
  const empty = join(outputDir, 'empty.txt');
  await writeFile(empty, '');
  await uploadCorpus(page, empty);
  await page.waitForFunction(() => document.querySelector('#notices .notice-text')?.textContent.includes('empty'));
  assert.match(await lastNotice(page), /empty\.txt: the file is empty.*unchanged/);
  assert.ok((await writePoem(page, '月')).startsWith('月'));
  assert.equal(await step(page), step16);

  // An unknown start character is a clear message, not a crash.
  await page.fill('#start-char', 'Ω');
  await page.click('#generate');
  // Said under the form, where the reader is looking, and the field is marked invalid.
  await page.waitForFunction(() => document.querySelector('#write-error')?.textContent.includes('vocabulary'));
  assert.match(await page.textContent('#write-error'), /“Ω” is not in the model.s vocabulary/);
  assert.equal(await page.getAttribute('#start-char', 'aria-invalid'), 'true');
  assert.ok((await writePoem(page, '月')).startsWith('月'));
  assert.equal(await page.isHidden('#write-error'), true, 'the error goes once a poem is written');
  assert.equal(await page.getAttribute('#start-char', 'aria-invalid'), null);
  await page.screenshot({ path: join(outputDir, 'errors.png'), fullPage: true });
}));
