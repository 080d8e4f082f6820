// The worker's held-out evaluation schedule (www/schedule.js): pure arithmetic, no browser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVAL_SHARE, evalInterval } from '../www/schedule.js';

test('held-out evaluations come every tenth of an epoch, 10 to 200 steps, before one has been timed', () => {
  assert.equal(evalInterval(1350, 0, 300), 135);
  assert.equal(evalInterval(40, 0, 300), 10);
  assert.equal(evalInterval(50_000, 0, 300), 200);
  assert.equal(evalInterval(1350, NaN, 300), 135);
});

test('a costly evaluation is spaced so that it takes at most its share of training time', () => {
  // The built-in corpus on the CPU: ~5 s to evaluate, ~0.3 s a step.
  const every = evalInterval(1350, 5000, 300);
  assert.equal(every, 334);
  assert.ok(5000 / (5000 + every * 300) <= EVAL_SHARE);
  assert.ok(5000 / (5000 + (every - 1) * 300) > EVAL_SHARE * 0.95, 'not spaced further than needed');
  // A cheap evaluation keeps the tenth-of-an-epoch rhythm.
  assert.equal(evalInterval(1350, 50, 300), 135);
});
