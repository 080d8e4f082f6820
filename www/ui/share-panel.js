// Sharing: links (the teacher's too), the CSV, JSON and chart exports, and opening a shared
// experiment. Imports dom.js, state.js, runs.js, settings.js, corpus.js, class-link.js, ../i18n.js,
// ../notices.js, ../trainer-client.js, ../share.js and ../settings-schema.js.
import * as i18n from '../i18n.js';
import { t } from '../i18n.js';
import { call } from '../trainer-client.js';
import * as notices from '../notices.js';
import { attempt, download } from '../notices.js';
import * as share from '../share.js';
import { isSetting } from '../settings-schema.js';
import { $ } from './dom.js';
import { applyState, current } from './state.js';
import { chart } from './runs.js';
import { writeSettings } from './settings.js';
import { chooseCorpus } from './corpus.js';
import * as classLink from './class-link.js';

let shareShown = null;   // the share status, to rewrite it in another language
const shareOutput = (text) => { shareShown = text; $('share-output').textContent = typeof text === 'function' ? text() : text; };
async function copyText(text) {
  shareOutput(text);   // shown at once; the clipboard may ask for permission, or never answer
  classLink.show(text);   // and as a QR code, for phones in the room
  try {
    await Promise.race([navigator.clipboard.writeText(text), new Promise((_, no) => setTimeout(no, 2000))]);
    shareOutput(() => t('share.copied', { url: text }));
  } catch { /* the link stays shown to copy by hand */ }
}
$('copy-link').onclick = () => copyText(share.link(current, { lang: i18n.language() }));
const teacherLink = () => {
  const hide = [...document.querySelectorAll('#teacher-groups input:checked')].map((i) => i.value);
  return share.link(current, { hide, lang: i18n.language() });
};
$('copy-teacher-link').onclick = () => copyText(teacherLink());
$('project-teacher-link').onclick = () => attempt(async () => {
  const url = teacherLink();
  shareOutput(url);
  await classLink.show(url);
  await classLink.openLarge();
});
/** The teacher's check boxes, one a group of controls a link can hide. */
export function renderTeacherGroups() {
  $('teacher-groups').replaceChildren(...share.GROUPS.map((g) => {
    const label = document.createElement('label');
    label.className = 'check';
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = g;
    const span = document.createElement('span');
    span.textContent = t(`teacher.group.${g}`);
    label.append(box, span);
    return label;
  }));
}
const stamp = () => new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
$('export-csv').onclick = () => download(share.csv(current.runs), `shige-runs-${stamp()}.csv`, 'text/csv');
$('export-json').onclick = () => download(share.json(current), `shige-runs-${stamp()}.json`, 'application/json');
$('export-png').onclick = () => attempt(async () => download(await chart.png(t('chart.pngTitle')), `shige-chart-${stamp()}.png`));

/** Rewrites the share status in the current language. */
export function retranslate() {
  if (shareShown) shareOutput(shareShown);
}

export async function openExperiment(exp) {
  applyState(await call('openExperiment', { corpus: exp.corpus, runs: exp.runs }));
  afterExperiment(exp);
}
/** The form shows the link's settings, and a link made on a file asks for that file. */
export function afterExperiment(exp) {
  writeSettings(current.runs[0].settings);
  if (exp.corpus.hash && current.corpus.id !== exp.corpus.hash) {
    notices.show(() => t('share.needFile', { name: exp.corpus.name }), { kind: 'info', id: 'need-file', actions: [
      { label: () => t('corpus.choose'), run: chooseCorpus },
    ] });
  }
}

/**
 * A shared link is applied once: afterwards the address no longer carries it (nor the presets),
 * so a reload, a restored tab or Back never starts the class over. `lang` and the teacher's
 * `hide` stay.
 */
export function forgetLink() {
  const url = new URL(location.href);
  for (const k of [...url.searchParams.keys()]) if (k === 'exp' || k === 'starter' || isSetting(k)) url.searchParams.delete(k);
  if (url.href !== location.href) history.replaceState(history.state, '', url);
}
