/**
 * `wgtrain train`: trains a model (an MLP by default) on MNIST (55000 train / 5000 validation from the training file, seeded; the 10000
 * test examples for the final accuracy) on the GPU or the CPU reference, with validation after each epoch, optional
 * early stopping, checkpoints and resume.
 *
 * Default configuration (reaches >= 98% test accuracy): 784-256-256-10 relu MLP, Adam lr 1e-3 with cosine decay to
 * 0 over the run, batch 128, 5 epochs (2150 steps), seed 0.
 *
 * Output: on a terminal a progress bar and one line per epoch; elsewhere plain lines. With --json, stdout holds only
 * JSON: one EpochRecord object per epoch, then the summary
 *   {"testAccuracy", "testLoss", "steps", "seconds", "stepsPerSecond", "adapter"}
 * (steps, seconds and steps/s of this run's training, validation excluded), and every log line goes to stderr.
 * Exit status: 0 done, 1 run error, 2 bad arguments. Ctrl-C stops after the current step, writes the --save
 * checkpoint, and exits 130.
 */
import { loadMnist } from '../data/mnist-node.js';
import { splitMnist } from '../data/mnist.js';
import { createEngine, type Engine } from '../gpu/index.js';
import { describeModel, parseModelSpec, type ModelSpec } from '../model/spec.js';
import { modelSyntaxHelp } from '../model/text.js';
import { OPTIMIZER_NAMES } from '../optim/rule.js';
import type { Dtype } from '../optim/rule.js';
import { restoreSchedule, scheduleFromSpec, specHelp } from '../schedule/spec.js';
import { gradMagnitudeControl } from '../schedule/grad-magnitude.js';
import type { Schedule } from '../schedule/schedule.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../train/checkpoint.js';
import { createCpuRunner } from '../train/cpu-runner.js';
import { createGpuRunner } from '../train/gpu-runner.js';
import { parseEarlyStopping, type EarlyStoppingOptions } from '../train/early-stopping.js';
import { Progress } from '../train/progress.js';
import type { ClipConfig, Runner, RunnerConfig } from '../train/runner.js';
import { Trainer, type TrainingSnapshot } from '../train/trainer.js';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './args.js';

export const DEFAULTS = {
  model: '784-256-256-10:relu',
  optimizer: 'adam',
  lr: 1e-3,
  batch: 128,
  epochs: 5,
  seed: 0,
  validation: 5000,
} as const;

export const TRAIN_FLAGS = {
  model: { type: 'string', value: 'SPEC', help: 'an MLP (784-256-256-10:relu,bn,dropout=0.1) or a layer list (784-dense(256)-relu-dense(10)); see Models below', default: DEFAULTS.model },
  optimizer: { type: 'string', value: 'NAME', help: `torch.optim class, case-insensitive: ${OPTIMIZER_NAMES.join(' ')}`, default: DEFAULTS.optimizer },
  lr: { type: 'number', help: 'base learning rate', default: DEFAULTS.lr },
  schedule: { type: 'string', value: 'SPEC', help: 'learning-rate schedule, e.g. warmup:100+cosine:T=2000 (default: cosine to 0 over the run)' },
  clip: { type: 'string', value: 'norm=X|value=Y', help: 'gradient clipping: global L2 norm and/or element value (norm=1.0,value=0.5)' },
  'weight-decay': { type: 'number', value: 'X', help: "the optimizer's weight_decay (Dense weights only)" },
  batch: { type: 'int', value: 'N', help: 'examples per step', default: DEFAULTS.batch },
  epochs: { type: 'int', value: 'N', help: `epochs in total (default ${DEFAULTS.epochs}; not with --steps)` },
  steps: { type: 'int', value: 'N', help: 'steps in total, crossing epochs as needed (not with --epochs)' },
  seed: { type: 'int', value: 'S', help: 'seeds the weights, dropout, the data split and the shuffles', default: DEFAULTS.seed },
  device: { type: 'string', help: 'where steps run', choices: ['gpu', 'cpu'], default: 'gpu' },
  adapter: { type: 'string', help: 'WebGPU adapter', choices: ['auto', 'hardware', 'software'], default: 'auto' },
  dtype: { type: 'string', help: 'precision of the CPU runner', choices: ['float32', 'float64'], default: 'float32' },
  save: { type: 'string', value: 'FILE', help: 'checkpoint file, written after every epoch and at the end' },
  resume: { type: 'string', value: 'FILE', help: 'continue from a checkpoint (model, optimizer, lr, batch come from it)' },
  json: { type: 'boolean', help: 'JSON lines on stdout (one per epoch, then a summary); logs on stderr' },
  validation: { type: 'int', value: 'N', help: 'validation examples split off the training file (0: none)', default: DEFAULTS.validation },
  'early-stopping': { type: 'string', value: 'SPEC', help: 'patience=3[,monitor=val_loss|val_accuracy][,min_delta=X][,restore=true]' },
} as const satisfies FlagSpecs;

const USAGE_LINE = 'wgtrain train [flags]';

/** Values per MNIST image: the input of a --model layer list that names none. */
const MNIST_INPUTS = 28 * 28;

/** Torch class name for a case-insensitive optimizer name. */
export function optimizerName(name: string): string {
  const hit = OPTIMIZER_NAMES.find((n) => n.toLowerCase() === name.toLowerCase());
  if (!hit) throw new ArgError(`wgtrain train: --optimizer ${JSON.stringify(name)} is not one of ${OPTIMIZER_NAMES.join(', ')}`);
  return hit;
}

/** `norm=1.0`, `value=0.5`, or both comma-separated. */
export function parseClip(text: string): ClipConfig {
  const clip: ClipConfig = {};
  for (const part of text.split(',')) {
    const [key, value] = part.split('=', 2).map((s) => s.trim()) as [string, string?];
    const x = value === undefined || value === '' ? NaN : Number(value);
    if ((key !== 'norm' && key !== 'value') || !(x > 0) || !Number.isFinite(x)) {
      throw new ArgError(`wgtrain train: --clip ${JSON.stringify(text)}: write norm=X and/or value=Y with positive numbers, e.g. norm=1.0`);
    }
    if (key === 'norm') clip.maxNorm = x;
    else clip.value = x;
  }
  return clip;
}

export interface RunnerOptions {
  device: 'gpu' | 'cpu';
  adapter: 'auto' | 'hardware' | 'software';
  dtype: Dtype;
  log: (line: string) => void;
}

/** The runner for a device; for the GPU also the engine (destroy both when done). */
export async function createRunner(config: RunnerConfig, o: RunnerOptions): Promise<{ runner: Runner; engine?: Engine; adapter: string }> {
  if (o.device === 'cpu') {
    const runner = await createCpuRunner(config, { dtype: o.dtype });
    return { runner, adapter: runner.description };
  }
  const engine = await createEngine({ adapter: o.adapter, log: o.log });
  try {
    const runner = await createGpuRunner(engine, config);
    return { runner, engine, adapter: engine.describe() };
  } catch (e) {
    engine.destroy();
    throw e;
  }
}

function jsonLine(value: unknown): string {
  // NaN (accuracy of a regression loss) becomes null, as JSON.stringify does.
  return JSON.stringify(value) + '\n';
}

/** CLI entry: returns the exit status. */
export async function trainMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, TRAIN_FLAGS, 'wgtrain train');
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n(wgtrain train --help lists the flags)\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(
      `${usage(TRAIN_FLAGS, USAGE_LINE)}\n\nModels (--model):\n${modelSyntaxHelp()}\n\n` +
        `Schedules (--schedule NAME:field=value,...; '+' chains a warm-up):\n${specHelp()}\n`,
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
    io.stderr(`wgtrain train: ${(e as Error).message}\n`);
    return 1;
  }
  const { config, resume, fit, splitSeed } = plan;
  let engine: Engine | undefined;
  let runner: Runner | undefined;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    log('interrupted: stopping after this step (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const mnist = await loadMnist();
    const split = splitMnist(mnist, { validation: v.validation!, seed: splitSeed });
    const validation = split.validation.length > 0 ? split.validation : undefined;
    log(`data: MNIST ${split.train.length} train / ${split.validation.length} validation / ${split.test.length} test (split seed ${splitSeed})`);
    const batchesPerEpoch = Math.ceil(split.train.length / config.batchSize);
    const totalSteps = fit.steps ?? fit.epochs! * batchesPerEpoch;
    const totalEpochs = fit.epochs ?? Math.ceil(totalSteps / batchesPerEpoch);
    const schedule = makeSchedule(v.schedule, resume, config, totalSteps);
    // The gradient-magnitude control runs inside the optimizer step, on the device, from each step's gradient norm.
    const gradmag = gradMagnitudeControl(schedule);
    if (gradmag) config.gradLr = { c: gradmag.c };
    const made = await createRunner(config, { device: v.device as 'gpu' | 'cpu', adapter: v.adapter as RunnerOptions['adapter'], dtype: v.dtype as Dtype, log });
    engine = made.engine;
    runner = made.runner;
    const trainer = new Trainer(runner, config, { save: saveTrainingCheckpoint });
    if (resume) {
      await trainer.restore(resume);
      const p = resume.position;
      log(`resumed from ${v.resume}: epoch ${p.epoch + (p.batch > 0 ? 1 : 0)}${p.batch > 0 ? ` (batch ${p.batch})` : ''}, step ${p.step}`);
    }
    log(
      `model ${describeModel(config.model)}, ${config.optimizer.name} lr ${baseLrOf(config)}, schedule ${describeSchedule(schedule)}, ` +
        `batch ${config.batchSize}, ${fit.epochs !== undefined ? `${fit.epochs} epochs (${totalSteps} steps)` : `${totalSteps} steps`}, ` +
        `device ${made.adapter}`,
    );
    bar = new Progress({ write: out, isTTY: json ? io.stderrIsTTY : io.stdoutIsTTY, columns: io.columns }, {
      totalSteps,
      totalEpochs,
      firstStep: trainer.position.step,
    });
    const result = await trainer.fit(split.train, {
      ...fit,
      batchSize: config.batchSize,
      schedule,
      validation,
      seed: splitSeed,
      signal: controller.signal,
      checkpoint: v.save ? { path: v.save } : undefined,
      callbacks: {
        onStep: (s) => bar.step(s),
        onEpoch: (r) => {
          bar.epoch(r);
          if (json) io.stdout(jsonLine(r));
        },
      },
    });
    if (result.stoppedEarly) log(`early stopping: no improvement of ${trainer.earlyStopping!.monitor} for ${trainer.earlyStopping!.patience} epochs`);
    if (result.restoredBest) log(`restored the weights of epoch ${result.bestEpoch} (best ${trainer.earlyStopping!.monitor})`);
    if (v.save) log(`checkpoint: ${v.save} (step ${trainer.position.step})`);
    const test = await trainer.evaluate(split.test);
    bar.clear();
    out(
      `test loss ${test.loss.toFixed(4)}  accuracy ${(100 * test.accuracy).toFixed(2)}%  ` +
        `(${result.steps} steps in ${result.seconds.toFixed(1)} s, ${result.stepsPerSecond.toFixed(1)} steps/s)\n`,
    );
    if (json) {
      io.stdout(jsonLine({
        testAccuracy: test.accuracy,
        testLoss: test.loss,
        steps: result.steps,
        seconds: result.seconds,
        stepsPerSecond: result.stepsPerSecond,
        adapter: made.adapter,
      }));
    }
    return result.interrupted ? 130 : 0;
  } catch (e) {
    bar.clear();
    io.stderr(`wgtrain train: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    runner?.destroy();
    engine?.destroy();
  }
}

type TrainValues = ReturnType<typeof parseArgs<typeof TRAIN_FLAGS>>['values'];

/** Resolves flags (and the checkpoint for --resume) into the runner config and fit options. */
async function planRun(v: TrainValues, given: Set<string>, log: (line: string) => void) {
  if (v.epochs !== undefined && v.steps !== undefined) throw new ArgError('wgtrain train: give --epochs or --steps, not both');
  for (const f of ['epochs', 'steps', 'batch'] as const) {
    if (v[f] !== undefined && !(v[f]! >= 1)) throw new ArgError(`wgtrain train: --${f} must be at least 1, got ${v[f]}`);
  }
  if (!(v.validation! >= 0)) throw new ArgError(`wgtrain train: --validation must be >= 0, got ${v.validation}`);
  if (v.seed! < 0) throw new ArgError(`wgtrain train: --seed must be >= 0, got ${v.seed}`);
  const earlyStopping: EarlyStoppingOptions | undefined = v['early-stopping'] === undefined ? undefined : parseFlag('early-stopping', () => parseEarlyStopping(v['early-stopping']!));
  if (earlyStopping && v.validation === 0 && (earlyStopping.monitor ?? 'val_loss').startsWith('val_')) {
    throw new ArgError('wgtrain train: --early-stopping monitors a validation metric but --validation is 0');
  }
  const fit = { epochs: v.epochs, steps: v.steps, earlyStopping };
  if (fit.epochs === undefined && fit.steps === undefined) fit.epochs = DEFAULTS.epochs;

  let resume: TrainingSnapshot | undefined;
  let config: RunnerConfig;
  if (v.resume) {
    const fromCheckpoint = ['model', 'optimizer', 'lr', 'weight-decay', 'clip', 'batch'].filter((f) => given.has(f));
    if (fromCheckpoint.length) {
      throw new ArgError(`wgtrain train: ${fromCheckpoint.map((f) => `--${f}`).join(', ')} cannot be changed with --resume (they come from the checkpoint)`);
    }
    resume = await loadTrainingCheckpoint(v.resume);
    config = resume.config;
  } else {
    let model: ModelSpec;
    try {
      model = parseModelSpec(v.model!, { inputs: MNIST_INPUTS });
    } catch (e) {
      throw new ArgError(`wgtrain train: --model: ${(e as Error).message}`);
    }
    const hyperparams: Record<string, unknown> = { lr: v.lr };
    if (v['weight-decay'] !== undefined) hyperparams.weight_decay = v['weight-decay'];
    config = {
      model,
      batchSize: v.batch!,
      optimizer: { name: optimizerName(v.optimizer!), hyperparams },
      seed: v.seed!,
      ...(v.clip !== undefined ? { clip: parseClip(v.clip) } : {}),
    };
  }
  const splitSeed = resume && !given.has('seed') ? resume.data.seed : v.seed!;
  if (resume && given.has('seed') && v.seed !== resume.data.seed) log(`warning: --seed ${v.seed} differs from the checkpoint's ${resume.data.seed}: a different data split`);
  return { config, resume, fit, splitSeed };
}

function parseFlag<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new ArgError(`wgtrain train: --${flag}: ${(e as Error).message}`);
  }
}

function baseLrOf(config: RunnerConfig): string {
  const lr = config.optimizer.hyperparams?.lr;
  return typeof lr === 'number' ? String(lr) : 'default';
}

/** --schedule, or the checkpoint's schedule on resume, or cosine to 0 over the whole run. */
function makeSchedule(spec: string | undefined, resume: TrainingSnapshot | undefined, config: RunnerConfig, totalSteps: number): Schedule {
  const lr = config.optimizer.hyperparams?.lr as number | undefined;
  if (spec !== undefined) {
    const s = parseFlag('schedule', () => scheduleFromSpec(spec, lr === undefined ? {} : { lr }));
    if (resume?.schedule) s.load(resume.schedule);
    return s;
  }
  if (resume?.schedule) return restoreSchedule(resume.schedule);
  return scheduleFromSpec({ name: 'cosine', T_max: totalSteps, eta_min: 0 }, lr === undefined ? {} : { lr });
}

function describeSchedule(s: Schedule): string {
  const { name, ...rest } = s.config();
  const fields = Object.entries(rest)
    .filter(([k]) => k !== 'lr' && k !== 'unit')
    .map(([k, x]) => `${k}=${typeof x === 'object' ? JSON.stringify(x) : x}`);
  return `${name}${fields.length ? `(${fields.join(', ')})` : ''}${s.unit === 'epoch' ? ' per epoch' : ''}`;
}
