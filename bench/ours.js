// Our wasm Trainer timed on one backend (used by bench/browser.mjs, in the page or in a worker).
// The CPU builds run in a Web Worker, as in the app: the threaded build's rayon pool blocks
// with Atomics.wait, which a page's main thread may not do.
export async function benchOurs({ corpusUrl, backend, shape, cell, steps, warmup }) {
  const bytes = new Uint8Array(await (await fetch(corpusUrl)).arrayBuffer());
  // "cpu-threads" runs the build the app picks here (relaxed SIMD where the browser has it).
  const threads = backend.startsWith('cpu-threads');
  const { relaxedSimd } = await import('/vendor/wasm-feature-detect.js');
  const relaxed = backend === 'cpu-threads' && await relaxedSimd();
  const m = await import(threads ? (relaxed ? '/pkg-threads-relaxed/shige.js' : '/pkg-threads/shige.js') : '/pkg/shige.js');
  await m.default();
  if (threads) await m.initThreadPool(Math.max(2, (navigator.hardwareConcurrency || 2) - 1)); // as www/worker.js
  // `cell`: the cell's own settings (the Transformer's heads and layers), over the shared shape.
  const options = { embedding: shape.embedding, hidden: shape.hidden, ...cell, batchSize: shape.batch, maxSeqLen: shape.seq, backend: threads ? 'cpu' : backend };
  const corpus = m.CorpusData.parse(bytes);
  const t = await m.Trainer.create(corpus, options);
  if (warmup > 0) await t.trainSteps(warmup); // trainSteps refuses 0
  const times = [];
  for (let i = 0; i < steps; i++) {
    const s = performance.now();
    await t.trainSteps(1); // resolves with the loss read back
    times.push(performance.now() - s);
  }
  const dispatchesPerStep = await t.dispatchesPerStep(); // one more (real) step, counted
  // On WebGPU, the same at half the sequence: a step's dispatches must not grow with its length.
  let dispatchesAtHalfSeq = null;
  if (backend === 'webgpu') {
    const half = await m.Trainer.create(corpus, { ...options, maxSeqLen: shape.seq / 2 });
    await half.trainSteps(1);
    dispatchesAtHalfSeq = await half.dispatchesPerStep();
    half.free();
  }
  await t.generate({ start: '月', form: 'qijue', seed: 0 }); // warm-up: copies the weights for sampling
  const gen = [];
  for (let i = 1; i <= 5; i++) {
    const s = performance.now();
    await t.generate({ start: '月', form: 'qijue', seed: i });
    gen.push(performance.now() - s);
  }
  return { peer: 'shige', backend: t.backend(), threaded: m.isThreaded(), relaxedSimd: relaxed, vocab: t.info().corpus.vocabSize, times,
    cell: t.info().cell, params: t.info().params, poemMs: gen.sort((a, b) => a - b)[2], dispatchesPerStep, dispatchesAtHalfSeq };
}
