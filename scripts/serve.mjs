// Serves dist/site on 127.0.0.1 (scripts/serve.sh): precompressed files, ETags, and the
// cross-origin isolation headers the threaded build needs.
// Usage: node scripts/serve.mjs [--port N] [--base /shige/]
import { listen } from './static-server.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const root = new URL('../dist/site', import.meta.url).pathname;
const base = arg('base', '/');
const { url } = await listen({ root, base: base.endsWith('/') ? base : `${base}/`, isolate: true, csp: true }, Number(arg('port', 8080)));
console.log(`serving ${url} (Ctrl-C to stop)`);
