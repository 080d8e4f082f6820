// The loop and inbox: one piece at a time (a message, an evaluation slice, one step of one run,
// runs taking turns), yielding after each so a click is answered before the next step.
// Imports the worker modules it runs (steps.js, ops.js and those below them); only ../worker.js imports it.
import { announce, session } from './session.js';
import { coded, message, post, warn } from './protocol.js';
import { targetRuns } from './runs.js';
import { crashed } from './recovery.js';
import { measureGuesses, recordStep } from './steps.js';
import { ops } from './ops.js';

const EVAL_SLICE = 4;                // validation batches per loop piece

const inbox = [];
let wake = null;
let turn = 0;

self.onmessage = ({ data }) => {
  // Pause takes effect at once: no further step starts, whatever is queued.
  if (data.op === 'pause') for (const r of targetRuns(data.args?.runId)) r.running = false;
  inbox.push(data);
  wake?.();
};

// A macrotask boundary: lets queued messages in (the CPU backend's promises resolve in
// microtasks, so without this the worker would never see them while training).
const channel = new MessageChannel();
const ticks = [];
channel.port1.onmessage = () => ticks.shift()?.();
const tick = () => new Promise((resolve) => { ticks.push(resolve); channel.port2.postMessage(0); });

async function loop() {
  const { jobs } = session;
  for (;;) {
    // Nothing a piece throws may end the loop: every later button would hang.
    try {
      if (inbox.length) {
        await handle(inbox.shift());
      } else if (jobs.length) {
        await runJob(jobs.shift());
      } else {
        const active = session.runs.filter((r) => r.running);
        if (!active.length) {
          await new Promise((resolve) => { wake = resolve; });
          wake = null;
          continue;
        }
        await trainOne(active[turn++ % active.length]);
      }
    } catch (e) {
      console.error('shige worker: a piece of work failed:', e);
      for (const r of session.runs) r.running = false;
      warn('notice.workerError', { message: message(e) }, e);
      announce();
    }
    await tick();
  }
}

async function handle({ id, op, args }) {
  try {
    if (!Object.hasOwn(ops, op)) throw new Error(`unknown operation ${op}`);
    const result = await ops[op](args ?? {});
    post({ id, ok: true, result }, result instanceof Uint8Array ? [result.buffer] : []);
  } catch (e) {
    // A coded error is the user's (a bad file, an unknown character): said on the page, not a bug.
    if (!e?.key) console.error(`shige worker: ${op} failed:`, e);
    // Every call is answered, whatever the recovery does. A failed recovery has its own notice
    // (`shown`: the page says it once).
    const crash = await crashed(e);
    if (crash === false) post({ id, ok: false, error: message(e), key: e?.key, vars: e?.vars });
    else if (crash === null) post({ id, ok: false, error: message(e), key: 'error.restarted', vars: { message: message(e) } });
    else post({ id, ok: false, error: message(crash), key: crash.key, vars: crash.vars, shown: true });
  }
}

async function trainOne(run) {
  const started = performance.now();
  let losses;
  try {
    losses = await run.trainer.trainSteps(1);
  } catch (e) {
    run.running = false;
    if ((await crashed(e)) !== false) return;
    run.error = message(e);
    post({ event: 'error', runId: run.id, key: 'notice.runError', vars: { name: run.name, message: message(e) }, inner: coded(e) });
    announce();
    return;
  }
  await recordStep(run, losses[0], (performance.now() - started) / 1000);
}

/** One piece of a background job: a slice of an evaluation (queued again until done), or a
 * gradient-flow measurement. */
async function runJob(job) {
  const { run } = job;
  if (!session.runs.includes(run)) return;
  try {
    if (job.kind === 'eval') {
      const total = run.trainer.evalBatches();
      const end = Math.min(total, job.next + EVAL_SLICE);
      const sliceStarted = performance.now();
      const part = await run.trainer.evaluatePart(job.next, end);
      job.ms += performance.now() - sliceStarted;
      job.total += part.total; job.tokens += part.tokens; job.next = end;
      if (end < total) { session.jobs.unshift(job); return; }
      run.evalMs = job.ms;
      const perplexity = Math.exp(job.total / Math.max(1, job.tokens));
      // One figure a step: the page's own measurement replaces a shipped one (the starter's).
      if (run.history.evals.at(-1)?.[0] === job.step) run.history.evals.pop();
      run.history.evals.push([job.step, perplexity]);
      post({ event: 'eval', runId: run.id, step: job.step, perplexity, loss: Math.log(perplexity) });
      // How a prediction learns: the lab's line, measured as the curve is.
      await measureGuesses(run, job.step);
    } else if (job.kind === 'flow') {
      const flow = await run.trainer.gradientFlow();
      run.history.flow = { step: job.step, ...flow };
      post({ event: 'flow', runId: run.id, step: job.step, ...flow });
    }
  } catch (e) {
    if ((await crashed(e)) === false) warn('notice.runError', { name: run.name, message: message(e) }, e);
  }
}

loop();
