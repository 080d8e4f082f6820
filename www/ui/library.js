// The model library: every model saved in this browser (open, rename, duplicate, delete with
// undo, download), the space used, and asking the browser to keep it (persistent storage).
// Imports dom.js, ../i18n.js, ../notices.js and ../trainer-client.js.
import { t, formatNumber, language } from '../i18n.js';
import { call } from '../trainer-client.js';
import * as notices from '../notices.js';
import { attempt, download } from '../notices.js';
import { $, actionButton, labelColumns, nameInput, textCell } from './dom.js';

let onOpen = () => {};

export function setup({ opened }) {
  onOpen = opened;
  $('persist').onclick = () => attempt(async () => {
    const granted = await navigator.storage?.persist?.();
    notices.show(() => t(granted ? 'library.persisted' : 'library.notPersisted'), { kind: 'info', id: 'persist' });
    await refresh();
  });
}

// One formatter per language: `toLocaleString` would build one for every row.
const dateFormats = new Map();
function date(ms) {
  const locale = language() === 'en' ? 'en-GB' : 'zh-CN';
  if (!dateFormats.has(locale)) dateFormats.set(locale, new Intl.DateTimeFormat(locale, { dateStyle: 'short', timeStyle: 'short' }));
  return dateFormats.get(locale).format(new Date(ms));
}
const mib = (bytes) => `${formatNumber(bytes / 2 ** 20, 1)} MiB`;

async function showUsage() {
  const estimate = await navigator.storage?.estimate?.().catch(() => null);
  const persisted = await navigator.storage?.persisted?.().catch(() => false);
  $('storage-usage').textContent = estimate
    ? t('library.usage', { used: mib(estimate.usage ?? 0), quota: mib(estimate.quota ?? 0) }) + (persisted ? ` ${t('library.isPersisted')}` : '')
    : '';
  $('persist').hidden = !!persisted || !navigator.storage?.persist;
}

// The list is read from storage: while the page changes, at most every two seconds.
let refreshTimer = null;
export function scheduleRefresh() {
  if (refreshTimer || !document.body.dataset.ready) return;
  refreshTimer = setTimeout(() => { refreshTimer = null; refresh().catch(() => {}); }, 2000);
}

let shownList = null;   // the list drawn last: drawn again at once in another language

/** Redraws the library from the worker's list. */
export async function refresh(list = null) {
  const library = list ?? await call('listLibrary');
  await showUsage();
  render(library);
}

/** After a language switch: the rows in the new language at once (the worker may be busy with a
 * step or a poem), then a fresh list. */
export function retranslate() {
  if (shownList) render(shownList);
  refresh().catch(() => {});
}

function render(library) {
  shownList = library;
  const body = $('library').tBodies[0];
  $('library-empty').hidden = library.models.length > 0;
  body.replaceChildren(...library.models.map((m) => {
    const tr = document.createElement('tr');
    tr.dataset.model = m.id;
    tr.dataset.name = m.name;
    const nameCell = document.createElement('td');
    nameCell.append(nameInput(m.name, t('library.rename'), async (name) => refresh(await call('renameModel', { modelId: m.id, name }))));
    if (m.open) nameCell.append(' ', Object.assign(document.createElement('span'), { className: 'tag', textContent: t('library.open') }));
    if (m.broken) nameCell.append(' ', Object.assign(document.createElement('span'), { className: 'tag bad', textContent: t('library.broken'), title: m.broken }));
    const actions = document.createElement('td');
    actions.className = 'actions';
    const button = (label, action, fn, disabled = false) => actionButton(actions, label, action, fn, { disabled });
    button(t('library.openAction'), 'open', async () => { onOpen(await call('openModel', { modelId: m.id })); await refresh(); }, m.open || !!m.broken);
    button(t('library.duplicate'), 'duplicate', async () => refresh(await call('duplicateModel', { modelId: m.id })), !!m.broken);
    button(t('library.download'), 'download', async () => download(await call('storedBytes', { modelId: m.id }), `${m.name}.ckpt`));
    button(t('library.delete'), 'delete', async () => {
      await refresh(await call('deleteModel', { modelId: m.id }));
      const notice = notices.show(() => t('library.deleted', { name: m.name }), { kind: 'info', id: `deleted-${m.id}`, actions: [
        { label: () => t('library.undoDelete'), run: async () => {
          await refresh(await call('undoDelete', { modelId: m.id }));
          $('library').querySelector(`tr[data-model="${m.id}"] input`)?.focus();
        } },
      ] });
      // The row (and the focused button) is gone: focus goes to its Undo.
      notice.querySelector('button')?.focus();
    }, m.open);
    const corpusName = m.corpusId === 'builtin' ? t('corpus.builtinName') : m.corpusName;
    tr.append(nameCell, textCell(corpusName), textCell(formatNumber(m.step ?? 0)), textCell(m.perplexity ? formatNumber(m.perplexity, 1) : '–'),
      textCell(date(m.savedAt)), textCell(mib(m.size)), actions);
    return tr;
  }));
  labelColumns($('library'));
}
