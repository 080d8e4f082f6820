// Writes the starter model's training curve beside it (assets/starter/starter-curve.json), which
// the page draws as the starter's own history on a first visit and keeps with it in the library.
// From the CLI's training log (`shige train --log`: step,seconds,train_loss,val_loss; a resumed
// run appends to it and its seconds start again from 0) and `shige eval --json` of the shipped
// int8 file, whose held-out figure is the curve's last point.
// Usage: node scripts/starter-curve.mjs LOG.csv EVAL.json OUT.json
import { readFileSync, writeFileSync } from 'node:fs';

const MAX_POINTS = 2000;   // training-loss points kept (every n-th row): enough for the chart

const [logPath, evalPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: node scripts/starter-curve.mjs LOG.csv EVAL.json OUT.json');
  process.exit(2);
}
const rows = readFileSync(logPath, 'utf8').trim().split('\n')
  .map((line) => line.split(',').map(Number))
  .filter((r) => r.length === 4 && Number.isFinite(r[0]) && Number.isFinite(r[2]));
const final = JSON.parse(readFileSync(evalPath, 'utf8'));
if (!rows.length) throw new Error(`${logPath} has no training rows`);
if (rows.at(-1)[0] !== final.step) throw new Error(`${logPath} ends at step ${rows.at(-1)[0]}, the model is at step ${final.step}`);

const every = Math.ceil(rows.length / MAX_POINTS);
const losses = rows.filter((_, i) => i % every === 0 || i === rows.length - 1).map(([step, , loss]) => [step, round(loss)]);
// A row repeats the last validation loss until the next evaluation: keep each new one.
const evals = [];
let seconds = 0;
rows.forEach(([step, s, , val], i) => {
  if (Number.isFinite(val) && val !== rows[i - 1]?.[3]) evals.push([step, round(Math.exp(val))]);
  // A resumed part's seconds start again: add up each part's last figure.
  if (i === rows.length - 1 || rows[i + 1][1] < s) seconds += s;
});
if (evals.at(-1)?.[0] === final.step) evals.pop();
evals.push([final.step, round(final.heldOutPerplexity)]);

const curve = {
  step: final.step, heldOutLoss: round(final.heldOutLoss), perplexity: round(final.heldOutPerplexity),
  trainedSeconds: Math.round(seconds), losses, evals,
};
writeFileSync(outPath, `${JSON.stringify(curve)}\n`);
console.error(`${outPath}: ${losses.length} loss points, ${evals.length} evaluations, step ${final.step}, perplexity ${curve.perplexity}`);

function round(x) { return Math.round(x * 1e4) / 1e4; }
