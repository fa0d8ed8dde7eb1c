/**
 * Checks shared by the CPU and GPU runners, run before either allocates anything: the whole configuration (model,
 * batch size, seed, optimizer name and hyperparameters, clipping, the gradient-magnitude control, metric cadence,
 * input normalisation), each step's inputs, the epoch's order of examples, and use after `destroy()`.
 *
 * Why up front: a GPU runner that rejects its optimizer after allocating its buffers leaks them, and a CLI run that
 * rejects `--lr -0.1` after loading data wastes the user's time. Config errors are `RunnerConfigError`s whose `field`
 * is the config path at fault (`optimizer.hyperparams.lr`), so the CLI can name its own flag instead.
 */
import { layoutModel, type ParamLayout } from '../model/layout.js';
import { validateModelSpec } from '../model/spec.js';
import { getRule } from '../optim/registry.js';
import { checkMethodHyperparams, isFullBatchMethod, METHODS } from '../minimize/methods.js';
import { resolveHyperparams } from '../optim/rule.js';
import { DEFAULT_SEED, type RunnerConfig, type RunnerState, type StepInput } from './runner.js';

export class RunnerConfigError extends Error {
  override name = 'RunnerConfigError';
  constructor(
    /** Path of the field at fault in the RunnerConfig, e.g. 'optimizer.hyperparams.lr'. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const positiveFinite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

/** The full-batch methods a runner can train with (those that need no least-squares objective). */
export function trainableFullBatchMethods(): string[] {
  return Object.values(METHODS).filter((m) => isFullBatchMethod(m.name) && !m.leastSquares).map((m) => m.name);
}

/**
 * Checks every field of a RunnerConfig; returns the model's flat layout (the sizes every buffer derives from).
 * Throws a RunnerConfigError naming the field for anything a runner would refuse later.
 */
export function validateRunnerConfig(config: RunnerConfig): { layout: ParamLayout } {
  const fail = (field: string, why: string): never => {
    throw new RunnerConfigError(field, `${field}: ${why}`);
  };
  if (!isObject(config)) fail('config', `must be a RunnerConfig object ({ model, batchSize, optimizer, seed? }), got ${JSON.stringify(config)}`);
  try {
    validateModelSpec(config.model);
  } catch (e) {
    fail('model', (e as Error).message);
  }
  const B = config.batchSize;
  if (!Number.isSafeInteger(B) || B < 1) fail('batchSize', `must be a positive integer (the largest batch a step takes), got ${JSON.stringify(B)}`);
  if (config.seed !== undefined && (!Number.isSafeInteger(config.seed) || config.seed < 0)) {
    fail('seed', `must be an integer in [0, 2^53) (or absent: ${DEFAULT_SEED}), got ${JSON.stringify(config.seed)}`);
  }
  const opt = config.optimizer;
  if (!isObject(opt)) fail('optimizer', `must be { name, hyperparams? }, e.g. { name: 'Adam', hyperparams: { lr: 1e-3 } }; got ${JSON.stringify(opt)}`);
  if (typeof opt.name === 'string' && isFullBatchMethod(opt.name)) {
    // LBFGS and the other methods of src/minimize/: Trainer.fit runs them on the full-batch objective.
    try {
      checkMethodHyperparams(opt.name, opt.hyperparams ?? {});
    } catch (e) {
      const message = (e as Error).message.replace(/^hyperparams\./, 'optimizer.hyperparams.');
      const field = /^(optimizer\.hyperparams(?:\.\w+)?)/.exec(message)?.[1] ?? 'optimizer.hyperparams';
      throw new RunnerConfigError(field, message);
    }
    if (METHODS[opt.name]!.leastSquares) {
      fail('optimizer.name', `${opt.name} needs a least-squares objective (residuals and their Jacobian), which a model's training loss does not provide; train with ${trainableFullBatchMethods().join(', ')}, or fit least-squares problems with minimize()`);
    }
    if ((opt.hyperparams as { hessian?: unknown } | undefined)?.hessian === 'exact') {
      fail('optimizer.hyperparams.hessian', `a model's training loss has no exact Hessian-vector product; use 'fd' (finite differences of gradients) or 'auto'`);
    }
    if (config.clip !== undefined) fail('clip', `${opt.name} is a full-batch method and does not clip gradients; remove clip`);
    if (config.gradNorms) fail('gradNorms', `${opt.name} is a full-batch method with no per-step metrics; its epoch records hold max|∇f| (gradMax)`);
    if (config.gradLr !== undefined) fail('gradLr', `${opt.name} sets its own steps (line search / trust region); remove gradLr`);
  } else {
    let rule;
    try {
      rule = getRule(opt.name, 'optimizer.name');
    } catch (e) {
      return fail('optimizer.name', `${(e as Error).message.replace(/^optimizer\.name: /, '')}, or a full-batch method: ${Object.keys(METHODS).filter(isFullBatchMethod).join(', ')}`);
    }
    try {
      resolveHyperparams(rule, opt.hyperparams ?? {}, 'optimizer.hyperparams');
    } catch (e) {
      const message = (e as Error).message;
      const field = /^(optimizer\.hyperparams(?:\.\w+)?)/.exec(message)?.[1] ?? 'optimizer.hyperparams';
      throw new RunnerConfigError(field, message);
    }
  }
  if (opt.decayAll !== undefined && typeof opt.decayAll !== 'boolean') fail('optimizer.decayAll', `must be true or false, got ${JSON.stringify(opt.decayAll)}`);
  if (config.clip !== undefined) {
    if (!isObject(config.clip)) fail('clip', `must be { maxNorm?, value? }, got ${JSON.stringify(config.clip)}`);
    for (const key of Object.keys(config.clip)) if (key !== 'maxNorm' && key !== 'value') fail(`clip.${key}`, 'unknown field; clip takes maxNorm and value');
    for (const key of ['maxNorm', 'value'] as const) {
      const v = config.clip[key];
      if (v !== undefined && !positiveFinite(v)) fail(`clip.${key}`, `must be a positive number, got ${JSON.stringify(v)}`);
    }
  }
  if (config.guard !== undefined && typeof config.guard !== 'boolean') fail('guard', `must be true or false, got ${JSON.stringify(config.guard)}`);
  if (config.gradNorms !== undefined && typeof config.gradNorms !== 'boolean') fail('gradNorms', `must be true or false, got ${JSON.stringify(config.gradNorms)}`);
  if (config.gradLr !== undefined) {
    const c = isObject(config.gradLr) ? config.gradLr.c : undefined;
    if (typeof c !== 'number' || !Number.isFinite(c) || c < 0) fail('gradLr.c', `must be a number >= 0, got ${JSON.stringify(c)}`);
  }
  if (config.metricsEvery !== undefined && (!Number.isSafeInteger(config.metricsEvery) || config.metricsEvery < 1)) {
    fail('metricsEvery', `must be a positive integer, got ${JSON.stringify(config.metricsEvery)}`);
  }
  for (const key of ['inputScale', 'inputShift'] as const) {
    const v = config[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) fail(key, `must be a finite number, got ${JSON.stringify(v)}`);
  }
  return { layout: layoutModel(config.model) };
}

/** A step's inputs against the runner's batch size and the epoch's length; `who` starts the message. */
export function checkStepInput(s: StepInput, batchSize: number, epochLength: number, who: string): void {
  if (!isObject(s)) throw new TypeError(`${who}: expects { step, start, rows, lr }, got ${JSON.stringify(s)}`);
  if (!Number.isSafeInteger(s.step) || s.step < 0 || s.step > 0xffffffff) {
    throw new RangeError(`${who}: step must be an integer in [0, 2^32), got ${JSON.stringify(s.step)}`);
  }
  if (!Number.isSafeInteger(s.rows) || s.rows < 1 || s.rows > batchSize) {
    throw new RangeError(`${who}: rows must be an integer in [1, ${batchSize}] (the runner's batchSize), got ${JSON.stringify(s.rows)}`);
  }
  if (!Number.isSafeInteger(s.start) || s.start < 0 || s.start + s.rows > epochLength) {
    throw new RangeError(
      `${who}: start ${JSON.stringify(s.start)} with ${s.rows} rows is outside the epoch's ${epochLength} examples ` +
        `(start must be an integer with 0 <= start and start + rows <= ${epochLength})`,
    );
  }
}

/** The rows per step a fit asks a runner for: an integer in [1, the runner's batchSize] (its buffers are sized for that). */
export function checkBatchSize(batchSize: number, max: number, who: string): void {
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > max) {
    throw new RangeError(`${who}: batchSize must be an integer in [1, ${max}] (the runner's batchSize), got ${JSON.stringify(batchSize)}`);
  }
}

/** The order of examples for an epoch: `length` entries, each an index in [0, length). Repeats are allowed. */
export function checkPermutation(permutation: Uint32Array, length: number, who: string): void {
  if (!(permutation instanceof Uint32Array)) throw new TypeError(`${who}: the permutation must be a Uint32Array, got ${Object.prototype.toString.call(permutation)}`);
  if (permutation.length !== length) {
    throw new RangeError(`${who}: the permutation has ${permutation.length} entries but the training set has ${length}`);
  }
  for (let i = 0; i < permutation.length; i++) {
    if (permutation[i]! >= length) {
      throw new RangeError(`${who}: permutation[${i}] = ${permutation[i]} is not an example of the training set (indices are 0..${length - 1})`);
    }
  }
}

/** The error every method of a destroyed runner throws. */
export function destroyedError(who: string, remedy: string): Error {
  return new Error(`${who}: this runner was destroyed; ${remedy}`);
}

/** `rows` examples of a dataset of `length` from `start` (predict), and a non-empty dataset (evaluate). */
export function checkRange(length: number, start: number, rows: number, who: string): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(rows) || start < 0 || rows < 0 || start + rows > length) {
    throw new RangeError(`${who}: examples [${start}, ${start} + ${rows}) are outside the dataset's ${length} (start, rows: integers >= 0)`);
  }
}

export function checkNotEmpty(length: number, name: string, who: string): void {
  if (length === 0) throw new RangeError(`${who}: dataset '${name}' has no examples; loss and accuracy of nothing are undefined`);
}

/** importState: a state with first-order optimizer state needs a first-order runner of that optimizer, and none a full-batch one. */
export function checkStateOptimizer(s: RunnerState, config: RunnerConfig): void {
  const name = config.optimizer.name;
  const fullBatch = isFullBatchMethod(name);
  if (!s.optimizer === fullBatch && (!s.optimizer || s.optimizer.optimizer === name)) return;
  const held = s.optimizer ? `holds ${s.optimizer.optimizer} optimizer state` : 'holds no optimizer state (it is a full-batch method\'s, whose state is kept by the Trainer)';
  const mine = fullBatch ? `the full-batch method ${name}` : `the first-order optimizer ${name}`;
  throw new Error(`importState: the state ${held} but this runner's optimizer is ${mine}; make the runner from the state's configuration`);
}
