// Browser benchmark (not a test): training speed of the wasm Trainer in headless Chromium on
// WebGPU and on the CPU backend, generation latency, and page load to ready.
// Usage: node tests/bench-browser.mjs [--steps N] [--warmup N] [--backends webgpu,cpu]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, launch, dataDir } from './harness.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const steps = Number(arg('steps', 5));
const warmup = Number(arg('warmup', 1));
const backends = arg('backends', 'webgpu,cpu').split(',');
const SHAPE = { embedding: 128, hidden: 256, layers: 1, batchSize: 32, maxSeqLen: 64, minCharFreq: 2 };

// poems.txt's text cut into 63-character pieces: every batch is exactly 32 x 64, no padding.
const text = (await readFile(join(dataDir, 'poems.txt'), 'utf8')).split('\n').map((l) => l.slice(l.indexOf(':') + 1)).join('');
const chars = [...text];
const pieces = [];
for (let i = 0; i + 63 <= chars.length; i += 63) pieces.push(`p:${chars.slice(i, i + 63).join('')}`);
const corpus = pieces.join('\n');

const server = await serve();
const results = [];
for (const backend of backends) {
  const context = await launch({ webgpu: backend === 'webgpu' });
  const page = context.pages()[0] ?? await context.newPage();
  const t0 = Date.now();
  await page.goto(server.url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 600_000 });
  const loadMs = Date.now() - t0;
  const r = await page.evaluate(async ({ corpus, backend, shape, steps, warmup }) => {
    const m = await import('./pkg/shige.js');
    await m.default();
    const t = await m.Trainer.create(new TextEncoder().encode(corpus), { ...shape, backend });
    await t.trainSteps(warmup);
    const times = [];
    for (let i = 0; i < steps; i++) {
      const s = performance.now();
      await t.trainSteps(1);
      times.push(performance.now() - s);
    }
    times.sort((a, b) => a - b);
    const gen = [];
    await t.generate({ start: '月', form: 'qijue', seed: 0 });   // warm-up (copies weights to the CPU)
    for (let i = 1; i <= 5; i++) {
      const s = performance.now();
      await t.generate({ start: '月', form: 'qijue', seed: i });
      gen.push(performance.now() - s);
    }
    gen.sort((a, b) => a - b);
    return { backend: t.backend(), vocab: t.info().vocabSize, msPerStep: times[times.length >> 1], times, genMs: gen[2] };
  }, { corpus, backend, shape: SHAPE, steps, warmup });
  results.push({ ...r, charsPerS: (32 * 64) / (r.msPerStep / 1000), pageLoadMs: loadMs });
  await context.close();
}
server.close();
for (const r of results) {
  console.log(`${r.backend} | vocab ${r.vocab} | batch 32 x seq 64 | median ${r.msPerStep.toFixed(0)} ms/step | ${r.charsPerS.toFixed(0)} chars/s | warm 七绝 ${r.genMs.toFixed(1)} ms | page load to ready ${r.pageLoadMs} ms | steps ${r.times.map((t) => t.toFixed(0)).join(', ')}`);
}
