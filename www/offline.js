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
 * `onUpdate(apply, { installedElsewhere })` is called when a new version is waiting, and again
 * when another tab has already switched to it; `apply()` reloads into it.
 */
export async function register({ onUpdate, patience = 120_000 } = {}) {
  if (!('serviceWorker' in navigator) || location.protocol === 'file:') return 'none';
  wb = new Workbox('./sw.js');
  // Another tab applied the update: this page's scripts are the old version, its service
  // worker the new one. A reload is all it takes (there is nothing left to activate). A
  // controller change this tab did not ask for, after the first (a first visit's install
  // claiming the page), is that.
  let installedElsewhere = false;
  let applying = false;
  let controllers = navigator.serviceWorker.controller ? 1 : 0;
  const apply = () => {
    if (installedElsewhere) { location.reload(); return; }
    applying = true;
    wb.messageSkipWaiting();
  };
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    controllers += 1;
    if (applying) { location.reload(); return; }
    if (controllers < 2) return;
    installedElsewhere = true;
    onUpdate?.(apply, { installedElsewhere });
  });
  wb.addEventListener('waiting', () => onUpdate?.(apply, { installedElsewhere }));
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
