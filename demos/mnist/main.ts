/**
 * Demo: train a classifier on MNIST in the browser through the public API only (the calls of "Training from code" in
 * README.md): createEngine → loadMnistFromUrl → splitMnist → parseModelSpec → createGpuRunner → Trainer.fit, then
 * evaluate, predictProba, confusionMatrix, confidentMistakes, layerFilters, and save / loadTrainer / ModelStore for
 * the model file. Gradient norms come from the GPU metrics (RunnerConfig.gradNorms); a diverging run stops itself
 * (fit's stopOnDivergence).
 *
 * Query parameters: every setting of the form (settings.ts; the page keeps them in the address), and for automation
 * (test/browser-demos.test.ts):
 *   ?auto=1      start at once
 *   ?data=URL    folder holding the four uncompressed IDX files (default /mnist-data/, served by demos/serve.mjs)
 *   ?seed=S      seed of weights, split and shuffle (default 0)
 *   ?subset=M    (a setting) train on the first M training digits; validate on min(5000, ⌈M/4⌉) and test on
 *                min(10000, M) digits (a software adapter evaluates slowly)
 * When a run ends, `window.__wgtrainResult` holds a DemoResult, or { error }; a drawn digit's prediction is in
 * `window.__wgtrainDrawn`.
 */
import {
  argmaxRows,
  confidentMistakes,
  confusionMatrix,
  createGpuRunner,
  Dataset,
  DIVERGENCE_HINT,
  downloadBytes,
  formatDuration,
  formatModelSpec,
  layerFilters,
  loadMnistFromUrl,
  loadTrainer,
  mnistFromInk,
  ModelStore,
  optimizerConfig,
  outputSize,
  perClassAccuracy,
  type RunnerConfigError,
  splitMnist,
  Trainer,
  type Engine,
  type EpochRecord,
  type MetricsReport,
  type Mnist,
  type RunnerConfig,
} from '../../src/index.js';
import { Chart, type Series } from '../shared/chart.js';
import { $, setStatus } from '../shared/dom.js';
import { openEngine, showWebGpuBox } from '../shared/webgpu.js';
import { DrawPad } from './draw-pad.js';
import { digitCanvas, drawConfusion, drawDigitGrid, drawMistakes, drawProbs, drawWeights } from './pictures.js';
import {
  ARCHES, buildModel, DEFAULTS, presetSettings, FieldError, fillChoices, modelText, optimizerHyperparams, QUICK, readForm, scheduleSpec, settingsFromUrl,
  settingsToUrl, showFields, writeForm, type Settings,
} from './settings.js';

/** What an automated run reads from `window.__wgtrainResult`. */
interface DemoResult {
  steps: number;
  testAccuracy: number;
  testLoss: number;
  testCount: number;
  adapter: string;
  /** Mean training loss and accuracy of each metrics window, and the global step after each. */
  losses: number[];
  accuracies: number[];
  windowSteps: number[];
  metricsEvery: number;
  /** Mean global gradient norm of each window. */
  gradNorms: number[];
  epochs: EpochRecord[];
  interrupted: boolean;
  diverged?: string;
  seconds: number;
  totalSeconds: number;
  stepsPerSecond: number;
  config: { model: string; optimizer: string; lr: number; batchSize: number; epochs: number | null; subset: number | null; seed: number };
  /** What the pictures show. */
  pictures: { digits: number; mistakes: number; confusionTotal: number; weights: number } | null;
}

declare global {
  interface Window {
    __wgtrainResult?: DemoResult | { error: string; diverged?: string };
    __wgtrainDrawn?: { predicted: number; probs: number[] };
  }
}

const params = new URLSearchParams(location.search);
const form = $<HTMLFormElement>('form');
const startButton = $<HTMLButtonElement>('start');
const stopButton = $<HTMLButtonElement>('stop');
const phaseLabel = $<HTMLSpanElement>('phase');
const numbers = $<HTMLSpanElement>('numbers');
const bar = $<HTMLProgressElement>('bar');
const logBox = $<HTMLPreElement>('log');
const fileStatus = $<HTMLParagraphElement>('file-status');

function log(text: string): void {
  logBox.textContent += text + '\n';
  logBox.scrollTop = logBox.scrollHeight;
}

type Phase = 'idle' | 'loading data' | 'compiling' | 'training' | 'validating' | 'testing' | 'stopping' | 'done' | 'stopped' | 'diverged' | 'failed';
function setPhase(p: Phase): void {
  phaseLabel.textContent = p;
  phaseLabel.className = `phase ${p === 'diverged' || p === 'failed' ? 'fail' : p === 'done' ? 'ok' : ''}`;
}

// ---- field errors ------------------------------------------------------------------------------------------------

/** Where each field's error is shown: the message box of its fieldset. */
const ERROR_BOX: Record<string, string> = {
  arch: 'model-error', hidden: 'model-error', act: 'model-error', bn: 'model-error', dropout: 'model-error', model: 'model-error',
  opt: 'opt-error', lr: 'opt-error', momentum: 'opt-error', sched: 'opt-error', wd: 'opt-error', clip: 'opt-error', clipv: 'opt-error',
  batch: 'run-error', epochs: 'run-error', steps: 'run-error', subset: 'run-error',
};

function clearFieldErrors(): void {
  for (const id of new Set(Object.values(ERROR_BOX))) $(id).textContent = '';
  for (const el of Array.from(form.querySelectorAll('.invalid'))) el.classList.remove('invalid');
}

function showFieldError(field: string, message: string): void {
  const box = $(ERROR_BOX[field] ?? 'run-error');
  box.textContent = message;
  const input = document.getElementById(field);
  input?.classList.add('invalid');
  input?.focus();
}

/** A RunnerConfigError's field path (optimizer.hyperparams.lr) as the form field it came from. */
function formField(path: string): string {
  if (path.startsWith('optimizer.hyperparams.')) {
    const h = path.slice('optimizer.hyperparams.'.length);
    return { lr: 'lr', weight_decay: 'wd', momentum: 'momentum' }[h] ?? 'opt';
  }
  if (path.startsWith('optimizer')) return 'opt';
  if (path.startsWith('clip')) return 'clipv';
  if (path.startsWith('model')) return 'model';
  if (path === 'batchSize') return 'batch';
  return 'run';
}

// ---- charts ------------------------------------------------------------------------------------------------------

const COLORS = ['#1f6fd1', '#d9730d', '#2e9d57', '#9b4dca', '#c2255c', '#0f8b8d', '#8a6d00', '#5c677d'];
const pct = (v: number) => `${v}%`;
const charts = {
  loss: new Chart($('chart-loss'), { x: { label: 'step', integer: true }, y: { label: 'loss (log scale)', log: true } }),
  acc: new Chart($('chart-acc'), { x: { label: 'step', integer: true }, y: { label: 'accuracy', max: 100, zero: false, format: pct } }),
  lr: new Chart($('chart-lr'), { x: { label: 'step', integer: true }, y: { label: 'learning rate' } }),
  grad: new Chart($('chart-grad'), { x: { label: 'step', integer: true }, y: { label: 'gradient L2 norm (log scale)', log: true } }),
};

interface Curves {
  loss: [number, number][];
  acc: [number, number][];
  valLoss: [number, number][];
  valAcc: [number, number][];
  lr: [number, number][];
  grad: { name: string; points: [number, number][] }[];
  globalGrad: [number, number][];
}

const emptyCurves = (): Curves => ({ loss: [], acc: [], valLoss: [], valAcc: [], lr: [], grad: [], globalGrad: [] });

function drawCharts(c: Curves): void {
  charts.loss.set([
    { label: 'training (per window)', color: COLORS[0]!, points: c.loss },
    { label: 'validation (per epoch)', color: COLORS[1]!, points: c.valLoss, style: 'dots' },
  ]);
  charts.acc.set([
    { label: 'training (per window)', color: COLORS[0]!, points: c.acc },
    { label: 'validation (per epoch)', color: COLORS[1]!, points: c.valAcc, style: 'dots' },
  ]);
  charts.lr.set([{ label: 'learning rate', color: COLORS[2]!, points: c.lr }]);
  const grads: Series[] = [{ label: 'all parameters', color: '#1d1f23', points: c.globalGrad, dashed: true }];
  c.grad.forEach((g, i) => grads.push({ label: `layer ${g.name}`, color: COLORS[i % COLORS.length]!, points: g.points }));
  charts.grad.set(grads);
}

/** The x axes: the planned length while training, the data's extent after (a Stop rescales). */
function setPlannedSteps(steps: number | undefined): void {
  for (const c of Object.values(charts)) c.setAxis('x', { max: steps });
}

// ---- data, engine, state -----------------------------------------------------------------------------------------

let engine: Engine | null = null;
let mnist: Promise<Mnist> | null = null;
let controller: AbortController | null = null;
let deviceError: Error | null = null;
/** The last trained or loaded model, for drawing, saving and predictions. */
let current: { trainer: Trainer; spec: string } | null = null;
let running = false;

const firstN = (ds: Dataset, n: number, name: string): Dataset =>
  n >= ds.length ? ds : ds.subset(Uint32Array.from({ length: n }, (_, i) => i), name);

async function loadData(seed: number, subset: number | null): Promise<{ train: Dataset; validation: Dataset; test: Dataset }> {
  if (!mnist) {
    const base = new URL(params.get('data') ?? '/mnist-data/', location.href);
    setStatus(`Fetching MNIST from ${base}…`);
    mnist = loadMnistFromUrl(base);
    mnist.catch(() => (mnist = null));
  }
  const split = splitMnist(await mnist, { validation: 5000, seed });
  if (!subset) return split;
  return {
    train: firstN(split.train, subset, `mnist-train-first-${subset}`),
    validation: firstN(split.validation, Math.min(5000, Math.ceil(subset / 4)), 'mnist-validation-part'),
    test: firstN(split.test, Math.min(10000, subset), 'mnist-test-part'),
  };
}

function adopt(trainer: Trainer, spec: string): void {
  if (current && current.trainer !== trainer) current.trainer.runner.destroy();
  current = { trainer, spec };
  for (const id of ['download', 'store-save']) $<HTMLButtonElement>(id).disabled = false;
  $('draw-result').textContent = 'Draw a digit in the box.';
  if (!pad.empty) void predictDrawing();
}

// ---- pictures ----------------------------------------------------------------------------------------------------

/** Evaluates on the test digits and draws every picture; returns the numbers for DemoResult. */
async function evaluateAndDraw(trainer: Trainer, test: Dataset): Promise<{ accuracy: number; loss: number; count: number; pictures: DemoResult['pictures'] }> {
  setPhase('testing');
  setStatus(`Testing on ${test.length.toLocaleString('en')} digits…`);
  const evaluation = await trainer.evaluate(test);
  const probs = await trainer.predictProba(test);
  const labels = test.labels!;
  const predicted = argmaxRows(probs, 10);
  const images = test.inputs as Uint8Array;
  const matrix = confusionMatrix(labels, predicted, 10);
  const mistakes = confidentMistakes(probs, labels, 10, 18);
  drawDigitGrid($('digits'), images, labels, predicted, probs, 60);
  drawMistakes($('mistakes'), images, mistakes);
  drawConfusion($('confusion'), matrix, perClassAccuracy(matrix, 10));
  const { params: weights } = await trainer.runner.exportState();
  // A Dense unit over the image is a 28×28 picture; a convolution's filter over the one grey channel a kh×kw one.
  const filters = layerFilters(trainer.config.model, weights);
  const view = !filters ? null : filters.filters[0]!.length === 784 ? [28, 28] : filters.shape.length === 3 && filters.shape[0] === 1 ? filters.shape.slice(1) : null;
  const first = view ? layerFilters(trainer.config.model, weights, { layer: filters!.layer, imageShape: view }) : null;
  if (first) {
    drawWeights($('weights'), first, 64);
    $('weights-note').textContent = `${first.name}: ${Math.min(64, first.filters.length)} of its ${first.filters.length} units, ${view!.join('×')} each`;
  } else $('weights').textContent = filters ? `The first layer with weights (${filters.name}) does not look at the 28×28 image directly.` : 'This model has no weights to show.';
  $('pictures-note').textContent = `From the ${test.length.toLocaleString('en')} test digits, after ${trainer.position.step} training steps.`;
  return {
    accuracy: evaluation.accuracy,
    loss: evaluation.loss,
    count: evaluation.count,
    pictures: { digits: $('digits').childElementCount, mistakes: mistakes.length, confusionTotal: matrix.reduce((a, b) => a + b, 0), weights: first ? $('weights').childElementCount : 0 },
  };
}

// ---- drawing -----------------------------------------------------------------------------------------------------

const pad = new DrawPad($<HTMLCanvasElement>('pad'), () => void predictDrawing());

async function predictDrawing(): Promise<void> {
  const out = $('draw-result');
  if (!current || running) {
    out.textContent = running ? 'Training… draw again when the run ends.' : 'Train or load a model first.';
    return;
  }
  const pixels = mnistFromInk(pad.ink(), pad.canvas.width, pad.canvas.height);
  if (!pixels) return;
  const preview = $<HTMLCanvasElement>('draw-preview');
  preview.getContext('2d')!.drawImage(digitCanvas(pixels), 0, 0);
  const probs = await current.trainer.predictProba(new Dataset({ name: 'drawing', inputs: pixels, inputShape: [28, 28] }));
  const predicted = argmaxRows(probs, 10)[0]!;
  out.className = 'draw-result';
  out.innerHTML = '';
  out.append(Object.assign(document.createElement('strong'), { textContent: String(predicted) }),
    `predicted, ${(100 * probs[predicted]!).toFixed(1)}% sure`);
  drawProbs($('probs'), probs);
  window.__wgtrainDrawn = { predicted, probs: Array.from(probs) };
}

$('clear').addEventListener('click', () => {
  pad.clear();
  $('probs').innerHTML = '';
  $<HTMLCanvasElement>('draw-preview').getContext('2d')!.clearRect(0, 0, 28, 28);
  delete window.__wgtrainDrawn;
  $('draw-result').textContent = current ? 'Draw a digit in the box.' : 'Train or load a model, then draw a digit.';
});

// ---- training ----------------------------------------------------------------------------------------------------

/** The form's settings as the library's inputs; field errors are thrown as FieldError. */
function prepare(s: Settings, trainLength: number): { config: RunnerConfig; planned: number; perEpoch: number; schedule: string } {
  const model = buildModel(s);
  const perEpoch = Math.ceil(trainLength / s.batch);
  const planned = s.steps ?? s.epochs * perEpoch;
  const schedule = scheduleSpec(s, planned, perEpoch);
  const config: RunnerConfig = {
    model,
    batchSize: s.batch,
    optimizer: optimizerConfig(s.opt, optimizerHyperparams(s)),
    ...(s.clip === 'norm' ? { clip: { maxNorm: s.clipv } } : s.clip === 'value' ? { clip: { value: s.clipv } } : {}),
    seed: Number(params.get('seed') ?? 0),
    // About 100 points per curve; at most the runner's default of one readback every 50 steps.
    metricsEvery: Math.min(50, Math.max(1, Math.round(planned / 100))),
    gradNorms: true,
  };
  return { config, planned, perEpoch, schedule };
}

async function train(s: Settings): Promise<DemoResult> {
  const t0 = performance.now();
  const seed = Number(params.get('seed') ?? 0);
  buildModel(s); // a bad model is reported before any data is fetched
  setPhase('loading data');
  const data = await loadData(seed, s.subset);
  const { config, planned, perEpoch, schedule } = prepare(s, data.train.length);
  log(`data: ${data.train.length} training, ${data.validation.length} validation, ${data.test.length} test digits`);
  log(`model ${formatModelSpec(config.model)}; ${s.opt} ${JSON.stringify(config.optimizer.hyperparams)}; schedule ${schedule}; batch ${s.batch}; ` +
    `${planned} steps (${perEpoch} per epoch); metrics every ${config.metricsEvery} steps`);
  setPhase('compiling');
  setStatus('Compiling the step plan…');
  if (current) {
    current.trainer.runner.destroy();
    current = null;
  }
  let runner;
  try {
    runner = await createGpuRunner(engine!, config);
  } catch (e) {
    if ((e as Error).name === 'RunnerConfigError') throw new FieldError(formField((e as RunnerConfigError).field) as keyof Settings, (e as Error).message);
    throw e;
  }
  const trainer = new Trainer(runner, config);
  const curves = emptyCurves();
  setPlannedSteps(planned);
  drawCharts(curves);
  controller = new AbortController();
  stopButton.disabled = false;
  const lrEvery = Math.max(1, Math.ceil(planned / 600));
  const trainStart = performance.now();
  let validating = 0;
  let validatingSince = 0;
  let lastShown = 0;
  const recent: [number, number][] = []; // (time, step) of recent steps, for the live rate
  let stepsDone = 0;
  setPhase('training');
  try {
    const fit = await trainer.fit(data.train, {
      ...(s.steps ? { steps: s.steps } : { epochs: s.epochs }),
      schedule,
      validation: data.validation,
      seed,
      signal: controller.signal,
      validateInterrupted: s.evalstop,
      stopOnDivergence: true,
      callbacks: {
        onMetrics(m: MetricsReport) {
          if (m.rows === 0) return;
          const step = m.lastStep + 1;
          curves.loss.push([step, m.lossSum / m.rows]);
          curves.acc.push([step, (100 * m.correct) / m.rows]);
          const g = m.gradNorms;
          if (g) {
            curves.globalGrad.push([step, g.global.mean]);
            g.layers.forEach((l, i) => (curves.grad[i] ??= { name: l.name, points: [] }).points.push([step, l.norm.mean]));
          }
          drawCharts(curves);
        },
        onStep(st) {
          stepsDone++;
          if (st.step % lrEvery === 0 || st.step + 1 === planned) curves.lr.push([st.step + 1, st.lr]);
          const now = performance.now();
          if (validatingSince) {
            validating += now - validatingSince;
            validatingSince = 0;
            setPhase(controller?.signal.aborted ? 'stopping' : 'training');
          }
          recent.push([now, st.step]);
          while (recent.length > 2 && now - recent[0]![0] > 3000) recent.shift();
          if (now - lastShown < 200 && st.step + 1 !== planned) return;
          lastShown = now;
          const live = recent.length > 1 ? (recent.at(-1)![1] - recent[0]![1]) / ((recent.at(-1)![0] - recent[0]![0]) / 1000) : NaN;
          const avg = stepsDone / Math.max(1e-3, (now - trainStart - validating) / 1000);
          const left = planned - st.step - 1;
          bar.max = planned;
          bar.value = st.step + 1;
          numbers.textContent = `step ${(st.step + 1).toLocaleString('en')} of ${planned.toLocaleString('en')} · epoch ${st.epoch}` +
            `${s.steps ? '' : ` of ${s.epochs}`} · ${Number.isFinite(live) ? live.toFixed(live < 10 ? 1 : 0) : '–'} steps/s · ` +
            `${formatDuration((now - t0) / 1000)} elapsed · ETA ${formatDuration(left / avg)}`;
          const w = curves.loss.at(-1);
          if (!controller?.signal.aborted) setStatus(w ? `Training: loss ${w[1].toFixed(4)}, accuracy ${curves.acc.at(-1)![1].toFixed(1)}% (last window)` : 'Training…');
        },
        onValidation(v) {
          validatingSince = performance.now();
          setPhase('validating');
          setStatus(`Validating epoch ${v.epoch} on ${v.examples.toLocaleString('en')} digits…`);
        },
        onEpoch(e: EpochRecord) {
          if (validatingSince) {
            validating += performance.now() - validatingSince;
            validatingSince = 0;
          }
          if (e.valLoss !== undefined) {
            curves.valLoss.push([e.totalSteps, e.valLoss]);
            curves.valAcc.push([e.totalSteps, 100 * e.valAccuracy!]);
          }
          drawCharts(curves);
          log(`epoch ${e.epoch}${e.partial ? ' (partial)' : ''}: ${e.steps} steps, loss ${e.trainLoss.toFixed(4)}, accuracy ${(100 * e.trainAccuracy).toFixed(2)}%` +
            (e.valLoss !== undefined ? `, validation loss ${e.valLoss.toFixed(4)}, accuracy ${(100 * e.valAccuracy!).toFixed(2)}%` : '') +
            `, ${e.stepsPerSecond.toFixed(1)} steps/s${e.skipped ? `, ${e.skipped} steps skipped (non-finite gradients)` : ''}`);
        },
      },
    });
    stopButton.disabled = true;
    if (deviceError) throw deviceError;
    numbers.textContent = `${fit.steps.toLocaleString('en')} of ${planned.toLocaleString('en')} steps · ${fit.stepsPerSecond.toFixed(1)} steps/s · ` +
      `${formatDuration((performance.now() - t0) / 1000)} elapsed`;
    // A Stop or a divergence: the axes now end where the run did.
    if (fit.interrupted || fit.diverged) setPlannedSteps(undefined);
    bar.value = fit.interrupted || fit.diverged ? bar.value : bar.max;
    const base = {
      steps: fit.steps, adapter: engine!.describe(), losses: curves.loss.map((p) => p[1]), accuracies: curves.acc.map((p) => p[1] / 100),
      windowSteps: curves.loss.map((p) => p[0]), metricsEvery: config.metricsEvery!, gradNorms: curves.globalGrad.map((p) => p[1]),
      epochs: fit.history, interrupted: fit.interrupted, seconds: fit.seconds, stepsPerSecond: fit.stepsPerSecond,
      config: { model: modelText(s), optimizer: s.opt, lr: s.lr, batchSize: s.batch, epochs: s.steps ? null : s.epochs, subset: s.subset, seed },
    };
    if (fit.diverged) {
      trainer.runner.destroy();
      return { ...base, diverged: fit.diverged, testAccuracy: NaN, testLoss: NaN, testCount: 0, totalSeconds: (performance.now() - t0) / 1000, pictures: null };
    }
    adopt(trainer, modelText(s));
    if (fit.interrupted && !s.evalstop) {
      return { ...base, testAccuracy: NaN, testLoss: NaN, testCount: 0, totalSeconds: (performance.now() - t0) / 1000, pictures: null };
    }
    const ev = await evaluateAndDraw(trainer, data.test);
    return { ...base, testAccuracy: ev.accuracy, testLoss: ev.loss, testCount: ev.count, totalSeconds: (performance.now() - t0) / 1000, pictures: ev.pictures };
  } catch (e) {
    if ((current as { trainer: Trainer } | null)?.trainer !== trainer) trainer.runner.destroy();
    throw e;
  } finally {
    controller = null;
    stopButton.disabled = true;
  }
}

async function run(): Promise<void> {
  clearFieldErrors();
  let s: Settings;
  try {
    s = readForm();
    settingsToUrl(s);
  } catch (e) {
    reportFailure(e);
    return;
  }
  running = true;
  startButton.disabled = true;
  deviceError = null;
  delete window.__wgtrainResult;
  try {
    const r = await train(s);
    const rate = `${r.stepsPerSecond.toFixed(1)} steps/s`;
    if (r.diverged) {
      setPhase('diverged');
      setStatus(`The run diverged: ${r.diverged}. It was stopped after ${r.steps} steps.`, 'fail', DIVERGENCE_HINT);
      log(`diverged: ${r.diverged}`);
    } else if (r.testCount === 0) {
      setPhase('stopped');
      setStatus(`Stopped after ${r.steps} steps (${rate}); validation and testing skipped.`, 'warn');
    } else {
      setPhase('done');
      const text = `Test accuracy ${(100 * r.testAccuracy).toFixed(2)}% on ${r.testCount.toLocaleString('en')} digits after ${r.steps} steps ` +
        `(${rate}${r.interrupted ? ', stopped early' : ''}) on ${r.adapter}.`;
      setStatus(text, 'ok');
      log(text);
    }
    window.__wgtrainResult = r;
  } catch (e) {
    reportFailure(e);
  } finally {
    running = false;
    startButton.disabled = false;
  }
}

function reportFailure(e: unknown): void {
  const err = e as Error;
  setPhase('failed');
  if (err instanceof FieldError) {
    showFieldError(err.field, err.message);
    setStatus(`Cannot start: ${err.message}`, 'fail', 'Fix the field marked in red and press Train again.');
  } else {
    setStatus(`${err.name}: ${err.message}`, 'fail');
  }
  log(`${err.name}: ${err.message}`);
  window.__wgtrainResult = { error: `${err.name}: ${err.message}` };
}

// ---- model file --------------------------------------------------------------------------------------------------

const STORE_KEY = 'mnist';

async function loadBytes(bytes: Uint8Array, name: string): Promise<void> {
  if (running) throw new Error('a run is in progress: stop it first');
  fileStatus.textContent = `Loading ${name}…`;
  const trainer = await loadTrainer(bytes, { engine: engine!, name });
  const m = trainer.config.model;
  if (m.inputs !== 784 || outputSize(m) !== 10) {
    trainer.runner.destroy();
    throw new Error(`${name} holds a model with ${m.inputs} inputs and ${outputSize(m)} outputs; an MNIST classifier has 784 and 10`);
  }
  const spec = formatModelSpec(m);
  adopt(trainer, spec);
  fileStatus.textContent = `Loaded ${name}: ${spec}, trained ${trainer.position.step} steps.`;
  const data = await loadData(Number(params.get('seed') ?? 0), readForm().subset);
  const ev = await evaluateAndDraw(trainer, data.test);
  setPhase('done');
  setStatus(`Loaded model: test accuracy ${(100 * ev.accuracy).toFixed(2)}% on ${ev.count.toLocaleString('en')} digits.`, 'ok');
}

function fileAction(fn: () => Promise<void>): () => void {
  return () => {
    fn().catch((e) => {
      fileStatus.className = 'small fail';
      fileStatus.textContent = `${(e as Error).name}: ${(e as Error).message}`;
    }).then(() => void 0);
    fileStatus.className = 'small';
  };
}

$('download').addEventListener('click', fileAction(async () => {
  const bytes = await current!.trainer.save();
  downloadBytes(bytes, `wgtrain-mnist-${current!.trainer.position.step}-steps.safetensors`);
  fileStatus.textContent = `Downloaded ${(bytes.length / 1024).toFixed(0)} KiB.`;
}));
$<HTMLInputElement>('upload').addEventListener('change', (ev) => {
  const input = ev.target as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  fileAction(async () => loadBytes(new Uint8Array(await file.arrayBuffer()), file.name))();
  input.value = '';
});
$('store-save').addEventListener('click', fileAction(async () => {
  const bytes = await current!.trainer.save();
  const store = await ModelStore.open();
  try {
    await store.put(STORE_KEY, bytes, { model: current!.spec, steps: current!.trainer.position.step });
  } finally {
    store.close();
  }
  $<HTMLButtonElement>('store-load').disabled = false;
  fileStatus.textContent = `Kept in this browser (IndexedDB): ${current!.spec}, ${(bytes.length / 1024).toFixed(0)} KiB.`;
}));
$('store-load').addEventListener('click', fileAction(async () => {
  const store = await ModelStore.open();
  let bytes: Uint8Array;
  try {
    bytes = await store.get(STORE_KEY);
  } finally {
    store.close();
  }
  await loadBytes(bytes, 'the model kept in this browser');
}));

// ---- start -------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  fillChoices();
  writeForm(settingsFromUrl(params));
  setPlannedSteps(undefined);
  drawCharts(emptyCurves());
  const refresh = () => {
    clearFieldErrors();
    try {
      const s = readForm();
      showFields(s);
      $('spec').textContent = modelText(s);
      buildModel(s);
      settingsToUrl(s);
    } catch (e) {
      if (e instanceof FieldError) showFieldError(e.field, e.message);
    }
  };
  form.addEventListener('change', (ev) => {
    // Choosing a built-in model also chooses its recipe (optimizer, lr, batch, epochs); each can be changed after.
    if ((ev.target as HTMLElement).id === 'arch') {
      const arch = ARCHES.find((a) => a.id === $<HTMLSelectElement>('arch').value);
      if (arch?.preset) writeForm({ ...readFormOrDefaults(), ...presetSettings(arch.preset), arch: arch.id });
    }
    refresh();
  });
  form.addEventListener('input', () => {
    try {
      $('spec').textContent = modelText(readForm());
    } catch {
      // shown on change
    }
  });
  refresh();
  $('quick').addEventListener('click', () => {
    writeForm({ ...readFormOrDefaults(), ...QUICK });
    refresh();
  });
  $('share').addEventListener('click', () => {
    void navigator.clipboard?.writeText(location.href).then(
      () => setStatus('The link to this page, with every setting, is on the clipboard.'),
      () => setStatus(`Share this address: ${location.href}`),
    );
  });

  const check = await openEngine(log);
  if (!check.ok) {
    showWebGpuBox(check);
    setPhase('failed');
    setStatus(check.problem, 'fail', 'This page needs WebGPU: see the box above.');
    window.__wgtrainResult = { error: `NoAdapterError: ${check.problem}` };
    return;
  }
  engine = check.engine;
  engine.onError((e) => {
    deviceError ??= e;
    controller?.abort();
  });
  setStatus(`Ready on ${engine.describe()}.`);
  setPhase('idle');
  startButton.disabled = false;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void run();
  });
  stopButton.addEventListener('click', () => {
    controller?.abort();
    stopButton.disabled = true;
    setPhase('stopping');
    setStatus(readFormOrDefaults().evalstop ? 'Stopping at the next step, then validating and testing…' : 'Stopping at the next step…');
  });
  void ModelStore.open().then(async (store) => {
    $<HTMLButtonElement>('store-load').disabled = !(await store.list()).some((m) => m.key === STORE_KEY);
    store.close();
  }).catch(() => {});
  if (params.get('auto') === '1') void run();
}

function readFormOrDefaults(): Settings {
  try {
    return readForm();
  } catch {
    return { ...DEFAULTS };
  }
}

main().catch((e) => {
  setStatus(`${(e as Error).name}: ${(e as Error).message}`, 'fail');
  window.__wgtrainResult = { error: String((e as Error).message ?? e) };
});
