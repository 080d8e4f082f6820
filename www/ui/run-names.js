// Runs that name themselves: a new run's default name says what differs from the first run
// ("LSTM · lr 0.003 · hidden 512"), in the page's language, so the chart's legend and the runs
// table tell a race's runs apart without renaming. The page makes the name (the worker has no
// words); it is then an ordinary name: the user can rename it, it is saved with the model and
// carried by a shared link as it is. A language switch does not rename it, as it renames no
// other run: a class opening the teacher's link in English sees the teacher's names.
// Imports ../i18n.js and ../settings-schema.js.
import { t } from '../i18n.js';
import { DEFAULTS } from '../settings-schema.js';

// The settings a name mentions, in this order: what a lesson varies most comes first, so a
// name cut at the length limit keeps it. The cell always leads (the old default names did).
// The backend is the visitor's machine, not the model: never part of a name.
const ORDER = ['learningRate', 'hidden', 'embedding', 'heads', 'layers', 'tied', 'bias', 'outputDropout', 'batchSize', 'maxSeqLen', 'seed'];
/** Settings a cell has no use for (a Transformer has no hidden state; the recurrent cells no
 * heads): never named, whatever their values. */
const UNUSED = { transformer: ['hidden', 'tied'], gru: ['heads', 'bias'], lstm: ['heads', 'bias'], rnn: ['heads', 'bias'] };
/** The length the worker keeps of a name (worker/ops.js `cleanName`, share.js). */
const MAX = 60;

/** Equal settings; a rate read back from a checkpoint may differ from the form's in its last bits. */
const same = (a, b) => (typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a)) : a === b);

/** One changed setting in words: `lr 0.003`, `隐藏 512`, `2 层`, `tied`. */
function part(key, value) {
  if (key === 'tied') return t(value ? 'runName.tied' : 'runName.untied');
  if (key === 'bias') return t(value ? 'runName.bias' : 'runName.noBias');
  return t(`runName.${key}`, { value: String(Number(value.toPrecision(6))) });
}

/**
 * The default name of a run with `settings` beside a first run with `first`: its cell, then each
 * setting that differs, joined by ` · `; ` (2)`, ` (3)`… where a run already has that name
 * (`taken`). Undefined when no more than the cell differs: the worker's own `LSTM 1`, `GRU 2`
 * says that already, in no language.
 */
export function autoName(settings, first, taken = []) {
  if (!first) return undefined;
  const unused = UNUSED[settings.cell] ?? [];
  const parts = ORDER.filter((k) => settings[k] !== undefined && !unused.includes(k) && !same(settings[k], first[k] ?? DEFAULTS[k])).map((k) => part(k, settings[k]));
  if (!parts.length) return undefined;
  let name = settings.cell.toUpperCase();
  for (const p of parts) {
    const next = `${name}${t('runName.separator')}${p}`;
    if (next.length > MAX - 5) { name += '…'; break; }   // room left for ' (2)'
    name = next;
  }
  const names = new Set(taken);
  if (!names.has(name)) return name;
  for (let i = 2; ; i++) if (!names.has(`${name} (${i})`)) return `${name} (${i})`;
}
