// Serves dist/site on 127.0.0.1 (scripts/serve.sh): precompressed files, ETags, and the
// cross-origin isolation headers the threaded build needs.
// Usage: node scripts/serve.mjs [--port N] [--base /shige/]
import { listen } from './static-server.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const root = new URL('../dist/site', import.meta.url).pathname;
const base = arg('base', '/');
const port = Number(arg('port', 8080));
const { url } = await listen({ root, base: base.endsWith('/') ? base : `${base}/`, isolate: true, csp: true }, port).catch((e) => {
  if (e.code !== 'EADDRINUSE') throw e;
  console.error(`port ${port} is in use (another scripts/serve.sh?): stop that server, or choose another port with --port N`);
  process.exit(1);
});
console.log(`serving ${url} (Ctrl-C to stop)`);
