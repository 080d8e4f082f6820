// Peak wasm memory of training in the browser's CPU build, measured in Node (wasm memory only
// grows, so its size after a step and a save is the peak), next to the page's estimate
// (`estimateMemory`, which the settings form checks against its 3 GiB budget).
// Usage: node bench/memory.mjs [--corpus FILE] [shape ...]   shape: hidden[,embedding[,batch[,seq[,cell]]]]
//        node bench/memory.mjs --upload MiB    peak memory to parse a corpus of that size
import { readFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args.splice(i, 2)[1] : dflt; };
const corpusPath = flag('corpus', `${root}dist/site/default-corpus.txt`);
const child = flag('child', null);
const upload = flag('upload', null);

async function wasmModule() {
  const m = await import(`${root}dist/pkg/shige.js`);
  await m.default({ module_or_path: await readFile(`${root}dist/pkg/shige_bg.wasm`) });
  return m;
}
const memoryBytes = (m) => m.__wasm?.memory?.buffer.byteLength ?? m.default.__wbindgen_wasm_module?.memory?.buffer.byteLength;

if (child) {
  // One shape in a fresh process (a wasm memory never shrinks).
  const m = await wasmModule();
  const memory = () => (globalThis.__shigeMemory ?? 0);
  const [hidden, embedding = 128, batchSize = 32, maxSeqLen = 96, cell = 'gru'] = child.split(',');
  const settings = { hidden: +hidden, embedding: +embedding, batchSize: +batchSize, maxSeqLen: +maxSeqLen, cell, backend: 'cpu' };
  const corpus = m.CorpusData.parse(await readFile(corpusPath));
  const vocab = corpus.info().vocabSize;
  const estimate = m.estimateMemory(settings, vocab);
  const before = m.wasmMemoryBytes();
  const trainer = await m.Trainer.create(corpus, settings);
  const t0 = performance.now();
  await trainer.trainSteps(1);
  const stepMs = performance.now() - t0;
  await trainer.save();
  console.log(JSON.stringify({ ...settings, vocab, params: trainer.info().params, corpusBytes: before,
    peakBytes: m.wasmMemoryBytes(), estimateBytes: estimate, stepMs: Math.round(stepMs) }));
  void memory;
} else if (upload) {
  const m = await wasmModule();
  // A corpus of `upload` MiB made of the real one repeated (titles renumbered).
  const base = await readFile(corpusPath, 'utf8');
  const lines = base.split('\n').filter(Boolean);
  const target = Number(upload) * 2 ** 20;
  const parts = [];
  let size = 0;
  for (let i = 0; size < target; i++) {
    const line = `${i}${lines[i % lines.length].slice(lines[i % lines.length].indexOf(':'))}\n`;
    parts.push(line);
    size += Buffer.byteLength(line);
  }
  const bytes = Buffer.from(parts.join('')).subarray(0, target);
  const corpus = m.CorpusData.parse(bytes);
  const info = corpus.info();
  console.log(JSON.stringify({ uploadMiB: Number(upload), poems: info.poemsKept, vocab: info.vocabSize,
    wasmPeakBytes: m.wasmMemoryBytes(), nodeMaxRssBytes: process.resourceUsage().maxRSS * 1024 }));
} else {
  const shapes = args.length ? args : ['256', '512', '1024', '1536', '2048', '2048,512', '1024,128,32,96,lstm'];
  for (const shape of shapes) {
    try {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--corpus', corpusPath, '--child', shape], { encoding: 'utf8' });
      console.log(out.trim());
    } catch (e) {
      console.log(JSON.stringify({ shape, error: String(e.stderr ?? e.message).split('\n').find((l) => /rror/.test(l)) ?? 'failed' }));
    }
  }
}
