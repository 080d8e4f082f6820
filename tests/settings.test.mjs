// The one settings schema (www/settings-schema.js) and the links and exports read through it
// (www/share.js): pure functions, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { SETTINGS, DEFAULTS, parseSetting, checkSettings } from '../www/settings-schema.js';
import { fromUrl, csv } from '../www/share.js';

const link = (exp) => new URLSearchParams({ exp: Buffer.from(JSON.stringify(exp)).toString('base64url') });
const run = (settings) => ({ v: 1, corpus: { builtin: true }, runs: [{ name: 'a', ...settings }] });

test('URL values: in range they are read, out of range or malformed they are named', () => {
  assert.deepEqual(parseSetting('hidden', '32'), { value: 32 });
  assert.deepEqual(parseSetting('tied', '1'), { value: true });
  assert.deepEqual(parseSetting('cell', 'lstm'), { value: 'lstm' });
  assert.deepEqual(parseSetting('cell', 'transformer'), { value: 'transformer' });
  assert.deepEqual(parseSetting('bias', 'false'), { value: false });
  for (const [name, raw] of [['hidden', '0'], ['hidden', '4097'], ['hidden', '32.5'], ['hidden', ''], ['hidden', 'abc'],
    ['batchSize', '53024288'], ['learningRate', 'NaN'], ['learningRate', 'Infinity'], ['outputDropout', '1'],
    ['cell', 'gpt'], ['cell', 'toString'], ['heads', '0'], ['heads', '17'], ['tied', 'maybe'], ['seed', '-1']]) {
    const { value, problem } = parseSetting(name, raw);
    assert.equal(value, undefined, `${name}=${raw}`);
    assert.equal(problem.setting, name);
    assert.equal(problem.key, 'settings.bad');
  }
  assert.equal(parseSetting('batchSize', '9').problem, undefined);
  assert.equal(parseSetting('batchSize', '513').problem.range, '1–512');
});

test('a settings object keeps its good values over the defaults and lists each bad one', () => {
  const { settings, problems } = checkSettings({ hidden: 64, batchSize: 0, cell: 'gru', unknown: 1 });
  assert.equal(settings.hidden, 64);
  assert.equal(settings.batchSize, DEFAULTS.batchSize);
  assert.deepEqual(problems.map((p) => p.setting), ['batchSize']);
  // The defaults are within their own limits.
  assert.deepEqual(checkSettings(DEFAULTS).problems, []);
  // A Transformer's heads take equal shares of its embedding: 3 heads for 128 is named, with the
  // most heads up to 3 that can (2); a recurrent cell ignores its heads.
  const split = checkSettings({ cell: 'transformer', embedding: 128, heads: 3 }).problems;
  assert.deepEqual(split.map((p) => [p.key, p.setting, p.embedding, p.heads, p.suggest]), [['settings.headsSplit', 'heads', 128, 3, 2]]);
  assert.deepEqual(checkSettings({ cell: 'transformer', embedding: 96, heads: 6 }).problems, []);
  assert.deepEqual(checkSettings({ cell: 'gru', embedding: 128, heads: 3 }).problems, []);
});

test('the settings form gets its limits from the schema (the HTML keeps none of its own)', async () => {
  const html = await readFile(new URL('../www/index.html', import.meta.url), 'utf8');
  const form = html.slice(html.indexOf('<form id="settings"'), html.indexOf('</form>', html.indexOf('<form id="settings"')));
  for (const name of Object.keys(SETTINGS)) {
    const input = form.match(new RegExp(`<(input|select) name="${name}"[^>]*>`));
    assert.ok(input, `the form has ${name}`);
    assert.doesNotMatch(input[0], /\b(min|max|value)=/, `${name} states no limits in the HTML`);
  }
});

test('a shared link is checked like the form: a bad value is refused, naming it', () => {
  assert.deepEqual(fromUrl(link(run({ cell: 'gru', hidden: 32 }))).runs[0].settings, { cell: 'gru', hidden: 32 });
  assert.deepEqual(fromUrl(link(run({ cell: 'transformer', heads: 8 }))).runs[0].settings, { cell: 'transformer', heads: 8 });
  assert.throws(() => fromUrl(link(run({ cell: 'transformer', heads: 3 }))), (e) => e.key === 'settings.headsSplit' && e.vars.suggest === 2);
  for (const [settings, name] of [[{ cell: 'gpt' }, 'cell'], [{ hidden: 0 }, 'hidden'], [{ batchSize: 53024288 }, 'batchSize'],
    [{ learningRate: 'x' }, 'learningRate']]) {
    assert.throws(() => fromUrl(link(run(settings))), (e) => e.key === 'settings.bad' && e.vars.setting === name, name);
  }
  assert.throws(() => fromUrl(new URLSearchParams({ exp: 'not base64 json' })), (e) => e.key === 'share.damaged');
  assert.throws(() => fromUrl(link({ v: 2, runs: [] })), (e) => e.key === 'share.unsupported');
  assert.throws(() => fromUrl(link({ ...run({}), corpus: { name: 'x', hash: '../../etc' } })), (e) => e.key === 'share.damaged');
});

test('CSV export: a run name a spreadsheet would run as a formula stays text', () => {
  const runs = [{ name: '=HYPERLINK("http://x","y")', settings: { cell: 'gru' }, history: { losses: [[1, -0.5]], evals: [], gradNorms: [] } },
    { name: '@SUM(A1)', settings: { cell: 'gru' }, history: { losses: [[1, 2]], evals: [], gradNorms: [] } }];
  const lines = csv(runs).trim().split('\n');
  assert.equal(lines[1], `1,"'=HYPERLINK(""http://x"",""y"")",gru,-0.5,,`);
  assert.equal(lines[2], "1,'@SUM(A1),gru,2,,");
});
