// The settings form (read, write, checked against the tab's memory, URL presets) and the buttons
// that make runs from it (add, match size, new set, undo). Imports dom.js, state.js,
// run-names.js, ../i18n.js, ../notices.js, ../trainer-client.js and ../settings-schema.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import * as notices from '../notices.js';
import { attempt, describeError, translate } from '../notices.js';
import { DEFAULTS, FAMILY_DEFAULTS, checkSettings as checkAgainstSchema, familyOf, isSetting, parseSetting } from '../settings-schema.js';
import { $ } from './dom.js';
import { applyState, current } from './state.js';
import { autoName } from './run-names.js';

export function readSettings() {
  const f = new FormData($('settings'));
  const num = (k) => Number(f.get(k));
  return {
    cell: f.get('cell'), embedding: num('embedding'), hidden: num('hidden'), heads: num('heads'), layers: num('layers'),
    tied: f.get('tied') === 'on', bias: f.get('bias') === 'on',
    learningRate: num('learningRate'), outputDropout: num('outputDropout'), batchSize: num('batchSize'), maxSeqLen: num('maxSeqLen'), seed: num('seed'),
    backend: f.get('backend'),
  };
}
export function writeSettings(s) {
  for (const [k, v] of Object.entries(s ?? {})) {
    const input = $('settings').elements.namedItem(k);
    if (!input) continue;
    if (input.type === 'checkbox') input.checked = !!v; else input.value = v;
  }
  showCellSettings();
}
/** Shows the settings the chosen cell has (hidden and tied for a recurrent cell, heads and bias
 * for the Transformer); the others keep their values. */
function showCellSettings() {
  const cell = $('settings').elements.namedItem('cell').value;
  family = familyOf(cell);
  for (const label of $('settings').querySelectorAll('[data-cells]')) label.hidden = !label.dataset.cells.split(' ').includes(cell);
}
// Between a recurrent cell and the Transformer the sizes mean other things: the form takes that
// family's defaults (between two recurrent cells it keeps them, for a fair race).
let family = familyOf(DEFAULTS.cell);
$('settings').elements.namedItem('cell').addEventListener('change', (e) => {
  const next = familyOf(e.target.value);
  if (next !== family) writeSettings(FAMILY_DEFAULTS[next]);
  showCellSettings();   // (also sets `family`)
  checkSettings();
});
/** Shows the form's parameter count and whether it fits; false (buttons off) if it does not. */
export async function checkSettings() {
  if (!current) return true;
  const settings = readSettings();
  // What no single field's limits say (a Transformer's heads must split its embedding).
  const { problems } = checkAgainstSchema(settings);
  if (problems.length) {
    $('settings-warning').textContent = translate(problems[0].key, problems[0]);
    for (const id of ['add-run', 'reset']) $(id).disabled = true;
    return false;
  }
  try {
    const [params, { bytes, budget }] = await Promise.all([call('countParams', { settings }), call('memoryNeed', { settings })]);
    $('param-count').textContent = formatNumber(params);
    const tooBig = bytes > budget;
    $('settings-warning').textContent = tooBig ? t('settings.tooBig', { gib: formatNumber(bytes / 2 ** 30, 1) }) : '';
    for (const id of ['add-run', 'reset']) $(id).disabled = tooBig;
    return !tooBig;
  } catch (e) {
    $('settings-warning').textContent = describeError(e);
    return false;
  }
}
$('settings').addEventListener('input', () => checkSettings());

/**
 * URL parameters preset the form (e.g. ?hidden=32&batchSize=8 for a quick demo), each checked
 * against the form's own limits: a bad one is named in a notice and the form keeps its value.
 * Returns the presets applied (`{ name: value }`), or null if none was.
 */
export function applyPresets(params) {
  let applied = null;
  // The cell first: a link's ?cell=transformer brings the Transformer's sizes, as choosing it in
  // the form does, and the link's own sizes then go over them.
  const cellFirst = [...params].sort(([a], [b]) => (b === 'cell') - (a === 'cell'));
  for (const [name, raw] of cellFirst) {
    if (!isSetting(name)) continue;
    const { value, problem } = parseSetting(name, raw);
    if (problem) {
      notices.show(() => t('settings.badPreset', { problem: translate(problem.key, problem) }), { kind: 'warning', id: `preset-${name}` });
      continue;
    }
    if (name === 'cell' && familyOf(value) !== family) writeSettings(FAMILY_DEFAULTS[familyOf(value)]);
    writeSettings({ [name]: value });
    applied = { ...applied, [name]: value };
  }
  return applied;
}

/** The presets whose values differ from `settings` (a restored run's), as "Hidden 32; Learning
 * rate 0.01" in the reader's language, or '' where they all agree. */
export function presetsDiffering(presets, settings) {
  const differ = Object.entries(presets ?? {}).filter(([name, value]) => settings?.[name] !== value);
  const shown = (name, value) => (name === 'cell' ? t(`cell.${value}`) : Number.isInteger(value) ? formatNumber(value) : String(value));
  return differ.map(([name, value]) => `${t(`settings.${name}`)} ${shown(name, value)}`).join(t('notice.listSeparator'));
}

$('add-run').onclick = () => attempt(async () => {
  if (!(await checkSettings())) return;
  const settings = readSettings();
  // Named by what differs from the first run, in the page's language (ui/run-names.js).
  const name = autoName(settings, current.runs[0]?.settings, current.runs.map((r) => r.name));
  applyState(await call('addRun', { settings, name }));
});
$('budget').onclick = () => attempt(async () => {
  const first = current.runs[0];
  const settings = readSettings();
  // The width that sets the size: the hidden state's, or a Transformer's embedding (in whole heads).
  const width = await call('hiddenForBudget', { settings, params: first.info.params });
  const resized = settings.cell === 'transformer' ? { embedding: width } : { hidden: width };
  writeSettings(resized);
  const params = await call('countParams', { settings: { ...settings, ...resized } });
  await checkSettings();
  const words = { ...resized, params: formatNumber(params), name: first.name, target: formatNumber(first.info.params) };
  $('settings-warning').textContent = t(settings.cell === 'transformer' ? 'runs.budgetResultEmbedding' : 'runs.budgetResult', words);
});
$('reset').onclick = () => attempt(async () => {
  if (!(await checkSettings())) return;
  if (!confirm(t('runs.confirmNew'))) return;
  applyState(await call('reset', { settings: readSettings() }));
});
$('undo').onclick = () => attempt(async () => {
  if (!confirm(t('runs.confirmUndo'))) return;
  applyState(await call('undo'));
});
