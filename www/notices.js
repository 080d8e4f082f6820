// Banners above the page: errors (announced at once), warnings and the autosave status, each
// with the actions that fix it (download the model, take over the autosave, …).
import { t } from './i18n.js';

const box = () => document.getElementById('notices');

/**
 * Shows a notice. `kind`: 'error' | 'warning' | 'info'; `id` replaces an earlier notice with the
 * same id; `actions`: [{ label, run }]. Returns the element.
 */
export function show(text, { kind = 'error', id = null, actions = [] } = {}) {
  if (id) box().querySelector(`[data-notice="${id}"]`)?.remove();
  const el = document.createElement('div');
  el.className = `notice ${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (id) el.dataset.notice = id;
  const span = document.createElement('span');
  span.className = 'notice-text';
  span.textContent = text;
  el.append(span);
  for (const { label, run } of actions) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.onclick = async () => { b.disabled = true; try { await run(); el.remove(); } catch (e) { span.textContent = describeError(e); b.disabled = false; } };
    el.append(b);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.className = 'close';
  close.textContent = '×';
  close.setAttribute('aria-label', t('notice.dismiss'));
  close.onclick = () => el.remove();
  el.append(close);
  box().prepend(el);
  return el;
}

export const clear = (id) => box().querySelector(`[data-notice="${id}"]`)?.remove();

/** An error in the reader's language where the worker named it, else in its own words. */
export const describeError = (e) => (e?.key ? t(e.key, { message: e.message, ...e.vars }) : e?.message ?? String(e));

/** Runs `fn`, showing its error (if any) as a notice. */
export async function attempt(fn) {
  try { return await fn(); } catch (e) { show(describeError(e)); return undefined; }
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
