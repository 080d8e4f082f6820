// What the worker says to the page: replies and events over postMessage, coded failures the page
// translates, warnings. Imports nothing.

export const post = (msg, transfer) => self.postMessage(msg, transfer ?? []);
export const message = (e) => (e instanceof Error ? e.message : String(e));
export const uid = (prefix) => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;

/** A failure the page can put in the reader's language: `key` names its string in locales/. */
export class Coded extends Error {
  constructor(key, vars = {}) {
    super(key);
    this.key = key;
    this.vars = vars;
  }
}
/** The translation key of an error from the wasm module (see `Coded` in crates/wasm), if it has one. */
export const coded = (e) => (e?.key ? { key: e.key, vars: { ...e.vars } } : null);
/** A warning for the page; `cause`, an error whose own key (if any) is translated inside it. */
export const warn = (key, vars = {}, cause = null) => post({ event: 'warning', key, vars, inner: coded(cause) });
