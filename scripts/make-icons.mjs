// Renders the app's PNG icons from www/icons/icon.svg in Debian's Chromium (run once; the PNGs
// are committed). Usage: node scripts/make-icons.mjs   (from tests/, where playwright-core lives)
import { readFile } from 'node:fs/promises';
import { chromium } from '../tests/node_modules/playwright-core/index.mjs';

const dir = new URL('../www/icons/', import.meta.url).pathname;
const svg = await readFile(`${dir}icon.svg`, 'utf8');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
for (const [name, size, padding] of [['icon-192.png', 192, 0], ['icon-512.png', 512, 0], ['icon-maskable-512.png', 512, 0.1]]) {
  const page = await browser.newPage({ viewport: { width: size, height: size } });
  // Maskable icons keep their drawing inside the middle 80% (the safe zone).
  const inner = Math.round(size * (1 - 2 * padding));
  await page.setContent(`<body style="margin:0;background:#a52119;display:grid;place-items:center;height:${size}px">
    <div style="width:${inner}px;height:${inner}px">${svg.replace('<svg ', `<svg width="${inner}" height="${inner}" `)}</div></body>`);
  await page.screenshot({ path: `${dir}${name}`, omitBackground: false });
  await page.close();
}
await browser.close();
console.log('icons written to', dir);
