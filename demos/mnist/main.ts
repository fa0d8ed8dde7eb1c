/**
 * Demo: train an MLP on MNIST in the browser through the public API only (the same calls as "Training from code" in
 * README.md): createEngine → loadMnistFromUrl → splitMnist → parseModelSpec → createGpuRunner → Trainer.fit, with
 * callbacks that draw the learning curve, an AbortSignal behind the Stop button, and the final test accuracy.
 *
 * Query parameters (for automation; test/browser-train.test.ts uses them):
 *   ?steps=N     train N steps in total instead of whole epochs (crossing epochs as needed)
 *   ?subset=M    train on the first M examples of the training split; validate on min(5000, ⌈M/4⌉) and test on
 *                min(10000, M) examples (a software adapter evaluates slowly)
 *   ?auto=1      start at once with the form's values
 *   ?data=URL    folder holding the four uncompressed IDX files (default /mnist-data/, served by demos/serve.mjs)
 *   ?seed=S      seed of weights, split and shuffle (default 0)
 *   ?model=, ?optimizer=, ?lr=, ?batch=, ?epochs=   preset the form
 * When a run ends, `window.__wgtrainResult` holds a DemoResult, or { error } when it failed.
 */
import {
  createEngine,
  createGpuRunner,
  loadMnistFromUrl,
  NoAdapterError,
  OPTIMIZER_NAMES,
  optimizerConfig,
  parseModelSpec,
  presetByName,
  splitMnist,
  Trainer,
  type Dataset,
  type Engine,
  type EpochRecord,
  type MetricsReport,
  type Mnist,
  type RunnerConfig,
} from '../../src/index.js';

/** What an automated run reads from `window.__wgtrainResult`. */
interface DemoResult {
  /** Steps taken by this run. */
  steps: number;
  testAccuracy: number;
  testLoss: number;
  testCount: number;
  /** engine.describe(): vendor, architecture, [software], how the adapter was found. */
  adapter: string;
  /** Mean training loss and accuracy of each metrics window (`metricsEvery` steps), in order. */
  losses: number[];
  accuracies: number[];
  /** Global step after each window. */
  windowSteps: number[];
  metricsEvery: number;
  epochs: EpochRecord[];
  interrupted: boolean;
  /** Training wall time (validation excluded) and the whole run's, in seconds. */
  seconds: number;
  totalSeconds: number;
  stepsPerSecond: number;
  config: { model: string; optimizer: string; lr: number; batchSize: number; epochs: number | null; subset: number | null; seed: number };
}

declare global {
  interface Window {
    __wgtrainResult?: DemoResult | { error: string };
  }
}

const params = new URLSearchParams(location.search);
const intParam = (name: string): number | null => {
  const v = params.get(name);
  if (v === null || v === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`?${name}=${v}: expected a positive integer`);
  return n;
};

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const startButton = $<HTMLButtonElement>('start');
const stopButton = $<HTMLButtonElement>('stop');
const statusLine = $<HTMLParagraphElement>('status');
const logBox = $<HTMLPreElement>('log');
const canvas = $<HTMLCanvasElement>('curve');
const inputs = {
  model: $<HTMLInputElement>('model'),
  optimizer: $<HTMLSelectElement>('optimizer'),
  lr: $<HTMLInputElement>('lr'),
  batch: $<HTMLInputElement>('batch'),
  epochs: $<HTMLInputElement>('epochs'),
};

function log(text: string, cls?: string): void {
  const span = document.createElement('span');
  if (cls) span.className = cls;
  span.textContent = text + '\n';
  logBox.append(span);
  logBox.scrollTop = logBox.scrollHeight;
}

function setStatus(text: string, cls = ''): void {
  statusLine.textContent = text;
  statusLine.className = cls;
}

/** Why this page cannot use WebGPU (a hint shown above createEngine's own list of what it tried), or null. */
function webGpuHint(): string | null {
  if (!window.isSecureContext) return 'WebGPU needs a secure context: open this page over https:// or from http://localhost / 127.0.0.1, not file://.';
  if (!('gpu' in navigator)) {
    return 'This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, Safari 26+ or Firefox 141+; ' +
      'on Linux, Chrome may need chrome://flags/#enable-unsafe-webgpu. chrome://gpu shows WebGPU status.';
  }
  return null;
}

// ---- the learning curve ------------------------------------------------------------------------------------------

interface Curve {
  /** Steps the run plans to take (the x axis). */
  plannedSteps: number;
  windows: { step: number; loss: number; accuracy: number }[];
  epochs: { step: number; trainLoss: number; valLoss?: number; valAccuracy?: number }[];
}

const LOSS_COLOR = '#1f6fd1';
const ACC_COLOR = '#d9730d';

/** Running loss (left axis) and accuracy (right axis, 0..1) per metrics window; epoch validation as dots. */
function drawCurve(c: Curve): void {
  const ctx = canvas.getContext('2d')!;
  const W = canvas.width, H = canvas.height;
  const left = 52, right = 48, top = 12, bottom = 52;
  const pw = W - left - right, ph = H - top - bottom;
  ctx.clearRect(0, 0, W, H);
  ctx.font = '12px system-ui, sans-serif';
  const losses = [...c.windows.map((w) => w.loss), ...c.epochs.flatMap((e) => [e.trainLoss, e.valLoss ?? NaN])].filter(Number.isFinite);
  const maxLoss = Math.max(0.5, ...losses) * 1.05;
  const maxStep = Math.max(1, c.plannedSteps, ...c.windows.map((w) => w.step));
  const x = (step: number) => left + (step / maxStep) * pw;
  const yLoss = (v: number) => top + ph - (v / maxLoss) * ph;
  const yAcc = (v: number) => top + ph - v * ph;

  // Grid and axes.
  ctx.strokeStyle = '#e4e4e4';
  ctx.fillStyle = '#444';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const y = top + (ph * i) / 4;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
    ctx.textAlign = 'right'; ctx.fillStyle = LOSS_COLOR;
    ctx.fillText((maxLoss * (1 - i / 4)).toFixed(2), left - 6, y + 4);
    ctx.textAlign = 'left'; ctx.fillStyle = ACC_COLOR;
    ctx.fillText(`${Math.round(100 * (1 - i / 4))}%`, left + pw + 6, y + 4);
  }
  ctx.fillStyle = '#444';
  ctx.textAlign = 'center';
  for (let i = 0; i <= 5; i++) ctx.fillText(String(Math.round((maxStep * i) / 5)), x((maxStep * i) / 5), top + ph + 16);
  ctx.fillText('step', left + pw / 2, top + ph + 30);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(left, top, pw, ph);

  const line = (points: [number, number][], color: string) => {
    if (points.length === 0) return;
    ctx.strokeStyle = color; ctx.lineWidth = 2;
    ctx.beginPath();
    points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
    ctx.stroke();
    if (points.length === 1) dot(points[0]!, color, false);
  };
  const dot = ([px, py]: [number, number], color: string, hollow: boolean) => {
    ctx.beginPath(); ctx.arc(px, py, 4, 0, 2 * Math.PI);
    if (hollow) { ctx.fillStyle = '#fff'; ctx.fill(); ctx.strokeStyle = color; ctx.lineWidth = 2; ctx.stroke(); }
    else { ctx.fillStyle = color; ctx.fill(); }
  };
  line(c.windows.map((w) => [x(w.step), yLoss(w.loss)]), LOSS_COLOR);
  line(c.windows.filter((w) => Number.isFinite(w.accuracy)).map((w) => [x(w.step), yAcc(w.accuracy)]), ACC_COLOR);
  for (const e of c.epochs) {
    if (e.valLoss !== undefined && Number.isFinite(e.valLoss)) dot([x(e.step), yLoss(e.valLoss)], LOSS_COLOR, true);
    if (e.valAccuracy !== undefined && Number.isFinite(e.valAccuracy)) dot([x(e.step), yAcc(e.valAccuracy)], ACC_COLOR, true);
  }

  // Legend, under the axis.
  ctx.textAlign = 'left';
  const ly = H - 8;
  const legend: [string, string, boolean][] = [
    ['train loss', LOSS_COLOR, false], ['train accuracy', ACC_COLOR, false],
    ['validation loss', LOSS_COLOR, true], ['validation accuracy', ACC_COLOR, true],
  ];
  let lx = left + 10;
  for (const [label, color, hollow] of legend) {
    if (hollow) dot([lx + 6, ly - 4], color, true);
    else { ctx.fillStyle = color; ctx.fillRect(lx, ly - 6, 14, 3); }
    ctx.fillStyle = '#333';
    ctx.fillText(label, lx + 18, ly);
    lx += ctx.measureText(label).width + 34;
  }
}

// ---- training ----------------------------------------------------------------------------------------------------

const firstN = (ds: Dataset, n: number, name: string): Dataset =>
  n >= ds.length ? ds : ds.subset(Uint32Array.from({ length: n }, (_, i) => i), name);

let engine: Engine | null = null;
let mnist: Promise<Mnist> | null = null;
let controller: AbortController | null = null;
/** A device error during a run (validation, out of memory, device lost): it stops the run, which then fails with it. */
let deviceError: Error | null = null;

function readForm() {
  const lr = Number(inputs.lr.value);
  const batchSize = Number(inputs.batch.value);
  const epochs = Number(inputs.epochs.value);
  if (!(lr > 0)) throw new Error(`learning rate ${inputs.lr.value}: expected a number > 0`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size ${inputs.batch.value}: expected an integer >= 1`);
  if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`epochs ${inputs.epochs.value}: expected an integer >= 1`);
  return { model: inputs.model.value.trim(), optimizer: inputs.optimizer.value, lr, batchSize, epochs };
}

async function train(): Promise<DemoResult> {
  const t0 = performance.now();
  const opts = readForm();
  const steps = intParam('steps');
  const subset = intParam('subset');
  const seed = Number(params.get('seed') ?? 0);
  // A built-in model by name (mlp, cnn; the form keeps its optimizer, lr, batch and epochs), an MLP or a layer list,
  // which may leave out MNIST's input: 784 values, or 1×28×28 before a convolution.
  const model = parseModelSpec(presetByName(opts.model)?.model ?? opts.model, { inputs: 28 * 28, inputViews: [[1, 28, 28]] });

  if (!mnist) {
    const base = new URL(params.get('data') ?? '/mnist-data/', location.href);
    setStatus(`fetching MNIST from ${base}…`);
    mnist = loadMnistFromUrl(base);
    mnist.catch(() => (mnist = null));
  }
  const split = splitMnist(await mnist, { validation: 5000, seed });
  const trainSet = subset ? firstN(split.train, subset, `mnist-train-first-${subset}`) : split.train;
  const validation = subset ? firstN(split.validation, Math.min(5000, Math.ceil(subset / 4)), 'mnist-validation-part') : split.validation;
  const test = subset ? firstN(split.test, Math.min(10000, subset), 'mnist-test-part') : split.test;
  log(`data: ${trainSet.length} training, ${validation.length} validation, ${test.length} test examples`);

  const batchesPerEpoch = Math.ceil(trainSet.length / opts.batchSize);
  const plannedSteps = steps ?? opts.epochs * batchesPerEpoch;
  // About 20 points on the curve; at most the runner's default of one readback every 50 steps.
  const metricsEvery = Math.min(50, Math.max(1, Math.round(plannedSteps / 20)));
  const config: RunnerConfig = {
    model,
    batchSize: opts.batchSize,
    optimizer: optimizerConfig(opts.optimizer, { lr: opts.lr }),
    seed,
    metricsEvery,
  };
  setStatus('compiling the step plan…');
  const runner = await createGpuRunner(engine!, config);
  const curve: Curve = { plannedSteps, windows: [], epochs: [] };
  drawCurve(curve);
  try {
    const trainer = new Trainer(runner, config);
    log(`model ${opts.model}, ${opts.optimizer} lr=${opts.lr}, batch ${opts.batchSize}, ` +
      (steps ? `${steps} steps` : `${opts.epochs} epoch(s) of ${batchesPerEpoch} steps`) + `, metrics every ${metricsEvery} steps`);
    controller = new AbortController();
    stopButton.disabled = false;
    let lastStatus = 0;
    const fit = await trainer.fit(trainSet, {
      ...(steps ? { steps } : { epochs: opts.epochs }),
      validation,
      seed,
      signal: controller.signal,
      callbacks: {
        onMetrics(m: MetricsReport) {
          if (m.rows === 0) return;
          curve.windows.push({ step: m.lastStep + 1, loss: m.loss, accuracy: m.accuracy });
          drawCurve(curve);
        },
        onStep(s) {
          const now = performance.now();
          if (now - lastStatus < 250) return;
          lastStatus = now;
          const w = curve.windows.at(-1);
          setStatus(`epoch ${s.epoch}, step ${s.step + 1} of ${plannedSteps}` + (w ? `: loss ${w.loss.toFixed(4)}, accuracy ${(100 * w.accuracy).toFixed(1)}%` : ''));
        },
        onEpoch(e: EpochRecord) {
          curve.epochs.push({ step: e.totalSteps, trainLoss: e.trainLoss, valLoss: e.valLoss, valAccuracy: e.valAccuracy });
          drawCurve(curve);
          log(`epoch ${e.epoch}${e.partial ? ' (partial)' : ''}: ${e.steps} steps, loss ${e.trainLoss.toFixed(4)}, ` +
            `accuracy ${(100 * e.trainAccuracy).toFixed(2)}%, val loss ${e.valLoss?.toFixed(4)}, ` +
            `val accuracy ${((e.valAccuracy ?? NaN) * 100).toFixed(2)}%, ${e.stepsPerSecond.toFixed(1)} steps/s`);
        },
      },
    });
    stopButton.disabled = true;
    if (deviceError) throw deviceError;
    setStatus(`${fit.interrupted ? 'stopped' : 'trained'} after ${fit.steps} steps; evaluating on ${test.length} test examples…`);
    const evaluation = await trainer.evaluate(test);
    return {
      steps: fit.steps,
      testAccuracy: evaluation.accuracy,
      testLoss: evaluation.loss,
      testCount: evaluation.count,
      adapter: engine!.describe(),
      losses: curve.windows.map((w) => w.loss),
      accuracies: curve.windows.map((w) => w.accuracy),
      windowSteps: curve.windows.map((w) => w.step),
      metricsEvery,
      epochs: fit.history,
      interrupted: fit.interrupted,
      seconds: fit.seconds,
      totalSeconds: (performance.now() - t0) / 1000,
      stepsPerSecond: fit.stepsPerSecond,
      config: { model: opts.model, optimizer: opts.optimizer, lr: opts.lr, batchSize: opts.batchSize, epochs: steps ? null : opts.epochs, subset, seed },
    };
  } finally {
    runner.destroy();
    controller = null;
    stopButton.disabled = true;
  }
}

async function run(): Promise<void> {
  startButton.disabled = true;
  deviceError = null;
  delete window.__wgtrainResult;
  try {
    const r = await train();
    const text = `test accuracy ${(100 * r.testAccuracy).toFixed(2)}% on ${r.testCount} examples after ${r.steps} steps ` +
      `(${r.stepsPerSecond.toFixed(1)} steps/s${r.interrupted ? ', stopped' : ''}) on ${r.adapter}`;
    setStatus(text, 'ok');
    log(text, 'ok');
    window.__wgtrainResult = r;
  } catch (e) {
    const err = e as Error;
    setStatus(`${err.name}: training failed`, 'fail');
    log(err.message, 'fail');
    window.__wgtrainResult = { error: `${err.name}: ${err.message}` };
  } finally {
    startButton.disabled = false;
  }
}

async function main(): Promise<void> {
  for (const name of OPTIMIZER_NAMES) inputs.optimizer.append(new Option(name, name));
  inputs.optimizer.value = 'Adam';
  for (const key of Object.keys(inputs) as (keyof typeof inputs)[]) {
    const v = params.get(key);
    if (v !== null) inputs[key].value = v;
  }
  drawCurve({ plannedSteps: 0, windows: [], epochs: [] });
  try {
    engine = await createEngine({ log: (l) => log(l) });
  } catch (e) {
    const err = e as Error;
    const hint = webGpuHint();
    setStatus(hint ?? 'No WebGPU adapter: this page cannot train here.', 'fail');
    log(err instanceof NoAdapterError ? err.message : `${err.name}: ${err.message}`, 'fail');
    window.__wgtrainResult = { error: `${err.name}: ${err.message}` };
    return;
  }
  engine.onError((e) => {
    deviceError ??= e;
    controller?.abort();
  });
  setStatus(`ready on ${engine.describe()}`);
  startButton.disabled = false;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run();
  });
  stopButton.addEventListener('click', () => {
    controller?.abort();
    stopButton.disabled = true;
    setStatus('stopping at the next step…');
  });
  if (params.get('auto') === '1') void run();
}

main().catch((e) => {
  setStatus(`${(e as Error).name}: ${(e as Error).message}`, 'fail');
  window.__wgtrainResult = { error: String((e as Error).message ?? e) };
});
