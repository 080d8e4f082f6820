// The four cells in the browser (issue 30; not a test): each run of the README's class link
// (RNN, LSTM, GRU, Transformer at about 1.17 M parameters, on the built-in corpus) trains alone
// for MINUTES on the threaded CPU build, as a class's page would, then writes 七绝. Prints one
// JSON line a cell: steps, ms a step, characters a second, the last held-out perplexity, and the
// quality panel's figures (格律 pass rate of free 七绝, the share of poems copying a line).
// Usage: node bench/race.mjs [--minutes 5] [--cells rnn,lstm,gru,transformer]
import { readFile } from 'node:fs/promises';
import { serve, launch, openApp, waitForPaused } from '../tests/harness.mjs';

const arg = (name, dflt) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : dflt; };
const minutes = Number(arg('minutes', 5));
const TOP_P = 0.9;                  // www/ui/write.js
const cells = arg('cells', 'rnn,lstm,gru,transformer').split(',');

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const exp = readme.match(/\[four cells[^\]]*\]\([^)]*\?exp=([A-Za-z0-9_-]+)\)/)[1];
const { runs } = JSON.parse(Buffer.from(exp, 'base64url').toString());

const server = await serve({ isolate: true });
for (const cell of cells) {
  const { name, ...settings } = runs.find((r) => r.cell === cell);
  const query = new URLSearchParams({ lang: 'en', ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [k, String(v)])), backend: 'cpu' });
  const context = await launch({ webgpu: false });
  try {
    const page = await openApp(context, server.url, `?${query}`);
    await page.click('#start');
    await page.waitForTimeout(minutes * 60_000);
    await page.click('#pause');
    await waitForPaused(page);
    const run = await page.evaluate(() => window.shige.state().runs[0]);
    // The quality panel's figures (its sampling: the page's defaults), on 60 poems of each kind.
    const options = { temperature: 0.8, topK: 0, topP: TOP_P, seed: 1, repetitionPenalty: 1.2 };
    const q = await page.evaluate(({ runId, options }) => window.shige.call('quality', { runId, samples: 60, options }), { runId: run.id, options });
    const stats = await page.evaluate(() => { const s = [...window.shige.stats.values()][0]; return { steps: s.steps, seconds: s.seconds }; });
    const info = run.info;
    console.log(JSON.stringify({
      cell, name, params: info.params, threaded: (await page.evaluate(() => window.shige.state().build)).threaded,
      steps: info.step, msPerStep: (1000 * stats.seconds) / stats.steps,
      charsPerS: (info.tokensSeen ?? 0) / stats.seconds,
      // The page's last held-out evaluation (every tenth of an epoch, at most its share of the time).
      heldOutPerplexity: run.history.evals.at(-1)?.[1], heldOutLoss: Math.log(run.history.evals.at(-1)?.[1]), lastEvalStep: run.history.evals.at(-1)?.[0],
      meterFreeQijue: q.meterQijue, copiesALine: q.copiesALine, wellFormed: q.wellFormed,
    }));
  } finally {
    await context.close();
  }
}
server.close();
