// The quality measurement: a run's poems scored as the CLI's `shige eval` does (fewer samples),
// with the writing form's sampling. Imports dom.js, state.js, write.js, ../i18n.js,
// ../notices.js and ../trainer-client.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import { attempt } from '../notices.js';
import { $ } from './dom.js';
import { selectedRun, stats } from './state.js';
import { samplingOptions } from './write.js';

const QUALITY_SAMPLES = 30;
$('measure').onclick = () => attempt(async () => {
  const run = selectedRun();
  $('measure').disabled = true;
  $('quality-table').tBodies[0].replaceChildren();
  try {
    showQuality(await call('quality', { runId: run.id, samples: QUALITY_SAMPLES, options: samplingOptions() }), run);
  } finally {
    $('measure').disabled = false;
  }
});
let lastQuality = null;
function showQuality(q, run) {
  lastQuality = [q, run];
  const pct = (x) => `${formatNumber(x * 100, 1)}%`;
  const best = stats.get(run.id)?.bestPpl;
  const rows = [
    [t('quality.run'), `${run.name} · ${t('quality.step', { step: formatNumber(run.info.step) })}`],
    [t('quality.perplexity'), best == null ? '–' : formatNumber(best, 1)],
    [t('quality.wellFormed'), pct(q.wellFormed)],
    [t('quality.rhyme'), `${pct(q.rhymeWujue)} / ${pct(q.rhymeQijue)}`],
    [t('quality.rhymeConstrained'), pct(q.rhymeQijueConstrained)],
    [t('quality.copied'), t('quality.chars', { mean: formatNumber(q.copiedMean, 1), max: q.copiedMax })],
    [t('quality.copiesALine'), pct(q.copiesALine)],
    [t('quality.repeated'), pct(q.repeated)],
    [t('quality.speed'), t('quality.perSecond', { n: formatNumber(q.charsPerSecond) })],
  ];
  $('quality-table').tBodies[0].replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = k;
    const td = document.createElement('td');
    td.textContent = v;
    tr.append(th, td);
    return tr;
  }));
  $('quality-table').dataset.samples = String(q.samples);
}

/** Rewrites the last measurement in the current language. */
export function retranslate() {
  if (lastQuality) showQuality(...lastQuality);
}
