// dist/pkg as a user meets it: packed with npm, installed into a fresh project, imported in
// Node and in a plain page with no bundler (an import map), following its README's example.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { root, dataDir, launch, scratchDir } from './harness.mjs';
import { listen } from '../scripts/static-server.mjs';

const npm = (args, cwd) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

async function installedProject() {
  const { dir } = await scratchDir('shige-user-'); // removed when the tests end
  const tarball = npm(['pack', join(root, 'dist/pkg'), '--pack-destination', dir, '--json'], dir);
  const { filename, files } = JSON.parse(tarball)[0];
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
  npm(['install', '--no-audit', '--no-fund', '--offline', join(dir, filename)], dir);
  return { dir, files: files.map((f) => f.path).sort() };
}

const EXAMPLE = (init) => `
import init, { CorpusData, Trainer } from 'shige';
${init}
const corpus = CorpusData.parse(new TextEncoder().encode(poemsText));
const trainer = await Trainer.create(corpus, { cell: 'gru', hidden: 32, embedding: 16, batchSize: 8, backend: 'cpu' });
const losses = await trainer.trainSteps(20);
const poem = await trainer.generate({ start: '月', form: 'wujue', seed: 1 });
const checkpoint = await trainer.save();
const result = { steps: losses.length, lossFell: losses.at(-1) < losses[0], poem: poem.text, bytes: checkpoint.length };
`;

test('the npm package installs and runs its README example in Node', { timeout: 300_000 }, async () => {
  const { dir, files } = await installedProject();
  assert.deepEqual(files, ['README.md', 'package.json', 'shige.d.ts', 'shige.js', 'shige_bg.wasm', 'shige_bg.wasm.d.ts']);
  const pkg = JSON.parse(await readFile(join(dir, 'node_modules/shige/package.json'), 'utf8'));
  assert.equal(pkg.types, 'shige.d.ts');
  assert.match(await readFile(join(dir, 'node_modules/shige/shige.d.ts'), 'utf8'), /class Trainer/);
  const script = `import { readFile } from 'node:fs/promises';
const poemsText = await readFile(${JSON.stringify(join(dataDir, 'tangshi.txt'))}, 'utf8');
${EXAMPLE("await init({ module_or_path: await readFile(new URL(import.meta.resolve('shige/shige_bg.wasm'))) });")}
console.log(JSON.stringify(result));`;
  await writeFile(join(dir, 'main.mjs'), script);
  const result = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' }).trim());
  assert.equal(result.steps, 20);
  assert.ok(result.lossFell);
  assert.match(result.poem, /^月[^，。]{4}，[^，。]{5}。[^，。]{5}，[^，。]{5}。$/u);
  assert.ok(result.bytes > 1000);

  // What the package refuses, with the keys the page translates: a batch whose positions
  // wrapped past 2^32 on wasm32 (it passed the memory check as 32 positions), a model over the
  // memory budget, and step counts that are not counts (trainSteps(-1) was 4,294,967,295 steps).
  const guards = `import { readFile } from 'node:fs/promises';
import init, { CorpusData, Trainer, estimateMemory, memoryBudget } from 'shige';
await init({ module_or_path: await readFile(new URL(import.meta.resolve('shige/shige_bg.wasm'))) });
const corpusBytes = await readFile(${JSON.stringify(join(dataDir, 'tangshi.txt'))});
const corpus = CorpusData.parse(corpusBytes);
const refusal = (promise) => promise.then(() => 'accepted', (e) => ({ key: e.key ?? null, vars: e.vars ?? null, message: e.message }));
const tiny = { cell: 'gru', hidden: 32, embedding: 16, batchSize: 8, backend: 'cpu' };
const trainer = await Trainer.create(corpus, tiny);
const result = {
  budget: memoryBudget(),
  // 53,024,288 poems of 81 positions: 2^32 + 32 positions, which wasm32's usize wrapped to 32.
  wrappedEstimate: estimateMemory({ ...tiny, batchSize: 53024288 }, corpus.info().vocabSize),
  wrapped: await refusal(Trainer.create(corpus, { ...tiny, batchSize: 53024288 })),
  tooBig: await refusal(Trainer.create(corpus, { ...tiny, hidden: 4096, embedding: 4096, batchSize: 512, maxSeqLen: 512 })),
  steps: {},
};
for (const n of [-1, 0, 2.5, NaN, 1e6]) result.steps[String(n)] = await refusal(trainer.trainSteps(n));
result.oneStep = (await trainer.trainSteps(1)).length;
const saved = await trainer.save();
const reopened = await Trainer.load(saved, corpusBytes, 'cpu', { batchSize: 4 });
result.reopened = [reopened.info().batchSize, reopened.info().batchReducedFrom ?? null];
result.reopenedAsSaved = (await Trainer.load(saved, corpusBytes, 'cpu')).info().batchSize;
result.badBatch = await refusal(Trainer.load(saved, corpusBytes, 'cpu', { batchSize: 4097 }));
console.log(JSON.stringify(result));`;
  await writeFile(join(dir, 'guards.mjs'), guards);
  const refused = JSON.parse(execFileSync(process.execPath, ['guards.mjs'], { cwd: dir, encoding: 'utf8' }).trim());
  assert.equal(refused.budget, 3 * 2 ** 30);
  assert.ok(refused.wrappedEstimate > 2 ** 32 * 4, `estimate ${refused.wrappedEstimate}`);
  // Outside the settings' bounds (batch 1 to 4096) before any memory is estimated.
  assert.equal(refused.wrapped.key, 'error.train.settings');
  assert.match(refused.wrapped.message, /batch size must be between 1 and 4096/);
  assert.equal(refused.tooBig.key, 'settings.tooBig');
  assert.ok(Number(refused.tooBig.vars.gib) > 3, refused.tooBig.vars.gib);
  for (const [n, why] of Object.entries(refused.steps)) {
    assert.match(why.message ?? '', /trainSteps needs a whole number of steps from 1 to 100000/, `trainSteps(${n})`);
  }
  assert.equal(refused.oneStep, 1);
  assert.deepEqual(refused.reopened, [4, null]);
  assert.equal(refused.reopenedAsSaved, 8);
  assert.equal(refused.badBatch.key, 'error.train.settings');
});

test('the npm package runs in a plain page with no bundler (an import map)', { timeout: 300_000 }, async () => {
  const { dir } = await installedProject();
  await writeFile(join(dir, 'tangshi.txt'), await readFile(join(dataDir, 'tangshi.txt')));
  await writeFile(join(dir, 'index.html'), `<!doctype html><meta charset="utf-8">
<script type="importmap">{ "imports": { "shige": "./node_modules/shige/shige.js" } }</script>
<script type="module">
const poemsText = await (await fetch('tangshi.txt')).text();
${EXAMPLE('await init();')}
document.body.dataset.result = JSON.stringify(result);
</script>`);
  const server = await listen({ root: dir });
  const context = await launch({ webgpu: false });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.goto(server.url);
    await page.waitForFunction(() => document.body.dataset.result, null, { timeout: 120_000 });
    const result = JSON.parse(await page.evaluate(() => document.body.dataset.result));
    assert.equal(result.steps, 20);
    assert.match(result.poem, /^月/);
  } finally {
    await context.close();
    server.close();
  }
});
