/**
 * Full-batch training: Trainer.fit with `optimizer: { name: 'LBFGS' | 'NonlinearCG' | 'Newton' | … }` runs the
 * method of src/minimize/ on the mean loss of the whole training set (pass a subset as the training set to train on
 * one; the CLI's --train-examples does) and its gradient — the runner's `fullBatchMachine()` — as torch's
 * `optimizer.step(closure)` with a closure over the whole set:
 *
 *   machine = runner.fullBatchMachine()            (x = the runner's parameters, in place; CPU or GPU)
 *   method  = create(machine, hyperparams); method.importState(saved) when a checkpoint or the previous fit left one
 *   each epoch:  report = method.step({ signal, onIteration })
 *                                                  (up to max_iter iterations, each 1+ full-batch evaluations;
 *                                                   after each: callbacks.onIteration, a yield to the event loop)
 *                validation, early stopping, onEpoch, a checkpoint every `checkpoint.every` epochs (as in Trainer.fit)
 *   ends after `epochs` epochs / `steps` iterations in total, or when the method converges or stalls
 *   the method's state (minimize/state.ts) stays with the Trainer: the next fit, save() and checkpoints continue it
 *
 * Epoch records: `steps` = the method's iterations, `trainLoss` = the full-batch loss at the start of the epoch's
 * step (torch's return value of step(closure)), `lossAfter` = the loss it ended at, `gradMax` = max|∇f| there,
 * `trainAccuracy` NaN (not computed), `evals` = full-batch evaluations, `stop` = why the step ended ('max_iter',
 * 'tolerance_grad', 'stalled: …', the method's names). `position.step` counts iterations, `position.epoch` steps.
 *
 * Cut steps. `opts.signal` (Ctrl-C in the CLI) and the `steps` limit stop the method at the next iteration boundary
 * inside its step (minimize/step-control.ts: never inside a line search; Newton also between the Hessian-vector
 * products of its CG solve, dropping the unfinished iteration). The epoch is then recorded as partial (stop
 * 'interrupted' or 'steps'), `position.batch` holds the iterations done in its step, and the method's state keeps the
 * step's own counters (step_iter, step_evals). What a checkpoint holds then is the exact state after the last
 * completed iteration — the weights there and the method's state as its next iteration needs it (for L-BFGS the
 * history, d and t already updated) — not the state at the last completed epoch: at an iteration boundary every
 * method's state is consistent, so nothing needs to be rolled back, and the work of the iterations done is kept. The
 * next fit (after `restore`, or in the same Trainer) first finishes the cut step — the iterations and evaluations it
 * had left under max_iter and max_eval — then goes on by epochs, so an interrupted and resumed run takes the same
 * iterates as the uninterrupted one: bit for bit on the CPU runner and on one GPU engine; only one full-batch
 * evaluation is added (the resumed step re-evaluates the point it starts from).
 *
 * Checkpoints hold the method's state beside the weights (train/checkpoint.ts: L-BFGS's d, t, old_dirs, old_stps,
 * ro, H_diag, prev_flat_grad, prev_loss, n_iter, func_evals), so 2 epochs + checkpoint + 2 epochs equals 4 epochs:
 * bit for bit on the CPU runner (float32 and float64, whose parameters are saved in float64) and on one GPU engine
 * (its kernels are deterministic; another engine may pick other matmul tilings by timing). A checkpoint of another
 * optimizer is refused by Trainer.restore naming both. If a step throws (a NaN loss, a lost device), the method's
 * state is dropped: the next fit starts it afresh from the weights as they are.
 *
 * Refused, each with a message: lr schedules (the method's own line search / trust region sets its steps), a batchSize
 * option (the set is evaluated whole, in chunks of the runner's batchSize, which only bounds memory), and models with
 * dropout or BatchNorm (the objective must be a deterministic function of the parameters). `stopOnDivergence` is not
 * needed: a method stops at the first NaN or infinite loss or gradient with a NonFiniteError naming where.
 */
import type { Dataset } from '../data/dataset.js';
import { getMethod } from '../minimize/methods.js';
import type { Minimizer } from '../minimize/minimizer.js';
import type { MethodState } from '../minimize/state.js';
import { ABORTED, cutIterations } from '../minimize/step-control.js';
import { yielder } from './event-loop.js';
import type { ModelSpec } from '../model/spec.js';
import { monitorValue, type EarlyStopping } from './early-stopping.js';
import { validateEpoch } from './validate-epoch.js';
import { givenLr, runnerSeed, type RunnerConfig } from './runner.js';
import { divergence, referenceLoss, zeroOutputLoss } from './divergence.js';
import type { DataSplit, EpochRecord, FitOptions, FitResult, Trainer, TrainingSnapshot } from './trainer.js';

/** Throws unless every layer of the model is a deterministic function of the parameters in training mode. */
export function checkFullBatchModel(model: ModelSpec): void {
  model.layers.forEach((l, i) => {
    if (l.type === 'dropout' && l.p > 0) {
      throw new Error(`full-batch training: layer ${i} is dropout (p = ${l.p}); a full-batch method needs a deterministic objective — use p = 0 or a first-order optimizer`);
    }
    if (l.type === 'batchnorm' || l.type === 'batchnorm2d') {
      throw new Error(`full-batch training: layer ${i} is BatchNorm, whose training-mode output depends on how the set is chunked; remove it or use a first-order optimizer`);
    }
  });
}

export function fullBatchStepError(config: RunnerConfig): Error {
  return new Error(
    `step: ${config.optimizer.name} is a full-batch method with no per-batch step; train with Trainer.fit (it evaluates the whole training set through fullBatchMachine), or pick a first-order optimizer`,
  );
}

/** What fitFullBatch needs of the Trainer's private state (Trainer.fullBatchHost). */
export interface FullBatchHost {
  /** The method state to continue from (a restored checkpoint's, or what the previous fit left), or null. */
  readonly method: MethodState | null;
  /** The data split the training set was cut from (this fit's, or the restored checkpoint's). */
  readonly split: DataSplit | undefined;
  /** This fit's early stopping (with a restored checkpoint's state), also set on the Trainer. */
  earlyStopping(): EarlyStopping | undefined;
  /** checkpoint.every, after checking that a checkpoint can be written. */
  checkpointEvery(): number;
  /** What the position refers to, for checkpoints. */
  setData(data: TrainingSnapshot['data']): void;
  /** While the method runs, how to read its state (null when the fit ends). */
  setLive(read: (() => Promise<MethodState>) | null): void;
  /** The state the next fit and snapshots continue from. */
  keep(state: MethodState | null): void;
  /** Writes the fit's checkpoint now. */
  save(): Promise<void>;
  /** Runs onEpoch (snapshots and evaluation are allowed inside). */
  epochCallback(record: EpochRecord): Promise<void>;
}

const CONVERGED = new Set(['tolerance_grad', 'tolerance_change (step)', 'tolerance_change (loss)', 'directional derivative']);

/** Trainer.fit for a full-batch method (called by Trainer.fit; see the module header). */
export async function fitFullBatch(trainer: Trainer, train: Dataset, opts: FitOptions, host: FullBatchHost): Promise<FitResult> {
  const { runner, config } = trainer;
  const name = config.optimizer.name;
  if (opts.epochs === undefined && opts.steps === undefined) throw new Error('fit: give epochs or steps (or both)');
  for (const [key, v] of [['epochs', opts.epochs], ['steps', opts.steps]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`fit: ${key} must be an integer >= 0, got ${v}`);
  }
  if (opts.schedule !== undefined) throw new Error(`fit: ${name} takes no learning-rate schedule (its line search or trust region sets the steps); drop the schedule option`);
  if (opts.batchSize !== undefined && opts.batchSize !== config.batchSize) {
    throw new Error(`fit: full-batch training evaluates the set in chunks of the runner's batchSize (${config.batchSize}); drop the batchSize option`);
  }
  if (!runner.fullBatchMachine) throw new Error(`fit: this ${runner.device} runner cannot evaluate the full-batch objective ${name} needs`);
  const method = getMethod(name, 'optimizer');
  const cut = host.method ? cutIterations(host.method) : 0;
  if (cut !== trainer.position.batch) {
    throw new Error(
      `fit: the position is ${trainer.position.batch} iterations into the step of epoch ${trainer.position.epoch + 1}, but the saved ${name} state ` +
        `is ${host.method ? `${cut} iterations into it` : 'missing'}; the checkpoint is inconsistent: resume from another one`,
    );
  }
  const every = host.checkpointEvery();
  const earlyStopping = host.earlyStopping();
  const classification = config.model.loss !== 'mse';
  await runner.setTrainingData(train);
  const m = await runner.fullBatchMachine();
  const result: FitResult = { history: [], steps: 0, seconds: 0, stepsPerSecond: 0, position: trainer.position, stoppedEarly: false, interrupted: false, restoredBest: false, skipped: 0 };
  const reachedEnd = () =>
    (opts.epochs !== undefined && trainer.position.epoch >= opts.epochs) || (opts.steps !== undefined && trainer.position.step >= opts.steps);
  let best: Float64Array | undefined;
  let opt: Minimizer | undefined;
  let started = false;
  // What the method sees: the caller's signal, or the steps limit reached inside a step.
  const stopper = new AbortController();
  const forward = () => stopper.abort();
  opts.signal?.addEventListener('abort', forward);
  try {
    opt = await method.create(m, config.optimizer.hyperparams ?? {});
    const stateful = opt as Minimizer & Required<Pick<Minimizer, 'exportState' | 'importState'>>;
    if (host.method) {
      try {
        await stateful.importState(host.method);
      } catch (e) {
        throw new Error(`fit: the saved ${name} state does not fit this run: ${(e as Error).message}`);
      }
    }
    started = true;
    host.setLive(() => stateful.exportState());
    host.setData({
      seed: opts.seed ?? runnerSeed(config), batchSize: config.batchSize, dropLast: false, shuffle: false, examples: train.length,
      ...(host.split ? { split: host.split } : {}),
    });
    const positionKey = () => JSON.stringify(trainer.position);
    let savedAt = '';
    const pause = yielder();
    while (!reachedEnd() && !opts.signal?.aborted) {
      const epoch = trainer.position.epoch + 1;
      const startStep = trainer.position.step;
      // Iterations of this epoch's step done before this fit (a step cut short and resumed counts on).
      const base = trainer.position.batch;
      const t0 = performance.now();
      const rep = await opt.step({
        signal: stopper.signal,
        onIteration: async (p) => {
          const totalSteps = startStep + p.iteration - base;
          opts.callbacks?.onIteration?.({
            epoch, iteration: p.iteration, maxIter: p.maxIter, totalSteps, evals: p.evals, loss: p.loss, gradMax: p.gradMax, seconds: (performance.now() - t0) / 1000,
          });
          if (opts.steps !== undefined && totalSteps >= opts.steps) stopper.abort();
          // Lets a signal handler (Ctrl-C) and the callback's output run between iterations, on the CPU runner too.
          await pause();
        },
      });
      // The last update of x may still be queued on the GPU: the runner's evaluation and exportState must see it.
      m.flush();
      const seconds = (performance.now() - t0) / 1000;
      const cutShort = rep.stop === ABORTED;
      trainer.position.step += rep.iterations;
      if (cutShort) trainer.position.batch += rep.iterations;
      else {
        trainer.position.epoch += 1;
        trainer.position.batch = 0;
      }
      result.steps += rep.iterations;
      result.seconds += seconds;
      const interrupted = cutShort && !!opts.signal?.aborted;
      const record: EpochRecord = {
        epoch,
        steps: rep.iterations,
        totalSteps: trainer.position.step,
        trainLoss: rep.loss,
        trainAccuracy: NaN,
        lr: givenLr(config) ?? NaN,
        seconds,
        stepsPerSecond: seconds > 0 ? rep.iterations / seconds : 0,
        skipped: 0,
        evals: rep.evals,
        lossAfter: rep.lossAfter,
        gradMax: rep.gradMax,
        stop: cutShort ? (interrupted ? 'interrupted' : 'steps') : rep.stalled ? `stalled: ${rep.stalled}` : rep.stop,
      };
      if (cutShort) record.partial = true;
      if (opts.validation && !(interrupted && opts.validateInterrupted === false)) {
        await validateEpoch(runner, opts.validation, record, classification, opts.callbacks);
      }
      let stop = false;
      if (earlyStopping && !cutShort) {
        const d = earlyStopping.update(monitorValue(record, earlyStopping.monitor), record.epoch);
        record.improved = d.improved;
        if (d.improved && earlyStopping.restoreBestWeights) best = await m.readVector(m.x);
        stop = d.stop;
      }
      trainer.history.push(record);
      result.history.push(record);
      await host.epochCallback(record);
      if (cutShort) break;
      if (stop) {
        result.stoppedEarly = true;
        break;
      }
      if (rep.stalled || CONVERGED.has(rep.stop)) {
        result.stop = record.stop;
        break;
      }
      if (opts.checkpoint && every > 0 && trainer.position.epoch % every === 0 && !reachedEnd()) {
        await host.save();
        savedAt = positionKey();
      }
    }
    result.interrupted = !!opts.signal?.aborted && !reachedEnd() && !result.stoppedEarly;
    if (earlyStopping) {
      result.bestEpoch = earlyStopping.bestEpoch || undefined;
      if (result.stoppedEarly && best && earlyStopping.restoreBestWeights) {
        await m.writeVector(m.x, best);
        result.restoredBest = true;
      }
    }
    if (opts.checkpoint && savedAt !== positionKey()) await host.save();
    host.keep(await stateful.exportState());
  } catch (e) {
    // Mid-step the method's state no longer matches the weights: the next fit starts it afresh, with a new step.
    if (started) {
      host.keep(null);
      trainer.position.batch = 0;
    }
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', forward);
    host.setLive(null);
    opt?.destroy?.();
    m.destroy();
  }
  result.stepsPerSecond = result.seconds > 0 ? result.steps / result.seconds : 0;
  result.position = { ...trainer.position };
  // The first record's loss is the full-batch loss before the run's first iteration: the run's start.
  if (trainer.startLoss === undefined && Number.isFinite(trainer.history[0]?.trainLoss)) trainer.startLoss = trainer.history[0]!.trainLoss;
  result.referenceLoss = referenceLoss(trainer.startLoss, zeroOutputLoss(trainer.config.model, train));
  const diverged = divergence(result, result.referenceLoss);
  if (diverged) result.diverged = diverged;
  return result;
}
