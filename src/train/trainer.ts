/**
 * The device-independent training loop: epochs and steps, learning-rate schedules, metrics, validation, early
 * stopping and checkpoints, over a `Runner` (runner.ts) that does the math on the CPU or the GPU. Browser-safe:
 * `fit` writes checkpoints through the Trainer's `writeCheckpoint` hook (in Node: `saveTrainingCheckpoint`, checkpoint-file.ts),
 * never through node:fs itself.
 *
 * One step:
 *   lr = schedule.lr                                     (the rate for the step about to run)
 *   runner.step({ step, start, rows, lr })               (never awaited: the GPU runner only encodes)
 *   await runner.ready?.()                               (GPU: waits only while ~16 steps are already queued)
 *   if schedule.unit == 'step': schedule.step(feed)      (feed.gradNorm for the gradient-magnitude control)
 * One epoch:
 *   runner.beginEpoch(permutation(epoch))                (BatchSchedule: seeded by (seed, epoch) only)
 *   steps over the epoch's batches, from `position.batch` (a resumed run starts mid-epoch)
 *   await runner.flushMetrics()                          (the only wait on the device; metrics arrive by onMetrics)
 *   validation = runner.evaluate(validation set)
 *   EpochRecord; if schedule.unit == 'epoch': schedule.step({ metric })  (ReduceLROnPlateau: val_loss by default)
 *   early stopping; checkpoint every `checkpoint.every` epochs
 *
 * Counting. `position` = { step: steps taken in all, epoch: epochs completed (= the 0-based index of the current
 * epoch), batch: next batch within the current epoch }. `fit({ epochs: E })` trains until E epochs are complete
 * *in total*, and `fit({ steps: S })` until S steps in total, so a run resumed from a checkpoint with the same
 * options ends where the uninterrupted run ends (Keras' `initial_epoch`, made implicit). With `steps`, training
 * crosses epoch boundaries as needed and may end mid-epoch: that last partial epoch still gets a record
 * (`partial: true`) and validation, but it does not feed the epoch schedule nor early stopping.
 *
 * Exact resume: everything a step depends on is (runner state, global step, epoch permutation, schedule state), and
 * a checkpoint holds all four (the shuffle is a pure function of (seed, epoch), dropout masks of (seed, step)).
 * So on the CPU runner, fit 2 epochs → save → load into a fresh runner → fit to 4 equals fit 4 bit for bit. A
 * full-batch method (full-batch.ts) adds its own state (L-BFGS's history, ...), kept by the Trainer between fits and
 * stored in checkpoints, with the same promise.
 * Early stopping's best weights are kept in memory only, and imported only when it stops the run (as Keras): after a
 * resume, a stop whose best epoch came before the checkpoint keeps the current weights (`restoredBest: false`).
 */
import { BatchSchedule } from '../data/batches.js';
import { Dataset } from '../data/dataset.js';
import { argmaxRows } from '../eval/classification.js';
import { outputSize } from '../model/spec.js';
import { getRule } from '../optim/registry.js';
import { decodeFor, encodeTrainingCheckpoint, unstartedData } from './checkpoint.js';
import type { Schedule, ScheduleConfig, ScheduleState } from '../schedule/schedule.js';
import { restoreSchedule, scheduleFromSpec } from '../schedule/spec.js';
import { isFullBatchMethod } from '../minimize/methods.js';
import { divergence, DivergenceMonitor, referenceLoss, zeroOutputLoss, type DivergenceOptions } from './divergence.js';
import type { MethodState } from '../minimize/state.js';
import { validateEpoch } from './validate-epoch.js';
import { EarlyStopping, monitorValue, type EarlyStoppingOptions, type EarlyStoppingState, type Monitor } from './early-stopping.js';
import { yielder } from './event-loop.js';
import { fitFullBatch, type FullBatchHost } from './full-batch.js';
import { givenLr, metricMeans, runnerSeed, type EvalResult, type MetricsReport, type Runner, type RunnerConfig, type RunnerState } from './runner.js';

export interface TrainerPosition {
  /** Steps taken so far (the global index of the next step). */
  step: number;
  /** Epochs completed: the 0-based index of the epoch in progress. */
  epoch: number;
  /** Next batch within the epoch in progress (0 at an epoch boundary); full-batch methods: iterations done in its step. */
  batch: number;
}

export interface StepRecord {
  /** Global index of the step just taken (0-based). */
  step: number;
  /** 1-based number of the epoch it belongs to. */
  epoch: number;
  /** 0-based batch within the epoch, and batches per epoch. */
  batch: number;
  batches: number;
  rows: number;
  lr: number;
  /** Latest metrics report (the GPU reports every `metricsEvery` steps), or undefined before the first. */
  metrics: MetricsReport | undefined;
}

export interface EpochRecord {
  /** 1-based number of this epoch. */
  epoch: number;
  /** Steps taken in this epoch by this fit (fewer than the batch count when resumed mid-epoch or partial). */
  steps: number;
  /** Global step count after this epoch. */
  totalSteps: number;
  trainLoss: number;
  /** NaN for regression losses. */
  trainAccuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Learning rate of the epoch's last step. */
  lr: number;
  /** Wall time of the epoch's steps and metric flush (validation excluded), and steps / that. */
  seconds: number;
  stepsPerSecond: number;
  /** Wall time of the validation pass. */
  valSeconds?: number;
  /** Steps skipped by the non-finite guard in this epoch. */
  skipped: number;
  /** The run ended mid-epoch (`steps` limit or abort). */
  partial?: boolean;
  /** Early stopping: this epoch is the best so far. */
  improved?: boolean;
  /**
   * Full-batch methods (full-batch.ts): objective evaluations in this epoch's step, why it ended (the method's reason,
   * or 'interrupted' / 'steps' for a step cut by the signal or the steps limit), the full-batch loss it ended at
   * (`trainLoss` is the one it started from) and max|∇f| there.
   */
  evals?: number;
  stop?: string;
  lossAfter?: number;
  gradMax?: number;
}

/**
 * Full-batch methods (full-batch.ts): where the epoch's step(closure) is, after each of its iterations. A step resumed
 * from a cut (an interrupt, or a `steps` limit, in the middle of its iterations) counts on from where it was cut.
 */
export interface IterationRecord {
  /** 1-based number of the epoch (the step) in progress. */
  epoch: number;
  /** Iterations of the epoch's step so far, and its max_iter. */
  iteration: number;
  maxIter: number;
  /** Global iteration count (position.step after this iteration). */
  totalSteps: number;
  /** Full-batch evaluations the step has counted so far (torch's current_evals). */
  evals: number;
  /** Full-batch loss at the current point (the method's latest value) and max|∇f| there. */
  loss: number;
  gradMax: number;
  /** Seconds since this fit started the epoch's step. */
  seconds: number;
}

export interface FitCallbacks {
  onStep?(s: StepRecord): void;
  /** Full-batch methods: after each iteration inside an epoch's step (progress from inside a long step). */
  onIteration?(r: IterationRecord): void;
  onEpoch?(e: EpochRecord): void | Promise<void>;
  onMetrics?(m: MetricsReport): void;
  /** Before each validation pass (after the epoch's last step): what a progress display calls its 'validating' phase. */
  onValidation?(info: { epoch: number; examples: number }): void;
  /** After each checkpoint write. */
  onCheckpoint?(info: { path: string; position: TrainerPosition }): void;
}

export interface CheckpointOptions {
  path: string;
  /** Write after every this many complete epochs (default 1); always also at the end of fit. */
  every?: number;
}

export interface FitOptions {
  /** Train until this many epochs are complete in total. Give epochs, steps, or both (whichever comes first). */
  epochs?: number;
  /** Train until this many steps are taken in total. */
  steps?: number;
  /** Examples per step; at most the runner's batchSize. Default: the runner's. */
  batchSize?: number;
  /**
   * A Schedule, a spec string or object (schedule/spec.ts; its base lr is the optimizer's lr), or absent: constant
   * at the optimizer's lr, or the checkpointed schedule when resuming.
   */
  schedule?: Schedule | string | ScheduleConfig;
  validation?: Dataset;
  /**
   * Hold out this fraction of the training data for validation, 0 < f < 1 (Keras' validation_split). The examples are
   * chosen by a seeded shuffle (`seed`), not taken from the end, so data ordered by class still validates fairly; the
   * same data, fraction and seed hold out the same examples on every call. Not together with `validation`.
   */
  validationSplit?: number;
  callbacks?: FitCallbacks;
  earlyStopping?: EarlyStoppingOptions | EarlyStopping;
  checkpoint?: CheckpointOptions;
  /** Seed of the per-epoch shuffle (and of validationSplit). Default: the runner config's seed (0 when it has none). */
  seed?: number;
  dropLast?: boolean;
  /** false: every epoch in order 0..N-1. Default true. */
  shuffle?: boolean;
  /** Metric fed to a ReduceLROnPlateau-like schedule ('metric' needs); default val_loss (train_loss without validation). */
  scheduleMetric?: Monitor;
  /**
   * Stops at the next step boundary, then records, checkpoints and returns with `interrupted`. A full-batch method
   * stops at the next iteration boundary inside its step (the cut epoch is recorded as partial; the checkpoint holds
   * the step's counters, so a resumed fit finishes that step exactly: full-batch.ts).
   */
  signal?: AbortSignal;
  /** Validate the epoch a `signal` cut short (default true); false records it without validation, to stop at once. */
  validateInterrupted?: boolean;
  /**
   * Stop as soon as the metrics show divergence (a training loss that is not finite or more than 1000 times the run's
   * reference, or the non-finite guard skipping step after step: DivergenceMonitor), at the next step boundary, with
   * `FitResult.diverged` saying why; the cut epoch is recorded without validation. Default false: the run goes on,
   * and `diverged` is judged at the end.
   */
  stopOnDivergence?: boolean | DivergenceOptions;
  /** How `train` was cut from its source; kept in checkpoints so evaluation and resume rebuild the same split. */
  split?: DataSplit;
}

/** A seeded train / validation split of a source dataset (the CLI's MNIST split). */
export interface DataSplit {
  /** Name of the source, e.g. 'mnist'. */
  source: string;
  /** Examples held out for validation (0: none). */
  validation: number;
  seed: number;
  /** Training on a fixed subset of the rest: its size (absent: all of it). MNIST: splitMnist's `trainExamples`. */
  trainExamples?: number;
}

export interface FitResult {
  /** Records of the epochs this fit ran (the Trainer's `history` holds all, including resumed ones). */
  history: EpochRecord[];
  /** Steps this fit took, their wall time (validation excluded) and rate. */
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  position: TrainerPosition;
  stoppedEarly: boolean;
  interrupted: boolean;
  /** 1-based best epoch under early stopping, and whether its weights were imported at the end. */
  bestEpoch?: number;
  restoredBest: boolean;
  /** Steps of this fit that the non-finite guard skipped. */
  skipped: number;
  /**
   * Why this fit counts as diverged, or absent (divergence.ts): the last epoch's training (or validation) loss is not
   * finite, or more than 1000 times the run's reference loss (its first step's loss, at least that of all-zero
   * outputs), or the guard skipped more than half of the fit's steps. The CLI exits with status 3 then.
   */
  diverged?: string;
  /** The loss `diverged` compares with (divergence.ts referenceLoss); undefined when nothing gave a scale. */
  referenceLoss?: number;
  /** Full-batch methods: why training ended before epochs/steps (the method converged or stalled). */
  stop?: string;
}

/** What a checkpoint holds (train/checkpoint.ts writes it to a file). */
export interface TrainingSnapshot {
  config: RunnerConfig;
  state: RunnerState;
  /** A full-batch method's state between steps (minimize/state.ts), or null (absent: null) before its first step. */
  method?: MethodState | null;
  position: TrainerPosition;
  /** The shuffle that produced `position` (needed to continue mid-epoch), and the split `train` came from. */
  data: { seed: number; batchSize: number; dropLast: boolean; shuffle: boolean; examples: number; split?: DataSplit };
  schedule: ScheduleState | null;
  earlyStopping: EarlyStoppingState | null;
  history: EpochRecord[];
  /** Description of the runner that trained it. */
  device: string;
  /** Loss of the run's first step (the reference of divergence.ts); absent before the first step. */
  startLoss?: number;
}

export type SaveHook = (path: string, snapshot: TrainingSnapshot) => Promise<void>;

/** What predict takes: a Dataset, rows of numbers (`number[][]`), or N × (the model's inputs) values in one array. */
export type PredictInput = Dataset | readonly ArrayLike<number>[] | readonly number[] | Float32Array | Uint8Array;

/** Row-wise softmax of an N×K array, in double: exp(z − max) / Σ exp(z − max). */
function softmaxRows(z: Float32Array, k: number): Float32Array {
  const p = new Float32Array(z.length);
  for (let r = 0; r < z.length; r += k) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[r + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(z[r + j]! - max);
    for (let j = 0; j < k; j++) p[r + j] = Math.exp(z[r + j]! - max) / sum;
  }
  return p;
}

/** Element-wise logistic sigmoid 1 / (1 + e^−z), written to stay finite for large |z|. */
function sigmoid(z: Float32Array): Float32Array {
  return z.map((v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v))));
}

function checkCount(value: number | undefined, what: string): void {
  if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
    throw new Error(`fit: ${what} must be an integer >= 0, got ${value}`);
  }
}

/** The torch default lr of an optimizer, for schedules when the config gives none. */
function baseLr(config: RunnerConfig): number {
  const given = givenLr(config);
  if (given !== undefined) return given;
  const spec = getRule(config.optimizer.name).hyperparams.find((h) => h.name === 'lr');
  return spec?.default as number;
}

/**
 * A checkpoint continues only the optimizer that wrote it: a first-order optimizer's state does not fit a full-batch
 * method (or another optimizer), nor the other way round.
 */
function checkSameOptimizer(saved: RunnerConfig, mine: RunnerConfig): void {
  const [a, b] = [saved.optimizer.name, mine.optimizer.name];
  if (a === b) return;
  const kind = (name: string) => (isFullBatchMethod(name) ? 'a full-batch method' : 'a first-order optimizer');
  throw new Error(
    `restore: the checkpoint was trained with ${a} (${kind(a)}) but this trainer's optimizer is ${b} (${kind(b)}); ` +
      `its state cannot continue ${b}: build the trainer from the checkpoint's configuration (loadTrainer(bytes), or a runner of snapshot.config)`,
  );
}

/**
 * A Trainer's config describes its runner's run (the schedule's base lr, the loss, checkpoints): a config of another
 * model, optimizer or batch size would train one run and record another.
 */
function checkSameRun(config: RunnerConfig, runnerConfig: RunnerConfig): void {
  const differs: string[] = [];
  if (JSON.stringify(config.model) !== JSON.stringify(runnerConfig.model)) differs.push('model');
  if (config.optimizer?.name !== runnerConfig.optimizer.name) differs.push(`optimizer (${config.optimizer?.name} vs the runner's ${runnerConfig.optimizer.name})`);
  if (config.batchSize !== runnerConfig.batchSize) differs.push(`batchSize (${config.batchSize} vs the runner's ${runnerConfig.batchSize})`);
  if (differs.length) {
    throw new Error(`new Trainer: the config given differs from the runner's in ${differs.join(', ')}; pass the runner's own (new Trainer(runner)) or make a runner of this config`);
  }
}

const isSchedule = (s: Schedule | string | ScheduleConfig): s is Schedule => typeof s === 'object' && typeof (s as Schedule).lrAt === 'function';

class MetricsAccumulator {
  steps = 0;
  lossSum = 0;
  correct = 0;
  rows = 0;
  skipped = 0;
  add(m: MetricsReport): void {
    this.steps += m.steps;
    this.lossSum += m.lossSum;
    this.correct += m.correct;
    this.rows += m.rows;
    this.skipped += m.skipped;
  }
}

/**
 * The Trainer whose fit is driving each runner now. A runner is one model's weights and optimizer state, and a fit
 * queues steps on it between awaits: a second Trainer's fit, evaluation or snapshot of the same runner would
 * interleave with them (on the GPU: fail on batches it did not plan; anywhere: mix metrics and corrupt the position).
 * So one fit drives a runner at a time, whichever Trainer it comes from. Between fits the runner may pass to another
 * Trainer (a Trainer holds no resources, and JavaScript cannot tell whether the old one is still in use).
 */
const fittingRunners = new WeakMap<Runner, Trainer>();

const BELONGS = 'the runner already belongs to a Trainer that is fitting it';

export class Trainer {
  readonly runner: Runner;
  readonly config: RunnerConfig;
  position: TrainerPosition = { step: 0, epoch: 0, batch: 0 };
  /** Every epoch record, across fits and resumes. */
  history: EpochRecord[] = [];
  /**
   * Loss of the run's first step: the model before any update, on its first batch (kept in checkpoints); what a
   * finite explosion is measured against (divergence.ts). A run restored without one takes its next fit's first step.
   */
  startLoss: number | undefined;
  /** The schedule of the last fit (its state goes into checkpoints). */
  schedule: Schedule | undefined;
  earlyStopping: EarlyStopping | undefined;
  /**
   * Writes a checkpoint file for `fit({ checkpoint: { path } })`; in Node, saveTrainingCheckpoint (checkpoint-file.ts)
   * writes it atomically. Elsewhere, `save()` gives the same checkpoint as bytes.
   */
  writeCheckpoint: SaveHook | undefined;
  private data: TrainingSnapshot['data'] | undefined;
  private pendingSchedule: ScheduleState | null = null;
  private pendingEarlyStopping: EarlyStoppingState | null = null;
  private fitting = false;
  /** fit is awaiting an onEpoch callback: no step is in flight, so evaluation and snapshots are safe. */
  private inCallback = false;
  private lastSaved: { path: string; step: number } | null = null;
  /** A full-batch method's state between fits: a restored checkpoint's, or what the last full-batch fit left. */
  private method: MethodState | null = null;
  /** While a full-batch fit runs: reads its method's state (for checkpoints, and snapshots from onEpoch). */
  private liveMethod: (() => Promise<MethodState>) | null = null;

  constructor(runner: Runner, config: RunnerConfig = runner.config, options: { writeCheckpoint?: SaveHook } = {}) {
    if (fittingRunners.has(runner)) {
      throw new Error(`new Trainer: ${BELONGS}; await that fit() first (between fits a runner may pass to a new Trainer), or create another runner`);
    }
    if (config !== runner.config) checkSameRun(config, runner.config);
    this.runner = runner;
    this.config = config;
    this.writeCheckpoint = options.writeCheckpoint;
  }

  /**
   * Continues from a snapshot (a loaded checkpoint): imports the runner state and takes its position, history, and
   * the schedule and early-stopping states, which the next `fit` resumes.
   */
  async restore(s: TrainingSnapshot): Promise<void> {
    this.notFitting('restore');
    checkSameOptimizer(s.config, this.config);
    await this.runner.importState(s.state);
    this.method = s.method ?? null;
    this.position = { ...s.position };
    this.history = s.history.map((r) => ({ ...r }));
    this.data = { ...s.data };
    this.pendingSchedule = s.schedule;
    this.pendingEarlyStopping = s.earlyStopping;
    this.startLoss = s.startLoss;
    this.schedule = undefined;
    this.earlyStopping = undefined;
  }

  /** Everything a checkpoint stores, now. */
  async snapshot(): Promise<TrainingSnapshot> {
    this.notFitting('snapshot');
    return this.capture();
  }

  /**
   * Steps run while fit awaits the device, so evaluation or a snapshot from outside would interleave with them (and
   * mix evaluation metrics into training ones); inside an onEpoch callback nothing is in flight.
   */
  private notFitting(method: string): void {
    if (this.fitting && !this.inCallback) {
      throw new Error(`Trainer.${method}: already fitting; await the running fit() first, or call ${method} from an onEpoch callback`);
    }
    const owner = fittingRunners.get(this.runner);
    if (owner && owner !== this && !owner.inCallback) {
      throw new Error(`Trainer.${method}: ${BELONGS}; await that fit() first, or call ${method} from its onEpoch callback`);
    }
  }

  private async capture(): Promise<TrainingSnapshot> {
    return {
      config: this.config,
      state: await this.runner.exportState(),
      method: this.liveMethod ? await this.liveMethod() : this.method,
      position: { ...this.position },
      data: { ...(this.data ?? unstartedData(this.config)) },
      schedule: this.schedule?.state() ?? this.pendingSchedule,
      earlyStopping: this.earlyStopping?.state() ?? this.pendingEarlyStopping,
      history: this.history.map((r) => ({ ...r })),
      device: this.runner.description,
      ...(this.startLoss !== undefined ? { startLoss: this.startLoss } : {}),
    };
  }

  /**
   * The whole training state as the bytes of a checkpoint (a `.safetensors` file: weights, optimizer state, position,
   * schedule, history, and the configuration): keep it in IndexedDB (ModelStore), download it (downloadBytes), send it
   * from a Worker, or write it to a file. `loadTrainer(bytes, { engine })` rebuilds a trainer from it, in a browser or
   * in Node; `load(bytes)` restores it into this one.
   */
  async save(): Promise<Uint8Array> {
    return encodeTrainingCheckpoint(await this.snapshot());
  }

  /** Restores checkpoint bytes of the same model (weights, optimizer, position, history); the next fit continues. */
  async load(bytes: Uint8Array, name = 'checkpoint'): Promise<void> {
    await this.restore(decodeFor(this.config.model, bytes, name));
  }

  async evaluate(ds: Dataset): Promise<EvalResult> {
    this.notFitting('evaluate');
    return this.runner.evaluate(ds);
  }

  /**
   * Model outputs for every example, N×K row-major (K = the model's outputs): logits for softmax_ce and bce, the
   * predictions for mse. `x` is a Dataset (labels, if any, are not used) or plain inputs: rows of numbers, or one flat
   * array of N × (the model's inputs) values.
   */
  async predict(x: PredictInput): Promise<Float32Array> {
    this.notFitting('predict');
    const ds = this.asDataset(x);
    return this.runner.predict(ds, 0, ds.length);
  }

  /**
   * Probabilities, N×K row-major: the softmax of each row for softmax_ce (each row sums to 1), the sigmoid of each
   * output for bce (K independent yes/no probabilities). Computed from `predict`'s outputs in double precision.
   */
  async predictProba(x: PredictInput): Promise<Float32Array> {
    const loss = this.config.model.loss;
    if (loss === 'mse') throw new Error("predictProba: the model's loss is mse (regression), whose outputs are not probabilities; use predict");
    const out = await this.predict(x);
    return loss === 'bce' ? sigmoid(out) : softmaxRows(out, outputSize(this.config.model));
  }

  /** Predicted class of every example (argmax of the outputs). */
  async predictClasses(x: PredictInput): Promise<Int32Array> {
    return argmaxRows(await this.predict(x), outputSize(this.config.model));
  }

  private asDataset(x: PredictInput): Dataset {
    if (x instanceof Dataset) return x;
    const rows = Array.isArray(x) && x.length > 0 && typeof x[0] !== 'number';
    // Rows carry their width (checked against the model's inputs when bound); flat values are cut into the model's.
    return Dataset.from(rows ? { name: 'predict', inputs: x } : { name: 'predict', inputs: x, inputShape: this.config.model.inputShape ?? [this.config.model.inputs] });
  }

  private held: { from: Dataset; fraction: number; seed: number; parts: { train: Dataset; validation: Dataset } } | undefined;

  /** The training and validation parts of `validationSplit` (kept, so the next fit reuses the same datasets). */
  private heldOut(from: Dataset, fraction: number, seed: number): { train: Dataset; validation: Dataset } {
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1)) {
      throw new RangeError(`fit: validationSplit must be a fraction in (0, 1), e.g. 0.2, got ${fraction}`);
    }
    const h = this.held;
    if (h && h.from === from && h.fraction === fraction && h.seed === seed) return h.parts;
    const { train, validation } = from.split({ validation: fraction, seed });
    if (validation.length === 0 || train.length === 0) {
      throw new RangeError(`fit: validationSplit ${fraction} of ${from.length} examples leaves ${train.length} to train on and ${validation.length} to validate`);
    }
    this.held = { from, fraction, seed, parts: { train, validation } };
    return this.held.parts;
  }

  private buildSchedule(spec: FitOptions['schedule']): Schedule {
    const lr = baseLr(this.config);
    let schedule: Schedule;
    if (spec === undefined) {
      schedule = this.pendingSchedule ? restoreSchedule(this.pendingSchedule) : scheduleFromSpec('constant', { lr });
    } else {
      schedule = isSchedule(spec) ? spec : scheduleFromSpec(spec, { lr });
      if (this.pendingSchedule) {
        try {
          schedule.load(this.pendingSchedule);
        } catch (e) {
          throw new Error(`fit: the checkpoint's schedule state does not fit this run's schedule: ${(e as Error).message}`);
        }
      }
    }
    this.pendingSchedule = null;
    if (schedule.needs === 'metric' && schedule.unit !== 'epoch') {
      throw new Error(`fit: schedule '${schedule.name}' is fed a validation metric, so it must step per epoch (unit=epoch)`);
    }
    return schedule;
  }

  private buildEarlyStopping(opt: FitOptions['earlyStopping'], validation: Dataset | undefined): EarlyStopping | undefined {
    if (opt === undefined) return undefined;
    const es = opt instanceof EarlyStopping ? opt : new EarlyStopping(opt);
    if (es.monitor.startsWith('val_') && !validation) {
      throw new Error(`fit: early stopping monitors ${es.monitor} but no validation set was given`);
    }
    if (this.pendingEarlyStopping) es.load(this.pendingEarlyStopping);
    this.pendingEarlyStopping = null;
    return es;
  }

  /** checkpoint.every (default 1), after checking that a checkpoint can be written. */
  private checkpointEvery(opts: FitOptions): number {
    const every = opts.checkpoint?.every ?? 1;
    if (opts.checkpoint) {
      if (!this.writeCheckpoint) {
        throw new Error('fit: checkpoint given but the Trainer has no writeCheckpoint hook (new Trainer(runner, config, { writeCheckpoint })); or save() the bytes yourself');
      }
      checkCount(every, 'checkpoint.every');
    }
    return every;
  }

  /** Writes opts.checkpoint now (nothing without one). */
  private async saveCheckpoint(opts: FitOptions): Promise<void> {
    if (!opts.checkpoint) return;
    await this.writeCheckpoint!(opts.checkpoint.path, await this.capture());
    this.lastSaved = { path: opts.checkpoint.path, step: this.position.step };
    opts.callbacks?.onCheckpoint?.({ path: opts.checkpoint.path, position: { ...this.position } });
  }

  /** The onEpoch callback; inside it nothing is in flight, so snapshots and evaluation are allowed. */
  private async epochCallback(opts: FitOptions, record: EpochRecord): Promise<void> {
    this.inCallback = true;
    try {
      await opts.callbacks?.onEpoch?.(record);
    } finally {
      this.inCallback = false;
    }
  }

  /** What a full-batch fit (full-batch.ts) needs of this trainer's private state. */
  private fullBatchHost(opts: FitOptions): FullBatchHost {
    return {
      method: this.method,
      split: opts.split ?? this.data?.split,
      earlyStopping: () => (this.earlyStopping = this.buildEarlyStopping(opts.earlyStopping, opts.validation)),
      checkpointEvery: () => this.checkpointEvery(opts),
      setData: (data) => void (this.data = data),
      setLive: (read) => void (this.liveMethod = read),
      keep: (state) => void (this.method = state),
      save: () => this.saveCheckpoint(opts),
      epochCallback: (record) => this.epochCallback(opts, record),
    };
  }

  /** Trains (see the module comment); one fit at a time per Trainer. */
  async fit(train: Dataset, opts: FitOptions): Promise<FitResult> {
    if (this.fitting) throw new Error('Trainer.fit: already fitting; await the running fit() before starting another');
    if (fittingRunners.has(this.runner)) {
      throw new Error(`Trainer.fit: ${BELONGS}; two Trainers cannot train one runner at once: await that fit() first, or give this Trainer a runner of its own`);
    }
    this.fitting = true;
    fittingRunners.set(this.runner, this);
    try {
      return await this.fitOnce(train, opts);
    } catch (e) {
      if (e instanceof Error && e.name === 'DeviceLostError') {
        const last = this.lastSaved ? `the last checkpoint, ${this.lastSaved.path}, holds step ${this.lastSaved.step}` : 'no checkpoint was written';
        e.message += ` (lost by step ${this.position.step}; ${last})`;
      }
      throw e;
    } finally {
      this.fitting = false;
      this.inCallback = false;
      fittingRunners.delete(this.runner);
    }
  }

  private async fitOnce(train: Dataset, opts: FitOptions): Promise<FitResult> {
    const seed = opts.seed ?? runnerSeed(this.config);
    if (opts.validationSplit !== undefined) {
      if (opts.validation) throw new Error('fit: give validation (a dataset) or validationSplit (a fraction of the training data), not both');
      const parts = this.heldOut(train, opts.validationSplit, seed);
      train = parts.train;
      opts = { ...opts, validation: parts.validation, validationSplit: undefined };
    }
    const validation = opts.validation;
    // LBFGS and the other methods of src/minimize/ take the whole training set per step (full-batch.ts).
    if (isFullBatchMethod(this.config.optimizer.name)) return fitFullBatch(this, train, opts, this.fullBatchHost(opts));
    checkCount(opts.epochs, 'epochs');
    checkCount(opts.steps, 'steps');
    if (opts.epochs === undefined && opts.steps === undefined) throw new Error('fit: give epochs or steps (or both)');
    const batchSize = opts.batchSize ?? this.config.batchSize;
    if (batchSize > this.config.batchSize) {
      throw new Error(`fit: batchSize ${batchSize} exceeds the runner's batchSize ${this.config.batchSize} (its buffers are sized for that)`);
    }
    const split = opts.split ?? this.data?.split;
    const data: TrainingSnapshot['data'] = {
      seed, batchSize, dropLast: opts.dropLast ?? false, shuffle: opts.shuffle ?? true, examples: train.length, ...(split ? { split } : {}),
    };
    if (this.data && this.position.batch > 0) {
      // Mid-epoch the rest of the epoch must be the same permutation cut at the same places.
      for (const key of ['seed', 'batchSize', 'dropLast', 'shuffle', 'examples'] as const) {
        if (this.data[key] !== data[key]) {
          throw new Error(
            `fit: resuming mid-epoch (epoch ${this.position.epoch + 1}, batch ${this.position.batch}) needs the same ${key} ` +
              `as the checkpoint (${this.data[key]}), got ${data[key]}`,
          );
        }
      }
    }
    const batches = new BatchSchedule(train.length, { batchSize, seed, dropLast: data.dropLast, shuffle: data.shuffle });
    if (this.position.batch > batches.batchCount) {
      throw new Error(`fit: position batch ${this.position.batch} is past the ${batches.batchCount} batches of an epoch`);
    }
    const checkpointEvery = this.checkpointEvery(opts);
    const schedule = this.buildSchedule(opts.schedule);
    const earlyStopping = this.buildEarlyStopping(opts.earlyStopping, validation);
    const scheduleMetric: Monitor = opts.scheduleMetric ?? (validation ? 'val_loss' : 'train_loss');
    if (schedule.needs === 'metric' && scheduleMetric.startsWith('val_') && !validation) {
      throw new Error(`fit: schedule '${schedule.name}' is fed ${scheduleMetric} but no validation set was given`);
    }
    this.schedule = schedule;
    this.earlyStopping = earlyStopping;
    this.data = data;
    const cb = opts.callbacks ?? {};
    const classification = this.config.model.loss !== 'mse';

    let acc = new MetricsAccumulator();
    let latest: MetricsReport | undefined;
    const watch = opts.stopOnDivergence ? new DivergenceMonitor(opts.stopOnDivergence === true ? {} : opts.stopOnDivergence) : null;
    const halted = () => !!opts.signal?.aborted || !!watch?.reason;
    // The reference of the divergence checks: the first step's loss alone, so the GPU reports it by itself (one flush),
    // and the loss of all-zero outputs on this data.
    const firstStep = this.startLoss === undefined ? this.position.step : -1;
    const floor = zeroOutputLoss(this.config.model, train);
    if (watch) watch.reference = referenceLoss(this.startLoss, floor);
    const unsubscribe = this.runner.onMetrics((m) => {
      acc.add(m);
      latest = m;
      if (m.lastStep === firstStep && m.steps === 1 && m.rows > 0 && Number.isFinite(m.loss)) {
        this.startLoss = m.loss;
        if (watch) watch.reference = referenceLoss(this.startLoss, floor);
      }
      watch?.update(m);
      cb.onMetrics?.(m);
    });

    const result: FitResult = {
      history: [], steps: 0, seconds: 0, stepsPerSecond: 0, position: this.position,
      stoppedEarly: false, interrupted: false, restoredBest: false, skipped: 0,
    };
    let best: RunnerState | undefined;
    const reachedEnd = () =>
      (opts.epochs !== undefined && this.position.epoch >= opts.epochs) || (opts.steps !== undefined && this.position.step >= opts.steps);
    const save = () => this.saveCheckpoint(opts);
    let savedAt = -1;

    try {
      await this.runner.setTrainingData(train, batchSize);
      while (!reachedEnd() && !halted()) {
        const epochNumber = this.position.epoch + 1;
        this.runner.beginEpoch(batches.permutation(this.position.epoch));
        acc = new MetricsAccumulator();
        const t0 = performance.now();
        const pause = yielder();
        let lr = schedule.lr;
        let steps = 0;
        while (this.position.batch < batches.batchCount && !(opts.steps !== undefined && this.position.step >= opts.steps)) {
          if (halted()) break;
          const b = this.position.batch;
          const start = batches.batchStart(b);
          const rows = batches.batchRows(b);
          const step = this.position.step;
          lr = schedule.lr;
          this.runner.step({ step, start, rows, lr });
          if (step === firstStep) await this.runner.flushMetrics();
          this.position.step = step + 1;
          this.position.batch = b + 1;
          steps++;
          if (schedule.unit === 'step') {
            if (schedule.needs === 'gradNorm' && this.config.gradLr) {
              // The runner applies the control itself (RunnerConfig.gradLr), on the device, without a readback.
            } else if (schedule.needs === 'gradNorm') {
              if (latest?.lastStep !== step || latest.gradNorm === undefined) {
                throw new Error(
                  `fit: schedule '${schedule.name}' needs the gradient norm of every step, but the ${this.runner.device} runner ` +
                    `reports it every few steps only; use a closed-form schedule on this device`,
                );
              }
              schedule.step({ gradNorm: latest.gradNorm });
            } else schedule.step();
          }
          cb.onStep?.({ step, epoch: epochNumber, batch: b, batches: batches.batchCount, rows, lr, metrics: latest });
          // Bounds the work queued ahead of the device (GPU: ~16 steps), so steps/s measures the device; no readback.
          if (this.runner.ready) await this.runner.ready();
          await pause();
        }
        await this.runner.flushMetrics();
        const seconds = (performance.now() - t0) / 1000;
        const complete = this.position.batch >= batches.batchCount;
        if (complete) {
          this.position.epoch += 1;
          this.position.batch = 0;
        }
        result.steps += steps;
        result.seconds += seconds;
        const means = metricMeans(this.config.model, acc);
        const record: EpochRecord = {
          epoch: epochNumber,
          steps,
          totalSteps: this.position.step,
          trainLoss: means.loss,
          trainAccuracy: means.accuracy,
          lr,
          seconds,
          stepsPerSecond: seconds > 0 ? steps / seconds : 0,
          skipped: acc.skipped,
        };
        if (!complete) record.partial = true;
        const cutShort = !complete && !!opts.signal?.aborted;
        if (validation && !(cutShort && opts.validateInterrupted === false) && !watch?.reason) {
          await validateEpoch(this.runner, validation, record, classification, cb);
        }
        let stop = false;
        if (complete) {
          if (schedule.unit === 'epoch') schedule.step(schedule.needs === 'metric' ? { metric: monitorValue(record, scheduleMetric) } : {});
          if (earlyStopping) {
            const d = earlyStopping.update(monitorValue(record, earlyStopping.monitor), epochNumber);
            record.improved = d.improved;
            if (d.improved && earlyStopping.restoreBestWeights) best = await this.runner.exportState();
            stop = d.stop;
          }
        }
        this.history.push(record);
        result.history.push(record);
        await this.epochCallback(opts, record);
        if (stop) {
          result.stoppedEarly = true;
          break;
        }
        if (complete && opts.checkpoint && checkpointEvery > 0 && this.position.epoch % checkpointEvery === 0 && !reachedEnd()) {
          await save();
          savedAt = this.position.step;
        }
      }
      result.interrupted = !!opts.signal?.aborted && !reachedEnd() && !result.stoppedEarly;
      if (earlyStopping) {
        result.bestEpoch = earlyStopping.bestEpoch || undefined;
        if (result.stoppedEarly && best && earlyStopping.restoreBestWeights) {
          await this.runner.importState(best);
          result.restoredBest = true;
        }
      }
      if (opts.checkpoint && savedAt !== this.position.step) await save();
    } finally {
      unsubscribe();
    }
    result.stepsPerSecond = result.seconds > 0 ? result.steps / result.seconds : 0;
    result.position = { ...this.position };
    result.skipped = result.history.reduce((a, r) => a + r.skipped, 0);
    result.referenceLoss = referenceLoss(this.startLoss, floor);
    const diverged = watch?.reason ?? divergence(result, result.referenceLoss);
    if (diverged) result.diverged = diverged;
    return result;
  }
}
