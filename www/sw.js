// The app's service worker (built by scripts/finish-site.mjs, which fills in the precache list
// with a content hash per file). It precaches everything the app needs — page, scripts, wasm,
// the built-in corpus and the starter model — so the app works offline once loaded, and it
// serves every response with cross-origin isolation headers (static hosts cannot send them,
// and the threaded build needs them).
importScripts('WORKBOX_DIR/workbox-sw.js');
workbox.setConfig({ modulePathPrefix: 'WORKBOX_DIR/', debug: false });
workbox.core.setCacheNameDetails({ prefix: 'shige' });

const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** The same response with the isolation headers added. */
function isolated(response) {
  if (!response || response.status === 0 || response.type === 'opaque') return response;
  const headers = new Headers(response.headers);
  for (const [k, v] of Object.entries(ISOLATION)) headers.set(k, v);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

workbox.precaching.addPlugins([{ handlerWillRespond: async ({ response }) => isolated(response) }]);
// Query strings (?exp=…, ?lang=…, ?hide=…) select what the page shows, not which file it is.
workbox.precaching.precacheAndRoute(self.__WB_MANIFEST, { ignoreURLParametersMatching: [/.*/] });
workbox.precaching.cleanupOutdatedCaches();

// The plain threaded build (for browsers with wasm threads but no relaxed SIMD) is not precached:
// it is kept when first fetched, and served from there offline (network first, so a new deploy's
// module never meets an old copy of its glue). Its cache belongs to this build (BUILD_ID, filled
// in by finish-site.mjs) and goes with it; its key has no query, so the module imported again
// after a crash (`shige.js?instance=2`) is found offline too.
const THREADS_CACHE = 'shige-threads-BUILD_ID';
workbox.routing.registerRoute(
  ({ url }) => url.pathname.includes('/pkg-threads/'),
  new workbox.strategies.NetworkFirst({ cacheName: THREADS_CACHE, plugins: [
    { cacheKeyWillBeUsed: async ({ request }) => { const url = new URL(request.url); url.search = ''; return url.href; } },
    { handlerWillRespond: async ({ response }) => isolated(response) },
  ] }),
);
self.addEventListener('activate', (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) if (name.startsWith('shige-threads') && name !== THREADS_CACHE) await caches.delete(name);
})()));

// Anything else not precached (a corpus a teacher put beside the site, say) comes from the
// network, isolated too.
workbox.routing.setDefaultHandler(async ({ request }) => isolated(await fetch(request)));

// A new version waits until the page says so: it never replaces files under an open page.
self.addEventListener('message', (event) => {
  if (event.data?.type === 'SKIP_WAITING') self.skipWaiting();
});
// The first version takes over the page at once, so the trainer's downloads go through it.
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
