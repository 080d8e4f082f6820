// The worker's events that become notices: errors and warnings, restored and taken-over runs,
// the autosave's state (with its actions), models that could not be opened, a needed reload.
// Imports state.js, runs.js, ../i18n.js, ../notices.js and ../trainer-client.js.
import * as i18n from '../i18n.js';
import { t, formatNumber } from '../i18n.js';
import { call, on } from '../trainer-client.js';
import * as notices from '../notices.js';
import { download, translate } from '../notices.js';
import { applyState } from './state.js';
import { saveRun } from './runs.js';

/** A worker event's text; `inner` is the underlying error's own key, translated too. */
const eventText = ({ key, vars, inner }) => () => translate(key, inner ? { ...vars, message: translate(inner.key, inner.vars) } : vars);
on('error', (e) => notices.show(eventText(e)));
on('warning', (e) => notices.show(eventText(e), { kind: 'warning' }));
on('restored', ({ runs }) => {
  const list = () => runs.map((r) => t('notice.restoredRun', { name: r.name, step: formatNumber(r.step),
    time: r.savedAt ? new Date(r.savedAt).toLocaleTimeString(i18n.language() === 'en' ? 'en-GB' : 'zh-CN', { timeStyle: 'short' }) : '–' })).join(t('notice.listSeparator'));
  notices.show(() => t('notice.restored', { runs: list() }), { kind: 'info', id: 'restored' });
});
on('fatal', ({ message }) => notices.show(() => t('notice.workerDied', { message })));
on('tookOver', ({ runs }) => notices.show(() => t('notice.tookOver', {
  runs: runs.map((r) => t('notice.tookOverRun', { name: r.name, step: formatNumber(r.step) })).join(t('notice.listSeparator')) }), { kind: 'info', id: 'took-over' }));
// After a crash, the worker found another version installed by another tab: only a reload
// brings this page's scripts and the module together again.
on('needsReload', () => notices.show(() => t('update.afterCrash'), { kind: 'warning', id: 'update', actions: [
  { label: () => t('update.reload'), run: () => location.reload() },
] }));
on('autosave', (e) => {
  if (e.state === 'on') { notices.clear('autosave'); notices.show(() => t('notice.autosaveOk'), { kind: 'info', id: 'autosave-ok' }); return; }
  const actions = [];
  if (e.offerDownload) actions.push({ label: () => t('notice.download'), run: () => saveRun(e.runId) });
  if (e.state === 'other-tab') {
    actions.push({ label: () => t('notice.takeOver'), run: async () => applyState(await call('takeOverAutosave')) });
    actions.push({ label: () => t('notice.saveAsOwn'), run: async () => applyState(await call('saveAsOwn')) });
  }
  notices.show(() => autosaveMessage(e), { kind: 'warning', id: 'autosave', actions });
});
on('unrestorable', ({ modelId, name, message }) => {
  notices.show(() => t('notice.unrestorable', { name, message }), { kind: 'warning', id: `broken-${modelId}`, actions: [
    { label: () => t('notice.download'), run: async () => download(await call('storedBytes', { modelId }), `${name}.ckpt`) },
  ] });
});

function autosaveMessage(e) {
  if (e.state === 'other-tab') return e.lostLock ? t('notice.lockLost') : t('notice.otherTab');
  if (e.state === 'unavailable') return t('notice.noStorage');
  return t('notice.autosaveFailed', { reason: e.quota ? t('notice.quota') : e.reason });
}
