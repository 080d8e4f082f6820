// The page's side of the trainer worker: calls answered by promises, events by listeners.
let worker = null;
let nextId = 1;
const pending = new Map();
const listeners = {};

/** Starts the worker (after the service worker controls the page, so its fetches are cached). */
export function startWorker() {
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onmessage = onMessage;
  worker.onerror = onError;
}

/** Runs `op` in the worker; `transfer` hands buffers over instead of copying them. */
export function call(op, args, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, op, args }, transfer);
  });
}

/** Listens to a worker event ('progress', 'eval', 'flow', 'state', 'warning', …). */
export function on(event, fn) {
  (listeners[event] ??= []).push(fn);
}

function onMessage({ data }) {
  if (data.id) {
    const p = pending.get(data.id);
    pending.delete(data.id);
    // `key` names the failure's string in the reader's language (see i18n.js).
    // `shown`: the worker has already put this failure in a notice of its own.
    if (data.ok) p?.resolve(data.result); else p?.reject(Object.assign(new Error(data.error), { key: data.key, vars: data.vars, shown: !!data.shown }));
    return;
  }
  for (const fn of listeners[data.event] ?? []) fn(data);
}

function onError(e) {
  for (const fn of listeners.fatal ?? []) fn({ message: e.message ?? 'unknown error' });
  for (const p of pending.values()) p.reject(new Error(e.message ?? 'the trainer stopped'));
  pending.clear();
}
