// Chinese and English. Every string of the page lives in one table per language
// (locales/*.js); i18next looks them up. The page starts in 简体中文 and remembers the choice.
import i18next from './vendor/i18next.js';
import zh from './locales/zh-Hans.js';
import en from './locales/en.js';

export const LANGUAGES = { 'zh-Hans': zh, en };
const KEY = 'shige.lang';
const listeners = new Set();

function stored() {
  try { return localStorage.getItem(KEY); } catch { return null; }
}

export async function setup() {
  const wanted = stored();
  await i18next.init({
    lng: wanted in LANGUAGES ? wanted : 'zh-Hans',
    fallbackLng: 'en',
    resources: Object.fromEntries(Object.entries(LANGUAGES).map(([lng, table]) => [lng, { translation: table }])),
    interpolation: { escapeValue: false },   // text goes into textContent, never innerHTML
    returnNull: false,
  });
  apply();
}

export const t = (key, vars) => i18next.t(key, vars);
export const language = () => i18next.language;
/** BCP 47 tag of the other language, for the switch. */
export const other = () => (language() === 'en' ? 'zh-Hans' : 'en');

export async function switchTo(lng) {
  await i18next.changeLanguage(lng);
  try { localStorage.setItem(KEY, lng); } catch { /* private mode: not remembered */ }
  apply();
  for (const fn of listeners) fn(lng);
}

/** Calls `fn` after every language switch (for text the page builds itself). */
export const onChange = (fn) => listeners.add(fn);

/**
 * Writes the table's strings into the page: `data-i18n="key"` sets the text,
 * `data-i18n-attr="attr:key;attr2:key2"` sets attributes. `lang` follows the language, except
 * where an element says its own (poems and characters are always Chinese).
 */
export function apply(root = document) {
  const lng = language();
  document.documentElement.lang = lng;
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of el.dataset.i18nAttr.split(';')) {
      const [attr, key] = pair.split(':');
      el.setAttribute(attr, t(key));
    }
  }
  const meta = document.querySelector('meta[name="description"]');
  if (meta) meta.content = t('meta.description');
  document.title = t('meta.title');
  // Shown now in its language (lang-early.js hid an English visit until this point).
  document.documentElement.classList.remove('translating');
}

/** Formats a number the way the current language writes it: both write 12,345.6. (Not Intl:
 *  building the first Intl.NumberFormat costs ~20 ms of start-up, the longest task it had.) */
export function formatNumber(n, digits = 0) {
  const x = Number(n);
  if (!Number.isFinite(x)) return String(x);
  const [whole, fraction] = Math.abs(x).toFixed(digits).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+$)/g, ',');
  return `${x < 0 && Number(whole + (fraction ?? '')) !== 0 ? '-' : ''}${grouped}${fraction ? `.${fraction}` : ''}`;
}
