// The wasm build, loaded in Node: the core's corpus checks work and errors reach JS as Errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import init, { inspectCorpus } from '../dist/pkg/shige.js';

const dataDir = process.env.SHIGE_DATA ?? new URL('../../shared/data/', import.meta.url).pathname;
await init({ module_or_path: await readFile(new URL('../dist/pkg/shige_bg.wasm', import.meta.url)) });

test('tangshi.txt is parsed and cleaned in wasm', async () => {
  const summary = inspectCorpus(await readFile(`${dataDir}/tangshi.txt`));
  assert.equal(summary.poemsFound, 168);
  assert.equal(summary.poemsKept, 118);
  assert.deepEqual(summary.dropped, [['too_long', 50]]);
  assert.equal(summary.poemsTrain + summary.poemsValidation, 118);
  assert.ok(summary.charsPerEpoch > 0 && summary.vocabSize > 100);
});

test('bad corpora throw readable errors', () => {
  assert.throws(() => inspectCorpus(new Uint8Array()), /empty/);
  assert.throws(() => inspectCorpus(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0, 1])), /binary/);
  // "静夜思:床前明月光，疑是地上霜。" saved as GBK
  const gbk = Buffer.from('beb2d2b9cbbc3ab4b2c7b0c3f7d4c2b9e2a3acd2c9cac7b5d8c9cfcbaaa1a3', 'hex');
  assert.throws(() => inspectCorpus(gbk), /GBK/);
});
