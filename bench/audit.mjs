// Audits the served site like a real web app (not a test): Lighthouse's four scores, axe-core's
// violations in both languages, installability, and the bytes a first visit transfers
// (everything, the service worker's precache included, as the server sent it: compressed).
// Usage: node bench/audit.mjs   (after `bash scripts/build-site.sh --optimize`; scripts/audit.sh does both)
import lighthouse from 'lighthouse';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium } from 'playwright-core';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../scripts/static-server.mjs';

const site = new URL('../dist/site', import.meta.url).pathname;
const port = 9300 + Math.floor(Math.random() * 500);
const FLAGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic', `--remote-debugging-port=${port}`];

// 1. A first visit in a fresh profile: bytes sent by the server until the service worker has
//    cached everything (the page is ready and the precache is complete).
let sent = 0;
const files = new Map();
const server = await listen({ root: site, isolate: true, csp: true, log: (path, bytes, encoding) => {
  sent += bytes;
  files.set(path, { bytes: (files.get(path)?.bytes ?? 0) + bytes, encoding });
} });
const profile = await mkdtemp(join(tmpdir(), 'shige-audit-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', args: FLAGS });
const page = context.pages()[0] ?? await context.newPage();
await page.goto(server.url);
await page.waitForSelector('body[data-ready="true"]', { timeout: 300_000 });
await page.evaluate(() => navigator.serviceWorker.ready);
await page.waitForTimeout(2000);
const firstVisit = sent;

// 2. Installable: Chromium's own check.
const cdp = await context.newCDPSession(page);
const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');

// 3. axe-core on the ready page, in Chinese and in English.
const axe = {};
for (const lang of ['zh-Hans', 'en']) {
  await page.goto(`${server.url}?lang=${lang}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 300_000 });
  const result = await new AxeBuilder({ page }).analyze();
  axe[lang] = result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  // And with the lab's and the share panel's newer parts open: one step seen, the line's
  // heatmap, the device check, the class link's QR code, a poem's card.
  await page.click('#step');
  await page.waitForSelector('#step-panel:not([hidden])', { timeout: 300_000 });
  await page.click('#guess-form button[type="submit"]');
  await page.waitForSelector('#guess-maps canvas', { timeout: 300_000 });
  await page.click('#check-device');
  await page.waitForFunction(() => window.shige.deviceCheck(), null, { timeout: 300_000 });
  await page.click('#copy-link');
  await page.waitForFunction(() => document.getElementById('link-qr-canvas').width > 0, null, { timeout: 60_000 });
  const panels = await new AxeBuilder({ page }).analyze();
  axe[`${lang}, panels open`] = panels.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
}
await context.close();

// 4. Lighthouse (its default, mobile, settings) on a fresh profile.
const freshProfile = await mkdtemp(join(tmpdir(), 'shige-lh-'));
const fresh = await chromium.launchPersistentContext(freshProfile, { executablePath: '/usr/bin/chromium', args: FLAGS });
const run = await lighthouse(server.url, { port, output: 'json', logLevel: 'error' });
await fresh.close();
server.close();
// Browser profiles are ~150 MB each: left behind, they fill the disk.
await Promise.all([profile, freshProfile].map((dir) => rm(dir, { recursive: true, force: true })));

const lhr = run.lhr;
const scores = Object.fromEntries(Object.entries(lhr.categories).map(([k, c]) => [k, Math.round(c.score * 100)]));
const failing = Object.values(lhr.audits)
  .filter((a) => a.score !== null && a.score < 1 && a.scoreDisplayMode !== 'informative' && a.scoreDisplayMode !== 'manual')
  .map((a) => `${a.id} (${a.displayValue ?? a.score})`);
const biggest = [...files.entries()].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 6)
  .map(([path, f]) => `${path} ${(f.bytes / 2 ** 20).toFixed(2)} MiB${f.encoding ? ` (${f.encoding})` : ''}`);
const report = {
  date: new Date().toISOString().slice(0, 10),
  lighthouse: { version: lhr.lighthouseVersion, ...scores, cumulativeLayoutShift: lhr.audits['cumulative-layout-shift']?.numericValue },
  lighthouseBelow100: failing,
  axeViolations: axe,
  installable: installabilityErrors.length === 0,
  installabilityErrors,
  firstVisitBytes: firstVisit,
  firstVisitMiB: Number((firstVisit / 2 ** 20).toFixed(2)),
  biggestTransfers: biggest,
};
console.log(JSON.stringify(report, null, 1));
