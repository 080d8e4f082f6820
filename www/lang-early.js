// Runs before the first paint (a plain script in <head>, not a module). index.html is written in
// Chinese; a visitor reading English (?lang=en, or the choice remembered) would see it painted in
// Chinese and then rewrapped in English, moving everything below. Until i18n.js has applied the
// language the page stays invisible instead (CSS: html.translating), so nothing moves; if the
// app never gets that far, it shows anyway after 3 s.
(() => {
  let lang = new URLSearchParams(location.search).get('lang');
  if (!lang) {
    try { lang = localStorage.getItem('shige.lang'); } catch { lang = null; }
  }
  if (lang !== 'en') return;
  const root = document.documentElement;
  root.classList.add('translating');
  setTimeout(() => root.classList.remove('translating'), 3000);
})();
