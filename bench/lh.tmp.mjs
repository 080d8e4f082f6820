import lighthouse from 'lighthouse';
import { chromium } from 'playwright-core';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen } from '../scripts/static-server.mjs';
const site = new URL('../dist/site', import.meta.url).pathname;
const server = await listen({ root: site, isolate: true });
const runs = Number(process.argv[2] ?? 1);
for (let i = 0; i < runs; i++) {
  const port = 9300 + Math.floor(Math.random() * 500);
  const FLAGS = ['--headless', '--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', `--remote-debugging-port=${port}`];
  const fresh = await chromium.launchPersistentContext(await mkdtemp(join(tmpdir(), 'shige-lh-')), { executablePath: '/usr/bin/chromium', args: FLAGS });
  const run = await lighthouse(server.url, { port, output: 'json', logLevel: 'error', onlyCategories: ['performance'] });
  await fresh.close();
  const a = run.lhr.audits;
  console.log('perf', Math.round(run.lhr.categories.performance.score * 100), 'TBT', a['total-blocking-time'].numericValue.toFixed(0), 'FCP', a['first-contentful-paint'].numericValue.toFixed(0), 'LCP', a['largest-contentful-paint'].numericValue.toFixed(0), 'SI', a['speed-index'].numericValue.toFixed(0), 'TTI', a['interactive']?.numericValue?.toFixed(0));
  for (const t of a['long-tasks']?.details?.items ?? []) console.log('  long', t.url, t.startTime?.toFixed(0), t.duration?.toFixed(0));
  for (const t of a['bootup-time']?.details?.items ?? []) console.log('  boot', t.url, t.total?.toFixed(0), t.scripting?.toFixed(0), t.scriptParseCompile?.toFixed(0));
}
server.close();
