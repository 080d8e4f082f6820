// Small DOM helpers shared by the page's modules: an element by id, the cells, name inputs and
// action buttons of the runs and library tables. Imports ../notices.js (a button's failure
// becomes a notice).
import { attempt } from '../notices.js';

export const $ = (id) => document.getElementById(id);

/** Light yellow, teal, dark blue (ColorBrewer's YlGnBu ends and middle): every step of it
 * lighter than the next, so it reads in grey too. The lab's heatmaps' one scale. */
const YL_GN_BU = [[255, 247, 188], [65, 182, 196], [8, 48, 107]];
/** The colour at `x` (0 light … 1 dark) on that scale. */
export function ylGnBu(x) {
  const at = Math.min(1, Math.max(0, x)) * (YL_GN_BU.length - 1);
  const i = Math.min(YL_GN_BU.length - 2, Math.floor(at));
  const [a, b] = [YL_GN_BU[i], YL_GN_BU[i + 1]];
  const mix = (k) => Math.round(a[k] + (b[k] - a[k]) * (at - i));
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

/** A table cell showing `text`. */
export function textCell(text) {
  const td = document.createElement('td');
  td.textContent = text;
  return td;
}

/** The editable name of a run or model; `rename(value)` runs when it changes. */
export function nameInput(value, label, rename, { action = null } = {}) {
  const input = document.createElement('input');
  input.className = 'run-name';
  input.value = value;
  input.setAttribute('aria-label', label);
  if (action) input.dataset.action = action;
  input.onchange = () => attempt(() => rename(input.value));
  return input;
}

/** A button in a row's actions cell; `fn`'s failure becomes a notice. */
export function actionButton(actions, label, action, fn, { group = null, disabled = false } = {}) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.dataset.action = action;
  if (group) b.dataset.group = group;
  b.disabled = disabled;
  b.onclick = () => attempt(fn);
  actions.append(b);
  return b;
}

/**
 * Gives each body cell of `table` its column's header as `data-label`, so a narrow screen can
 * show the rows as cards (style.css), each figure under its own name, with no sideways scrolling.
 */
export function labelColumns(table) {
  const heads = [...table.tHead.rows[0].cells].map((th) => th.textContent);
  for (const row of table.tBodies[0].rows) {
    [...row.cells].forEach((td, i) => { if (heads[i]) td.dataset.label = heads[i]; });
  }
}
