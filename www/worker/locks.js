// Web Locks, one per model: a tab writes a model only while it holds that model's lock, so two
// tabs never overwrite each other. Imports session.js and protocol.js.
import { announce, session } from './session.js';
import { post } from './protocol.js';

const held = new Map();              // model id -> release()
/** Whether this tab may write model `id` (always, in a browser without Web Locks). */
export const holds = (id) => !navigator.locks || held.has(id);

/** Whether another tab holds model `id`'s lock (has it open). */
export async function openElsewhere(id) {
  if (!navigator.locks?.query || held.has(id)) return false;
  const { held: locks = [] } = await navigator.locks.query();
  return locks.some((l) => l.name === `shige-model-${id}`);
}

/** Takes a model's lock if no other tab holds it (or takes it over with `steal`). */
export function lockModel(id, { steal = false } = {}) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((resolve) => {
    const request = navigator.locks.request(`shige-model-${id}`, steal ? { steal: true } : { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(false); return undefined; }
      resolve(true);
      return new Promise((release) => held.set(id, release));
    });
    request.catch((e) => {
      // Another tab took the lock over: stop writing this model at once.
      if (e?.name !== 'AbortError' || !held.has(id)) return;
      held.delete(id);
      if (session.runs.some((r) => r.id === id) && session.autosave.state !== 'unavailable') {
        session.autosave.state = 'other-tab';
        post({ event: 'autosave', state: 'other-tab', lostLock: true });
        announce();
      }
    });
  });
}

/** Holds the locks of the page's runs (and lets go of the others); true if it holds them all. */
export async function lockRuns({ steal = false } = {}) {
  for (const [id, release] of held) {
    if (!session.runs.some((r) => r.id === id)) { release(); held.delete(id); }
  }
  let all = true;
  for (const r of session.runs) {
    if (!held.has(r.id) && !(await lockModel(r.id, { steal }))) all = false;
  }
  session.workspace.owner = all;
  return all;
}

/** After the runs changed: autosave on if this tab holds every run's lock. */
export async function claimRuns(options) {
  const { autosave } = session;
  if (autosave.state === 'unavailable') return;
  const owner = await lockRuns(options);
  if (owner && autosave.state === 'other-tab') autosave.state = 'on';
  if (!owner) autosave.state = 'other-tab';
}
