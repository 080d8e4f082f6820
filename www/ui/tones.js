// 平仄 marks on a written poem, as a reader of 唐诗 puts them: ○ level, ● oblique, ◐ a character
// read in both; positions that break the poem's pattern in red, rescued ones (拗救) in amber, rhyme
// positions underlined. The marks come from the core's 格律 check (crates/core/src/text/marks.rs,
// through the worker); this module only draws and words them. Imports ../i18n.js.
import { t } from '../i18n.js';

export const GLYPH = { ping: '○', ze: '●', either: '◐', unknown: '?' };

/** Puts each character's marks on its button (`spans`, one per character of the poem's text). */
export function markTones(spans, marks) {
  for (const m of marks?.chars ?? []) {
    const span = spans[m.at];
    if (!span || span.textContent !== m.ch) continue;
    span.dataset.tone = m.tone;
    span.dataset.mark = GLYPH[m.tone];
    if (m.status) span.dataset.status = m.status; else delete span.dataset.status;
    if (m.rhyme) span.dataset.rhyme = m.offRhyme ? 'off' : 'on'; else delete span.dataset.rhyme;
    span.title = charDetail(m);
  }
}

/** Rewrites the characters' hover texts in the current language. */
export function retitle(spans, marks) {
  for (const m of marks?.chars ?? []) if (spans[m.at]?.textContent === m.ch) spans[m.at].title = charDetail(m);
}

/** One character, in words: `看: either (平 or 仄: several readings) · 上平声十四寒、去声十五翰 · …`. */
export function charDetail(m) {
  const parts = [t(`tones.tone.${m.tone}`)];
  if (m.guessed) parts.push(t('tones.guessed'));
  if (m.groups.length) parts.push(m.groups.join('、'));
  if (m.status) parts.push(t(`tones.status.${m.status}`, { tone: t(`tones.mark.${m.expected}`) }));
  if (m.rhyme) parts.push(t(m.offRhyme ? 'tones.offRhymePosition' : 'tones.rhymePosition'));
  return `${m.ch}: ${parts.join(' · ')}`;
}

/** The poem's 格律 in one paragraph: form, pattern, rhyme group, and what passes or breaks. */
export function summary(marks) {
  if (!marks) return '';
  if (!marks.form) return t('tones.notRegulated');
  const parts = [marks.form, marks.pattern,
    marks.rhymeGroup ? t('tones.rhyme', { group: marks.rhymeGroup }) : t('tones.noRhyme')];
  const ao = [...new Set(marks.ao.map((a) => a.line + 1))];
  if (ao.length) parts.push(t('tones.ao', { lines: ao.join(', ') }));
  const verdict = marks.passes ? t('tones.passes')
    : t('tones.faults', { count: marks.faults.length, list: marks.faults.map((f) => fault(f, marks)).join(t('tones.listSeparator')) });
  return [...parts, verdict].join(' · ');
}

/** One fault in words; a broken position names its character and the tone it should have. */
function fault(f, marks) {
  const at = marks.chars.find((c) => c.line === f.line && c.pos === f.pos);
  return t(`tones.fault.${f.kind}`, { line: f.line + 1, next: f.line + 2, pos: (f.pos ?? 0) + 1,
    char: at?.ch ?? '', tone: at?.expected ? t(`tones.mark.${at.expected}`) : '' });
}

/** The legend under a marked poem. */
export const legend = () => t('tones.legend');
