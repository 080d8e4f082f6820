// The charts (uPlot): every run's loss and held-out perplexity on one chart, and the
// gradient flow ‖∂L/∂hₜ‖ per time step. Each run keeps its colour on both.
import { t } from './i18n.js';

export const COLORS = ['#b3261e', '#1f5fa0', '#2e7d32', '#7b3fa0', '#c05f00', '#00796b', '#5d4037', '#ad1457'];
const SMOOTHING = 0.9;
/** Gradient norms below this are drawn at it (the flow chart's caption says so). */
export const FLOW_FLOOR = 1e-20;

/** Whole-number tick spacings for step axes (uPlot would otherwise label 14,200.5). */
const STEP_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6];

/** A colour with some transparency (uPlot strokes take CSS colours). */
const faint = (hex) => `${hex}59`;

// uPlot is loaded, and a chart drawn, only when the chart comes near the viewport (or is
// exported): evaluating it and laying out two plots were start-up's longest tasks.
let uplot = null;
function loadUplot() {
  uplot ??= new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement('script'), { src: 'vendor/uPlot.iife.min.js' });
    script.onload = () => resolve(window.uPlot);
    script.onerror = () => { uplot = null; reject(new Error('vendor/uPlot.iife.min.js did not load')); };
    document.head.append(script);
  });
  return uplot;
}

/** A uPlot chart in `el`, (re)built from `options()` and `data()` once it is wanted. */
class LazyChart {
  constructor(el, height) {
    this.el = el;
    this.height = height;
    this.plot = null;
    this.builds = 0;
    this.shown = new Promise((resolve) => { this.show = resolve; });
    const near = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { near.disconnect(); this.show(); }
    }, { rootMargin: '300px' });
    near.observe(el);
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height })).observe(el);
  }

  width() { return Math.max(200, this.el.clientWidth || 800); }

  /** Draws the chart anew (when shown); resolves with the plot. */
  build() {
    const build = ++this.builds;
    this.el.dataset.points = String(this.data()[0].length);
    this.drawn = this.shown.then(loadUplot).then((UPlot) => {
      if (build !== this.builds) return this.drawn;
      this.plot?.destroy();
      this.plot = new UPlot(this.options(), this.data(), this.el);
      return this.plot;
    });
    // Without uPlot the chart says so in its place; the data keeps accumulating for a retry.
    this.drawn.catch((e) => {
      if (build !== this.builds) return;
      const note = Object.assign(document.createElement('p'), { className: 'chart-unavailable', textContent: t('chart.unavailable', { message: e.message }) });
      note.setAttribute('role', 'status');
      this.el.replaceChildren(note);
    });
    return this.drawn;
  }

  /** New data for the same series: drawn at the next frame, if the chart is drawn. */
  redraw() {
    const data = this.data();
    this.el.dataset.points = String(data[0].length);
    this.plot?.setData(data);
  }

  /** The chart drawn now, even out of view. */
  async ready() {
    this.show();
    return this.drawn ?? this.build();
  }
}

export class TrainingChart extends LazyChart {
  constructor(el) {
    super(el, 320);
    this.runs = [];           // [{ id, name, color }]
    this.values = new Map();  // runId -> { loss: [], smooth: [], ppl: [] } indexed by step - 1
    this.pending = false;
  }

  /** The runs to draw, with their histories ({ losses: [[step, loss]], evals: [[step, ppl]] }). */
  setRuns(runs) {
    this.runs = runs.map((r) => ({ id: r.id, name: r.name, color: r.color }));
    this.values = new Map();
    for (const r of runs) {
      this.values.set(r.id, { loss: [], smooth: [], ppl: [], ema: 0, n: 0 });
      for (const [step, loss] of r.history?.losses ?? []) this.addLoss(r.id, step, loss, false);
      for (const [step, ppl] of r.history?.evals ?? []) this.addEval(r.id, step, ppl, false);
    }
    this.build();
  }

  addLoss(runId, step, loss, draw = true) {
    const v = this.values.get(runId);
    if (!v) return;
    const i = step - 1;
    v.loss[i] = loss;
    // An exponential moving average, bias-corrected so early steps are not pulled toward 0
    // (or toward the first loss).
    v.ema = SMOOTHING * v.ema + (1 - SMOOTHING) * loss;
    v.n += 1;
    v.smooth[i] = v.ema / (1 - SMOOTHING ** v.n);
    if (draw) this.schedule();
  }

  addEval(runId, step, perplexity, draw = true) {
    const v = this.values.get(runId);
    if (!v) return;
    v.ppl[step - 1] = perplexity;
    if (draw) this.schedule();
  }

  /** Points drawn per run: `{ runId: { loss, perplexity } }` (tests read it). */
  counts() {
    const out = {};
    for (const [id, v] of this.values) {
      out[id] = { loss: v.loss.filter((x) => x != null).length, perplexity: v.ppl.filter((x) => x != null).length };
    }
    return out;
  }

  series() {
    // The hover legend says "–" where a run has no value at a step (e.g. before its first evaluation).
    const value = (digits) => (u, v) => (v == null ? '–' : v.toFixed(digits));
    const s = [{ label: t('chart.step') }];
    for (const r of this.runs) {
      s.push({ label: `${r.name} · ${t('chart.loss')}`, stroke: faint(r.color), width: 1, scale: 'y', spanGaps: true, value: value(3) });
      s.push({ label: `${r.name} · ${t('chart.smoothed')}`, stroke: r.color, width: 2, scale: 'y', spanGaps: true, value: value(3) });
      s.push({ label: `${r.name} · ${t('chart.perplexity')}`, stroke: r.color, width: 1.5, dash: [6, 4], scale: 'ppl',
        spanGaps: true, points: { show: true, size: 6 }, value: value(1) });
    }
    return s;
  }

  data() {
    const runs = [...this.values.values()];
    const length = Math.max(0, ...runs.map((v) => v.loss.length));
    // The axis starts at the first recorded step: a model opened at step 14,200 (the starter)
    // has no history before it, and its curve would be a sliver at the right edge.
    const firstIndex = (a) => { const i = a.findIndex((x) => x != null); return i < 0 ? Infinity : i; };
    const first = Math.min(length, ...runs.map((v) => Math.min(firstIndex(v.loss), firstIndex(v.ppl))));
    const xs = Array.from({ length: length - first }, (_, i) => first + i + 1);
    const out = [xs];
    const dense = (a) => xs.map((step) => a[step - 1] ?? null);
    for (const r of this.runs) {
      const v = this.values.get(r.id);
      out.push(dense(v.loss), dense(v.smooth), dense(v.ppl));
    }
    return out;
  }

  options() {
    return {
      width: this.width(),
      height: this.height,
      scales: { x: { time: false }, ppl: { distr: 3 } },
      series: this.series(),
      axes: [
        { label: t('chart.step'), incrs: STEP_TICKS },
        { label: t('chart.lossAxis'), scale: 'y' },
        { label: t('chart.perplexity'), scale: 'ppl', side: 1, grid: { show: false } },
      ],
      legend: { live: true },
    };
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.redraw();
    });
  }

  /** The chart with a title and a legend, as a PNG blob (for lab reports). */
  async png(title) {
    const source = (await this.ready()).ctx.canvas;
    const legendHeight = 26 * this.runs.length + 16;
    const canvas = document.createElement('canvas');
    canvas.width = source.width;
    canvas.height = source.height + 40 + legendHeight;
    const ctx = canvas.getContext('2d');
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = '#222';
    ctx.font = '20px "Noto Sans CJK SC", sans-serif';
    ctx.fillText(title, 16, 28);
    ctx.drawImage(source, 0, 40);
    this.runs.forEach((r, i) => {
      const y = source.height + 56 + 26 * i;
      ctx.fillStyle = r.color;
      ctx.fillRect(16, y - 12, 28, 6);
      ctx.fillStyle = '#222';
      ctx.font = '16px "Noto Sans CJK SC", sans-serif';
      ctx.fillText(`${r.name} — ${t('chart.legendNote')}`, 54, y - 4);
    });
    return new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));
  }
}

/** ‖∂L/∂hₜ‖ over t for each run (its last measurement), on a log scale. */
export class FlowChart extends LazyChart {
  constructor(el) {
    super(el, 240);
    this.runs = [];
    this.kind = 'lastChar';
  }

  /** `runs`: [{ id, name, color, flow: { step, wholePoem: [], lastChar: [] } | null }] */
  setRuns(runs) {
    this.runs = runs;
    this.build();
  }

  update(runId, flow) {
    const run = this.runs.find((r) => r.id === runId);
    if (!run) return;
    run.flow = flow;
    if (this.plot && this.data()[0].length === this.plot.data[0].length) this.redraw();
    else this.build();
  }

  setKind(kind) {
    this.kind = kind;
    this.build();
  }

  data() {
    const length = Math.max(0, ...this.runs.map((r) => r.flow?.[this.kind]?.length ?? 0));
    const xs = Array.from({ length }, (_, i) => i + 1);
    // A vanished gradient is drawn on the floor: zero cannot go on a log scale, and uPlot's
    // log axis breaks (RangeError) below about 1e-22.
    return [xs, ...this.runs.map((r) => xs.map((_, i) => {
      const g = r.flow?.[this.kind]?.[i];
      return Number.isFinite(g) && g >= 0 ? Math.max(g, FLOW_FLOOR) : null;
    }))];
  }

  /** Points per run (tests read it). */
  counts() {
    return Object.fromEntries(this.runs.map((r) => [r.id, r.flow?.[this.kind]?.filter((g) => g != null).length ?? 0]));
  }

  options() {
    return {
      width: this.width(),
      height: this.height,
      scales: { x: { time: false }, y: { distr: 3 } },
      series: [{ label: 't' }, ...this.runs.map((r) => ({ label: r.name, stroke: r.color, width: 2, points: { show: true, size: 4 } }))],
      // Gradients span many powers of ten: label the log axis as 1e-5, 1e-4 …
      axes: [{ label: t('lab.timeStep'), incrs: STEP_TICKS }, { label: t('lab.gradNorm'), size: 70, values: (u, ticks) => ticks.map((v) => (v == null ? '' : v.toExponential(0))) }],
    };
  }
}
