// Banners above the page: errors (announced at once), warnings and the autosave status, each
// with the actions that fix it (download the model, take over the autosave, …).
import { t } from './i18n.js';

const box = () => document.getElementById('notices');
const MAX_SHOWN = 4;

const texts = new WeakMap();   // element -> functions that write its text in the current language
const say = (text) => (typeof text === 'function' ? text() : text);

/**
 * Shows a notice. `text` (and each action's `label`) may be a function returning the string in
 * the current language, so a language switch rewrites it (`retranslate`); `text` may also give
 * an array of strings and elements. `kind`: 'error' |
 * 'warning' | 'info'; `id` replaces an earlier notice with the same id; `actions`: [{ label, run }].
 */
export function show(text, { kind = 'error', id = null, actions = [] } = {}) {
  if (id) box().querySelector(`[data-notice="${id}"]`)?.remove();
  const el = document.createElement('div');
  el.className = `notice ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (id) el.dataset.notice = id;
  const span = document.createElement('span');
  span.className = 'notice-text';
  let shown = text;   // an action's error replaces the text, in later languages too
  const write = () => span.replaceChildren(...[].concat(say(shown)));
  write();
  el.append(span);
  const writers = [write];
  for (const { label, run } of actions) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = say(label);
    writers.push(() => { b.textContent = say(label); });
    b.onclick = async () => { b.disabled = true; try { await run(); el.remove(); } catch (e) { shown = () => describeError(e); write(); b.disabled = false; } };
    el.append(b);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '×';
  close.setAttribute('aria-label', t('notice.dismiss'));
  close.onclick = () => el.remove();
  el.append(close);
  writers.push(() => close.setAttribute('aria-label', t('notice.dismiss')));
  texts.set(el, writers);
  box().prepend(el);
  // Old notices do not pile up: beyond a few, the oldest that is not an error goes.
  const all = [...box().children];
  if (all.length > MAX_SHOWN) (all.reverse().find((n) => !n.classList.contains('error')) ?? all[0]).remove();
  return el;
}

/** Rewrites every notice in the current language (after a language switch). */
export function retranslate() {
  for (const el of box().children) for (const write of texts.get(el) ?? []) write();
}

export const clear = (id) => box().querySelector(`[data-notice="${id}"]`)?.remove();

/** A coded message in the reader's language; a `setting` it names is shown by its label. */
export function translate(key, vars = {}) {
  return t(key, vars.setting ? { ...vars, label: t(`settings.${vars.setting}`) } : vars);
}

/** An error in the reader's language where the worker named it, else in its own words. */
export const describeError = (e) => (e?.key ? translate(e.key, { message: e.message, ...e.vars }) : e?.message ?? String(e));
// (wasm errors carry `key`/`vars` too: the worker passes them on, so they are translated here.)

/** Runs `fn`, showing its error (if any) as a notice. */
export async function attempt(fn) {
  try { return await fn(); } catch (e) { if (!e?.shown) show(describeError(e)); return undefined; }
}

/** Offers bytes as a file download. */
export function download(bytes, name, type = 'application/octet-stream') {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(bytes instanceof Blob ? bytes : new Blob([bytes], { type }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 30_000);
}
