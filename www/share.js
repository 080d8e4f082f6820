// Sharing a lab: the whole experiment (corpus, runs, settings, seeds) in a URL, a teacher mode
// that hides chosen controls, and exports for lab reports (CSV, JSON).
import { EXPERIMENT_KEYS, checkSettings } from './settings-schema.js';

/** Controls a teacher can hide (`?hide=settings,load`), by their `data-group`. */
export const GROUPS = ['corpus', 'settings', 'runs-edit', 'new-model', 'load', 'save', 'lab', 'write-options', 'library', 'share'];

const toBase64Url = (text) => btoa(String.fromCharCode(...new TextEncoder().encode(text)))
  .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
const fromBase64Url = (b64) => new TextDecoder().decode(
  Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0)));

/**
 * The experiment as plain data: `{ v: 1, corpus: { builtin: true } | { name, hash }, runs: [{ name, ...settings }] }`.
 */
export function describe(state) {
  const corpus = state.corpus.id === 'builtin' ? { builtin: true } : { name: state.corpus.name, hash: state.corpus.id };
  const runs = state.runs.map((r) => {
    const settings = Object.fromEntries(EXPERIMENT_KEYS.map((k) => [k, r.settings[k]]));
    return { name: r.name, ...settings };
  });
  return { v: 1, corpus, runs };
}

/** A link to this page that recreates the experiment (and hides `hide` controls). */
export function link(state, { hide = [], lang } = {}) {
  const url = new URL(location.href);
  url.search = '';
  url.hash = '';
  url.searchParams.set('exp', toBase64Url(JSON.stringify(describe(state))));
  if (hide.length) url.searchParams.set('hide', hide.join(','));
  if (lang) url.searchParams.set('lang', lang);
  return url.toString();
}

/** An error the page says in the reader's language: `key` names its string in locales/. */
const coded = (key, vars = {}) => Object.assign(new Error(key), { key, vars });

/**
 * The experiment in this page's URL, or null. Throws a coded error (`share.damaged`,
 * `share.unsupported`, or `settings.bad` naming the first bad setting) if it cannot be opened
 * as it is: every value is checked against the settings form's own limits.
 */
export function fromUrl(params = new URLSearchParams(location.search)) {
  const raw = params.get('exp');
  if (!raw) return null;
  let exp;
  try { exp = JSON.parse(fromBase64Url(raw)); } catch { throw coded('share.damaged'); }
  if (exp?.v !== 1 || !Array.isArray(exp.runs) || !exp.runs.length || exp.runs.length > 8) throw coded('share.unsupported');
  const runs = exp.runs.map((r) => {
    if (typeof r !== 'object' || r === null) throw coded('share.damaged');
    const given = Object.fromEntries(EXPERIMENT_KEYS.filter((k) => k in r).map((k) => [k, r[k]]));
    const { settings, problems } = checkSettings(given, {});
    if (problems.length) throw coded(problems[0].key, problems[0]);
    return { name: String(r.name ?? '').slice(0, 60), settings };
  });
  const c = exp.corpus ?? { builtin: true };
  const corpus = c.builtin === true ? { builtin: true }
    : typeof c.hash === 'string' && /^[0-9a-f]{1,64}$/.test(c.hash) ? { name: String(c.name ?? '').slice(0, 120), hash: c.hash }
      : null;
  if (!corpus) throw coded('share.damaged');
  return { corpus, runs };
}

/** Hides the groups the URL names (teacher mode); returns them. */
export function applyTeacherMode(params = new URLSearchParams(location.search)) {
  const hide = (params.get('hide') ?? '').split(',').map((s) => s.trim()).filter((g) => GROUPS.includes(g));
  for (const g of hide) {
    for (const el of document.querySelectorAll(`[data-group="${g}"]`)) el.hidden = true;
  }
  document.body.classList.toggle('teacher-mode', hide.length > 0);
  return hide;
}

/** One CSV field. Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first: run
 *  names come from shared links) gets a leading ' so it stays text; numbers stay numbers. */
function csvField(v) {
  if (v == null) return '';
  let text = String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One row per run per step: step, run, cell, loss, held-out perplexity, gradient norm. */
export function csv(runs) {
  const rows = [['step', 'run', 'cell', 'loss', 'heldout_perplexity', 'grad_norm']];
  for (const r of runs) {
    const evals = new Map(r.history.evals);
    const norms = new Map(r.history.gradNorms ?? []);
    for (const [step, loss] of r.history.losses) {
      rows.push([step, r.name, r.settings.cell, loss, evals.get(step), norms.get(step)]);
    }
  }
  return `${rows.map((row) => row.map(csvField).join(',')).join('\n')}\n`;
}

/** Everything about the runs: settings, curves, the last gradient-flow measurement. */
export function json(state) {
  return JSON.stringify({
    experiment: describe(state),
    exportedAt: new Date().toISOString(),
    runs: state.runs.map((r) => ({
      name: r.name, settings: r.settings, parameters: r.info.params, step: r.info.step,
      losses: r.history.losses, heldOutPerplexity: r.history.evals, gradNorms: r.history.gradNorms ?? [],
      gradientFlow: r.history.flow,
    })),
  }, null, 1);
}
