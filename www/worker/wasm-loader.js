// Chooses the wasm build this browser runs best (threaded, relaxed SIMD or the default) and
// loads it, again after a crash. Imports session.js and ../vendor/wasm-feature-detect.js.
import { relaxedSimd, threads } from '../vendor/wasm-feature-detect.js';
import { session } from './session.js';

/** The id of the build the service worker serves now (null where there is none to ask). */
export async function fetchBuildId() {
  try { return (await (await fetch('build.json', { cache: 'no-cache' })).json()).id ?? null; } catch { return null; }
}

/**
 * Which build to run: the threaded CPU build where the page is cross-origin isolated, the
 * browser runs wasm threads and there is no hardware GPU to train on (with relaxed SIMD's fused
 * multiply-add where the browser has it); else the default build (WebGPU, and the CPU on one thread).
 */
async function pickBuild() {
  const { backendPreference } = session;
  if (backendPreference === 'webgpu') return { dir: 'pkg', why: 'WebGPU asked for' };
  if (!self.crossOriginIsolated) return { dir: 'pkg', why: 'the page is not cross-origin isolated' };
  if (!(await threads().catch(() => false))) return { dir: 'pkg', why: 'this browser has no WebAssembly threads' };
  if (backendPreference === 'auto' && navigator.gpu) {
    const adapter = await navigator.gpu.requestAdapter().catch(() => null);
    const software = adapter?.info?.isFallbackAdapter ?? adapter?.isFallbackAdapter ?? false;
    if (adapter && !software) return { dir: 'pkg', why: 'a hardware GPU is there' };
  }
  // GET, not HEAD: the service worker answers only GETs, so offline a HEAD would miss its cache.
  const has = async (dir) => (await fetch(`./${dir}/shige.js`).catch(() => null))?.ok ?? false;
  if ((await relaxedSimd().catch(() => false)) && (await has('pkg-threads-relaxed'))) return { dir: 'pkg-threads-relaxed', why: null };
  if (!(await has('pkg-threads'))) return { dir: 'pkg', why: 'this site has no threaded build' };
  return { dir: 'pkg-threads', why: null };
}

/** Loads the wasm module into `session.wasm`: a fresh instance on every call. */
export async function loadWasm() {
  session.instance += 1;
  const { instance } = session;
  if (instance === 1) session.loadedBuild = await fetchBuildId();
  session.build ??= await pickBuild();
  // A second import of the same URL would return the crashed instance: change the URL. (fetch()
  // resolves against the worker's script at the site's root; import() against this file.)
  const url = `../${session.build.dir}/shige.js${instance === 1 ? '' : `?instance=${instance}`}`;
  const mod = await import(url);
  await mod.default();
  if (mod.isThreaded?.()) {
    // Every core but one for the pool (the page and this worker keep going), at least two.
    session.threads = Math.max(2, (navigator.hardwareConcurrency || 2) - 1);
    await mod.initThreadPool(session.threads);
  }
  session.wasm = mod;
}
