// The TF.js peer: the same model and step as ours, written the way a TF.js user would
// (layers API, trainOnBatch): embedding -> GRU -> dense over the vocabulary, softmax
// cross-entropy, Adam. Called by bench/browser.mjs as `runTfjs(options)`.
/* global tf */
window.runTfjs = async ({ backend, vocab, embedding, hidden, batch, seq, steps, warmup }) => {
  tf.wasm.setWasmPaths('/tfjs/@tensorflow/tfjs-backend-wasm/dist/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not initialise`);
  await tf.ready();
  const model = tf.sequential({
    layers: [
      tf.layers.embedding({ inputDim: vocab, outputDim: embedding, inputLength: seq }),
      tf.layers.gru({ units: hidden, returnSequences: true, resetAfter: true }),
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
