// Offline: registers the app's service worker (scripts/finish-site.mjs builds it), waits
// until it controls the page on a first visit — so the trainer's downloads are the ones it
// caches — and offers a new version when one is deployed, without ever reloading by itself.
import { Workbox } from './vendor/workbox-window.prod.mjs';

let wb = null;

/**
 * Registers the service worker. Resolves once it controls the page (at once when it already
 * does) with 'ready', or after `patience` ms with 'pending', or with 'failed' when it cannot
 * register or install (the browser would not store the files: a full disk gives no quota). The
 * app works without it, only not offline. With no service worker at all (file://) it resolves 'none'.
 * `onUpdate(apply)` is called when a new version is waiting; `apply()` reloads into it.
 */
export async function register({ onUpdate, patience = 120_000 } = {}) {
  if (!('serviceWorker' in navigator) || location.protocol === 'file:') return 'none';
  wb = new Workbox('./sw.js');
  wb.addEventListener('waiting', () => onUpdate?.(() => {
    wb.addEventListener('controlling', () => location.reload());
    wb.messageSkipWaiting();
  }));
  const controlled = navigator.serviceWorker.controller
    ? Promise.resolve('ready')
    : new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', () => resolve('ready'), { once: true }));
  try {
    await wb.register();
  } catch (e) {
    console.warn('shige: no offline copy (the service worker did not register):', e);
    return 'failed';
  }
  setInterval(() => wb.update(), 30 * 60_000);
  document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'visible') wb.update(); });
  // An install that fails (a file of the precache could not be fetched) ends the wait at once.
  const failed = new Promise((resolve) => wb.addEventListener('redundant', () => resolve('failed'), { once: true }));
  return Promise.race([controlled, failed, new Promise((resolve) => setTimeout(() => resolve('pending'), patience))]);
}

/** Asks the server for a new version now (the page also asks every 30 minutes). */
export const checkForUpdate = () => wb?.update();

/** The build the page runs (shown in the footer, and by tests after an update). */
export async function buildId() {
  try { return (await (await fetch('build.json', { cache: 'no-cache' })).json()).id; } catch { return null; }
}
