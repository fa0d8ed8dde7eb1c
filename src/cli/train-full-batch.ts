/**
 * `wgtrain train --optimizer LBFGS|NonlinearCG|Newton`: full-batch training from the command line (the library side is
 * src/train/full-batch.ts). Each epoch is one torch-style `step(closure)` of the method on the mean loss of the whole
 * training set — all of the split's training examples, or a fixed seeded subset (--train-examples N) — evaluated in
 * chunks of --chunk examples (memory only: the result is the same up to rounding).
 *
 * Flags: the method's hyperparameters under torch's names with dashes (--max-iter, --max-eval, --history-size,
 * --line-search-fn strong_wolfe|none, --tolerance-grad, --tolerance-change; nonlinear CG's --variant, --restart,
 * --c1, --c2; Newton's --radius, --max-radius, --eta, --cg-max-iter, --hessian), declared from the methods' own key
 * lists by cli/method-flags.ts as `wgtrain minimize` declares them; --lr is the method's lr (LBFGS's default is 1,
 * not the first-order 1e-3). Refused up front, naming the flag: --schedule and --batch with a full-batch method (it
 * sets its own steps; there is no batch), these flags with a first-order optimizer, a model with dropout or BatchNorm,
 * and the least-squares methods (LevenbergMarquardt, GaussNewton: a model's loss has no residuals).
 */
import { getMethod, isFullBatchMethod } from '../minimize/methods.js';
import { checkFullBatchModel } from '../train/full-batch.js';
import type { ModelSpec } from '../model/spec.js';
import { trainableFullBatchMethods } from '../train/runner-checks.js';
import type { RunnerConfig } from '../train/runner.js';
import type { EpochRecord, FitResult } from '../train/trainer.js';
import { ArgError, type FlagSpecs } from './args.js';
import { flagSpecs, hyperparamFlags, hyperparamsFromFlags } from './method-flags.js';

/** Default examples per chunk of the full-batch evaluation (capped at the training set's size). */
export const DEFAULT_CHUNK = 1000;

const TRAINABLE = trainableFullBatchMethods();

/** One flag per hyperparameter of the trainable full-batch methods (--lr is train's own flag). */
const METHOD_FLAGS = hyperparamFlags(TRAINABLE.map((n) => getMethod(n)), ['lr']);

export const FULL_BATCH_FLAGS = {
  chunk: { type: 'int', value: 'N', help: `full-batch methods: examples per chunk of the whole-set evaluation (memory only; default ${DEFAULT_CHUNK}, at most the training set)` },
  ...flagSpecs(METHOD_FLAGS),
} as const satisfies FlagSpecs;

/**
 * Flags a full-batch run takes that a first-order one does not. All of them are part of a checkpoint's config (--chunk
 * is the runner's batchSize), so --resume refuses them too.
 */
export const FULL_BATCH_ONLY: readonly string[] = ['chunk', ...Object.keys(METHOD_FLAGS)];

export const FULL_BATCH_HELP = `Full-batch methods (--optimizer ${TRAINABLE.join('|')}):
  Each epoch is one step(closure) of the method on the loss and gradient of the whole training set (--train-examples N
  trains on a fixed subset), as torch.optim.LBFGS: up to --max-iter iterations, each one or more full-batch
  evaluations (the line search's, or the trust region's trial points). --steps counts iterations (the last step ends
  there). The method's hyperparameters are flags with torch's names (--history-size 10 --line-search-fn strong_wolfe,
  ...); --lr is its lr (default 1). No --schedule, --batch (--chunk sets the evaluation's pieces), --clip, dropout or
  BatchNorm. A step that runs long prints its iteration, evaluations, loss and time every 5 s (stderr). Ctrl-C stops
  at the end of the current iteration (never inside a line search; Newton also inside its CG solve, dropping the
  unfinished iteration), records the partial epoch and writes the --save checkpoint. Checkpoints (--save, --resume)
  hold the method's state (L-BFGS's history) and, after Ctrl-C, the cut step's iteration and evaluation counts, so a
  resumed run finishes that step and continues exactly as the uninterrupted run would.
`;

/** The flags given that do not apply to `optimizer` are refused, each named, before anything loads. */
export function checkOptimizerFlags(optimizer: string, given: ReadonlySet<string>, command: string): void {
  if (isFullBatchMethod(optimizer)) {
    if (given.has('schedule')) {
      throw new ArgError(`${command}: --schedule: ${optimizer} is a full-batch method that sets its own steps (line search or trust region); it takes no learning-rate schedule`);
    }
    if (given.has('batch')) {
      throw new ArgError(
        `${command}: --batch: ${optimizer} evaluates the whole training set in every step, so there is no batch size; ` +
          'to train on fewer examples give --train-examples N, to bound memory give --chunk N',
      );
    }
    return;
  }
  const flag = FULL_BATCH_ONLY.find((f) => given.has(f));
  if (flag) {
    throw new ArgError(`${command}: --${flag} applies to the full-batch methods (${TRAINABLE.join(', ')}); ${optimizer} is a first-order optimizer (--lr, --batch, --schedule, ...)`);
  }
}

/** The method's hyperparameters from its flags, and --lr when given (else the method's default). */
export function fullBatchHyperparams(optimizer: string, given: ReadonlySet<string>, values: Readonly<Record<string, unknown>>, command: string): Record<string, unknown> {
  const def = getMethod(optimizer);
  return hyperparamsFromFlags(METHOD_FLAGS, def, given, values, command, given.has('lr') ? { lr: values.lr } : {});
}

/** A model a full-batch method cannot train (dropout, BatchNorm) is an ArgError naming --model. */
export function checkFullBatchModelFlag(model: ModelSpec, what: string, command: string): void {
  try {
    checkFullBatchModel(model);
  } catch (e) {
    throw new ArgError(`${command}: ${what}: ${(e as Error).message}`);
  }
}

/** The chunk size: --chunk, else DEFAULT_CHUNK, never more than the training examples. */
export function chunkSize(chunk: number | undefined, trainExamples: number, command: string): number {
  if (chunk !== undefined && !(chunk >= 1)) throw new ArgError(`${command}: --chunk must be at least 1, got ${chunk}`);
  return Math.min(chunk ?? DEFAULT_CHUNK, trainExamples);
}

/** e.g. `LBFGS (history_size 10, line_search_fn strong_wolfe)`, or `LBFGS (torch's defaults)`. */
export function describeMethod(config: RunnerConfig): string {
  const h = Object.entries(config.optimizer.hyperparams ?? {}).map(([k, v]) => `${k} ${v === null ? 'none' : v}`);
  return `${config.optimizer.name} (${h.length ? h.join(', ') : "torch's defaults"})`;
}

/** The --json summary's full-batch fields: iterations and evaluations of this run, the last loss, why it ended. */
export function fullBatchSummary(result: FitResult): { iterations: number; evaluations: number; trainLoss: number | null; stop: string } {
  const last: EpochRecord | undefined = result.history.at(-1);
  return {
    iterations: result.steps,
    evaluations: result.history.reduce((a, r) => a + (r.evals ?? 0), 0),
    trainLoss: last?.lossAfter ?? null,
    stop: result.stop ?? (result.stoppedEarly ? 'early stopping' : result.interrupted ? 'interrupted' : 'epochs or steps done'),
  };
}
