// A class link, a preset, a second tab or a crash never costs anyone their training (issue 21):
// a shared link is applied once, a bad link or preset still leaves a page ready to train, a
// model too big for a tab opens with a batch that fits, taking over the autosave keeps the
// newest steps, Remove saves first, a failed crash recovery leaves the worker answering (and
// recovery works offline), the library lists without reading weights, and two tabs across an
// update never mix versions.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { serve, launch, scratchDir, siteCopy, openApp, site, dataDir, shigeBin, TINY, step, waitForStep, waitForPaused, noticeTexts, readDb, ready, train } from './harness.mjs';
import zh from '../www/locales/zh-Hans.js';

const TANGSHI = join(dataDir, 'tangshi.txt');
let server;
before(async () => { server = await serve(); });
after(() => server.close());

/** The link the page's "copy the experiment's link" button shows. */
async function sharedLink(page) {
  await page.click('#copy-link');
  await page.waitForFunction(() => /https?:\/\//.test(document.getElementById('share-output').textContent));
  return (await page.textContent('#share-output')).match(/https?:\/\/\S+/)[0];
}

test('a shared link opens once: reloaded after training, the steps stay and the address is clean; a second open asks first', { timeout: 900_000 }, async () => {
  const teacher = await launch({ webgpu: false });
  let link;
  try {
    link = `${await sharedLink(await openApp(teacher, server.url, TINY))}&hide=corpus`;
  } finally {
    await teacher.close();
  }
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, link, '');
    const search = new URLSearchParams(await page.evaluate(() => location.search));
    assert.equal(search.get('exp'), null, 'the address no longer carries the experiment');
    assert.equal(search.get('hide'), 'corpus', "the teacher's hidden controls stay");
    const trained = await train(page, 12);
    const runId = await page.evaluate(() => window.shige.state().runs[0].id);
    const listed = (await readDb(page, 'listing')).length;

    await page.reload();
    await ready(page);
    assert.equal(await page.evaluate(() => window.shige.state().runs[0].id), runId, 'the same run');
    assert.ok(await step(page) >= trained, `restored at step ${await step(page)}, trained to ${trained}`);
    assert.equal((await readDb(page, 'listing')).length, listed, 'a reload adds nothing to the library');

    // The link opened again on purpose: it asks first; declined, nothing changes.
    const asked = [];
    page.once('dialog', (d) => { asked.push(d.message()); d.dismiss(); });
    await page.goto(link);
    await ready(page);
    assert.equal(asked.length, 1, 'asked before replacing trained runs');
    assert.equal(await page.evaluate(() => window.shige.state().runs[0].id), runId);
    assert.ok(await step(page) >= trained);
    // Accepted: fresh runs, and the trained one stays in the library.
    page.once('dialog', (d) => d.accept());
    await page.goto(link);
    await ready(page);
    assert.notEqual(await page.evaluate(() => window.shige.state().runs[0].id), runId);
    assert.equal(await step(page), 0);
    const kept = (await readDb(page, 'listing')).find((m) => m.id === runId);
    assert.ok(kept && kept.step >= trained, 'the trained run is in the library');
    assert.ok(await page.isVisible('#undo'), 'Undo swaps them back');
  } finally {
    await context.close();
  }
});

// The Chinese page (no ?lang): each bad value gets a notice in Chinese naming the parameter,
// and the page is ready to train.
const BAD = [
  { query: '?hidden=0', names: 'hidden' },
  { query: '?hidden=4096', names: zh.settings.hidden },
  { query: '?batchSize=53024288&hidden=32&embedding=16', names: 'batchSize' },
  { query: `?exp=${Buffer.from(JSON.stringify({ v: 1, corpus: { builtin: true }, runs: [{ name: 'x', cell: 'gpt', hidden: 32 }] })).toString('base64url')}`, names: 'cell' },
];
for (const { query, names } of BAD) {
  test(`a bad link (${query.slice(0, 40)}): a Chinese notice naming ${names}, and the page trains`, { timeout: 600_000 }, async () => {
    const context = await launch({ webgpu: false });
    try {
      const page = await openApp(context, server.url, query);
      const texts = (await noticeTexts(page)).join('\n');
      assert.ok(texts.includes(names), `a notice names ${names}: ${texts}`);
      assert.match(texts, /[\u4e00-\u9fff]/u, 'in Chinese');
      assert.doesNotMatch(texts, /\b(the|is|must|cannot|could not)\b/, `no English on the Chinese page: ${texts}`);
      assert.ok(await page.isEnabled('#start'), 'Train is enabled');
      const runs = await page.evaluate(() => window.shige.state().runs.length);
      assert.equal(runs, 1);
      const from = await step(page);
      await page.click('#start');
      await waitForStep(page, from + 2, { timeout: 300_000 });
      await page.click('#pause');
      await waitForPaused(page);
      // Nothing of the bad link is left to apply again.
      assert.doesNotMatch(await page.evaluate(() => location.search), /hidden|batchSize|exp/);
    } finally {
      await context.close();
    }
  });
}

test('a checkpoint trained with batch 4096 opens with a batch that fits a tab, and trains', { timeout: 900_000 }, async () => {
  const scratch = await scratchDir('shige-bigbatch-');
  try {
    const ckpt = join(scratch.dir, 'big-batch.ckpt');
    // 2,000 poems: a vocabulary of ~2,700 makes batch 4096 need ~3.6 GiB in a tab, while the
    // CLI's own step, on the 1,600 poems there are, takes ~1.5 GB natively.
    const poems = join(scratch.dir, 'poems-2000.txt');
    await writeFile(poems, (await readFile(join(dataDir, 'poems.txt'), 'utf8')).split('\n').slice(0, 2000).join('\n'));
    execFileSync(shigeBin, ['train', '--corpus', poems, '--batch-size', '4096', '--hidden', '16', '--embedding', '8',
      '--epochs', '1', '--out', ckpt], { stdio: 'ignore' });
    const context = await launch({ webgpu: false });
    try {
      const page = await openApp(context, server.url, TINY);
      await page.setInputFiles('#load-file', ckpt);
      await page.waitForSelector('.notice:has-text("was trained with batch 4096")', { timeout: 120_000 });
      const batch = await page.evaluate(() => window.shige.state().runs[0].info.batchSize);
      assert.ok(batch < 4096 && batch >= 1, `opened with batch ${batch}`);
      const from = await step(page);
      await page.click('#start');
      await waitForStep(page, from + 2, { timeout: 300_000 });
      await page.click('#pause');
      await waitForPaused(page);
      assert.equal(await page.evaluate(() => window.shige.state().runs[0].error), null);
    } finally {
      await context.close();
    }
  } finally {
    await scratch.remove();
  }
});

test('take over the autosave when the other tab trained further: the newest steps are kept', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const first = await openApp(context, server.url, TINY);
    const second = await context.newPage();
    await second.goto(server.url + TINY);
    await ready(second);
    await second.waitForSelector('[data-notice="autosave"]');
    // The first tab trains on; the second still holds the state it opened.
    const ahead = await train(first, 30);
    const runId = await first.evaluate(() => window.shige.state().runs[0].id);
    assert.ok(await step(second) < ahead);
    await second.click('[data-notice="autosave"] button:text("Take over the autosave")');
    await second.waitForFunction((n) => window.shige.state().runs[0].info.step >= n, ahead);
    const stored = await readDb(second, 'models', runId);
    assert.ok(stored.step >= ahead, `stored at step ${stored.step}, the other tab was at ${ahead}`);
    // And it trains on from there, saving as it goes.
    const after = await train(second, 3);
    assert.ok(after >= ahead + 3);
  } finally {
    await context.close();
  }
});

test('Remove after 50 steps: the library has the 50 steps', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    await page.click('#add-run');
    await page.waitForFunction(() => window.shige.state().runs.length === 2);
    await page.click('#start');
    await waitForStep(page, 50, { timeout: 600_000 });
    const removed = await page.evaluate(() => window.shige.state().runs[1]);
    page.once('dialog', (d) => d.accept());
    await page.click(`tr[data-run="${removed.id}"] [data-action="remove"]`);
    await page.waitForFunction(() => window.shige.state().runs.length === 1);
    const stored = await readDb(page, 'models', removed.id);
    assert.ok(stored.step >= 50, `stored at step ${stored.step}`);
    await page.click('#pause');
    await waitForPaused(page);
  } finally {
    await context.close();
  }
});

test('a crash whose recovery fails: a notice, the next button answers, and a later one recovers', { timeout: 900_000 }, async () => {
  // No service worker: the module's second import goes to the network, where it fails.
  const context = await launch({ webgpu: false, serviceWorkers: 'block' });
  try {
    const page = await openApp(context, server.url, TINY);
    const trained = await train(page, 3);
    await context.route(/shige\.js\?instance=/, (route) => route.abort());
    const runId = await page.evaluate(() => window.shige.state().runs[0].id);
    await page.evaluate((runId) => window.shige.call('panicForTests', { runId }).catch(() => {}), runId);
    await page.waitForSelector('.notice:has-text("could not be restarted yet")');
    // The next button answers (here with the same failure, under the form).
    await page.click('.chip:text("月")');
    await page.waitForSelector('#write-error:not([hidden])', { timeout: 60_000 });
    // Back online, the next click recovers the model of the last step and writes.
    await context.unroute(/shige\.js\?instance=/);
    await page.click('.chip:text("月")');
    await page.waitForFunction(() => document.querySelector('#poems li') || /restarted/.test(document.getElementById('write-error').textContent), null, { timeout: 120_000 });
    await page.waitForSelector('.notice:has-text("The trainer crashed")');
    await page.click('.chip:text("月")');
    await page.waitForSelector('#poems li[data-done="true"]', { timeout: 120_000 });
    assert.equal(await step(page), trained, 'the model of the last step came back');
  } finally {
    await context.close();
  }
});

test('offline, on the plain threaded build: a crash recovers from the service worker\'s cache', { timeout: 900_000 }, async () => {
  // A site without the relaxed-SIMD build (as a browser without relaxed SIMD sees it), with its
  // own precache list, so the service worker installs and keeps the plain threaded build.
  const noRelaxed = await siteCopy({ isolate: true, without: ['pkg-threads-relaxed'] });
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, noRelaxed.url, TINY);
    assert.deepEqual(await page.evaluate(() => window.shige.state().build), { threaded: true, relaxedSimd: false, why: null });
    const trained = await train(page, 3);
    await context.setOffline(true);
    const runId = await page.evaluate(() => window.shige.state().runs[0].id);
    await page.evaluate((runId) => window.shige.call('panicForTests', { runId }).catch(() => {}), runId);
    await page.waitForSelector('.notice:has-text("and was restarted")', { timeout: 120_000 });
    assert.equal(await step(page), trained);
    await page.click('.chip:text("月")');
    await page.waitForSelector('#poems li[data-done="true"]', { timeout: 120_000 });
  } finally {
    await context.close();
    await noRelaxed.remove();
  }
});

test('the library lists models without reading their weights', { timeout: 600_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    await train(page, 3);
    await page.click('#add-run');
    await page.waitForFunction(() => window.shige.state().runs.length === 2);
    const worker = page.workers().find((w) => w.url().endsWith('/worker.js'));
    // Every object store the worker reads from, from here on.
    await worker.evaluate(() => {
      self.storesRead = [];
      for (const method of ['get', 'getAll', 'openCursor', 'getAllKeys', 'count']) {
        const original = IDBObjectStore.prototype[method];
        IDBObjectStore.prototype[method] = function (...args) { self.storesRead.push(this.name); return original.apply(this, args); };
      }
    });
    const listed = await page.evaluate(() => window.shige.call('listLibrary'));
    assert.equal(listed.models.length, 2);
    assert.ok(listed.models.every((m) => m.size > 0 && m.step >= 0 && !('bytes' in m) && !('history' in m)));
    assert.deepEqual([...new Set(await worker.evaluate(() => self.storesRead))], ['listing']);
  } finally {
    await context.close();
  }
});

test('two tabs across an update: each reloads into the new version, and a crash never loads the new module under the old page', { timeout: 900_000 }, async () => {
  const local = await siteCopy();
  const context = await launch({ webgpu: false });
  try {
    const one = await openApp(context, local.url, TINY);
    await one.waitForFunction(() => document.getElementById('build-id').textContent !== '–');
    const first = await one.textContent('#build-id');
    const two = await context.newPage();
    await two.goto(local.url + TINY);
    await ready(two);
    await local.redeploy();
    const second = JSON.parse(await readFile(join(local.dir, 'build.json'), 'utf8')).id;
    await one.evaluate(() => window.shige.checkForUpdate());
    const notice = await one.waitForSelector('[data-notice="update"]', { timeout: 120_000 });
    await Promise.all([one.waitForEvent('load', { timeout: 120_000 }), notice.$('button:text("Reload to use it")').then((b) => b.click())]);
    await ready(one);
    await one.waitForFunction((id) => document.getElementById('build-id').textContent === id, second);

    // The other tab still runs the old scripts. A crash now must not import the new module.
    assert.equal(await two.textContent('#build-id'), first);
    const runId = await two.evaluate(() => window.shige.state().runs[0].id);
    await two.evaluate((runId) => window.shige.call('panicForTests', { runId }).catch(() => {}), runId);
    await two.waitForSelector('[data-notice="update"]:has-text("reload this page")', { timeout: 120_000 });
    const texts = await noticeTexts(two);
    assert.ok(!texts.some((t) => t.startsWith('The trainer crashed (') && t.includes('Restored:')), 'not restarted on the new module');
    // Its Reload answers, into the new version.
    await Promise.all([two.waitForEvent('load', { timeout: 120_000 }), two.click('[data-notice="update"] button:text("Reload to use it")')]);
    await ready(two);
    await two.waitForFunction((id) => document.getElementById('build-id').textContent === id, second);
  } finally {
    await context.close();
    await local.remove();
  }
});

test('smaller ones: ?lang is checked, broken copies do not pile up, Delete respects another tab, teacher mode keeps Undo hidden, CSP headers', { timeout: 900_000 }, async () => {
  // The site's policy as a header, on the worker's script too, with no framing by other sites.
  const res = await fetch(`${server.url}worker.js`);
  const policy = res.headers.get('content-security-policy');
  assert.match(policy, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(policy, /frame-ancestors 'none'/);
  assert.match(await readFile(join(site, '_headers'), 'utf8'), /Content-Security-Policy: .*frame-ancestors 'none'/);
  // The threaded build's runtime cache belongs to this build (an update drops the old one).
  const { id } = JSON.parse(await readFile(join(site, 'build.json'), 'utf8'));
  assert.ok((await readFile(join(site, 'sw.js'), 'utf8')).includes(`'shige-threads-${id}'`));

  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY.replace('lang=en', 'lang=toString'));
    assert.equal(await page.evaluate(() => localStorage.getItem('shige.lang')), null, '?lang=toString is not stored');
    await page.click('#add-run');
    await page.waitForFunction(() => window.shige.state().runs.length === 2);
    await train(page, 3);
    const [kept, damaged] = await page.evaluate(() => window.shige.state().runs.map((r) => r.id));
    // One of the two stored models damaged: each reload keeps one copy aside, not one more each time.
    await page.evaluate((id) => new Promise((resolve) => {
      const req = indexedDB.open('shige');
      req.onsuccess = () => {
        const tx = req.result.transaction('models', 'readwrite');
        const models = tx.objectStore('models');
        models.get(id).onsuccess = (e) => { const r = e.target.result; r.bytes[r.bytes.length - 5] ^= 0x40; models.put(r); };
        tx.oncomplete = () => { req.result.close(); resolve(); };
      };
    }), damaged);
    for (let i = 0; i < 2; i++) {
      await page.reload();
      await ready(page);
    }
    const broken = (await readDb(page, 'models')).filter((m) => m.broken);
    assert.deepEqual(broken.map((m) => m.id), [`broken-${damaged}`]);

    // Another tab starts a new model; the first tab's model is still open there: no Delete.
    const other = await context.newPage();
    await other.goto(server.url + TINY);
    await ready(other);
    other.once('dialog', (d) => d.accept());
    await other.click('#reset');
    await other.waitForFunction((id) => !window.shige.state().runs.some((r) => r.id === id), kept);
    const refused = await other.evaluate((id) => window.shige.call('deleteModel', { modelId: id }).then(() => null, (e) => e.key), kept);
    assert.equal(refused, 'error.modelOpenElsewhere');
    assert.ok(await readDb(other, 'models', kept), 'still stored');
    await other.close();

    // Teacher mode with New model hidden: Load never shows Undo.
    const bytes = await page.evaluate(async () => Array.from(await window.shige.call('save', {})));
    await page.goto(`${server.url}${TINY}&hide=new-model`);
    await ready(page);
    await page.setInputFiles('#load-file', { name: 'again.ckpt', mimeType: 'application/octet-stream', buffer: Buffer.from(bytes) });
    await page.waitForFunction(() => window.shige.state().undo);
    assert.equal(await page.isVisible('#undo'), false);
  } finally {
    await context.close();
  }
});
