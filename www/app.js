// The page: draws the ui/ modules from the worker's state in order, switches the language and
// starts the page; nothing here blocks on training. ui/ layers, each importing only those before
// it: dom → state, library → settings, corpus, write → runs, quality → share-panel, worker-notices.
import * as i18n from './i18n.js';
import { t } from './i18n.js';
import { call, on, startWorker } from './trainer-client.js';
import * as offline from './offline.js';
import * as notices from './notices.js';
import { attempt, describeError } from './notices.js';
import * as share from './share.js';
import { retranslate as retranslateInspector } from './internals.js';
import { applyToForm } from './settings-schema.js';
import * as library from './ui/library.js';
import { $ } from './ui/dom.js';
import { applyState, current, params, setRenderer, stats } from './ui/state.js';
import { chart, flowChart, redrawCharts, renderCharts, renderRuns, setButtons, showBackend } from './ui/runs.js';
import { applyPresets, checkSettings, presetsDiffering, readSettings, writeSettings } from './ui/settings.js';
import { showCorpus } from './ui/corpus.js';
import * as write from './ui/write.js';
import * as quality from './ui/quality.js';
import * as sharePanel from './ui/share-panel.js';
import * as stepPanel from './ui/step-panel.js';
import * as guessMap from './ui/guess-map.js';
import * as deviceCheck from './ui/device-check.js';
import './ui/worker-notices.js';
import * as card from './ui/card.js';

let teacherHidden = [];                  // the groups a teacher's link hides
setRenderer((state) => {
  renderCharts(state);
  showCorpus(state.corpus);
  renderRuns();
  write.renderWriteRuns();
  // Undo belongs to the new-model group: a teacher who hid it keeps it hidden.
  $('undo').hidden = !state.undo || teacherHidden.includes('new-model');
  showBackend(state.runs[0]?.info);
  setButtons();
  stepPanel.setStepButton();
  stepPanel.retain(state);
  guessMap.renderMaps(state);
  library.scheduleRefresh();
});
on('state', ({ state }) => applyState(state));
on('guesses', ({ runId, guesses }) => guessMap.update(runId, guesses));

// ---- language -----------------------------------------------------------------------------
$('lang-switch').onclick = () => i18n.switchTo(i18n.other());
i18n.onChange(() => {
  redrawCharts();
  sharePanel.renderTeacherGroups();
  notices.retranslate();
  if (current) applyState(current);
  library.retranslate();
  quality.retranslate();
  write.retranslate();
  retranslateInspector();
  sharePanel.retranslate();
  stepPanel.retranslate();
  deviceCheck.retranslate();
  guessMap.retranslate();
});

// Leaving or hiding the page saves what trained since the last autosave (as far as the
// browser lets the write finish): from the moment the worker runs, whatever start-up did.
let workerStarted = false;
const flush = () => { if (workerStarted) call('flush').catch(() => {}); };
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') flush(); });
window.addEventListener('pagehide', flush);

// ---- start --------------------------------------------------------------------------------
// For tests and the curious: the charts' data and the worker, from the console.
window.shige = { call, state: () => current, chart, flowChart, stats, checkForUpdate: offline.checkForUpdate,
  stepReports: stepPanel.lastReports, deviceCheck: deviceCheck.lastCheck };
window.shige.lastCard = () => card.lastCard;   // a poem card's layout: each glyph and its place

async function startPage() {
  const lang = params.get('lang');
  if (lang && Object.hasOwn(i18n.LANGUAGES, lang)) {
    try { localStorage.setItem('shige.lang', lang); } catch { /* not remembered */ }
  }
  await i18n.setup();
  applyToForm($('settings'));
  sharePanel.renderTeacherGroups();
  teacherHidden = share.applyTeacherMode(params);
  // Nothing below may leave the page without a model, a library or ready buttons.
  const presets = applyPresets(params);
  let exp = null;
  try { exp = share.fromUrl(params); } catch (e) { notices.show(() => t('share.refused', { message: describeError(e) })); }
  library.setup({ opened: (state) => { applyState(state); writeSettings(state.runs[0].settings); } });
  $('backend').textContent = t('backend.offlineCopy');
  const offlineCopy = await offline.register({ onUpdate: (apply, { installedElsewhere }) => notices.show(() => t(installedElsewhere ? 'update.installed' : 'update.ready'), { kind: 'info', id: 'update', actions: [
    { label: () => t('update.reload'), run: apply },
  ] }) });
  if (offlineCopy === 'failed') notices.show(() => t('update.noOfflineCopy'), { kind: 'warning', id: 'offline' });
  offline.buildId().then((id) => { if (id) $('build-id').textContent = id; });
  startWorker();
  workerStarted = true;
  // The link (?exp=, the presets) leaves the address only once it was applied or declined: a
  // start that failed (a flaky school network) keeps it, so a reload tries the class's link again.
  let linkSettled = false;
  try {
    await attempt(async () => {
      const settings = readSettings();
      // The starter model, unless the link asks for particular settings or an experiment.
      const starter = !exp && !presets && params.get('starter') !== '0';
      const state = await call('start', { settings, backend: settings.backend, starter, starterName: t('starter.name'), experiment: exp?.runs ?? null });
      applyState(state);
      if (state.opened === 'experiment') sharePanel.afterExperiment(exp);
      else if (exp && state.restored) {
        // This browser has models of its own: ask before the link replaces them (they stay in
        // the library, and Undo swaps them back).
        const names = state.runs.map((r) => r.name).join(t('notice.listSeparator'));
        if (!state.trained || confirm(t('share.confirmOpen', { runs: names }))) await sharePanel.openExperiment(exp);
        else writeSettings(state.runs[0].settings);
      } else if (state.restored) await offerPresets(presets, state.runs[0].settings);
      linkSettled = true;
    });
    await checkSettings();
  } finally {
    if (linkSettled) sharePanel.forgetLink();
    await library.refresh().catch(() => {});
    document.body.dataset.ready = 'true';
  }
  write.writeOnArrival();
}
/**
 * A returning visitor's saved models open, not the link's settings: where the link's presets
 * differ from them, ask (as for ?exp=) whether to start a new model with the link's settings
 * (the saved ones stay in the library, and Undo brings them back) or keep the saved ones.
 */
async function offerPresets(presets, restoredSettings) {
  const differing = presetsDiffering(presets, restoredSettings);
  if (differing && confirm(t('settings.confirmPresets', { settings: differing }))) {
    applyState(await call('reset', { settings: readSettings() }));
  } else {
    writeSettings(restoredSettings);
  }
}

startPage();
