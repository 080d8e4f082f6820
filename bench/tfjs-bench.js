// The TF.js peer: the same model and step as ours, written the way a TF.js user would
// (layers API, trainOnBatch): embedding -> GRU -> dense over the vocabulary, softmax
// cross-entropy, Adam. Called by bench/browser.mjs as `runTfjs(options)`.
/* global tf */
// TF.js 4.22's wasm backend lacks UnsortedSegmentSum, the gradient of the embedding lookup, so
// training any embedding fails there. This fills the gap with the plain loop over the wasm
// heap (2048 x 128 adds a step: negligible next to the step), so the wasm backend can be measured.
function polyfillWasmSegmentSum() {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({
    kernelName: 'UnsortedSegmentSum',
    backendName: 'wasm',
    kernelFunc: ({ inputs: { x, segmentIds }, backend, attrs: { numSegments } }) => {
      const width = x.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = backend.makeOutput([numSegments, ...x.shape.slice(1)], x.dtype);
      const [xs, ids, sums] = [x, segmentIds, out].map((t) => backend.typedArrayFromHeap(t));
      sums.fill(0);
      for (let i = 0; i < ids.length; i++) {
        for (let j = 0; j < width; j++) sums[ids[i] * width + j] += xs[i * width + j];
      }
      return out;
    },
  });
}

window.runTfjs = async ({ backend, vocab, embedding, hidden, batch, seq, steps, warmup }) => {
  tf.wasm.setWasmPaths('/tfjs/@tensorflow/tfjs-backend-wasm/dist/');
  polyfillWasmSegmentSum();
  // TF.js's default is half the cores; give it all of them, as PyTorch and our CPU build get.
  if (backend === 'wasm') tf.wasm.setThreadsCount(navigator.hardwareConcurrency);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not initialise`);
  await tf.ready();
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: vocab, outputDim: embedding, inputLength: seq }),
      // TF.js's GRU has no reset_after (PyTorch's variant); its reset-before GRU costs the same.
      tf.layers.gru({ units: hidden, returnSequences: true }),
      tf.layers.dense({ units: vocab, activation: 'softmax' }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'sparseCategoricalCrossentropy' });
  // Token ids do not change the speed; fixed pseudo-random ones keep runs alike.
  let s = 1;
  const rand = () => { s = (s * 48271) % 2147483647; return s % vocab; };
  const batchOf = () => {
    const ids = Int32Array.from({ length: batch * (seq + 1) }, rand);
    return tf.tidy(() => {
      const all = tf.tensor2d(ids, [batch, seq + 1], 'int32');
      return [all.slice([0, 0], [batch, seq]).toFloat(), all.slice([0, 1], [batch, seq]).expandDims(2).toFloat()];
    });
  };
  const step = async () => {
    const [x, y] = batchOf();
    const loss = await model.trainOnBatch(x, y); // resolves once the loss is read back
    tf.dispose([x, y]);
    return loss;
  };
  for (let i = 0; i < warmup; i++) await step();
  const times = [];
  let loss = NaN;
  for (let i = 0; i < steps; i++) {
    const t = performance.now();
    loss = await step();
    times.push(performance.now() - t);
  }
  const wasmInfo = backend === 'wasm' ? { threads: tf.wasm.getThreadsCount?.() } : {};
  return { backend: tf.getBackend(), version: tf.version.tfjs, times, loss, ...wasmInfo };
};
