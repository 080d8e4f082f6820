// The corpus: its figures, choosing or dropping a file, and going back to the built-in poems.
// Imports dom.js, state.js, ../i18n.js, ../notices.js, ../trainer-client.js and
// ../settings-schema.js.
import { t, formatNumber } from '../i18n.js';
import { call } from '../trainer-client.js';
import * as notices from '../notices.js';
import { describeError } from '../notices.js';
import { LIMITS } from '../settings-schema.js';
import { $ } from './dom.js';
import { applyState, current } from './state.js';

export function showCorpus(c) {
  $('corpus-name').textContent = c.id === 'builtin' ? t('corpus.builtinName') : c.name;
  const info = c.info;
  const row = (label, value, id = '') => {
    const div = document.createElement('div');
    const dt = document.createElement('dt');
    dt.textContent = label;
    const dd = document.createElement('dd');
    dd.textContent = value;
    if (id) dd.id = id;
    div.append(dt, dd);
    return div;
  };
  const rows = [
    row(t('corpus.kept'), formatNumber(info.poemsKept), 'poems-kept'),
    row(t('corpus.split'), `${formatNumber(info.poemsTrain)} / ${formatNumber(info.poemsValidation)}`),
    ...info.dropped.map(([why, n]) => row(t('corpus.dropped', { why: t(`dropReason.${why}`, { defaultValue: why }) }), formatNumber(n))),
    row(t('corpus.vocabulary'), formatNumber(info.vocabSize), 'vocab-size'),
    row(t('corpus.charsPerEpoch'), formatNumber(info.charsPerEpoch)),
  ];
  $('corpus-stats').replaceChildren(...rows);
}

function setBusy() {
  for (const id of ['start', 'pause', 'add-run', 'reset', 'save', 'generate']) $(id).disabled = true;
}
async function useCorpus(args, name, transfer = []) {
  $('corpus-name').textContent = t('corpus.reading', { name });
  setBusy();
  try {
    applyState(await call('setCorpus', args, transfer));
    $('poems').replaceChildren();
    $('arrival').replaceChildren();
    notices.clear('need-file');
  } catch (e) {
    notices.show(() => t('corpus.failed', { name, message: describeError(e) }));
    if (current) applyState(current);
  }
}
async function useFile(file) {
  if (file.size > LIMITS.corpusBytes) return notices.show(() => t('corpus.tooLarge', { name: file.name, mib: Math.round(file.size / 2 ** 20) }));
  // The buffer moves to the worker: the page keeps no copy.
  const bytes = new Uint8Array(await file.arrayBuffer());
  return useCorpus({ bytes, name: file.name }, file.name, [bytes.buffer]);
}
export const chooseCorpus = () => $('corpus-file').click();
$('corpus-choose').onclick = chooseCorpus;
$('corpus-file').onchange = (e) => { const f = e.target.files[0]; e.target.value = ''; if (f) useFile(f); };
$('corpus-default').onclick = () => useCorpus({ builtin: true }, t('corpus.builtinName'));
const zone = $('drop-zone');
zone.onkeydown = (e) => { if ((e.key === 'Enter' || e.key === ' ') && e.target === zone) { e.preventDefault(); chooseCorpus(); } };
// The whole poems section takes a dropped file; the dashed zone shows it.
const dropArea = $('corpus-section');
dropArea.ondragover = (e) => { e.preventDefault(); zone.classList.add('over'); };
dropArea.ondragleave = (e) => { if (!dropArea.contains(e.relatedTarget)) zone.classList.remove('over'); };
dropArea.ondrop = (e) => { e.preventDefault(); zone.classList.remove('over'); const f = e.dataTransfer.files[0]; if (f) useFile(f); };
