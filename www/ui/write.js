// Writing: the form (start character, form, rhyme or meter, acrostic, sampling), the poems
// written with their 平仄 marks, the poem written on arrival, and the run chosen to write with.
// Imports dom.js, state.js, tones.js, card.js, ../i18n.js, ../trainer-client.js, ../notices.js
// and ../internals.js.
import * as i18n from '../i18n.js';
import { t } from '../i18n.js';
import { call } from '../trainer-client.js';
import { attempt, describeError } from '../notices.js';
import { reveal } from '../internals.js';
import { $ } from './dom.js';
import { current, selectedRun } from './state.js';
import * as tones from './tones.js';
import * as card from './card.js';

// With the penalty input's 1.2, the sampling that `shige eval --sampling-sweep` chose (BENCHMARKS.md).
const TOP_P = 0.9;
// Rhyme and meter apply to forms with lines only; the meter brings its own (平水韵) rhyme.
const syncRhyme = () => {
  const free = $('form').value === 'free';
  $('meter').disabled = free;
  $('rhyme').disabled = free || $('meter').checked;
};
$('form').addEventListener('change', syncRhyme);
$('meter').addEventListener('change', syncRhyme);
syncRhyme();
$('temperature').oninput = () => { $('temperature-value').value = $('temperature').value; };
/** The sampling options of the writing form (the quality measurement uses them too). */
export function samplingOptions() {
  return { temperature: Number($('temperature').value), topK: Number($('top-k').value), topP: TOP_P,
    seed: Number($('seed').value), repetitionPenalty: Math.max(1, Number($('penalty').value) || 1) };
}

/** The runs to write with, keeping the one chosen. */
export function renderWriteRuns() {
  const select = $('write-run');
  const keep = select.value;
  select.replaceChildren(...current.runs.map((r) => {
    const o = document.createElement('option');
    o.value = r.id;
    o.textContent = r.name;
    return o;
  }));
  if (current.runs.some((r) => r.id === keep)) select.value = keep;
}

async function write(start, { arrival = false } = {}) {
  const run = selectedRun();
  // A poem on arrival is a rhymed 五绝: it fits the room kept for it, so nothing moves.
  const form = arrival ? 'wujue' : $('form').value;
  const acrostic = arrival ? '' : $('acrostic').value.trim();
  const options = {
    ...samplingOptions(), start: acrostic ? '' : start, form, acrostic, maxChars: 80,
    meter: !arrival && form !== 'free' && $('meter').checked,
  };
  options.rhyme = arrival || (form !== 'free' && !options.meter && $('rhyme').checked);
  // Its own seed: the form's seed (and the poem a click on 月 writes first) stays the visitor's.
  if (arrival) options.seed = Math.floor(Math.random() * 2 ** 31);
  if (!acrostic && !start) return showWriteError(() => t('write.needStart'));
  const t0 = performance.now();
  try {
    const written = await call('generate', { runId: run.id, options });
    showWriteError(null);
    if (!arrival) $('seed').value = String(options.seed + 1);   // next click, next poem
    await addPoem(written, { ...options, ms: performance.now() - t0, run, arrival });
  } catch (e) { showWriteError(() => describeError(e)); }
}
/** A writing error goes under the form (not in the banners at the top, out of view). */
let writeError = null;
function showWriteError(text) {
  writeError = text;
  $('write-error').hidden = !text;
  $('write-error').textContent = text ? text() : '';
  if (text) $('start-char').setAttribute('aria-invalid', 'true'); else $('start-char').removeAttribute('aria-invalid');
}
const poemMeta = new WeakMap();   // poem <li> -> rewrites its meta line in the current language
/** A written poem's character buttons, one per character of its text. */
const charsOf = (text) => [...text.querySelectorAll('.poem-char')];
async function addPoem(written, o) {
  const li = document.createElement('li');
  li.dataset.poem = written.text;
  const text = document.createElement('div');
  text.className = 'poem-text';
  text.lang = 'zh-Hans';
  const meta = document.createElement('div');
  meta.className = 'poem-meta';
  const head = o.acrostic ? `藏头 ${o.acrostic}` : o.start;
  const step = o.run.info.step;
  const copy = document.createElement('button');
  copy.type = 'button';
  let copied = false;
  const label = document.createElement('span');
  label.lang = i18n.language();
  // Rewritten on a language switch, like every other string on the page.
  const writeMeta = () => {
    label.lang = i18n.language();
    label.textContent = t('write.meta', { head, form: t(`form.${o.form}`), temperature: o.temperature, seed: o.seed,
      step, run: o.run.name, ms: Math.round(o.ms) }) + (o.rhyme ? ` · ${t('write.rhymed')}` : '') + (o.meter ? ` · ${t('write.metered')}` : '')
      + (o.repetitionPenalty > 1 ? ` · ${t('write.penaltyMeta', { p: o.repetitionPenalty })}` : '');
    copy.textContent = t(copied ? 'write.copied' : 'write.copy');
    picture.textContent = t('card.make');
    showTones.textContent = t('tones.show');
    toneNote.textContent = '';
    const summary = document.createElement('span');
    summary.textContent = tones.summary(written.marks);
    const legend = document.createElement('span');
    legend.className = 'tones-legend';
    legend.textContent = tones.legend();
    toneNote.append(summary, ' ', legend);
    tones.retitle(charsOf(text), written.marks);
  };
  // The 平仄 marks: shown at once for a poem written by the meter, a click away for the others.
  const showTones = document.createElement('button');
  showTones.type = 'button';
  showTones.className = 'tones-toggle';
  const toneNote = document.createElement('p');
  toneNote.className = 'poem-tones';
  const setTones = (on) => {
    li.classList.toggle('show-tones', on);
    showTones.setAttribute('aria-pressed', String(on));
    toneNote.hidden = !on;
  };
  showTones.onclick = () => setTones(!li.classList.contains('show-tones'));
  setTones(Boolean(o.meter));
  copy.onclick = () => navigator.clipboard?.writeText(written.text).then(() => { copied = true; copy.textContent = t('write.copied'); });
  // The poem as a picture (ui/card.js), with its 平仄 marks if they are shown here.
  const picture = document.createElement('button');
  picture.type = 'button';
  picture.dataset.action = 'card';
  picture.onclick = () => attempt(() => card.open({ text: written.text, marks: written.marks, start: o.start, acrostic: o.acrostic,
    model: o.run.name, step, tones: li.classList.contains('show-tones') }));
  writeMeta();
  poemMeta.set(li, writeMeta);
  meta.append(label, ' ', copy, ' ', showTones, ' ', picture);
  li.append(text, meta, toneNote);
  $('poem-placeholder')?.remove();
  if (o.arrival) $('arrival').append(li); else $('poems').prepend(li);
  await reveal(text, written, { cell: o.run.info.cell, animate: !o.arrival, show: !o.arrival });
  tones.markTones(charsOf(text), written.marks);
  // `done` marks the poems the visitor asked for; the one written on arrival is `arrival`.
  if (o.arrival) li.dataset.arrival = 'true'; else li.dataset.done = 'true';
}
$('chips').onclick = (e) => { if (e.target.classList.contains('chip')) write(e.target.textContent); };
$('generate-form').onsubmit = (e) => { e.preventDefault(); write($('start-char').value.trim()); };

/** Rewrites the error and the poems' meta lines in the current language. */
export function retranslate() {
  if (writeError) showWriteError(writeError);
  for (const li of [...$('poems').children, ...$('arrival').children]) poemMeta.get(li)?.();
}

/** A visitor sees a poem without asking: the page's model writes one as it opens (when it has
 *  been trained at all), from one of the start characters. */
export function writeOnArrival() {
  const run = selectedRun();
  const placeholder = $('poem-placeholder');
  if (!placeholder) return;
  if (!run || run.info.step === 0) {
    placeholder.dataset.i18n = 'write.pickChar';
    placeholder.textContent = t('write.pickChar');
    return;
  }
  const chips = [...document.querySelectorAll('.chip')].map((c) => c.textContent);
  write(chips[Math.floor(Math.random() * chips.length)], { arrival: true });
}
