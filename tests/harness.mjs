// Shared by the browser tests: a static server for dist/site and a Chromium launcher.
import { mkdtemp, mkdir, rm, cp, appendFile, realpath } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { chromium } from 'playwright-core';
import { listen } from '../scripts/static-server.mjs';

export const root = new URL('..', import.meta.url).pathname;
export const site = join(root, 'dist/site');
export const dataDir = process.env.SHIGE_DATA ?? join(root, '../shared/data');
export const outputDir = join(root, 'tests/output');
/** The native CLI (scripts/test.sh builds it and sets SHIGE_BIN). */
export const shigeBin = process.env.SHIGE_BIN ?? join(process.env.CARGO_TARGET_DIR ?? join(root, 'target'), 'release/shige');
await mkdir(outputDir, { recursive: true });

/**
 * Serves dist/site on 127.0.0.1 at a free port (the same server as scripts/serve.sh). `mounts`
 * maps URL prefixes ('/tfjs/') to other folders; `headers` go on every response; `base` puts
 * the site under a subpath; `root` serves another copy of the site; `log` sees each response.
 * The site's Content-Security-Policy goes with it as a header, as `scripts/serve.sh` sends it.
 */
export async function serve({ mounts = {}, headers = {}, base = '/', root: siteRoot = site, isolate = false, log = null } = {}) {
  return listen({ root: siteRoot, base, mounts, headers, isolate, csp: true, log });
}

const FLAGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic'];

const scratchDirs = new Set();
process.on('exit', () => { for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 }); });

/**
 * A fresh folder under the system's temporary folder, removed by `remove()` or at the latest when
 * the process exits. Left behind, browser profiles (~150 MB each) filled the disk, and then
 * Chromium grants no storage quota, so the service worker cannot precache.
 */
export async function scratchDir(prefix) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  scratchDirs.add(dir);
  return { dir, remove: () => { scratchDirs.delete(dir); return rm(dir, { recursive: true, force: true, maxRetries: 3 }); } };
}

/**
 * A copy of dist/site in a scratch folder, served (`serve` options apply), to change as a deploy
 * would: `without` leaves folders out (with a precache list of its own), `redeploy()` changes a
 * file and rebuilds the precache list, as a new version of the site. `remove()` cleans up.
 */
export async function siteCopy({ without = [], ...options } = {}) {
  const scratch = await scratchDir('shige-site-');
  // dist/site is a link to the newest build (scripts/build-site.sh): its folder is what is copied.
  await cp(await realpath(site), scratch.dir, { recursive: true });
  // A site built with --optimize carries precompressed copies, which the server prefers: they are
  // made again too (cached by content, so only the changed files cost), else the old sw.js.br
  // would hide the new version.
  const compress = existsSync(join(scratch.dir, 'sw.js.br')) ? ['--compress'] : [];
  const finish = () => execFileSync(process.execPath, [join(root, 'scripts/finish-site.mjs'), scratch.dir, ...compress], { stdio: 'ignore' });
  for (const folder of without) await rm(join(scratch.dir, folder), { recursive: true });
  if (without.length) finish();
  const server = await serve({ ...options, root: scratch.dir });
  return {
    dir: scratch.dir, url: server.url,
    async redeploy() { await appendFile(join(scratch.dir, 'style.css'), '\n/* deployed again */\n'); finish(); },
    async remove() { server.close(); await scratch.remove(); },
  };
}

/** Debian's Chromium in a fresh profile (removed on close); `webgpu: false` leaves WebGPU off (the CPU
 *  fallback); `serviceWorkers: 'block'` runs the page without its service worker (every fetch
 *  reaches the network, where `context.route` sees it). */
export async function launch({ webgpu = true, serviceWorkers = 'allow' } = {}) {
  const profile = await scratchDir('shige-chromium-');
  // SHIGE_CHROMIUM_FLAGS adds flags (bench/gpu.sh: a real GPU for headless Chromium).
  const extra = (process.env.SHIGE_CHROMIUM_FLAGS ?? '').split(' ').filter(Boolean);
  const args = [...(webgpu ? [...FLAGS, '--enable-unsafe-webgpu'] : FLAGS), ...extra];
  const context = await chromium.launchPersistentContext(profile.dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args, acceptDownloads: true,
    viewport: { width: 1200, height: 1400 }, serviceWorkers,
  });
  // Removed once the browser has exited (on its 'close' event Chromium may still be writing).
  const close = context.close.bind(context);
  context.close = async (options) => { await close(options); await profile.remove().catch(() => {}); };
  return context;
}

/** A tiny model so ~30 steps finish quickly even on SwiftShader's software WebGPU. */
export const TINY = '?lang=en&embedding=16&hidden=32&batchSize=8&maxSeqLen=24&learningRate=0.01';
/** The page's default settings (a fresh model of the form's sizes, not the starter model), in
 * English for the assertions. */
export const DEFAULT = '?lang=en&starter=0';

export async function openApp(context, url, query = TINY) {
  const page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  // Playwright starts intercepting file choosers when a listener first appears, asynchronously:
  // listen from the start so a chooser opened by a key press is never missed.
  page.on('filechooser', () => {});
  await page.goto(url + query);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
  return page;
}

/** Runs `fn(page)` on the app in a fresh Chromium, closing the browser afterwards. */
export async function withApp(url, { webgpu, query = TINY }, fn) {
  const context = await launch({ webgpu });
  try {
    await fn(await openApp(context, url, query));
  } finally {
    await context.close();
  }
}

export async function uploadCorpus(page, file) {
  await page.setInputFiles('#corpus-file', file);
}

/** The first run's step, as the page last heard it from the worker. */
export const step = (page, run = 0) => page.evaluate((i) => window.shige.state().runs[i]?.info.step ?? 0, run);

/** Waits until the first run (or every run) reaches `n` steps. */
export async function waitForStep(page, n, { timeout = 900_000 } = {}) {
  await page.waitForFunction((n) => window.shige.state()?.runs.every((r) => r.info.step >= n), n, { timeout, polling: 200 });
}

/** Waits until the page is ready (after a goto or a reload). */
export const ready = (page) => page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });

/** Trains every run `steps` more steps with the page's buttons, pauses; returns the first run's step. */
export async function train(page, steps) {
  const from = await step(page);
  await page.click('#start');
  await waitForStep(page, from + steps, { timeout: 300_000 });
  await page.click('#pause');
  await waitForPaused(page);
  return step(page);
}

/** Waits until no run is training (after Pause). */
export async function waitForPaused(page, { timeout = 300_000 } = {}) {
  await page.waitForFunction(() => window.shige.state()?.runs.every((r) => !r.running), null, { timeout, polling: 100 });
}

/** The text of the notices shown, newest first. */
export const noticeTexts = (page) => page.$$eval('#notices .notice-text', (els) => els.map((e) => e.textContent));

/** Reads a value from the page's IndexedDB: `[store, key]`, or `[store]` for all values. */
export function readDb(page, storeName, key) {
  return page.evaluate(([storeName, key]) => new Promise((resolve, reject) => {
    const req = indexedDB.open('shige');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
      const tx = req.result.transaction(storeName, 'readonly');
      const get = key == null ? tx.objectStore(storeName).getAll() : tx.objectStore(storeName).get(key);
      get.onsuccess = () => {
        const strip = (v) => (v && v.bytes ? { ...v, bytes: undefined, size: v.bytes.byteLength, head: Array.from(v.bytes.slice(0, 64)) } : v);
        resolve(Array.isArray(get.result) ? get.result.map(strip) : strip(get.result));
        req.result.close();
      };
      get.onerror = () => reject(get.error);
    };
  }), [storeName, key]);
}

export const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
