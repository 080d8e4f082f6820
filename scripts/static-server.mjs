// A small static file server for dist/site, shared by scripts/serve.mjs and the tests:
// precompressed .br/.gz files when the browser accepts them (else gzip on the fly for text),
// ETags with 304s, `no-cache` so a new deploy is seen at once, cross-origin isolation headers
// when asked, and the site under a subpath (`/shige/`) like GitHub Pages or a school server.
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';

export const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.wasm': 'application/wasm', '.txt': 'text/plain; charset=utf-8',
  '.json': 'application/json', '.webmanifest': 'application/manifest+json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ckpt': 'application/octet-stream', '.st': 'application/octet-stream',
};
const COMPRESSIBLE = /^(text\/|application\/(json|wasm|manifest|javascript)|image\/svg)/;
export const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

const exists = (path) => stat(path).then((s) => s.isFile(), () => false);

/**
 * The site's Content-Security-Policy as a header: the page's own <meta> policy (one source),
 * plus what a meta tag cannot say: no framing by other sites. Sent with every file, so the
 * trainer's worker (which a page's meta tag does not cover) runs under it too. Also written to
 * dist/site/_headers for static hosts that read one (scripts/finish-site.mjs).
 */
export function sitePolicy(siteRoot) {
  const page = readFileSync(join(siteRoot, 'index.html'), 'utf8');
  const meta = page.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/);
  if (!meta) throw new Error(`${siteRoot}/index.html has no Content-Security-Policy`);
  return `${meta[1]}; frame-ancestors 'none'`;
}

/**
 * `root`: the site folder; `base`: the URL path it lives under ('/' or '/shige/');
 * `mounts`: { '/prefix/': folder } served beside it; `headers`: added to every response;
 * `isolate`: send COOP/COEP; `csp`: send the site's policy (`sitePolicy`) with its own files
 * (the site's server and tests; off for other folders, which have no such policy);
 * `log(path, bytes, encoding)`: called per response.
 */
export function createStaticServer({ root, base = '/', mounts = {}, headers = {}, isolate = false, csp = false, log = null }) {
  let policy = null;
  const policyOf = (site) => (policy?.site === site ? policy : (policy = { site, value: sitePolicy(site) })).value;
  return createServer(async (req, res) => {
    try {
      // dist/site is a link that scripts/build-site.sh flips to each new build: followed once per
      // request, so a response never mixes two builds (one's file, the other's .br), and each
      // build's own policy goes with it.
      const siteRoot = await realpath(root).catch(() => root);
      const url = new URL(req.url, 'http://x');
      let path = normalize(decodeURIComponent(url.pathname)).replace(/^(\.\.[/\\])+/, '');
      const prefix = Object.keys(mounts).find((p) => path.startsWith(p));
      let file;
      if (prefix) {
        file = join(mounts[prefix], path.slice(prefix.length));
      } else {
        if (!path.startsWith(base)) {
          if (`${path}/` === base) { res.writeHead(301, { location: base }).end(); return; }
          res.writeHead(404).end('not found');
          return;
        }
        file = join(siteRoot, path.slice(base.length));
      }
      if (path.endsWith('/')) file = join(file, 'index.html');
      if (!(await exists(file))) { res.writeHead(404).end('not found'); return; }
      const type = TYPES[extname(file)] ?? 'application/octet-stream';
      const accepts = String(req.headers['accept-encoding'] ?? '');
      let body;
      let encoding = null;
      for (const [enc, ext] of [['br', '.br'], ['gzip', '.gz']]) {
        if (accepts.includes(enc) && await exists(file + ext)) { body = await readFile(file + ext); encoding = enc; break; }
      }
      if (!body) {
        body = await readFile(file);
        if (accepts.includes('gzip') && COMPRESSIBLE.test(type) && body.length > 1024) { body = gzipSync(body, { level: 6 }); encoding = 'gzip'; }
      }
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}${encoding ? `-${encoding}` : ''}"`;
      const out = {
        'content-type': type, 'cache-control': 'no-cache', etag, vary: 'accept-encoding',
        ...(encoding ? { 'content-encoding': encoding } : {}), ...(isolate ? ISOLATION : {}),
        ...(csp && !prefix ? { 'content-security-policy': policyOf(siteRoot) } : {}), ...headers,
      };
      if (req.headers['if-none-match'] === etag) { res.writeHead(304, out).end(); log?.(path, 0, encoding); return; }
      res.writeHead(200, { ...out, 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      log?.(path, body.length, encoding);
    } catch (e) {
      res.writeHead(500).end(String(e));
    }
  });
}

/** Starts a server on 127.0.0.1 (`port` 0: any free port); resolves to { url, close }. */
export async function listen(options, port = 0) {
  const server = createStaticServer(options);
  await new Promise((resolve, reject) => { server.once('error', reject); server.listen(port, '127.0.0.1', resolve); });
  const base = options.base ?? '/';
  return { url: `http://127.0.0.1:${server.address().port}${base}`, close: () => server.close(), server };
}
