// Before class: Check this device — which paths it has (WebGPU and its adapter, the threaded
// CPU build and relaxed SIMD), a few timed steps of each open run's settings, and how far each
// gets in the minutes given (its steps, and the held-out loss by its own curve or the
// starter's); the form's settings too, where no run has them; a run that will not fit in a tab
// is said plainly. The worker measures (`checkDevice`); this writes it in the reader's language.
// Imports dom.js, settings.js, ../i18n.js, ../notices.js and ../trainer-client.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import { attempt } from '../notices.js';
import { $ } from './dom.js';
import { readSettings } from './settings.js';

let last = null;             // the last report, to write again in another language

$('check-device').onclick = () => attempt(async () => {
  const minutes = Math.min(240, Math.max(1, Number($('check-minutes').value) || 20));
  $('check-device').disabled = true;
  $('device-report').replaceChildren(paragraph(t('lesson.checking')));
  try {
    last = await call('checkDevice', { minutes, form: readSettings() });
    render();
  } catch (e) {
    $('device-report').replaceChildren();
    throw e;
  } finally {
    $('check-device').disabled = false;
  }
});

function paragraph(text, className = '') {
  const p = document.createElement('p');
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

function render() {
  if (!last) return;
  const { paths, runs, minutes } = last;
  const list = [
    paths.adapter ? t('lesson.webgpu', { adapter: paths.adapter }) : t('lesson.noWebgpu'),
    paths.threaded ? t('lesson.threads', { n: paths.threads }) : t('lesson.oneThread'),
    ...(paths.relaxedSimd ? [t('lesson.relaxed')] : []),
  ];
  const lines = [paragraph(t('lesson.paths', { paths: list.join(t('notice.listSeparator')) }))];
  for (const run of runs) {
    // The form's row (no run id) is named when drawn, so it follows the language.
    const r = run.runId ? run : { ...run, name: t('lesson.formRun') };
    if (!r.fits) { lines.push(paragraph(t('lesson.tooBig', { run: r.name, gib: formatNumber(r.gib, 1) }), 'warning')); continue; }
    if (!r.beside) { lines.push(paragraph(t('lesson.notBeside', { run: r.name }), 'warning')); continue; }
    const loss = r.loss == null ? '' : t('lesson.lossEstimate', { loss: formatNumber(r.loss, 2), source: t(r.source === 'own' ? 'lesson.sourceOwn' : 'lesson.sourceStarter') });
    lines.push(paragraph(t('lesson.runLine', {
      run: r.name, ms: formatNumber(r.msPerStep, 0), perSecond: formatNumber(1000 / r.msPerStep, 2), backend: r.backend === 'cpu' ? 'CPU' : r.backend,
      minutes: formatNumber(minutes), steps: formatNumber(r.steps), loss,
    })));
  }
  $('device-report').replaceChildren(...lines);
}

export const retranslate = render;
/** For tests: the last report, as the worker measured it. */
export const lastCheck = () => last;
