// Small DOM helpers shared by the page's modules.

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
