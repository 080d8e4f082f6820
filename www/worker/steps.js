// What follows a training step, whoever took it (the loop's training, or the lab's Step): the
// run's counters and history, the page's progress event, the held-out evaluation and gradient
// flow it makes due, and the autosave. And the lab's fixed line, whose guesses are measured
// with every evaluation (how a prediction learns). Imports session.js, protocol.js, runs.js,
// persist.js and ../schedule.js.
import { evalInterval } from '../schedule.js';
import { session } from './session.js';
import { Coded, post } from './protocol.js';
import { evalJob } from './runs.js';
import { autosaveDue, autosaveRun } from './persist.js';

const FLOW_EVERY = 50;               // steps per run between gradient-flow measurements
/** The line whose next-character guesses the lab follows, until the user picks another. */
export const DEFAULT_LINE = '床前明月光，疑是地上霜';
const GUESS_TOP = 5;                 // alternatives kept for each position
const MAX_GUESS_COLUMNS = 400;       // beyond, every other column goes (the chart stays readable and the record small)

/** Books a step the run has just trained (`loss`, in `seconds`): returns the trainer's info. */
export async function recordStep(run, loss, seconds) {
  const { jobs } = session;
  const info = run.trainer.info();
  run.steps += 1; run.seconds += seconds; run.trainedSeconds += seconds;
  run.history.losses.push([info.step, loss]);
  (run.history.gradNorms ??= []).push([info.step, info.gradNorm]);
  post({ event: 'progress', runId: run.id, step: info.step, loss, seconds, epochs: info.epochs,
    gradNorm: info.gradNorm, batchesPerEpoch: info.batchesPerEpoch, charsPerEpoch: info.corpus.charsPerEpoch });
  const evalEvery = evalInterval(info.batchesPerEpoch, run.evalMs, 1000 * run.seconds / run.steps);
  if (info.corpus.poemsValidation > 0 && info.step - run.evalAt >= evalEvery && !jobs.some((j) => j.run === run && j.kind === 'eval')) {
    run.evalAt = info.step;
    jobs.push(evalJob(run, info.step));
  }
  if (info.step - run.flowAt >= FLOW_EVERY) {
    run.flowAt = info.step;
    jobs.push({ kind: 'flow', run, step: info.step });
  }
  if (autosaveDue(run, info.step)) await autosaveRun(run);
  return info;
}

/** The run's guesses along its line at `step`, added to its history (one column a step). */
export async function measureGuesses(run, step) {
  const line = run.history.guesses?.line ?? DEFAULT_LINE;
  let guesses;
  try {
    guesses = await run.trainer.guesses(line, false, GUESS_TOP);
  } catch (e) {
    // A model whose vocabulary lacks a character of the line (trained on other poems) has no
    // heatmap for it: the page says which character, and asks for another line.
    if (e?.key !== 'error.lesson.unknownChar') throw e;
    run.history.guesses = { line, missing: e.vars?.char ?? '?', steps: [], probabilities: [], top: [] };
    post({ event: 'guesses', runId: run.id, guesses: run.history.guesses });
    return null;
  }
  const record = (run.history.guesses ??= { line, steps: [], probabilities: [], top: [] });
  delete record.missing;
  if (record.steps.at(-1) === step) { record.steps.pop(); record.probabilities.pop(); record.top.pop(); }
  record.steps.push(step);
  record.probabilities.push(guesses.map((g) => g.probability));
  record.top.push(guesses.map((g) => g.top));
  if (record.steps.length > MAX_GUESS_COLUMNS) {
    for (const key of ['steps', 'probabilities', 'top']) record[key] = record[key].filter((_, i) => i % 2 === 1 || i === record.steps.length - 1);
  }
  post({ event: 'guesses', runId: run.id, guesses: record });
  return record;
}

/** A new line for every run's heatmap: its columns start again from the model's present step. */
export async function setGuessLine(line) {
  const clean = String(line ?? '').trim().slice(0, 40);
  if (!clean) throw new Coded('error.lesson.empty');
  for (const run of session.runs) {
    // Checked on every run before any changes: a character one model lacks refuses the line.
    const missing = [...clean].find((c) => !run.trainer.hasChar(c));
    if (missing) throw new Coded('error.lesson.unknownChar', { char: missing, name: run.name });
  }
  for (const run of session.runs) {
    run.history.guesses = { line: clean, steps: [], probabilities: [], top: [] };
    await measureGuesses(run, run.trainer.info().step);
  }
}
