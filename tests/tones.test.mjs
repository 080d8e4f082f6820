// 格律 on the page (issue 23): the writing form's meter option writes 七绝 that pass the 格律
// check, and every written poem can show its 平仄 marks (○ 平, ● 仄, ◐ either), breaks in red,
// rhyme positions and group, on hover or tap, in Chinese and in English.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, launch, outputDir } from './harness.mjs';

let server;
before(async () => { server = await serve(); });
after(() => server.close());

const newestPoem = '#poems li[data-done="true"]';

/** Writes a poem from `start` and resolves with what the newest poem shows. */
async function write(page, start) {
  const n = await page.$$eval(newestPoem, (l) => l.length);
  await page.fill('#start-char', start);
  await page.click('#generate');
  await page.waitForFunction((n) => document.querySelectorAll('#poems li[data-done="true"]').length > n, n, { timeout: 120_000 });
  return shown(page);
}

const shown = (page) => page.$eval('#poems li', (li) => ({
  poem: li.dataset.poem,
  marked: li.classList.contains('show-tones'),
  pressed: li.querySelector('.tones-toggle').getAttribute('aria-pressed'),
  note: li.querySelector('.poem-tones').hidden ? null : li.querySelector('.poem-tones').textContent,
  chars: [...li.querySelectorAll('.poem-char')].filter((c) => /\p{Script=Han}/u.test(c.textContent)).map((c) => ({
    ch: c.textContent, tone: c.dataset.tone, mark: c.dataset.mark, status: c.dataset.status ?? null, rhyme: c.dataset.rhyme ?? null,
    title: c.title, color: getComputedStyle(c).color, glyph: getComputedStyle(c, '::after').content,
  })),
}));

test('the meter writes 七绝 that pass the 格律 check, marked 平/仄/either with breaks, rhyme group and details, in zh and en', { timeout: 900_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(server.url);   // a first visit: Chinese, the starter model
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.waitForSelector('#arrival li[data-arrival="true"]', { timeout: 120_000 });
    const arrival = await page.$eval('#arrival li', (li) => ({ marked: li.classList.contains('show-tones'), marks: li.querySelectorAll('.poem-char[data-tone]').length }));
    assert.deepEqual(arrival, { marked: false, marks: 20 }, 'the poem on arrival carries its marks, hidden until asked for');

    // The meter needs a form with lines, and brings its own rhyme.
    assert.ok(await page.isDisabled('#meter'), 'free form: no meter');
    await page.selectOption('#form', 'qijue');
    await page.check('#meter');
    assert.ok(await page.isDisabled('#rhyme'), 'the meter replaces the modern rhyme');

    for (const start of ['月', '春']) {
      const p = await write(page, start);
      assert.match(p.poem, new RegExp(`^${start}[^，。]{6}，[^，。]{7}。[^，。]{7}，[^，。]{7}。$`, 'u'));
      assert.equal(p.pressed, 'true', 'a poem written by the meter shows its marks');
      assert.ok(p.marked);
      assert.equal(p.chars.length, 28);
      for (const c of p.chars) {
        assert.ok(['ping', 'ze', 'either'].includes(c.tone), `${c.ch}: ${c.tone}`);
        assert.equal(c.glyph, `"${{ ping: '○', ze: '●', either: '◐' }[c.tone]}"`, `${c.ch} shows its mark`);
        assert.ok(['required', 'free', 'rescued'].includes(c.status), `${c.ch}: ${c.status}`);
        assert.match(c.title, /^.: (平声|仄声|可平可仄)/u, `${c.ch} has its readings on hover`);
      }
      // Lines 2 and 4 rhyme (line 1 may); the note names the 平水韵 group and says it passes.
      const rhymes = p.chars.map((c, i) => (c.rhyme ? i : null)).filter((i) => i != null);
      assert.ok(rhymes.includes(13) && rhymes.includes(27) && rhymes.every((i) => [6, 13, 27].includes(i)), `rhyme positions ${rhymes}`);
      assert.ok(p.chars.filter((c) => c.rhyme).every((c) => c.rhyme === 'on'));
      assert.match(p.note, /^七绝 · [平仄]起首句(不)?入韵 · 韵部：[上下]平声.+（平水韵） · (.+ · )?合律：/u);
      assert.doesNotMatch(p.note, /不合律/u);
    }
    await page.screenshot({ path: join(outputDir, 'tones-meter-zh.png') });

    // A tap on a rhyme character shows its tone, group and place in the inspector.
    await page.click('#poems li .poem-char >> nth=30');   // the last character (punctuation counts)
    assert.match(await page.textContent('#inspect-tone'), /^.: (平声|可平可仄（多音字）) · (.+、)?[上下]平声.+ · 格律所定：平 · 韵脚$/u);

    // Without the meter about half the starter's 七绝 break the rules: a break is drawn in red
    // and named in the note, and a poem that passes has none.
    await page.uncheck('#meter');
    let broken = null;
    for (let i = 0; i < 12 && !broken; i++) {
      let p = await write(page, '山');
      assert.equal(p.pressed, 'false', 'marks wait for the toggle');
      assert.equal(p.note, null);
      await page.click('#poems li .tones-toggle');
      p = await shown(page);
      assert.ok(p.marked && p.note);
      const breaks = p.chars.filter((c) => c.status === 'broken');
      if (/不合律/u.test(p.note)) {
        if (breaks.length) broken = { p, breaks };
      } else {
        assert.match(p.note, /合律：/u);
        assert.deepEqual(breaks, [], `${p.poem} passes with no break`);
      }
    }
    assert.ok(broken, 'one of 12 free 七绝 breaks a position');
    for (const b of broken.breaks) {
      assert.equal(b.color, 'rgb(176, 0, 32)', `${b.ch} is red`);
      assert.match(b.title, /失律：应[平仄]/u);
    }
    assert.match(broken.p.note, /第\d句第\d字“.”应[平仄]/u);

    // A free poem (not 4 or 8 equal lines): tones only.
    await page.selectOption('#form', 'free');
    const free = await write(page, '夜');
    await page.click('#poems li .tones-toggle');
    const freeShown = await shown(page);
    if (!/^([^，。？！；]{5}[，。？！；]){4}$|^([^，。？！；]{7}[，。？！；]){4}$|^([^，。？！；]{5}[，。？！；]){8}$|^([^，。？！；]{7}[，。？！；]){8}$/u.test(free.poem)) {
      assert.match(freeShown.note, /只标平仄/u);
      assert.ok(freeShown.chars.every((c) => c.tone && c.status === null));
    }

    // English: the notes, the hover texts and the inspector follow the language switch.
    await page.click('#lang-switch');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    const en = await page.$$eval('#poems li .poem-tones', (ps) => ps.map((p) => p.textContent));
    assert.ok(en.some((n) => /^七绝 · .+ · rhyme [上下]平声.+ \(平水韵\) · (.+ · )?It passes the 格律 check/u.test(n)), en.join('\n'));
    assert.ok(en.some((n) => /It breaks the 格律 in \d+ places: .*line \d, character \d \(“.”\) should be [平仄]/u.test(n)), en.join('\n'));
    const title = await page.getAttribute('#poems li .poem-char >> nth=0', 'title');
    assert.match(title, /^.: (level|oblique|either|tone unknown)/u);
    await page.screenshot({ path: join(outputDir, 'tones-en.png'), fullPage: false });
  } finally {
    await context.close();
  }
});
