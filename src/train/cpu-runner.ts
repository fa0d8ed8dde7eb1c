/**
 * The CPU runner: training steps on the CPU reference model, in float32 (rounded like f32 hardware) or float64.
 * Deterministic: the same config, seed and step inputs give bit-identical parameters, which is what makes
 * "2 epochs + save + load + 2 epochs = 4 epochs" exact on this path, and what the GPU runner is compared against.
 *
 * Step order (the GPU plan follows it): gather the batch → forward (training) → loss → backward → clip (by value,
 * then by global norm) → non-finite guard (skip the whole update if any gradient is NaN/Inf) → optimizer step.
 */
import type { Dataset } from '../data/dataset.js';
import { CpuModel, type Targets } from '../model/cpu-model.js';
import { outputSize } from '../model/spec.js';
import { initParams, initStats } from '../model/params.js';
import { Optimizer } from '../optim/optimizer.js';
import { allocate, type Dtype, type FloatArray } from '../ref/dtype.js';
import { optimizerGroups } from './optimizer-groups.js';
import { decodeFor, runnerCheckpoint } from './checkpoint.js';
import { checkWidth, forPrediction, invalidLabelsError, metricMeans, runnerSeed, type EvalResult, type GradNormReport, type MetricsReport, type Runner, type RunnerConfig, type RunnerState, type StepInput } from './runner.js';
import { gradNormLayers, type GradNormLayer } from './grad-norm-groups.js';
import { gradNormsRef } from '../ref/gradnorms.js';
import { MNIST_NORMALIZATION } from '../kernels/batch.js';
import { gradMagnitudeLr } from '../schedule/grad-magnitude.js';
import { checkBatchSize, checkNotEmpty, checkStateOptimizer, checkPermutation, checkRange, checkStepInput, destroyedError, validateRunnerConfig } from './runner-checks.js';
import { CpuMachine } from '../linalg/cpu-machine.js';
import type { VectorMachine } from '../linalg/machine.js';
import { isFullBatchMethod } from '../minimize/methods.js';
import { fma32, fma64 } from '../ref/fma.js';
import { checkFullBatchModel, fullBatchStepError } from './full-batch.js';
import { checkCpuRunnerFits, cpuAllocationError } from './cpu-limits.js';
import { yielder } from './event-loop.js';

export interface CpuRunnerOptions {
  /** float32 (rounded like f32 hardware, the default) or float64. */
  dtype?: Dtype;
  /**
   * Bytes the runner may take (its estimate, cpu-limits.ts); default: the machine's memory where the platform tells
   * it (Node), else no limit but the JavaScript engine's own. A larger model is refused before anything is allocated.
   */
  memoryLimit?: number;
}

export async function createCpuRunner(config: RunnerConfig, opts: CpuRunnerOptions = {}): Promise<CpuRunner> {
  return new CpuRunner(config, opts.dtype ?? 'float32', opts.memoryLimit);
}

/** A CPU runner's `description` (kept in checkpoints as their `device`): 'cpu float32' or 'cpu float64'. */
export function cpuRunnerDescription(dtype: Dtype): string {
  return `cpu ${dtype}`;
}

/** The dtype of the CPU runner a checkpoint's `device` names, or undefined when another runner wrote it. */
export function cpuRunnerDtype(description: string): Dtype | undefined {
  return (['float32', 'float64'] as const).find((d) => description === cpuRunnerDescription(d));
}

export class CpuRunner implements Runner {
  readonly device = 'cpu' as const;
  readonly description: string;
  readonly model: CpuModel;
  params: FloatArray;
  stats: FloatArray;
  grads: FloatArray;
  /** null when config.optimizer is a full-batch method (Trainer.fit drives it through fullBatchMachine). */
  readonly optimizer: Optimizer | null;
  skipped = 0;
  /** Per-group learning rates under RunnerConfig.gradLr (α_0 = each group's lr). */
  private alpha: number[];
  private data: Dataset | null = null;
  private perm: Uint32Array | null = null;
  private readonly listeners = new Set<(m: MetricsReport) => void>();
  private readonly scale: number;
  private readonly shift: number;
  private destroyed = false;
  /** RunnerConfig.gradNorms: the layers measured every step. */
  private readonly normLayers: GradNormLayer[] | null;

  constructor(
    readonly config: RunnerConfig,
    readonly dtype: Dtype,
    memoryLimit?: number,
  ) {
    validateRunnerConfig(config);
    if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`CpuRunner: dtype must be 'float32' or 'float64', got ${JSON.stringify(dtype)}`);
    if (memoryLimit !== undefined && !(memoryLimit > 0)) throw new RangeError(`createCpuRunner: memoryLimit must be a number of bytes > 0, got ${memoryLimit}`);
    this.description = cpuRunnerDescription(dtype);
    this.model = new CpuModel(config.model, dtype);
    const { layout } = this.model;
    checkCpuRunnerFits(config, layout, dtype, memoryLimit);
    try {
      this.params = allocate(dtype, layout.n);
      this.params.set(initParams(config.model, layout, runnerSeed(config)));
      this.stats = allocate(dtype, layout.nStats);
      this.stats.set(initStats(config.model, layout));
      this.grads = allocate(dtype, layout.n);
      this.optimizer = isFullBatchMethod(config.optimizer.name)
        ? null
        : new Optimizer(config.optimizer.name, config.optimizer.hyperparams ?? {}, {
          n: layout.n,
          dtype,
          groups: optimizerGroups(config.optimizer, layout),
        });
    } catch (e) {
      // Past the estimate (no limit known, or the engine's own array limits): still one message that says what to do.
      if (e instanceof RangeError && /allocation failed|invalid (typed )?array (buffer )?length/i.test(e.message)) throw cpuAllocationError(config, layout, dtype, e);
      throw e;
    }
    this.alpha = this.optimizer?.groups.map((g) => g.h.lr as number) ?? [];
    this.scale = config.inputScale ?? MNIST_NORMALIZATION.scale;
    this.shift = config.inputShift ?? MNIST_NORMALIZATION.shift;
    const normLayers = config.gradNorms ? gradNormLayers(config.model, layout) : [];
    this.normLayers = normLayers.length ? normLayers : null;
  }

  /** Every public method starts here: a destroyed runner says so. */
  private alive(method: string): void {
    if (this.destroyed) throw destroyedError(`CpuRunner.${method}`, 'create a new one with createCpuRunner (and importState to continue)');
  }

  async setTrainingData(ds: Dataset, batchSize = this.config.batchSize): Promise<void> {
    this.alive('setTrainingData');
    checkBatchSize(batchSize, this.config.batchSize, 'setTrainingData');
    checkDataset(ds, this.config);
    this.data = ds;
  }

  beginEpoch(permutation: Uint32Array): void {
    this.alive('beginEpoch');
    if (!this.data) throw new Error('beginEpoch: call setTrainingData first');
    checkPermutation(permutation, this.data.length, 'beginEpoch');
    this.perm = permutation;
  }

  /** Inputs and targets of examples idx[0..rows), normalised as the GPU gather does. */
  batch(ds: Dataset, idx: ArrayLike<number>, rows: number): { x: FloatArray; targets: Targets } {
    const D = ds.exampleSize;
    const x = allocate(this.dtype, rows * D);
    const r = this.dtype === 'float32' ? Math.fround : (v: number) => v;
    const bytes = ds.inputs instanceof Uint8Array;
    for (let b = 0; b < rows; b++) {
      const src = idx[b]! * D;
      for (let d = 0; d < D; d++) {
        const v = ds.inputs[src + d]!;
        x[b * D + d] = bytes ? r(r(v * r(this.scale)) + r(this.shift)) : v;
      }
    }
    if (ds.labels) {
      const labels = new Uint32Array(rows);
      for (let b = 0; b < rows; b++) labels[b] = ds.labels[idx[b]!]!;
      return { x, targets: { labels } };
    }
    const K = ds.targetSize!;
    const values = new Float32Array(rows * K);
    for (let b = 0; b < rows; b++) values.set(ds.targets!.subarray(idx[b]! * K, idx[b]! * K + K), b * K);
    return { x, targets: { values } };
  }

  step(s: StepInput): void {
    this.alive('step');
    if (!this.optimizer) throw fullBatchStepError(this.config);
    if (!this.data || !this.perm) throw new Error('step: call setTrainingData and beginEpoch first');
    checkStepInput(s, this.config.batchSize, this.perm.length, 'step');
    const { x, targets } = this.batch(this.data, this.perm.subarray(s.start, s.start + s.rows), s.rows);
    const ctx = { training: true, seed: runnerSeed(this.config), step: s.step };
    const f = this.model.forward(this.params, this.stats, x, s.rows, ctx);
    const loss = this.model.loss(f, targets);
    this.model.backward(this.params, f, loss.dOut, this.grads, ctx);
    const gradNorms = this.normLayers ? this.measureLayers(this.normLayers) : undefined;
    const gradNorm = this.applyGradients(s);
    const finite = Number.isFinite(gradNorm);
    const sums = { lossSum: loss.lossSum, correct: loss.correct, rows: s.rows };
    const report: MetricsReport = {
      steps: 1,
      lastStep: s.step,
      ...sums,
      skipped: finite ? 0 : 1,
      ...metricMeans(this.config.model, sums),
      invalid: 0, // checked when the data is bound (checkDataset), and the loss throws on any
      gradNorm,
      ...(gradNorms ? { gradNorms } : {}),
    };
    for (const l of this.listeners) l(report);
  }

  /** This step's gradient norms (before clipping), per layer and global, as a one-step report. */
  private measureLayers(layers: GradNormLayer[]): GradNormReport {
    const r = gradNormsRef([this.grads], layers.map((l) => l.ranges));
    return { global: r.global, layers: layers.map((l, k) => ({ layer: l.layer, name: l.name, norm: r.groups[k]! })) };
  }

  /**
   * The update half of step(), on the gradient in `grads`: clip, guard, gradient-magnitude lr, optimizer step. Returns
   * the global gradient norm (NaN when not finite: the step was skipped unless guard is off). `measuredNorm`: use this
   * norm (of the value-clipped gradient) instead of measuring it — to replay a step whose norm another device measured
   * (tests replay GPU steps through it).
   */
  applyGradients(s: Pick<StepInput, 'lr'>, measuredNorm?: number): number {
    const optimizer = this.optimizer;
    if (!optimizer) throw fullBatchStepError(this.config);
    const gradNorm = this.clipAndMeasure(measuredNorm);
    if (Number.isFinite(gradNorm) || this.config.guard === false) {
      if (this.config.gradLr) {
        // The same control the fused GPU update applies (RunnerConfig.gradLr): this step's norm scales this step.
        const c = this.config.gradLr.c;
        this.alpha = this.alpha.map((a) => gradMagnitudeLr(a, c, gradNorm, this.dtype));
        optimizer.setLr(this.alpha);
      } else optimizer.setLr(s.lr);
      optimizer.step(this.params, this.grads);
    } else this.skipped++;
    return gradNorm;
  }

  /**
   * Clips by value, then by global L2 norm (the order of torch's clip_grad_value_ then clip_grad_norm_), and returns
   * the global norm before norm clipping (what the gradient-magnitude schedule and plots use). NaN/Inf → non-finite.
   */
  private clipAndMeasure(measuredNorm?: number): number {
    const g = this.grads;
    const r = this.dtype === 'float32' ? Math.fround : (v: number) => v;
    const clip = this.config.clip ?? {};
    if (clip.value !== undefined) {
      const v = r(clip.value);
      for (let i = 0; i < g.length; i++) g[i] = Math.min(Math.max(g[i]!, -v), v);
    }
    let sumsq = 0;
    for (let i = 0; i < g.length; i++) sumsq += g[i]! * g[i]!;
    const norm = Number.isFinite(sumsq) ? (measuredNorm ?? Math.sqrt(sumsq)) : NaN;
    if (!Number.isFinite(norm)) return NaN;
    if (clip.maxNorm !== undefined) {
      // torch: clip_coef = max_norm / (total_norm + 1e-6), applied only when < 1.
      const coef = r(clip.maxNorm / (norm + 1e-6));
      if (coef < 1) for (let i = 0; i < g.length; i++) g[i] = r(g[i]! * coef);
    }
    return norm;
  }

  onMetrics(listener: (m: MetricsReport) => void): () => void {
    this.alive('onMetrics');
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async flushMetrics(): Promise<void> {
    this.alive('flushMetrics');
  }

  async evaluate(ds: Dataset): Promise<EvalResult> {
    this.alive('evaluate');
    checkDataset(ds, this.config);
    checkNotEmpty(ds.length, ds.name, 'evaluate');
    let lossSum = 0;
    let correct = 0;
    const chunk = 512;
    for (let start = 0; start < ds.length; start += chunk) {
      const rows = Math.min(chunk, ds.length - start);
      const idx = Uint32Array.from({ length: rows }, (_, i) => start + i);
      const { x, targets } = this.batch(ds, idx, rows);
      const f = this.model.forward(this.params, this.stats, x, rows, { training: false, seed: runnerSeed(this.config), step: 0 });
      const l = this.model.loss(f, targets);
      lossSum += l.lossSum;
      correct += l.correct;
    }
    // softmax_ce counts correct rows, bce correct elements; mse has no accuracy.
    const loss = this.config.model.loss;
    const graded = loss === 'softmax_ce' ? ds.length : loss === 'bce' ? ds.length * ds.targetSize! : NaN;
    return { loss: lossSum / ds.length, accuracy: correct / graded, count: ds.length };
  }

  async predict(ds: Dataset, start = 0, rows = ds.length - start): Promise<Float32Array> {
    this.alive('predict');
    const data = forPrediction(ds, this.config.model); // labels are not needed (nor checked) to predict
    checkRange(ds.length, start, rows, 'predict');
    const idx = Uint32Array.from({ length: rows }, (_, i) => start + i);
    const { x } = this.batch(data, idx, rows);
    const f = this.model.forward(this.params, this.stats, x, rows, { training: false, seed: runnerSeed(this.config), step: 0 });
    return Float32Array.from(f.out);
  }

  /** The model and optimizer state as checkpoint bytes (checkpoint.ts: `runnerCheckpoint`); `load` takes them back. */
  save(): Promise<Uint8Array> {
    return runnerCheckpoint(this);
  }

  /** Imports the state in checkpoint bytes (from `save`, `Trainer.save`, or a file) of this same model. */
  async load(bytes: Uint8Array, name = 'checkpoint'): Promise<void> {
    await this.importState(decodeFor(this.config.model, bytes, name).state);
  }

  async exportState(): Promise<RunnerState> {
    this.alive('exportState');
    // A copy in the runner's precision: a float64 run resumes exactly.
    return { params: this.params.slice(), stats: this.stats.slice(), optimizer: this.optimizer?.exportState() ?? null, skipped: this.skipped };
  }

  async importState(s: RunnerState): Promise<void> {
    this.alive('importState');
    if (s.params.length !== this.params.length || s.stats.length !== this.stats.length) {
      throw new Error(`importState: the state holds ${s.params.length} parameters / ${s.stats.length} stats; this model has ${this.params.length} / ${this.stats.length}`);
    }
    checkStateOptimizer(s, this.config);
    this.params.set(s.params);
    this.stats.set(s.stats);
    if (this.optimizer && s.optimizer) {
      this.optimizer.importState(s.optimizer);
      this.alpha = this.optimizer.groups.map((g) => g.h.lr as number);
    }
    this.skipped = s.skipped;
  }

  async fullBatchMachine(): Promise<VectorMachine> {
    this.alive('fullBatchMachine');
    const ds = this.data;
    if (!ds) throw new Error('fullBatchMachine: call setTrainingData first');
    checkFullBatchModel(this.config.model);
    const N = ds.length;
    const B = Math.min(this.config.batchSize, N);
    const r = this.dtype === 'float32' ? Math.fround : (v: number) => v;
    const fma = this.dtype === 'float32' ? fma32 : fma64;
    const objective = {
      n: this.params.length,
      evaluate: async (x: FloatArray, g: FloatArray): Promise<number> => {
        if (x !== this.params) this.params.set(x);
        g.fill(0);
        let lossSum = 0;
        // A whole-set evaluation can take seconds here: between chunks the event loop runs (Ctrl-C, progress).
        const pause = yielder();
        for (let start = 0; start < N; start += B) {
          if (start > 0) await pause();
          const rows = Math.min(B, N - start);
          const { x: xb, targets } = this.batch(ds, Uint32Array.from({ length: rows }, (_, i) => start + i), rows);
          const ctx = { training: true, seed: runnerSeed(this.config), step: 0 };
          const f = this.model.forward(this.params, this.stats, xb, rows, ctx);
          const loss = this.model.loss(f, targets);
          this.model.backward(this.params, f, loss.dOut, this.grads, ctx);
          // The chunk's gradient is of its mean loss: weigh it by its share of the set.
          const w = r(rows / N);
          for (let i = 0; i < g.length; i++) g[i] = fma(w, this.grads[i]!, g[i]!);
          lossSum += loss.lossSum;
        }
        return r(lossSum / N);
      },
    };
    return new CpuMachine(objective, this.dtype, undefined, this.params);
  }

  destroy(): void {
    this.destroyed = true;
    this.listeners.clear();
  }
}

/**
 * The dataset must match the model: input width; labels for softmax_ce, each one the model can output (< its outputs),
 * or float targets of the model's output width for mse/bce. Runs when data is bound, on both runners.
 */
export function checkDataset(ds: Dataset, config: RunnerConfig): void {
  const m = config.model;
  checkWidth(ds, m);
  const unlabelled = ds.labelled ? '' : ' (it is a dataset to predict on; training and evaluation need labels or targets)';
  if (m.loss === 'softmax_ce' && !ds.labels) throw new Error(`dataset '${ds.name}' has no labels${unlabelled}; softmax_ce needs integer class labels`);
  if (m.loss !== 'softmax_ce' && !ds.targets) throw new Error(`dataset '${ds.name}' has no float targets${unlabelled}; ${m.loss} needs targets`);
  const outputs = outputSize(m);
  if (ds.labels && ds.numClasses! > outputs) {
    // Labels ≥ outputs would reach the loss kernel as invalid: name the first; else the declared class count is the fault.
    let bad = 0;
    let first = -1;
    for (let i = 0; i < ds.length; i++) {
      if (ds.labels[i]! >= outputs) {
        bad++;
        if (first < 0) first = i;
      }
    }
    if (bad) throw invalidLabelsError(ds, outputs, `${bad} label${bad > 1 ? 's are' : ' is'} (the first: label ${ds.labels[first]} of example ${first})`);
    throw new Error(`dataset '${ds.name}' has ${ds.numClasses} classes but the model has ${outputs} outputs; give the last layer ${ds.numClasses}`);
  } else if (!ds.labels && ds.targetSize !== outputs) {
    throw new Error(`dataset '${ds.name}' has ${ds.targetSize} targets per example but the model has ${outputs} outputs`);
  }
}
