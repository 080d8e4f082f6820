// Browser half of `scripts/bench.sh` (not a test): in headless Chromium, our wasm Trainer on
// WebGPU and on the CPU, and TF.js on each of its backends that initialise, all training the
// same model on batches of 32 x 64 characters. Prints one JSON line per run.
// Also times the page itself at its default settings on the CPU: a poem and Pause while training.
// Usage: node bench/browser.mjs --pieces FILE --vocab V [--steps N] [--warmup N]
//          [--ours webgpu,cpu] [--cells gru,transformer] [--tfjs cpu,wasm,webgl,webgpu] [--page cpu]
// --cells: ours for each cell at the page's default model (the GRU: embedding 128, hidden 256;
// the Transformer: embedding 128, 4 heads, 2 layers), on the same batches.
import { basename, dirname, join } from 'node:path';
import { serve, launch, root, openApp, waitForStep, DEFAULT } from '../tests/harness.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const list = (name, dflt) => arg(name, dflt).split(',').filter(Boolean);
const steps = Number(arg('steps', 5));
const warmup = Number(arg('warmup', 1));
const vocab = Number(arg('vocab'));
const shape = { embedding: 128, hidden: 256, batch: 32, seq: 64 };
// `shige bench --pieces-out`: the corpus cut into 63-character lines, so every batch is
// BOS + 63 characters = 64 positions with no padding.
const pieces = arg('pieces');
/** The page's default model of each cell (www/settings-schema.js, FAMILY_DEFAULTS). */
const CELLS = { gru: { cell: 'gru' }, transformer: { cell: 'transformer', embedding: 128, heads: 4, layers: 2 } };

// Cross-origin isolation lets TF.js's wasm backend use its threaded build (its fastest).
const server = await serve({
  mounts: { '/data/': dirname(pieces), '/tfjs/': join(root, 'bench/node_modules'), '/bench/': join(root, 'bench') },
  headers: { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' },
});

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const report = (r) => {
  const ms = median(r.times);
  console.log(JSON.stringify({ ...r, msPerStep: ms, charsPerS: (shape.batch * shape.seq) / (ms / 1000) }));
};

async function inChromium(url, fn, arg) {
  const context = await launch({ webgpu: true });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(url);
    return await page.evaluate(fn, arg);
  } finally {
    await context.close();
  }
}

// "cpu-threads": the threaded CPU build the app picks here (with relaxed SIMD; the page is
// cross-origin isolated), "cpu-threads-plain" the one without relaxed SIMD. The CPU builds
// train in a worker, as in the app (bench/ours-worker.js). They run first: right after the ten
// minutes of SwiftShader WebGPU they once ran ~40 % slower than alone.
for (const backend of list('ours', 'cpu,cpu-threads,cpu-threads-plain,webgpu')) for (const cellName of list('cells', 'gru')) {
  try {
    const r = await inChromium(`${server.url}bench/blank.html`, async (options) => {
      if (options.backend === 'webgpu') return (await import('/bench/ours.js')).benchOurs(options);
      const worker = new Worker('/bench/ours-worker.js', { type: 'module' });
      const reply = await new Promise((resolve, reject) => {
        worker.onmessage = ({ data }) => resolve(data);
        worker.onerror = (e) => reject(new Error(e.message));
        worker.postMessage(options);
      });
      worker.terminate();
      if (!reply.ok) throw new Error(reply.error);
      return reply.result;
    }, { corpusUrl: `/data/${basename(pieces)}`, backend, shape, cell: CELLS[cellName], steps, warmup });
    report(r);
  } catch (e) {
    console.log(JSON.stringify({ peer: 'shige', backend, cell: cellName, error: String(e.message ?? e) }));
  }
}

for (const backend of list('tfjs', 'cpu,wasm,webgl,webgpu')) {
  try {
    const r = await inChromium(`${server.url}bench/tfjs.html`,
      (opts) => window.runTfjs(opts), { backend, vocab, ...shape, steps, warmup });
    report({ peer: 'tfjs', ...r, vocab });
  } catch (e) {
    console.log(JSON.stringify({ peer: 'tfjs', backend, error: String(e.message ?? e).split('\n')[0] }));
  }
}

// The page as a user meets it: default settings, built-in corpus, CPU. Milliseconds from a
// click on 月 to its poem, and from Pause to the last step, while training (the tests count
// the same in steps).
for (const backend of list('page', 'cpu')) {
  const context = await launch({ webgpu: backend !== 'cpu' });
  try {
    const page = await openApp(context, server.url, `${DEFAULT}&backend=${backend}`);
    const stepMs = () => page.evaluate(() => { const s = [...window.shige.stats.values()][0]; return (1000 * s.seconds) / Math.max(1, s.steps); });
    await page.click('#start');
    await waitForStep(page, 5);
    const poemMs = [];
    for (let i = 0; i < 3; i++) {
      const n = await page.$$eval('#poems li', (l) => l.length);
      const t0 = await page.evaluate(() => performance.now());
      await page.click('.chip:text("月")');
      await page.waitForFunction((n) => document.querySelectorAll('#poems li').length > n, n, { polling: 10 });
      poemMs.push(await page.evaluate((t0) => performance.now() - t0, t0));
    }
    const t0 = await page.evaluate(() => performance.now());
    await page.click('#pause');
    await page.waitForFunction(() => window.shige.state().runs.every((r) => !r.running), null, { polling: 10 });
    const pauseMs = await page.evaluate((t0) => performance.now() - t0, t0);
    console.log(JSON.stringify({ peer: 'shige-page', backend, stepMs: await stepMs(), poemWhileTrainingMs: median(poemMs), pauseMs }));
  } catch (e) {
    console.log(JSON.stringify({ peer: 'shige-page', backend, error: String(e.message ?? e) }));
  } finally {
    await context.close();
  }
}
server.close();
