// The model and training settings: their names, limits and defaults, in one place. The page's
// form takes its limits from here, the worker checks every run it creates against it, and
// shared links and URL presets are read through it, so a value the form would refuse is refused
// everywhere, with a message naming the setting.

/** kind: 'int' | 'number' | 'bool' | 'choice'. Limits are inclusive. */
export const SETTINGS = {
  cell: { kind: 'choice', values: ['gru', 'lstm', 'rnn', 'transformer'], default: 'gru' },
  embedding: { kind: 'int', min: 4, max: 4096, default: 128 },
  hidden: { kind: 'int', min: 4, max: 4096, default: 256 },
  layers: { kind: 'int', min: 1, max: 4, default: 1 },
  // The Transformer's (nanoGPT's n_head and bias); the recurrent cells ignore them.
  heads: { kind: 'int', min: 1, max: 16, default: 4 },
  bias: { kind: 'bool', default: true },
  learningRate: { kind: 'number', min: 0.00001, max: 1, default: 0.002, step: 'any' },
  outputDropout: { kind: 'number', min: 0, max: 0.9, default: 0.3, step: 0.05 },
  batchSize: { kind: 'int', min: 1, max: 512, default: 32 },
  maxSeqLen: { kind: 'int', min: 2, max: 512, default: 96 },
  seed: { kind: 'int', min: 0, max: 4294967295, default: 42 },
  tied: { kind: 'bool', default: false },
  backend: { kind: 'choice', values: ['auto', 'webgpu', 'cpu'], default: 'auto' },
};

/** The sizes the form takes when the cell changes between a recurrent one and the Transformer
 * (nanoGPT's shape at the page's scale; the sweep behind them is in BENCHMARKS.md). */
export const FAMILY_DEFAULTS = {
  recurrent: { embedding: SETTINGS.embedding.default, hidden: SETTINGS.hidden.default, layers: SETTINGS.layers.default },
  transformer: { embedding: 128, heads: 4, layers: 2 },
};
export const familyOf = (cell) => (cell === 'transformer' ? 'transformer' : 'recurrent');

/** The settings that make an experiment (a link carries these; the backend is the visitor's own). */
export const EXPERIMENT_KEYS = Object.keys(SETTINGS).filter((k) => k !== 'backend');

export const DEFAULTS = Object.freeze(Object.fromEntries(Object.entries(SETTINGS).map(([k, s]) => [k, s.default])));

export const isSetting = (key) => Object.hasOwn(SETTINGS, key);

/** Files the page and its worker refuse before reading them whole. */
export const LIMITS = {
  corpusBytes: 256 * 2 ** 20,
  // The largest model that fits a tab's memory budget saves ~0.9 GB with its optimizer state.
  checkpointBytes: 2 ** 30,
};

/**
 * Reads one setting from a URL value or a JSON value. Returns `{ value }`, or `{ problem }`
 * with `{ key, setting, value, range }` for the page to put in the reader's language
 * (`settings.bad` in locales/).
 */
export function parseSetting(name, raw) {
  const spec = SETTINGS[name];
  const problem = { problem: { key: 'settings.bad', setting: name, value: String(raw).slice(0, 40), range: describeRange(spec) } };
  if (spec.kind === 'bool') {
    if (raw === true || raw === false) return { value: raw };
    if (['true', '1', 'on'].includes(String(raw))) return { value: true };
    if (['false', '0', 'off', ''].includes(String(raw))) return { value: false };
    return problem;
  }
  if (spec.kind === 'choice') return spec.values.includes(raw) ? { value: raw } : problem;
  // Numbers: '' and whitespace are not 0, and 1e400 is not a number a setting can take.
  const text = String(raw).trim();
  const x = typeof raw === 'number' ? raw : text === '' ? NaN : Number(text);
  if (!Number.isFinite(x) || x < spec.min || x > spec.max) return problem;
  if (spec.kind === 'int' && !Number.isInteger(x)) return problem;
  return { value: x };
}

/** '4–4096', 'gru, lstm, rnn' or 'true, false': what a setting may be, for messages. */
export function describeRange(spec) {
  if (spec.kind === 'bool') return 'true, false';
  if (spec.kind === 'choice') return spec.values.join(', ');
  return `${spec.min}–${spec.max}`;
}

/**
 * Checks a settings object (from the page, a link or a stored model): every known key must be
 * in range. Returns `{ settings, problems }`: the valid values over the defaults, and one
 * problem per bad value (unknown keys are ignored).
 */
export function checkSettings(input, base = DEFAULTS) {
  const settings = { ...base };
  const problems = [];
  for (const [name, raw] of Object.entries(input ?? {})) {
    if (!isSetting(name) || raw === undefined) continue;
    const { value, problem } = parseSetting(name, raw);
    if (problem) problems.push(problem);
    else settings[name] = value;
  }
  const headsProblem = headsSplit({ ...DEFAULTS, ...settings });
  if (headsProblem) problems.push(headsProblem);
  return { settings, problems };
}

/** A Transformer's heads take equal shares of its embedding (as the core checks): the problem
 * when they cannot, with the most heads up to the ones asked for that can. */
function headsSplit({ cell, embedding, heads }) {
  if (cell !== 'transformer' || embedding % heads === 0) return null;
  let suggest = Math.min(heads, embedding);
  while (embedding % suggest) suggest -= 1;
  return { key: 'settings.headsSplit', setting: 'heads', value: String(heads), embedding, heads, suggest };
}

/** Gives the form's inputs their limits and defaults from the schema (so the HTML keeps none). */
export function applyToForm(form) {
  for (const [name, spec] of Object.entries(SETTINGS)) {
    const input = form.elements.namedItem(name);
    if (!input) continue;
    if (spec.kind === 'bool') { input.defaultChecked = spec.default; input.checked = spec.default; continue; }
    if (spec.kind === 'choice') continue;   // the <select> lists its options, translated
    Object.assign(input, { min: String(spec.min), max: String(spec.max) });
    if (spec.step !== undefined) input.step = String(spec.step);
    input.defaultValue = String(spec.default);
    input.value = String(spec.default);
  }
}
