// Every core for the CPU path: the page trains on the threaded build when it is
// cross-origin isolated (with relaxed SIMD, or without where that build is missing, as for a
// browser without relaxed SIMD), and on the single-threaded build when it is not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, withApp, uploadCorpus, dataDir, mean, TINY, waitForStep, waitForPaused } from './harness.mjs';

const TANGSHI = join(dataDir, 'tangshi.txt');
let isolated;
let noRelaxed;
let plain;
before(async () => {
  // The relaxed-SIMD build's folder answers 404 here (mounted on a folder that does not exist).
  const missing = { '/pkg-threads-relaxed/': join(dataDir, 'no-such-folder') };
  [isolated, noRelaxed, plain] = await Promise.all([serve({ isolate: true }), serve({ isolate: true, mounts: missing }), serve()]);
});
after(() => { isolated.close(); noRelaxed.close(); plain.close(); });

async function trainsOnTangshi(page) {
  await uploadCorpus(page, TANGSHI);
  await page.waitForFunction(() => document.getElementById('corpus-name').textContent === 'tangshi.txt', null, { timeout: 120_000 });
  await page.click('#start');
  await waitForStep(page, 30);
  await page.click('#pause');
  await waitForPaused(page);
  const losses = await page.evaluate(() => window.shige.state().runs[0].history.losses.map(([, l]) => l));
  assert.ok(mean(losses.slice(-10)) < mean(losses.slice(0, 10)), `first ${mean(losses.slice(0, 10))}, last ${mean(losses.slice(-10))}`);
}

test('isolated: the threaded build, on more than one thread, and the loss falls', { timeout: 600_000 }, () => withApp(isolated.url, { webgpu: false, query: TINY }, async (page) => {
  assert.ok(await page.evaluate(() => self.crossOriginIsolated));
  const build = await page.evaluate(() => window.shige.state().build);
  // Chromium has relaxed SIMD: the threaded build with the fused multiply-add.
  assert.deepEqual(build, { threaded: true, relaxedSimd: true, why: null });
  await trainsOnTangshi(page);
}));

test('isolated, no relaxed-SIMD build: the plain threaded build, and the loss falls', { timeout: 600_000 }, () => withApp(noRelaxed.url, { webgpu: false, query: TINY }, async (page) => {
  const build = await page.evaluate(() => window.shige.state().build);
  assert.deepEqual(build, { threaded: true, relaxedSimd: false, why: null });
  await trainsOnTangshi(page);
}));

test('not isolated: the single-threaded build, which says why, and the loss falls', { timeout: 600_000 }, () => withApp(plain.url, { webgpu: false, query: TINY }, async (page) => {
  assert.equal(await page.evaluate(() => self.crossOriginIsolated), false);
  const build = await page.evaluate(() => window.shige.state().build);
  assert.deepEqual(build, { threaded: false, relaxedSimd: false, why: 'the page is not cross-origin isolated' });
  await trainsOnTangshi(page);
}));
