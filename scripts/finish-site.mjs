// Finishes dist/site after the files are copied: a build id, the service worker's precache
// list (a content hash per file, via Workbox), and precompressed .br/.gz copies for static
// hosts. Usage: node scripts/finish-site.mjs [site dir]
import { createRequire } from 'node:module';
import { createHash } from 'node:crypto';
import { readFile, writeFile, readdir, stat, mkdir, rm } from 'node:fs/promises';
import { brotliCompressSync, gzipSync, constants } from 'node:zlib';
import { join, posix, relative } from 'node:path';
import { pathToFileURL } from 'node:url';

// Build tools live with the test tools (tests/package.json, pinned by its lockfile).
const { copyWorkboxLibraries, injectManifest } = createRequire(new URL('../tests/package.json', import.meta.url))('workbox-build');
const args = process.argv.slice(2);
const compress = args.includes('--compress');
const site = args.find((a) => !a.startsWith('--')) ?? new URL('../dist/site', import.meta.url).pathname;
const root = new URL('..', import.meta.url).pathname;
const cacheDir = process.env.SHIGE_CACHE ?? `${process.env.HOME}/.cache/shige`;

async function files(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...await files(path));
    else out.push(path);
  }
  return out;
}

// 0. The page's static text in its default language (简体中文), written into index.html, so a
//    first visit paints the words it keeps: nothing reflows when the tables are applied
//    (no layout shift), and the HTML's lang="zh-Hans" is true before any script runs. The
//    source keeps English as the readable fallback; the page still translates at run time.
const { default: zh } = await import(pathToFileURL(join(site, 'locales/zh-Hans.js')).href);
const lookup = (key) => key.split('.').reduce((o, k) => o?.[k], zh);
const escapeHtml = (text) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
const usable = (text) => typeof text === 'string' && !text.includes('{{');
const html = join(site, 'index.html');
let page = await readFile(html, 'utf8');
page = page.replace(/(<(\w+)\b[^>]*\sdata-i18n="([^"]+)"[^>]*>)([^<]*)(<\/\2>)/g,
  (all, open, tag, key, text, close) => (usable(lookup(key)) ? open + escapeHtml(lookup(key)) + close : all));
page = page.replace(/<[^>]*\sdata-i18n-attr="([^"]+)"[^>]*>/g, (element, pairs) => {
  for (const pair of pairs.split(';')) {
    const [attr, key] = pair.split(':');
    if (!usable(lookup(key))) continue;
    const value = `${attr}="${escapeHtml(lookup(key))}"`;
    const existing = new RegExp(`\\s${attr}="[^"]*"`);
    element = existing.test(element) ? element.replace(existing, ` ${value}`) : element.replace(/\s*(\/?)>$/, ` ${value}$1>`);
  }
  return element;
});
page = page.replace(/<title>[^<]*<\/title>/, `<title>${escapeHtml(zh.meta.title)}</title>`)
  .replace(/(<meta name="description" content=")[^"]*"/, `$1${escapeHtml(zh.meta.description)}"`);

// 0b. Every module app.js imports, statically and transitively, preloaded from the HTML: the
//     imports run about eight levels deep (app -> ui/runs -> ui/settings -> ...), and without
//     this a first visit discovers them one round trip per level.
async function staticImports(entry) {
  const seen = new Set([entry]);
  for (const file of seen) {
    const text = await readFile(join(site, file), 'utf8');
    for (const [, spec] of text.matchAll(/^\s*(?:import|export)\b[^'";()=]*?['"](\.{1,2}\/[^'"]+)['"]/gm)) {
      seen.add(posix.normalize(posix.join(posix.dirname(file), spec)));
    }
  }
  seen.delete(entry);
  return [...seen].sort();
}
const preloads = (await staticImports('app.js')).map((m) => `<link rel="modulepreload" href="${m}">`);
page = page.replace(/\n?\s*<link rel="modulepreload"[^>]*>/g, '').replace('</head>', `  ${preloads.join('\n  ')}\n</head>`);
await writeFile(html, page);

// 1. The build id: a hash of everything the page loads (shown in the footer). build.json holds
//    nothing else (no build time): the same sources then give the same sw.js, and an open page
//    is told of a new version only when there is one (scripts/serve.sh rebuilds on each start).
const all = (await files(site)).filter((f) => !/\.(br|gz)$/.test(f) && !f.endsWith('sw.js') && !f.endsWith('build.json') && !f.endsWith('_headers') && !f.includes('/workbox-v'));
const hash = createHash('sha256');
for (const f of all.sort()) hash.update(relative(site, f)).update(await readFile(f));
const id = hash.digest('hex').slice(0, 12);
await writeFile(join(site, 'build.json'), JSON.stringify({ id }));

// 2. Workbox's runtime beside the site (never fetched from a CDN), and the precache list.
const workboxDir = await copyWorkboxLibraries(site);
for (const f of await files(join(site, workboxDir))) if (f.endsWith('.map') || f.includes('.dev.')) await rm(f);
const { count, size, warnings } = await injectManifest({
  swSrc: join(root, 'www/sw.js'),
  swDest: join(site, 'sw.js'),
  globDirectory: site,
  globPatterns: ['**/*'],
  // The plain threaded build serves only browsers with threads but not relaxed SIMD: sw.js
  // caches it when first used (precached, it would put every first visit over 12 MB).
  globIgnores: ['sw.js', '_headers', `${workboxDir}/**`, '**/*.br', '**/*.gz', '**/*.map', 'pkg-threads/**'],
  // The wasm module and the corpus are far above Workbox's 2 MiB default.
  maximumFileSizeToCacheInBytes: 64 * 2 ** 20,
});
if (warnings.length) throw new Error(`service worker: ${warnings.join('; ')}`);
const sw = join(site, 'sw.js');
await writeFile(sw, (await readFile(sw, 'utf8')).replaceAll('WORKBOX_DIR', workboxDir).replaceAll('BUILD_ID', id));

// 3. Headers for static hosts that read a _headers file (Netlify, Cloudflare Pages): the
//    policy scripts/serve.mjs sends, and cross-origin isolation for the threaded build.
const { sitePolicy, ISOLATION } = await import('./static-server.mjs');
await writeFile(join(site, '_headers'), ['/*', `  Content-Security-Policy: ${sitePolicy(site)}`,
  ...Object.entries(ISOLATION).map(([k, v]) => `  ${k}: ${v}`), ''].join('\n'));

// 4. Precompressed copies for static hosts and scripts/serve.mjs (--compress: brotli at its
//    best takes a minute on the wasm module, so results are kept by content hash).
let compressed = 0;
for (const f of compress ? await files(site) : []) {
  if (/\.(br|gz|png)$/.test(f) || (await stat(f)).size < 1024) continue;
  const data = await readFile(f);
  const key = createHash('sha256').update(data).digest('hex').slice(0, 24);
  const cached = join(cacheDir, 'compressed', key);
  let br;
  try {
    br = await readFile(`${cached}.br`);
  } catch {
    br = brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } });
    await mkdir(join(cacheDir, 'compressed'), { recursive: true });
    await writeFile(`${cached}.br`, br);
  }
  await writeFile(`${f}.br`, br);
  await writeFile(`${f}.gz`, gzipSync(data, { level: 9 }));
  compressed += br.length;
}
console.log(`build ${id}: ${count} files precached (${(size / 2 ** 20).toFixed(1)} MiB)${compress ? `, ${(compressed / 2 ** 20).toFixed(1)} MiB as brotli` : ''}`);
