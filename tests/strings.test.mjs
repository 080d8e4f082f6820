// Every message key the Rust side can send the page (the wasm errors' keys in crates/wasm/src,
// the 格律 fault kinds of crates/core's text::marks) has its words in both locale tables:
// pure file reads, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import en from '../www/locales/en.js';
import zh from '../www/locales/zh-Hans.js';

const source = (path) => readFile(new URL(`../${path}`, import.meta.url), 'utf8');
const lookup = (table, key) => key.split('.').reduce((o, k) => o?.[k], table);

test('each wasm error key and each 格律 fault kind has zh and en words', async () => {
  const shell = await Promise.all((await readdir(new URL('../crates/wasm/src/', import.meta.url))).filter((f) => f.endsWith('.rs')).map((f) => source(`crates/wasm/src/${f}`)));
  const errorKeys = [...shell.join('\n').matchAll(/"(error\.[a-zA-Z.]+)"/g)].map((m) => m[1]);
  const faultKinds = [...(await source('crates/core/src/text/marks.rs')).matchAll(/Fault::\w+(?: \{[^}]*\})? => \("(\w+)"/g)].map((m) => `tones.fault.${m[1]}`);
  assert.ok(errorKeys.includes('error.write.startPastLineEnd') && faultKinds.includes('tones.fault.firstLineOffRhyme'));
  for (const key of [...errorKeys, ...faultKinds]) {
    for (const [name, table] of [['en', en], ['zh-Hans', zh]]) {
      assert.equal(typeof lookup(table, key), 'string', `${key} is missing from ${name}.js`);
    }
  }
});
