/**
 * `wgtrain train`: trains a model (an MLP by default) on MNIST (55000 train / 5000 validation from the training file, seeded; the 10000
 * test examples for the final accuracy) on the GPU or the CPU reference, with validation after each epoch, optional
 * early stopping, checkpoints and resume.
 *
 * Default configuration (reaches >= 98% test accuracy): 784-256-256-10 relu MLP, Adam lr 1e-3 with cosine decay to
 * 0 over the run, batch 128, 5 epochs (2150 steps), seed 0. `--model cnn` (or another name of src/train/presets.ts)
 * trains a built-in model with its own recipe; flags given on the command line override the recipe.
 *
 * Every argument is checked before any data loads or the GPU starts (planRun): values, the model against MNIST, the
 * optimizer's hyperparameters, the schedule, whether --save can be written, and on --resume the checkpoint, its data
 * split and position against the flags. The split (validation size, seed, --train-examples subset) of a resumed run is
 * the checkpoint's.
 *
 * Full-batch methods (--optimizer LBFGS|NonlinearCG|Newton, their flags and refusals: cli/train-full-batch.ts): each
 * epoch is one step(closure) on the whole training set; the epoch records carry `evals`, `lossAfter`, `gradMax` and
 * `stop` (why the step ended), the summary adds {"iterations", "evaluations", "trainLoss", "stop"} (why the run ended).
 *
 * Output: on a terminal a progress bar and one line per epoch; elsewhere plain lines (a full-batch step that runs long
 * adds a progress line every few seconds: train/progress.ts). With --json, stdout holds only
 * JSON: one EpochRecord object per epoch, then the summary
 *   {"testAccuracy", "testLoss", "steps", "seconds", "stepsPerSecond", "adapter", "skipped", "diverged"[, "divergence"]}
 * (steps, seconds and steps/s of this run's training, validation excluded; skipped: steps the non-finite guard
 * skipped; diverged: see below), and every log line goes to stderr. Numbers JSON lacks are written as the strings
 * "NaN", "Infinity", "-Infinity" (json-numbers.ts; `fromJson` reads them back).
 * Exit status: 0 done, 1 run error, 2 bad arguments, 3 diverged (the last epoch's or the test loss is not finite or
 * more than 1000 times the loss of the run's first step, or the guard skipped more than half of the steps, or a
 * full-batch method met a NaN or infinite loss or gradient: src/train/divergence.ts; the checkpoint is still
 * written). Ctrl-C stops after the current step (a full-batch method: after the current iteration of its step, see
 * train/full-batch.ts), writes the --save checkpoint, and exits 130; a second Ctrl-C quits at once.
 */
import { loadMnist } from '../data/mnist-node.js';
import { MNIST_TRAIN_EXAMPLES, splitMnist } from '../data/mnist.js';
import type { Engine } from '../gpu/index.js';
import { createEngine } from '../gpu/node.js';
import type { AdapterChoice } from '../gpu/acquire.js';
import { describeModel, parseModelSpec, type ModelSpec } from '../model/spec.js';
import { modelSyntaxHelp } from '../model/text.js';
import { optimizerConfig } from '../train/optimizer-config.js';
import { OPTIMIZER_NAMES } from '../optim/rule.js';
import { isFullBatchMethod, METHODS } from '../minimize/methods.js';
import { NonFiniteError } from '../minimize/errors.js';
import type { Dtype } from '../optim/rule.js';
import { restoreSchedule, scheduleFromSpec, specHelp } from '../schedule/spec.js';
import { gradMagnitudeControl } from '../schedule/grad-magnitude.js';
import { scheduleHorizon } from '../schedule/horizon.js';
import { configDiff, type Schedule } from '../schedule/schedule.js';
import { NonFiniteStateError } from '../train/checkpoint.js';
import { lossDivergence } from '../train/divergence.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../train/checkpoint-file.js';
import { createCpuRunner, cpuRunnerDtype } from '../train/cpu-runner.js';
import { createGpuRunner } from '../train/gpu-runner.js';
import { parseEarlyStopping, type EarlyStoppingOptions } from '../train/early-stopping.js';
import { PRESETS, presetByName } from '../train/presets.js';
import { Progress } from '../train/progress.js';
import { trainableFullBatchMethods, validateRunnerConfig } from '../train/runner-checks.js';
import { givenLr, type ClipConfig, type Runner, type RunnerConfig } from '../train/runner.js';
import { Trainer, type DataSplit, type TrainingSnapshot } from '../train/trainer.js';
import { toJson } from '../json-numbers.js';
import { interruptOnSigint } from './interrupt.js';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './args.js';
import { adapterChoice, checkMnistModel, checkpointSplit, checkSplitFlags, configArgError, mnistSplit, probeWritable, splitOptions } from './checks.js';
import {
  checkFullBatchModelFlag, checkOptimizerFlags, chunkSize, describeMethod, FULL_BATCH_FLAGS, FULL_BATCH_HELP, fullBatchHyperparams, fullBatchSummary, FULL_BATCH_ONLY,
} from './train-full-batch.js';

export const DEFAULTS = {
  model: '784-256-256-10:relu',
  optimizer: 'adam',
  lr: 1e-3,
  batch: 128,
  epochs: 5,
  seed: 0,
  validation: 5000,
} as const;

/** Exit status of a run that diverged (see the module comment). */
export const EXIT_DIVERGED = 3;

export const ADAPTER_FLAG = {
  type: 'string', help: 'WebGPU adapter (default: $WGTRAIN_ADAPTER, else auto)', choices: ['auto', 'hardware', 'software'],
} as const;

/** The full-batch methods' names (Levenberg-Marquardt and Gauss-Newton among them, refused with the reason). */
const FULL_BATCH_NAMES = Object.keys(METHODS).filter(isFullBatchMethod);

export const TRAIN_FLAGS = {
  model: {
    type: 'string', value: 'SPEC',
    help: `a built-in model with its own recipe (${Object.keys(PRESETS).join(', ')}), an MLP (784-256-256-10:relu,bn,dropout=0.1) or a layer list (784-dense(256)-relu-dense(10)); see Models below`,
    default: DEFAULTS.model,
  },
  optimizer: {
    type: 'string', value: 'NAME',
    help: `torch.optim class, case-insensitive: ${OPTIMIZER_NAMES.join(' ')}; or a full-batch method: ${trainableFullBatchMethods().join(' ')} (see below)`,
    default: DEFAULTS.optimizer,
  },
  lr: { type: 'number', help: "base learning rate (full-batch methods: their lr, default theirs: LBFGS's is 1)", default: DEFAULTS.lr },
  schedule: { type: 'string', value: 'SPEC', help: "learning-rate schedule, e.g. warmup:100+cosine:T=2000 (default: cosine to 0 over the run; with --resume: the checkpoint's, or this one from the checkpoint's step on)" },
  clip: { type: 'string', value: 'norm=X|value=Y', help: 'gradient clipping: global L2 norm and/or element value (norm=1.0,value=0.5)' },
  'weight-decay': { type: 'number', value: 'X', help: "the optimizer's weight_decay (Dense and Conv2D weights only)" },
  batch: { type: 'int', value: 'N', help: 'examples per step (first-order optimizers)', default: DEFAULTS.batch },
  epochs: { type: 'int', value: 'N', help: `epochs in total (default ${DEFAULTS.epochs}, or a built-in model's own; not with --steps)` },
  steps: { type: 'int', value: 'N', help: 'steps in total, crossing epochs as needed (not with --epochs; full-batch methods: iterations, the last step cut there)' },
  seed: { type: 'int', value: 'S', help: 'seeds the weights, dropout, the data split and the shuffles (with --resume: the checkpoint\'s)', default: DEFAULTS.seed },
  device: { type: 'string', help: 'where steps run', choices: ['gpu', 'cpu'], default: 'gpu' },
  adapter: ADAPTER_FLAG,
  dtype: { type: 'string', help: 'precision of the CPU runner (the GPU computes in float32)', choices: ['float32', 'float64'], default: 'float32' },
  save: { type: 'string', value: 'FILE', help: 'checkpoint file, written after every epoch and at the end' },
  resume: { type: 'string', value: 'FILE', help: 'continue from a checkpoint (model, optimizer, lr, batch, data split come from it; a CPU-runner checkpoint resumes on the CPU runner unless --device is given)' },
  json: { type: 'boolean', help: 'JSON lines on stdout (one per epoch, then a summary); logs on stderr' },
  validation: { type: 'int', value: 'N', help: "validation examples split off the training file (0: none; with --resume: the checkpoint's)", default: DEFAULTS.validation },
  'train-examples': {
    type: 'int', value: 'N',
    help: "train on a fixed subset of N of the split's training examples, drawn by a shuffle seeded by --seed (default: all; with --resume: the checkpoint's)",
  },
  'early-stopping': { type: 'string', value: 'SPEC', help: 'patience=3[,monitor=val_loss|val_accuracy][,min_delta=X][,restore=true]' },
  ...FULL_BATCH_FLAGS,
} as const satisfies FlagSpecs;

const USAGE_LINE = 'wgtrain train [flags]';
const COMMAND = 'wgtrain train';

/** MNIST images as a --model layer list that names no input takes them: 784 values, or 1×28×28 (for a first conv). */
const MNIST_INPUTS = 28 * 28;
const MNIST_IMAGE: readonly number[] = [1, 28, 28];

/** Torch class name (or full-batch method name) for a case-insensitive optimizer name. */
export function optimizerName(name: string): string {
  const names = [...OPTIMIZER_NAMES, ...FULL_BATCH_NAMES];
  const hit = names.find((n) => n.toLowerCase() === name.toLowerCase());
  if (!hit) throw new ArgError(`${COMMAND}: --optimizer ${JSON.stringify(name)} is not one of ${OPTIMIZER_NAMES.join(', ')}, or a full-batch method: ${FULL_BATCH_NAMES.join(', ')}`);
  return hit;
}

/** `norm=1.0`, `value=0.5`, or both comma-separated; each at most once. */
export function parseClip(text: string): ClipConfig {
  const clip: ClipConfig = {};
  for (const part of text.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => s.trim()) as [string, string?];
    const x = value === undefined || value === '' ? NaN : Number(value);
    if ((key !== 'norm' && key !== 'value') || !(x > 0) || !Number.isFinite(x)) {
      throw new ArgError(`${COMMAND}: --clip ${JSON.stringify(text)}: write norm=X and/or value=Y with positive numbers, e.g. norm=1.0`);
    }
    const field = key === 'norm' ? 'maxNorm' : 'value';
    if (clip[field] !== undefined) throw new ArgError(`${COMMAND}: --clip ${JSON.stringify(text)}: ${key} is given twice; give it once`);
    clip[field] = x;
  }
  return clip;
}

export interface RunnerOptions {
  device: 'gpu' | 'cpu';
  /** Undefined: WGTRAIN_ADAPTER, else auto (createEngine reads the variable). */
  adapter: AdapterChoice | undefined;
  dtype: Dtype;
  log: (line: string) => void;
}

/** --dtype float64 asks for precision the GPU does not have: refuse rather than ignore it. */
export function checkDtype(device: string, dtype: string, given: ReadonlySet<string>, command: string): void {
  if (device === 'gpu' && given.has('dtype') && dtype !== 'float32') {
    throw new ArgError(`${command}: --dtype ${dtype} needs --device cpu; the GPU computes in float32`);
  }
}

/** The runner for a device; for the GPU also the engine (destroy both when done). */
export async function createRunner(config: RunnerConfig, o: RunnerOptions): Promise<{ runner: Runner; engine?: Engine; adapter: string }> {
  if (o.device === 'cpu') {
    const runner = await createCpuRunner(config, { dtype: o.dtype });
    return { runner, adapter: runner.description };
  }
  const engine = await createEngine({ ...(o.adapter ? { adapter: o.adapter } : {}), log: o.log });
  try {
    const runner = await createGpuRunner(engine, config);
    return { runner, engine, adapter: engine.describe() };
  } catch (e) {
    engine.destroy();
    throw e;
  }
}

function jsonLine(value: unknown): string {
  // A diverged loss stays "NaN" or "Infinity" (json-numbers.ts), not JSON.stringify's null.
  return toJson(value) + '\n';
}

/** CLI entry: returns the exit status. */
export async function trainMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, TRAIN_FLAGS, COMMAND);
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n(wgtrain train --help lists the flags)\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(
      `${usage(TRAIN_FLAGS, USAGE_LINE)}\n\nBuilt-in models (--model NAME; flags given override their recipe):\n` +
        `${Object.values(PRESETS).map((p) => `  ${p.name.padEnd(6)}${p.summary}\n`).join('')}\n` +
        `Models (--model):\n${modelSyntaxHelp()}\n\n` +
        `Schedules (--schedule NAME:field=value,...; '+' chains a warm-up):\n${specHelp()}\n\n${FULL_BATCH_HELP}`,
    );
    return 0;
  }
  const v = args.values;
  const json = v.json === true;
  // Human output: stdout, or stderr when stdout carries JSON.
  const out = json ? io.stderr : io.stdout;
  const progress = new Progress({ write: out, isTTY: json ? io.stderrIsTTY : io.stdoutIsTTY, columns: io.columns }, { totalSteps: 0 });
  let bar = progress;
  const log = (line: string) => bar.log(line);

  let plan: Awaited<ReturnType<typeof planRun>>;
  try {
    plan = await planRun(args.values, args.given, log);
  } catch (e) {
    if (e instanceof ArgError) {
      io.stderr(`${e.message}\n`);
      return 2;
    }
    io.stderr(`${COMMAND}: ${(e as Error).message}\n`);
    return 1;
  }
  const { config, resume, fit, split, schedule, totalSteps, totalEpochs, device, dtype, adapter, preset, fullBatch } = plan;
  let engine: Engine | undefined;
  let runner: Runner | undefined;
  const interrupt = interruptOnSigint(() =>
    log(`interrupted: stopping after this ${fullBatch ? `${config.optimizer.name} iteration` : 'step'} (Ctrl-C again to quit at once)`));
  try {
    // The device first: a missing adapter or a model too large for it fails before the data loads.
    const made = await createRunner(config, { device: device as 'gpu' | 'cpu', adapter, dtype: dtype as Dtype, log });
    engine = made.engine;
    runner = made.runner;
    const mnist = await loadMnist();
    const data = splitMnist(mnist, splitOptions(split));
    const validation = data.validation.length > 0 ? data.validation : undefined;
    const subset = split.trainExamples !== undefined ? ` (a fixed subset of the ${MNIST_TRAIN_EXAMPLES - split.validation})` : '';
    log(
      `data: MNIST ${data.train.length} train${subset} / ${data.validation.length} validation / ${data.test.length} test ` +
        `(split seed ${split.seed}${resume ? ", the checkpoint's split" : ''})`,
    );
    const trainer = new Trainer(runner, config, { writeCheckpoint: saveTrainingCheckpoint });
    if (resume) {
      await trainer.restore(resume);
      const p = resume.position;
      const within = fullBatch ? `iteration ${p.batch} of its step` : `batch ${p.batch}`;
      log(`resumed from ${v.resume}: epoch ${p.epoch + (p.batch > 0 ? 1 : 0)}${p.batch > 0 ? ` (${within})` : ''}, step ${p.step}`);
    }
    const model = `model ${preset ? `${preset} ` : ''}${describeModel(config.model)}`;
    if (!schedule) {
      log(
        `${model}, ${describeMethod(config)} on the full batch of ${data.train.length} examples (chunks of ${config.batchSize}), ` +
          `${fit.epochs !== undefined ? `${fit.epochs} epochs (one step each)` : `${fit.steps} iterations`}, device ${made.adapter}`,
      );
    } else {
      log(
        `${model}, ${config.optimizer.name} lr ${baseLrOf(config)}, schedule ${describeSchedule(schedule)}, ` +
          `batch ${config.batchSize}, ${fit.epochs !== undefined ? `${fit.epochs} epochs (${totalSteps} steps)` : `${totalSteps} steps`}, ` +
          `device ${made.adapter}`,
      );
    }
    bar = new Progress({ write: out, isTTY: json ? io.stderrIsTTY : io.stdoutIsTTY, columns: io.columns }, {
      totalSteps,
      totalEpochs,
      firstStep: trainer.position.step,
    });
    const result = await trainer.fit(data.train, {
      ...fit,
      batchSize: config.batchSize,
      schedule,
      validation,
      // The shuffle's seed: the checkpoint's when resuming (the CLI always uses the split's seed for both).
      seed: resume ? resume.data.seed : split.seed,
      split,
      signal: interrupt.signal,
      checkpoint: v.save ? { path: v.save } : undefined,
      callbacks: {
        onStep: (s) => bar.step(s),
        onIteration: (r) => bar.iteration(r),
        onEpoch: (r) => {
          bar.epoch(r);
          if (json) io.stdout(jsonLine(r));
        },
      },
    });
    if (result.stoppedEarly) log(`early stopping: no improvement of ${trainer.earlyStopping!.monitor} for ${trainer.earlyStopping!.patience} epochs`);
    if (result.restoredBest) log(`restored the weights of epoch ${result.bestEpoch} (best ${trainer.earlyStopping!.monitor})`);
    if (v.save) log(`checkpoint: ${v.save} (step ${trainer.position.step})`);
    const test = await trainer.evaluate(data.test);
    bar.clear();
    const summary = fullBatch ? fullBatchSummary(result) : undefined;
    if (summary && result.stop) log(`${config.optimizer.name} stopped: ${result.stop}`);
    out(
      `test loss ${test.loss.toFixed(4)}  accuracy ${(100 * test.accuracy).toFixed(2)}%  ` +
        (summary
          ? `(${summary.iterations} iterations, ${summary.evaluations} full-batch evaluations in ${result.seconds.toFixed(1)} s)\n`
          : `(${result.steps} steps in ${result.seconds.toFixed(1)} s, ${result.stepsPerSecond.toFixed(1)} steps/s)\n`),
    );
    const divergence = result.diverged ?? lossDivergence('the test loss', test.loss, result.referenceLoss);
    if (json) {
      io.stdout(jsonLine({
        testAccuracy: test.accuracy,
        testLoss: test.loss,
        steps: result.steps,
        seconds: result.seconds,
        stepsPerSecond: result.stepsPerSecond,
        adapter: made.adapter,
        skipped: result.skipped,
        diverged: divergence !== undefined,
        ...(divergence !== undefined ? { divergence } : {}),
        ...(summary ? { optimizer: config.optimizer.name, ...summary } : {}),
      }));
    }
    if (result.interrupted) return 130;
    if (divergence !== undefined) {
      const remedy = fullBatch ? 'try a lower --lr, or --line-search-fn strong_wolfe' : 'try a lower --lr, --clip norm=1, or a warm-up (--schedule warmup:100+cosine)';
      io.stderr(`${COMMAND}: diverged: ${divergence}; ${remedy}\n`);
      return EXIT_DIVERGED;
    }
    return 0;
  } catch (e) {
    bar.clear();
    // A full-batch method stops at the first NaN or infinite loss or gradient (NonFiniteError, naming where).
    if (e instanceof NonFiniteStateError || e instanceof NonFiniteError) {
      io.stderr(`${COMMAND}: diverged: ${e.message}\n`);
      return EXIT_DIVERGED;
    }
    io.stderr(`${COMMAND}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    interrupt.release();
    runner?.destroy();
    engine?.destroy();
  }
}

type TrainValues = ReturnType<typeof parseArgs<typeof TRAIN_FLAGS>>['values'];

/**
 * Resolves and checks every flag (and, for --resume, the checkpoint against them) into the runner config, the fit
 * options, the data split and the schedule, before any data loads or the GPU starts. ArgError: exit status 2.
 */
async function planRun(v: TrainValues, given: Set<string>, log: (line: string) => void) {
  if (v.epochs !== undefined && v.steps !== undefined) throw new ArgError(`${COMMAND}: give --epochs or --steps, not both`);
  for (const f of ['epochs', 'steps', 'batch', 'train-examples'] as const) {
    if (v[f] !== undefined && !(v[f]! >= 1)) throw new ArgError(`${COMMAND}: --${f} must be at least 1, got ${v[f]}`);
  }
  if (!(v.validation! >= 0)) throw new ArgError(`${COMMAND}: --validation must be >= 0, got ${v.validation}`);
  if (v.seed! < 0) throw new ArgError(`${COMMAND}: --seed must be >= 0, got ${v.seed}`);
  let device = v.device!;
  let dtype = v.dtype!;
  const earlyStopping: EarlyStoppingOptions | undefined = v['early-stopping'] === undefined ? undefined : parseFlag('early-stopping', () => parseEarlyStopping(v['early-stopping']!));
  const preset = v.resume ? undefined : presetByName(v.model!);
  if (v.save !== undefined) await probeWritable(v.save, 'save', COMMAND);

  let resume: TrainingSnapshot | undefined;
  let config: RunnerConfig;
  let split: DataSplit;
  let fullBatch: boolean;
  // A built-in model brings its recipe; each flag given on the command line wins over it.
  let recipe = preset;
  const pick = <T>(flag: keyof typeof TRAIN_FLAGS & string, fromFlag: T, fromPreset: T | undefined): T => (recipe && !given.has(flag) && fromPreset !== undefined ? fromPreset : fromFlag);
  if (v.resume) {
    const fromCheckpoint = ['model', 'optimizer', 'lr', 'weight-decay', 'clip', 'batch', ...FULL_BATCH_ONLY].filter((f) => given.has(f));
    if (fromCheckpoint.length) {
      throw new ArgError(`${COMMAND}: ${fromCheckpoint.map((f) => `--${f}`).join(', ')} cannot be changed with --resume (they come from the checkpoint)`);
    }
    resume = await loadTrainingCheckpoint(v.resume);
    config = resume.config;
    // A run continues where it was written (the CPU runner in its dtype) unless --device says otherwise.
    const cpuDtype = cpuRunnerDtype(resume.device);
    if (cpuDtype && !given.has('device')) {
      device = 'cpu';
      if (!given.has('dtype')) dtype = cpuDtype;
      log(`resuming on the CPU runner (${dtype}), where ${v.resume} was written; --device gpu to move it`);
    }
    fullBatch = isFullBatchMethod(config.optimizer.name);
    checkOptimizerFlags(config.optimizer.name, given, COMMAND);
    checkMnistModel(config.model, `the model of ${v.resume}`, COMMAND);
    split = checkpointSplit(resume);
    checkSplitFlags(split, given, v, COMMAND);
  } else {
    const optimizer = optimizerName(pick('optimizer', v.optimizer!, preset?.optimizer));
    fullBatch = isFullBatchMethod(optimizer);
    // A preset's lr, batch, weight decay and schedule are its first-order recipe: a full-batch method takes its model only.
    if (fullBatch) recipe = undefined;
    checkOptimizerFlags(optimizer, given, COMMAND);
    let model: ModelSpec;
    try {
      model = parseModelSpec(preset?.model ?? v.model!, { inputs: MNIST_INPUTS, inputViews: [MNIST_IMAGE] });
    } catch (e) {
      throw new ArgError(`${COMMAND}: --model: ${(e as Error).message}`);
    }
    checkMnistModel(model, `--model ${v.model}`, COMMAND);
    split = mnistSplit(v.validation!, v.seed!, COMMAND, v['train-examples']);
    let hyperparams: Record<string, unknown>;
    let batchSize: number;
    if (fullBatch) {
      checkFullBatchModelFlag(model, `--model ${v.model}`, COMMAND);
      hyperparams = fullBatchHyperparams(optimizer, given, v, COMMAND);
      if (v['weight-decay'] !== undefined) hyperparams.weight_decay = v['weight-decay'];
      batchSize = chunkSize(v.chunk, split.trainExamples ?? MNIST_TRAIN_EXAMPLES - split.validation, COMMAND);
    } else {
      hyperparams = { lr: pick('lr', v.lr, preset?.lr) };
      const weightDecay = pick('weight-decay', v['weight-decay'], preset?.weightDecay);
      if (weightDecay !== undefined) hyperparams.weight_decay = weightDecay;
      batchSize = pick('batch', v.batch!, preset?.batch);
    }
    config = {
      model,
      batchSize,
      optimizer: optimizerConfig(optimizer, hyperparams),
      seed: v.seed!,
      ...(v.clip !== undefined ? { clip: parseClip(v.clip) } : {}),
    };
    try {
      validateRunnerConfig(config);
    } catch (e) {
      throw configArgError(e, v, COMMAND);
    }
  }
  const fit = { epochs: v.epochs, steps: v.steps, earlyStopping };
  if (fit.epochs === undefined && fit.steps === undefined) fit.epochs = recipe?.epochs ?? DEFAULTS.epochs;
  if (earlyStopping && split.validation === 0 && (earlyStopping.monitor ?? 'val_loss').startsWith('val_')) {
    throw new ArgError(`${COMMAND}: --early-stopping monitors a validation metric but --validation is 0`);
  }
  if (resume) checkNothingLeft(resume, fit, v.resume!, given);
  checkDtype(device, dtype, given, COMMAND);
  const adapter = device === 'gpu' ? adapterChoice(v.adapter, COMMAND) : undefined;
  const base = { config, resume, fit, split, device, dtype, adapter, preset: preset?.name, fullBatch };
  // A full-batch method's epoch is one step of up to max_iter iterations: no schedule, no step count known ahead.
  if (fullBatch) return { ...base, schedule: undefined, totalSteps: 0, totalEpochs: fit.epochs };
  const trainCount = split.trainExamples ?? MNIST_TRAIN_EXAMPLES - split.validation;
  const batchesPerEpoch = Math.ceil(trainCount / config.batchSize);
  const totalSteps = fit.steps ?? fit.epochs! * batchesPerEpoch;
  const totalEpochs = fit.epochs ?? Math.ceil(totalSteps / batchesPerEpoch);
  const scheduleSpec = pick('schedule', v.schedule, preset?.schedule);
  const schedule = makeSchedule(scheduleSpec, resume, config, totalSteps, log);
  if (schedule.needs === 'metric' && schedule.unit !== 'epoch') {
    throw new ArgError(`${COMMAND}: --schedule ${scheduleSpec}: '${schedule.name}' is fed a validation metric, so it must step per epoch (add unit=epoch)`);
  }
  checkHorizon(schedule, scheduleSpec !== undefined, schedule.unit === 'epoch' ? totalEpochs : totalSteps, log);
  // The gradient-magnitude control runs inside the optimizer step, on the device, from each step's gradient norm.
  const gradmag = gradMagnitudeControl(schedule);
  if (gradmag) config.gradLr = { c: gradmag.c };
  return { ...base, schedule, totalSteps, totalEpochs };
}

/** A resumed run whose target is already reached would train nothing: refuse rather than report 0 steps. */
function checkNothingLeft(resume: TrainingSnapshot, fit: { epochs?: number; steps?: number }, file: string, given: ReadonlySet<string>): void {
  const p = resume.position;
  if (fit.steps !== undefined && p.step >= fit.steps) {
    throw new ArgError(
      `${COMMAND}: ${file} is already at step ${p.step}, so --steps ${fit.steps} leaves nothing to train ` +
        `(--steps counts all steps, the checkpoint's included); give --steps greater than ${p.step}`,
    );
  }
  if (fit.epochs !== undefined && p.epoch >= fit.epochs) {
    const flag = given.has('epochs') ? `--epochs ${fit.epochs}` : `--epochs ${fit.epochs} (the default)`;
    throw new ArgError(
      `${COMMAND}: ${file} has ${p.epoch} complete epochs, so ${flag} leaves nothing to train ` +
        `(--epochs counts all epochs, the checkpoint's included); give --epochs greater than ${p.epoch}`,
    );
  }
}

function parseFlag<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const message = (e as Error).message;
    throw new ArgError(`${COMMAND}: --${flag}: ${message.startsWith(`${flag}: `) ? message.slice(flag.length + 2) : message}`);
  }
}

function baseLrOf(config: RunnerConfig): string {
  const lr = givenLr(config);
  return lr !== undefined ? String(lr) : 'default';
}

/**
 * --schedule, or the checkpoint's schedule on resume, or cosine to 0 over the run. On resume, a --schedule equal to
 * the checkpoint's continues it; a different one replaces it from the checkpoint's step on (closed-form schedules
 * take up the rate they have at that step; feedback schedules start fresh), and the snapshot is updated so the
 * trainer resumes the replacement.
 */
function makeSchedule(spec: string | undefined, resume: TrainingSnapshot | undefined, config: RunnerConfig, totalSteps: number, log: (line: string) => void): Schedule {
  const lr = givenLr(config);
  const saved = resume?.schedule ?? null;
  if (spec === undefined) {
    if (saved) return parseFlag('resume', () => restoreSchedule(saved));
    return scheduleFromSpec({ name: 'cosine', T_max: totalSteps, eta_min: 0 }, lr === undefined ? {} : { lr });
  }
  const s = parseFlag('schedule', () => scheduleFromSpec(spec, lr === undefined ? {} : { lr }));
  if (!resume) return s;
  const t = s.unit === 'epoch' ? resume.position.epoch : resume.position.step;
  if (saved && configDiff(saved.config, s.config()) === null) {
    s.load(saved);
  } else {
    if (s.closedForm) parseFlag('schedule', () => { while (s.t < t) s.step(); });
    const from = saved ? `replaces the checkpoint's ${describeConfig(saved.config)}` : 'takes over';
    log(`schedule: ${describeSchedule(s)} ${from} at ${s.unit} ${t}${s.closedForm ? ` (lr ${s.lr.toPrecision(4)})` : ', starting fresh'}`);
    resume.schedule = s.state();
  }
  return s;
}

/** A cosine schedule that the run outlasts climbs back up (warn); a one-cycle schedule it outlasts ends (refuse). */
function checkHorizon(s: Schedule, explicit: boolean, total: number, log: (line: string) => void): void {
  const h = scheduleHorizon(s.config());
  // The last step of the run is at t = total − 1.
  if (!h || total - 1 <= h.t) return;
  const unit = s.unit === 'epoch' ? 'epoch' : 'step';
  const which = explicit ? 'the --schedule' : "the checkpoint's schedule";
  const extend = `give --schedule with a longer ${h.name === 'cosine' ? 'T_max' : 'total_steps'} (on --resume it takes over from the checkpoint's ${unit})`;
  if (h.after === 'ends') {
    throw new ArgError(`${COMMAND}: ${which} ${describeSchedule(s)} ends at ${unit} ${h.t}, but this run goes to ${unit} ${total}; ${extend}`);
  }
  log(
    `warning: ${which} ${describeSchedule(s)} reaches its minimum at ${unit} ${h.t}, but this run goes to ${unit} ${total}: ` +
      `past it the rate climbs back up (as torch's CosineAnnealingLR); to decay over the whole run, ${extend}`,
  );
}

function describeConfig(c: { name: string; [k: string]: unknown }): string {
  const { name, ...rest } = c;
  const fields = Object.entries(rest)
    .filter(([k]) => k !== 'lr' && k !== 'unit')
    .map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`);
  return `${name}${fields.length ? `(${fields.join(', ')})` : ''}`;
}

function describeSchedule(s: Schedule): string {
  return `${describeConfig(s.config())}${s.unit === 'epoch' ? ' per epoch' : ''}`;
}
