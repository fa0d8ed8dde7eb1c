/**
 * The seam between the device-independent training loop (trainer.ts: epochs, schedules, early stopping,
 * checkpoints, logging) and the two places a step can run: the CPU reference (cpu-runner.ts, plain loops in
 * float32 or float64) and the GPU step plan (gpu-runner.ts). Both take the same inputs and return the same
 * state, so a test can run the same training on each and compare.
 *
 * Contract:
 * - `step()` never waits: the GPU runner only encodes dispatches and writes a few per-step scalars.
 * - Metrics (loss sum, correct count, rows, skipped steps) accumulate on the device and reach `onMetrics`
 *   listeners asynchronously, every `metricsEvery` steps and at `flushMetrics()`; the CPU runner reports at once.
 * - State (`RunnerState`) is what a checkpoint stores: parameters, BatchNorm running stats, optimizer state,
 *   the GPU's skipped-step counter, in the layouts of model/layout.ts and optim/optimizer.ts.
 */
import { Dataset } from '../data/dataset.js';
import type { VectorMachine } from '../linalg/machine.js';
import type { OptimizerState } from '../optim/optimizer.js';
import { outputSize, type ModelSpec } from '../model/spec.js';
import type { FirstOrderConfig } from '../optim/registry.js';
import type { FullBatchConfig } from '../minimize/config.js';
import type { NormSummary } from '../ref/gradnorms.js';

export type { NormSummary } from '../ref/gradnorms.js';

/**
 * The optimizer: a torch.optim class name with its keyword arguments (e.g. `{ name: 'Adam', hyperparams: { lr: 1e-3 } }`;
 * absent ones take torch's defaults), or a full-batch method of src/minimize/ (LBFGS, NonlinearCG, Newton,
 * LevenbergMarquardt, GaussNewton): then the runner holds no per-step optimizer and Trainer.fit runs the method on
 * the loss and gradient of the whole training set (fullBatchMachine). `decayAll`: apply weight decay to biases and
 * BatchNorm parameters too (default false: the 'no_decay' group gets 0).
 */
export type OptimizerConfig = FirstOrderConfig | FullBatchConfig;

export interface ClipConfig {
  /** Clip the global L2 norm of all gradients to this (torch.nn.utils.clip_grad_norm_). */
  maxNorm?: number;
  /** Clamp every gradient element to [−value, value] (torch.nn.utils.clip_grad_value_). */
  value?: number;
}

export interface RunnerConfig {
  model: ModelSpec;
  /** Largest batch the runner will see (buffers are sized for it). */
  batchSize: number;
  optimizer: OptimizerConfig;
  clip?: ClipConfig;
  /** Skip steps whose gradients hold NaN/Inf (default true). */
  guard?: boolean;
  /** Seeds initial weights and dropout masks (and, unless fit's own `seed` is given, the shuffle). Default 0 (DEFAULT_SEED). */
  seed?: number;
  /** Input normalisation applied on the device to byte inputs: x·scale + shift (MNIST default (x/255−0.1307)/0.3081). */
  inputScale?: number;
  inputShift?: number;
  /**
   * The course material's gradient-magnitude control, applied on the device inside the optimizer step:
   * α_t = α_{t−1} / (1 + c·√‖g_t‖) with ‖g_t‖ this step's global gradient norm (after clipping by value), α_0 the
   * optimizer's lr; the lr in StepInput is then ignored. Set by the trainer's caller when the schedule is `gradmag`.
   */
  gradLr?: { c: number };
  /** GPU runner: read metrics back every this many steps (default 50). */
  metricsEvery?: number;
  /**
   * Measure the L2 norm of the gradient every step, globally and per layer with parameters, before clipping, and
   * report each window's mean, max and last in `MetricsReport.gradNorms` (the course's check for vanishing and
   * exploding gradients). GPU: three more dispatches per step, accumulated on the device and read back with the other
   * metrics, never per step.
   */
  gradNorms?: boolean;
}

export interface StepInput {
  /** Global step index, 0-based, counting every step call (skipped or not). */
  step: number;
  /** Position of this batch's first example in the current epoch's permutation. */
  start: number;
  /** Examples in this batch (≤ batchSize; the last batch of an epoch may be partial). */
  rows: number;
  /** Learning rate of this step, from the schedule (a number, or one per parameter group). */
  lr: number | readonly number[];
}

export interface MetricsReport {
  /** Steps covered by this report (their count) and the global index of the last one. */
  steps: number;
  lastStep: number;
  lossSum: number;
  correct: number;
  rows: number;
  /** Steps skipped by the non-finite guard among these. */
  skipped: number;
  /** Mean loss per example over these steps (lossSum / rows), as TF.js's `logs.loss`; NaN when rows is 0. */
  loss: number;
  /** Fraction correct over these steps (rows for softmax_ce, every output for bce); NaN for mse. */
  accuracy: number;
  /**
   * Examples whose label the model cannot output (label >= outputs). The GPU loss kernel counts them instead of
   * reading out of bounds; the runner then fails the run (flushMetrics throws). Checked when data is bound, so 0.
   */
  invalid: number;
  /** Global gradient L2 norm of the last step covered (when measured). */
  gradNorm?: number;
  /** With `RunnerConfig.gradNorms`: the gradient's L2 norms over these steps, globally and per layer. */
  gradNorms?: GradNormReport;
}

/** Gradient norms over the steps of a metrics report (before clipping; +inf marks a NaN/±inf gradient). */
export interface GradNormReport {
  global: NormSummary;
  /** One entry per layer that has parameters, in layer order. */
  layers: { layer: number; name: string; norm: NormSummary }[];
}

/**
 * Mean loss and accuracy from sums: loss per example; accuracy over rows (softmax_ce) or over every output of every
 * row (bce, whose `correct` counts outputs); NaN for mse, and NaN when there are no rows.
 */
export function metricMeans(model: ModelSpec, sums: { lossSum: number; correct: number; rows: number }): { loss: number; accuracy: number } {
  const graded = model.loss === 'softmax_ce' ? sums.rows : model.loss === 'bce' ? sums.rows * outputSize(model) : 0;
  return {
    loss: sums.rows > 0 ? sums.lossSum / sums.rows : NaN,
    accuracy: graded > 0 ? sums.correct / graded : NaN,
  };
}

export interface EvalResult {
  loss: number;
  /** Fraction correct (classification losses); NaN for regression. */
  accuracy: number;
  count: number;
}

export interface RunnerState {
  /** In the runner's precision: Float32Array, or Float64Array from a float64 CPU runner (imports round as needed). */
  params: Float32Array | Float64Array;
  stats: Float32Array | Float64Array;
  /** null for a full-batch method (its state lives in the method: TrainingSnapshot.method). */
  optimizer: OptimizerState | null;
  /** Steps skipped by the non-finite guard so far. */
  skipped: number;
}

export interface Runner {
  readonly device: 'cpu' | 'gpu';
  /** e.g. 'cpu float64' or the adapter description. */
  readonly description: string;
  /** The configuration it was built from (model, batch size, optimizer, seed, ...). */
  readonly config: RunnerConfig;
  /**
   * Uploads (GPU) or keeps (CPU) the training set; once per fit. `batchSize` (default: the config's; at most that) is
   * the rows per step the fit will take: the GPU runner plans that batch and the epoch's partial last one here, so
   * that `step` never waits.
   */
  setTrainingData(ds: Dataset, batchSize?: number): Promise<void>;
  /** Installs the order of examples for the next epoch (a permutation of the training set). */
  beginEpoch(permutation: Uint32Array): void;
  step(s: StepInput): void;
  /**
   * Resolves once the device is at most a few steps behind the host (GPU: ~16 steps in flight). The trainer awaits it
   * where it yields to the event loop, so the host never queues an unbounded amount of work and progress (steps/s,
   * ETA) measures the device. Never a readback; absent on the CPU runner.
   */
  ready?(): Promise<void>;
  onMetrics(listener: (m: MetricsReport) => void): () => void;
  /** Resolves when every step so far has been reported. */
  flushMetrics(): Promise<void>;
  evaluate(ds: Dataset): Promise<EvalResult>;
  /** Model outputs (logits for softmax_ce) for `rows` examples of ds starting at `start`, row-major. */
  predict(ds: Dataset, start?: number, rows?: number): Promise<Float32Array>;
  exportState(): Promise<RunnerState>;
  /**
   * For full-batch methods: a vector machine whose x is this runner's flat parameters and whose objective is the mean
   * loss over the training set (setTrainingData) with its gradient, computed in training mode in chunks of batchSize,
   * in the set's own order; no optimizer step, nothing reported to onMetrics. Refuses models with dropout or
   * BatchNorm (the objective must be a deterministic function of the parameters).
   */
  fullBatchMachine?(): Promise<VectorMachine>;
  importState(s: RunnerState): Promise<void>;
  destroy(): void;
}

/** The seed a run uses when its config gives none: runs are reproducible by default, like the CLI's `--seed 0`. */
export const DEFAULT_SEED = 0;

/** `config.seed`, or DEFAULT_SEED. */
export function runnerSeed(config: Pick<RunnerConfig, 'seed'>): number {
  return config.seed ?? DEFAULT_SEED;
}

/** The lr the config gives (not every full-batch method takes one), or undefined. */
export function givenLr(config: Pick<RunnerConfig, 'optimizer'>): number | undefined {
  const lr = (config.optimizer.hyperparams as { lr?: unknown } | undefined)?.lr;
  return typeof lr === 'number' ? lr : undefined;
}

/**
 * The error for labels the model cannot output (what the GPU loss kernel counts as `invalid`); `which` says which,
 * e.g. "7 labels (the first: label 5 of example 1)".
 */
export function invalidLabelsError(ds: Dataset | undefined, outputs: number, which: string): Error {
  return new RangeError(
    `${ds ? `dataset '${ds.name}': ` : ''}${which} outside [0, ${outputs}): the model has ${outputs} outputs, so labels ` +
      `must be class ids 0..${outputs - 1} (or give the model more outputs).`,
  );
}

/** Each example must have as many values as the model has inputs (and an image model the data's H×W and channels). */
export function checkWidth(ds: Dataset, model: ModelSpec): void {
  // An image model (input C×H×W) must agree with image data on H×W and the channels (H×W data has one channel); flat
  // data of the right size may feed it as it is.
  const data = ds.inputShape.length === 2 ? [1, ...ds.inputShape] : ds.inputShape;
  if (model.inputShape?.length === 3 && data.length === 3) {
    const [c, h, w] = model.inputShape as [number, number, number];
    const [dc, dh, dw] = data as [number, number, number];
    const fix = `write the model's input as ${dc}x${dh}x${dw}`;
    if (h !== dh || w !== dw) throw new Error(`dataset '${ds.name}' holds ${dh}×${dw} images but the model takes ${h}×${w} (input ${c}x${h}x${w}): ${fix}`);
    if (c !== dc) {
      throw new Error(`the model's input has ${c} channel${c === 1 ? '' : 's'} of ${h}×${w} but dataset '${ds.name}' has ${dc} (its examples are ${dc}×${dh}×${dw}): ${fix}`);
    }
  }
  if (ds.exampleSize !== model.inputs) {
    const shape = model.inputShape ? ` (shape ${model.inputShape.join('x')})` : '';
    throw new Error(`dataset '${ds.name}' has ${ds.exampleSize} values per example (shape ${ds.inputShape.join('x')}) but the model takes ${model.inputs} inputs${shape}`);
  }
}

const placeholders = new WeakMap<Dataset, Dataset>();

/**
 * `ds` as the runners' evaluation path takes it (its width checked against the model's inputs): unchanged if it
 * carries what the model's loss reads, else the same inputs with zero labels or targets (predict ignores the loss).
 * Cached per dataset, so repeated predictions reuse the GPU upload.
 */
export function forPrediction(ds: Dataset, model: ModelSpec): Dataset {
  checkWidth(ds, model);
  if (model.loss === 'softmax_ce' ? ds.labels : ds.targets) return ds;
  let p = placeholders.get(ds);
  if (!p) {
    const base = { name: ds.name, inputs: ds.inputs, inputShape: ds.inputShape };
    const k = outputSize(model);
    p = model.loss === 'softmax_ce'
      ? new Dataset({ ...base, labels: new Uint8Array(ds.length), numClasses: k })
      : new Dataset({ ...base, targets: new Float32Array(ds.length * k), targetSize: k });
    placeholders.set(ds, p);
  }
  return p;
}
