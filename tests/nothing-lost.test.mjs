// Nothing lost, round 3 (issue 29): the starter's file is whole on every download and every
// save after one; a crash after another tab installed a new version keeps the rescued models and
// offers Reload; a class link survives a failed start; a link's presets are asked about, not
// dropped, when the visitor has saved models of their own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { serve, launch, siteCopy, openApp, site, TINY, step, waitForStep, waitForPaused, noticeTexts, readDb, ready, train } from './harness.mjs';
import zh from '../www/locales/zh-Hans.js';

let server;
before(async () => { server = await serve(); });
after(() => server.close());

const failures = async (page) => (await noticeTexts(page)).filter((t) => /fail|could not|cannot/i.test(t));

/** Polls the library until `check(record)` holds for model `id`; returns the record. */
async function storedWhen(page, id, check) {
  let record;
  for (let i = 0; i < 200; i++) {
    record = await readDb(page, 'models', id);
    if (record && check(record)) return record;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`model ${id} never stored as expected: ${JSON.stringify({ ...record, history: undefined, head: undefined })}`);
}

async function downloadedSize(page, click) {
  const [download] = await Promise.all([page.waitForEvent('download'), click()]);
  return (await readFile(await download.path())).byteLength;
}

test('the starter: two downloads and the library\'s are whole, a rename saves, and New model survives a reload at once', { timeout: 900_000 }, async () => {
  const starterBytes = (await stat(join(site, 'starter.ckpt'))).size;
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, '?lang=en');
    const starter = await page.evaluate(() => window.shige.state().runs[0]);
    assert.ok(starter.starter, 'a first visit opens the starter');
    await storedWhen(page, starter.id, (r) => r.compact && r.size === starterBytes);

    // Before the fix, the first download handed the run's only copy to the page: the second
    // was empty (or failed), and every later save of the untrained starter failed.
    assert.equal(await downloadedSize(page, () => page.click('#save')), starterBytes, 'first download');
    assert.equal(await downloadedSize(page, () => page.click('#save')), starterBytes, 'second download');
    const libraryRow = page.locator(`#library tr:has(button[data-action="download"])`).first();
    assert.equal(await downloadedSize(page, () => libraryRow.locator('button[data-action="download"]').click()), starterBytes, 'the library\'s download');

    const name = page.locator('#runs input[data-action="rename"]').first();
    await name.fill('我的唐宋');
    await name.press('Enter');
    await storedWhen(page, starter.id, (r) => r.name === '我的唐宋' && r.size === starterBytes);

    page.once('dialog', (d) => d.accept());
    await page.click('#reset');
    await page.waitForFunction((id) => window.shige.state().runs[0]?.id !== id && !window.shige.state().runs[0]?.starter, starter.id);
    const fresh = await page.evaluate(() => window.shige.state().runs[0].id);
    const workspace = await readDb(page, 'meta', 'workspace');
    assert.deepEqual(workspace.runIds, [fresh], 'the new model is the stored workspace');
    assert.deepEqual(await failures(page), [], 'no failure notice');

    // Closed before any autosave would have come: the new model is there after the reload.
    await page.reload();
    await ready(page);
    assert.equal(await page.evaluate(() => window.shige.state().runs[0].id), fresh);
    assert.deepEqual(await failures(page), []);
    // And the starter is kept whole in the library, under its new name.
    const kept = await readDb(page, 'models', starter.id);
    assert.equal(kept.name, '我的唐宋');
    assert.equal(kept.size, starterBytes);
  } finally {
    await context.close();
  }
});

test('two tabs, one installs an update, the other (saving) panics: its rescued models are stored, it offers Reload, and they open at their rescued steps', { timeout: 900_000 }, async () => {
  const local = await siteCopy();
  const context = await launch({ webgpu: false });
  try {
    const one = await openApp(context, local.url, TINY);
    const two = await context.newPage();
    await two.goto(local.url + TINY);
    await ready(two);
    // The second tab takes the autosave over: it is the one whose recovery must save.
    await two.click('[data-notice="autosave"] button:text("Take over the autosave")');
    await two.waitForFunction(() => window.shige.state().autosave === 'on');
    const runId = await two.evaluate(() => window.shige.state().runs[0].id);
    const saved = await train(two, 3);
    await storedWhen(two, runId, (r) => r.step === saved);

    await local.redeploy();
    await one.evaluate(() => window.shige.checkForUpdate());
    const notice = await one.waitForSelector('[data-notice="update"]', { timeout: 120_000 });
    await Promise.all([one.waitForEvent('load', { timeout: 120_000 }), notice.$('button:text("Reload to use it")').then((b) => b.click())]);
    await ready(one);

    // The second tab trains past its last save, then its module panics.
    await two.click('#start');
    await waitForStep(two, saved + 3);
    await two.evaluate((runId) => window.shige.call('panicForTests', { runId }).catch(() => {}), runId);
    await two.waitForSelector('[data-notice="update"]:has-text("reload this page")', { timeout: 120_000 });
    const rescued = await storedWhen(two, runId, (r) => r.step > saved);
    assert.ok(rescued.step >= saved + 3, `rescued at ${rescued.step}, saved at ${saved}`);
    assert.equal(rescued.compact, false);
    assert.ok(!(await noticeTexts(two)).some((t) => /could not be restarted|recovery/i.test(t)), 'no failed recovery');

    await Promise.all([two.waitForEvent('load', { timeout: 120_000 }), two.click('[data-notice="update"] button:text("Reload to use it")')]);
    await ready(two);
    const reopened = await two.evaluate(() => window.shige.state().runs.map((r) => [r.id, r.info.step]));
    assert.deepEqual(reopened, [[runId, rescued.step]]);
  } finally {
    await context.close();
    await local.remove();
  }
});

test('a class link whose start fails (the corpus did not load) stays in the address; the reload opens the class\'s runs', { timeout: 900_000 }, async () => {
  const teacher = await launch({ webgpu: false });
  let link, runs;
  try {
    const page = await openApp(teacher, server.url, TINY);
    await page.click('#add-run');
    await page.waitForFunction(() => window.shige.state().runs.length === 2);
    runs = await page.evaluate(() => window.shige.state().runs.map((r) => r.settings));
    await page.click('#copy-link');
    await page.waitForFunction(() => /https?:\/\//.test(document.getElementById('share-output').textContent));
    link = (await page.textContent('#share-output')).match(/https?:\/\/\S+/)[0];
  } finally {
    await teacher.close();
  }
  // A school network that drops the corpus once; no service worker, so the fetch is seen here.
  const student = await launch({ webgpu: false, serviceWorkers: 'block' });
  try {
    let blocked = 0;
    await student.route(/default-corpus/, (route) => { blocked += 1; return route.abort(); });
    const page = student.pages()[0] ?? await student.newPage();
    await page.goto(link);
    await ready(page);
    assert.ok(blocked > 0, 'the corpus was asked for');
    assert.ok((await page.$$('#notices .notice.error')).length > 0, 'an error notice');
    assert.match(page.url(), /[?&]exp=/, 'the link is still in the address');

    await student.unroute(/default-corpus/);
    await page.reload();
    await ready(page);
    const opened = await page.evaluate(() => window.shige.state().runs.map((r) => r.settings));
    assert.equal(opened.length, runs.length, 'the class\'s runs');
    for (const [i, settings] of runs.entries()) {
      for (const k of ['cell', 'hidden', 'embedding', 'learningRate', 'batchSize', 'maxSeqLen']) assert.equal(opened[i][k], settings[k], `run ${i} ${k}`);
    }
    assert.doesNotMatch(page.url(), /[?&]exp=/, 'applied, the link leaves the address');
  } finally {
    await student.close();
  }
});

test('a returning visitor with a preset link is asked (zh and en): apply starts a new model with the link\'s settings, keep leaves theirs', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, TINY);
    const mine = await page.evaluate(() => window.shige.state().runs[0]);
    await train(page, 2);

    // Same settings as the saved model: nothing to ask.
    let asked = null;
    page.on('dialog', (d) => { asked = d.message(); d.dismiss(); });
    await page.goto(server.url + TINY);
    await ready(page);
    assert.equal(asked, null, 'no question when the link agrees with the saved model');

    // Keep mine (Chinese): the saved model stays, the form shows its settings, the link is dropped.
    await page.goto(`${server.url}?lang=zh-Hans&hidden=48&learningRate=0.005`);
    await ready(page);
    assert.ok(asked, 'asked');
    const hiddenLabel = zh.settings.hidden;
    assert.ok(asked.includes(`${hiddenLabel} 48`) && asked.includes('0.005'), asked);
    assert.ok(asked.startsWith(zh.settings.confirmPresets.split('{{')[0]), asked);
    assert.equal(await page.evaluate(() => window.shige.state().runs[0].id), mine.id);
    assert.equal(await page.inputValue('#settings [name="hidden"]'), String(mine.settings.hidden));
    assert.doesNotMatch(page.url(), /hidden=/);

    // Apply (English): a new model with the link's settings; the saved one is kept for Undo.
    page.removeAllListeners('dialog');
    asked = null;
    page.on('dialog', (d) => { asked = d.message(); d.accept(); });
    await page.goto(`${server.url}?lang=en&hidden=48&learningRate=0.005&hide=settings`);
    await ready(page);
    assert.match(asked ?? '', /This link sets Hidden 48; Learning rate 0\.005/);
    await page.waitForFunction(() => window.shige.state().runs[0].settings.hidden === 48);
    const applied = await page.evaluate(() => window.shige.state());
    assert.notEqual(applied.runs[0].id, mine.id);
    assert.equal(applied.runs[0].settings.learningRate, 0.005);
    assert.equal(applied.undo, true, 'Undo brings the saved model back');
    assert.ok(await readDb(page, 'models', mine.id), 'the saved model stays in the library');
    assert.doesNotMatch(page.url(), /hidden=/);
    assert.match(page.url(), /hide=settings/, 'the teacher\'s hide stays');
  } finally {
    await context.close();
  }
});
