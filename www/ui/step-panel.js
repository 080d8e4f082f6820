// The lab's Step: one training step while paused (the button, or S), and what it did, drawn
// from the core's report (`Trainer.observedStep`): for one poem of the batch, each character's
// probability before and after as paired bars, with its loss; for each part of the model, the
// gradient norm, the update ‖Δw‖/‖w‖ and the learning rate; and a sentence saying what
// happened. Nothing is recomputed here but the order of the rows. Imports dom.js, state.js,
// ../i18n.js, ../notices.js and ../trainer-client.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import { attempt } from '../notices.js';
import { $, labelColumns, textCell } from './dom.js';
import { applyState, colorOf, current } from './state.js';

let reports = [];             // the last Step's reports, one a run

/** Step is there while every run is paused. */
export function setStepButton() {
  $('step').disabled = !current?.runs.length || current.runs.some((r) => r.running);
  // The device check times the runs' settings on the page's corpus: not before there is one.
  $('check-device').disabled = !current?.runs.length;
}

export async function step() {
  if ($('step').disabled) return;
  $('step').disabled = true;
  try {
    const { state, reports: fresh } = await call('step', {});
    reports = fresh;
    applyState(state);
    renderRunChoice();
    renderRowChoice();
    render();
  } finally {
    setStepButton();
  }
}
$('step').onclick = () => attempt(step);
// S steps from anywhere but a field being typed in (the key is the button's aria-keyshortcuts).
document.addEventListener('keydown', (e) => {
  if (e.key !== 's' && e.key !== 'S') return;
  if (e.ctrlKey || e.metaKey || e.altKey || e.target.closest?.('input, textarea, select, [contenteditable]')) return;
  if ($('step').disabled) return;
  e.preventDefault();
  attempt(step);
});
$('step-run').onchange = () => { renderRowChoice(); render(); };
$('step-row').onchange = () => render();

const chosenReport = () => reports.find((r) => r.runId === $('step-run').value) ?? reports[0];

function renderRunChoice() {
  // The choices mean nothing before the first Step.
  for (const id of ['step-run', 'step-row']) $(id).closest('label').hidden = !reports.length;
  const keep = $('step-run').value;
  $('step-run').replaceChildren(...reports.map((r) => new Option(r.name, r.runId)));
  if (reports.some((r) => r.runId === keep)) $('step-run').value = keep;
}

function renderRowChoice() {
  const report = chosenReport();
  if (!report) return;
  const keep = Number($('step-row').value) || 0;
  $('step-row').replaceChildren(...report.rows.map((row, i) => new Option(t('lesson.rowOption', { n: i + 1, text: [...row.chars].slice(0, 12).join('') }), String(i))));
  $('step-row').value = String(Math.min(keep, report.rows.length - 1));
}

const partName = (g) => t(`lesson.part.${g.part}`, { layer: (g.layer ?? 0) + 1 });
const probability = (p) => (p >= 0.01 ? formatNumber(p, 3) : p.toExponential(1));

/** Draws the chosen run's report on the chosen poem. */
export function render() {
  const report = chosenReport();
  $('step-panel').hidden = !report;
  if (!report) return;
  const row = report.rows[Number($('step-row').value) || 0] ?? report.rows[0];
  const targets = [...row.chars];
  if (row.ends) targets.push(t('lesson.end'));
  const moved = report.groups.reduce((a, b) => (b.updateRatio > a.updateRatio ? b : a));
  $('step-summary').textContent = t('lesson.summary', {
    step: formatNumber(report.step), run: report.name, change: t(row.lossAfter <= row.lossBefore ? 'lesson.fell' : 'lesson.rose'),
    before: formatNumber(row.lossBefore, 3), after: formatNumber(row.lossAfter, 3), batch: formatNumber(report.loss, 3),
    part: partName(moved), ratio: moved.updateRatio.toExponential(2),
  });

  // Paired bars on one logarithmic scale (1e-5 at the foot, 1 at the top): an untrained
  // model's guesses are all near 1/vocabulary, and a step moves them by a few per cent, which a
  // linear scale would hide.
  const height = (p) => Math.round(100 * Math.min(1, Math.max(0.01, (Math.log10(Math.max(p, 1e-12)) + 5) / 5)));
  const color = colorOf(report.runId);
  $('step-bars').replaceChildren(...targets.map((c, i) => {
    const cell = document.createElement('div');
    cell.className = 'step-bar';
    cell.title = `${c}: ${probability(row.before[i])} → ${probability(row.after[i])}`;
    const pair = document.createElement('div');
    pair.className = 'pair';
    for (const [p, kind] of [[row.before[i], 'before'], [row.after[i], 'after']]) {
      const bar = document.createElement('span');
      bar.className = kind;
      bar.style.height = `${height(p)}%`;
      if (kind === 'after') bar.style.background = color;
      pair.append(bar);
    }
    const label = document.createElement('span');
    label.className = 'label';
    label.textContent = c;
    cell.append(pair, label);
    return cell;
  }));

  // The same figures as a table: one row a figure, one column a character.
  const lossOf = (p) => formatNumber(-Math.log(Math.max(p, 1e-30)), 2);
  const figures = [
    ['char', (i) => targets[i]], ['before', (i) => probability(row.before[i])], ['after', (i) => probability(row.after[i])],
    ['lossBefore', (i) => lossOf(row.before[i])], ['lossAfter', (i) => lossOf(row.after[i])],
  ];
  $('step-chars').tBodies[0].replaceChildren(...figures.map(([key, value]) => {
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = t(`lesson.row.${key}`);
    tr.append(th, ...targets.map((_, i) => textCell(value(i))));
    return tr;
  }));

  $('step-groups').tBodies[0].replaceChildren(...report.groups.map((g) => {
    const tr = document.createElement('tr');
    tr.append(textCell(partName(g)), textCell(formatNumber(g.params)), textCell(g.gradNorm.toExponential(2)),
      textCell(g.updateRatio.toExponential(2)), textCell(String(report.learningRate)));
    return tr;
  }));
  labelColumns($('step-groups'));
}

/** The reports of the runs still open (after runs were removed or replaced). */
export function retain(state) {
  const open = new Set(state.runs.map((r) => r.id));
  if (reports.every((r) => open.has(r.runId))) return;
  reports = reports.filter((r) => open.has(r.runId));
  renderRunChoice();
  renderRowChoice();
  render();
}

export function retranslate() {
  renderRowChoice();
  render();
}

/** For tests and the curious: the last Step's reports, as the core gave them. */
export const lastReports = () => reports;
