// The first minutes (issue 24): on a first visit the first screen holds the start characters,
// the Write button and a poem the starter model wrote on arrival, on a phone and on a laptop,
// in Chinese and in English; a click on 月 adds a poem without scrolling; on a phone every
// control is a 44 × 44 px target and nothing is wider than the screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { serve, launch, outputDir } from './harness.mjs';

let server;
before(async () => { server = await serve(); });
after(() => server.close());

const SIZES = [{ name: 'phone', width: 390, height: 844 }, { name: 'laptop', width: 1280, height: 800 }];

/** Whether the element's box lies wholly inside the viewport, as the page is scrolled now. */
const inView = (page, selector) => page.$eval(selector, (el) => {
  const r = el.getBoundingClientRect();
  return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
});

for (const size of SIZES) {
  for (const lang of ['zh-Hans', 'en']) {
    test(`first visit, ${size.name} ${size.width} × ${size.height}, ${lang}: start characters, Write and a poem on the first screen; 月 adds one without scrolling`, { timeout: 600_000 }, async () => {
      const context = await launch({ webgpu: false });
      try {
        const page = context.pages()[0] ?? await context.newPage();
        await page.setViewportSize({ width: size.width, height: size.height });
        // Every layout shift from the first paint on (none may happen without an input).
        await page.addInitScript(() => {
          window.layoutShifts = [];
          new PerformanceObserver((list) => {
            for (const e of list.getEntries()) if (!e.hadRecentInput) window.layoutShifts.push({ value: e.value, moved: e.sources.map((s) => s.node?.id || s.node?.className || s.node?.nodeName) });
          }).observe({ type: 'layout-shift', buffered: true });
        });
        await page.goto(`${server.url}${lang === 'en' ? '?lang=en' : ''}`);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
        // The starter model's poem, written on arrival.
        await page.waitForSelector('#arrival li[data-arrival="true"]', { timeout: 120_000 });
        await page.waitForTimeout(500);
        assert.deepEqual(await page.evaluate(() => window.layoutShifts), [], 'nothing moves as the page opens and the poem arrives');
        assert.equal(await page.evaluate(() => scrollY), 0);
        for (const selector of ['.chip:text("月")', '#generate', '#arrival li[data-arrival="true"]', '#train-own']) {
          assert.ok(await inView(page, selector), `${selector} is on the first screen`);
        }
        assert.ok(await page.evaluate(() => window.shige.state().runs[0].starter), 'written by the starter model');
        await page.screenshot({ path: join(outputDir, `first-screen-${size.name}-${lang}.png`) });

        const before = await page.$$eval('#poems li[data-done]', (l) => l.length);
        await page.click('.chip:text("月")');
        await page.waitForFunction((n) => document.querySelectorAll('#poems li[data-done="true"]').length > n, before, { timeout: 120_000 });
        assert.equal(await page.evaluate(() => scrollY), 0, 'no scrolling');
        assert.ok((await page.getAttribute('#poems li', 'data-poem')).startsWith('月'));
        assert.ok(await inView(page, '#poems li'), 'the new poem is in view');
        await page.screenshot({ path: join(outputDir, `first-screen-${size.name}-${lang}-yue.png`) });

        if (size.name === 'phone') {
          // A 七律 wraps between its 句, never inside one, and stays within the screen.
          await page.selectOption('#form', 'qilv');
          const n = await page.$$eval('#poems li[data-done]', (l) => l.length);
          await page.click('.chip:text("山")');
          await page.waitForFunction((n) => document.querySelectorAll('#poems li[data-done="true"]').length > n, n, { timeout: 120_000 });
          const verses = await page.$eval('#poems li .poem-text', (el) => [...el.querySelectorAll('.verse')]
            .map((v) => new Set([...v.children].map((c) => Math.round(c.getBoundingClientRect().top))).size));
          assert.equal(verses.length, 8, 'eight 句');
          assert.deepEqual(verses.filter((lines) => lines > 1), [], 'no 句 split across lines');
        }
        // Nothing wider than the screen, the runs table and the charts included.
        assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'no sideways scrolling');
        if (size.name === 'phone') {
          // Every visible control is a 44 × 44 px target (a poem's characters are inline text).
          const small = await page.evaluate(() => [...document.querySelectorAll('button, a[href], input, select, summary, [tabindex]:not([tabindex="-1"])')]
            .filter((el) => !el.classList.contains('poem-char') && !el.closest('.visually-hidden, .skip') && el.offsetParent !== null)
            .map((el) => {
              const target = el.matches('input[type=checkbox], input[type=radio]') ? el.closest('label') : el;
              const r = target.getBoundingClientRect();
              return { el: `${el.tagName.toLowerCase()}#${el.id || el.className || el.name}`, w: Math.round(r.width), h: Math.round(r.height) };
            })
            .filter(({ w, h }) => w < 44 || h < 44));
          assert.deepEqual(small, [], 'controls smaller than 44 × 44');
        }
      } finally {
        await context.close();
      }
    });
  }
}

test('the "train your own" link leads to the trainer, by keyboard too', { timeout: 300_000 }, async () => {
  const context = await launch({ webgpu: false });
  try {
    const page = context.pages()[0] ?? await context.newPage();
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${server.url}?lang=en`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 240_000 });
    await page.focus('#train-own');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash === '#train');
    await page.waitForFunction(() => document.getElementById('corpus-title').getBoundingClientRect().top < innerHeight);
  } finally {
    await context.close();
  }
});
