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
