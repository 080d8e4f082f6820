// When the worker measures a run's held-out loss. An evaluation holds up training (the whole
// validation split: ~5 s on the built-in corpus's CPU path), so it is spaced by its own cost.

/** Share of training time that held-out evaluations may take. */
export const EVAL_SHARE = 0.05;

/**
 * Steps between held-out evaluations: every tenth of an epoch (10–200 steps), but never so
 * often that the last evaluation's cost (`evalMs`) exceeds EVAL_SHARE of the training time
 * between two (`msPerStep` a step).
 */
export function evalInterval(batchesPerEpoch, evalMs, msPerStep) {
  const tenthOfEpoch = Math.max(10, Math.min(200, Math.round(batchesPerEpoch / 10)));
  if (!(evalMs > 0 && msPerStep > 0)) return tenthOfEpoch;
  return Math.max(tenthOfEpoch, Math.ceil(evalMs / (EVAL_SHARE * msPerStep)));
}
