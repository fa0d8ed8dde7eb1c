/**
 * Full-batch training: Trainer.fit with `optimizer: { name: 'LBFGS' | 'NonlinearCG' | 'Newton' | … }` runs the
 * method of src/minimize/ on the mean loss of the whole training set (or of the fixed subset given as the training
 * set) and its gradient — the runner's `fullBatchMachine()` — as torch's `optimizer.step(closure)` with a closure
 * over the whole set:
 *
 *   machine = runner.fullBatchMachine()            (x = the runner's parameters, in place; CPU or GPU)
 *   each epoch:  report = method.step()            (up to max_iter iterations, each 1+ full-batch evaluations)
 *                validation, early stopping        (as in Trainer.fit)
 *   ends after `epochs` epochs / `steps` iterations in total, or when the method converges or stalls
 *
 * Epoch records: `steps` = the method's iterations, `trainLoss` = the full-batch loss at the start of the epoch's
 * step (torch's return value of step(closure)), `trainAccuracy` NaN (not computed), `evals` = full-batch
 * evaluations, `stop` = why the step ended. Not supported here (each refused with a message): lr schedules (the
 * method's own line search / trust region sets its steps), checkpoints (the method's state is not serialised yet),
 * and models with dropout or BatchNorm (the objective must be a deterministic function of the parameters).
 */
import type { Dataset } from '../data/dataset.js';
import { getMethod } from '../minimize/methods.js';
import type { ModelSpec } from '../model/spec.js';
import { EarlyStopping, type Monitor } from './early-stopping.js';
import { givenLr, type RunnerConfig } from './runner.js';
import { divergence, referenceLoss, zeroOutputLoss } from './divergence.js';
import type { EpochRecord, FitOptions, FitResult, Trainer } from './trainer.js';

/** Throws unless every layer of the model is a deterministic function of the parameters in training mode. */
export function checkFullBatchModel(model: ModelSpec): void {
  model.layers.forEach((l, i) => {
    if (l.type === 'dropout' && l.p > 0) {
      throw new Error(`full-batch training: layer ${i} is dropout (p = ${l.p}); a full-batch method needs a deterministic objective — use p = 0 or a first-order optimizer`);
    }
    if (l.type === 'batchnorm') {
      throw new Error(`full-batch training: layer ${i} is BatchNorm, whose training-mode output depends on how the set is chunked; remove it or use a first-order optimizer`);
    }
  });
}

export function fullBatchStepError(config: RunnerConfig): Error {
  return new Error(
    `step: ${config.optimizer.name} is a full-batch method with no per-batch step; train with Trainer.fit (it evaluates the whole training set through fullBatchMachine), or pick a first-order optimizer`,
  );
}

const CONVERGED = new Set(['tolerance_grad', 'tolerance_change (step)', 'tolerance_change (loss)', 'directional derivative']);

/** Trainer.fit for a full-batch method (called by Trainer.fit; see the module header). */
export async function fitFullBatch(trainer: Trainer, train: Dataset, opts: FitOptions): Promise<FitResult> {
  const { runner, config } = trainer;
  const name = config.optimizer.name;
  if (opts.epochs === undefined && opts.steps === undefined) throw new Error('fit: give epochs or steps (or both)');
  for (const [key, v] of [['epochs', opts.epochs], ['steps', opts.steps]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new Error(`fit: ${key} must be an integer >= 0, got ${v}`);
  }
  if (opts.checkpoint) throw new Error(`fit: checkpoints of full-batch training (${name}) are not supported yet; save the weights after fit (runner.exportState())`);
  if (opts.schedule !== undefined) throw new Error(`fit: ${name} takes no learning-rate schedule (its line search or trust region sets the steps); drop the schedule option`);
  if (opts.batchSize !== undefined && opts.batchSize !== config.batchSize) {
    throw new Error(`fit: full-batch training evaluates the set in chunks of the runner's batchSize (${config.batchSize}); drop the batchSize option`);
  }
  if (!runner.fullBatchMachine) throw new Error(`fit: this ${runner.device} runner cannot evaluate the full-batch objective ${name} needs`);
  const method = getMethod(name, 'optimizer');
  let earlyStopping: EarlyStopping | undefined;
  if (opts.earlyStopping !== undefined) {
    earlyStopping = opts.earlyStopping instanceof EarlyStopping ? opts.earlyStopping : new EarlyStopping(opts.earlyStopping);
    if (earlyStopping.monitor.startsWith('val_') && !opts.validation) throw new Error(`fit: early stopping monitors ${earlyStopping.monitor} but no validation set was given`);
  }
  trainer.earlyStopping = earlyStopping;
  const classification = config.model.loss !== 'mse';
  await runner.setTrainingData(train);
  const m = await runner.fullBatchMachine();
  const result: FitResult = { history: [], steps: 0, seconds: 0, stepsPerSecond: 0, position: trainer.position, stoppedEarly: false, interrupted: false, restoredBest: false, skipped: 0 };
  const reachedEnd = () =>
    (opts.epochs !== undefined && trainer.position.epoch >= opts.epochs) || (opts.steps !== undefined && trainer.position.step >= opts.steps);
  let best: Float64Array | undefined;
  const opt = await method.create(m, config.optimizer.hyperparams ?? {});
  try {
    while (!reachedEnd() && !opts.signal?.aborted) {
      const t0 = performance.now();
      const rep = await opt.step();
      const seconds = (performance.now() - t0) / 1000;
      trainer.position.step += rep.iterations;
      trainer.position.epoch += 1;
      trainer.position.batch = 0;
      result.steps += rep.iterations;
      result.seconds += seconds;
      const record: EpochRecord = {
        epoch: trainer.position.epoch,
        steps: rep.iterations,
        totalSteps: trainer.position.step,
        trainLoss: rep.loss,
        trainAccuracy: NaN,
        lr: givenLr(config) ?? NaN,
        seconds,
        stepsPerSecond: seconds > 0 ? rep.iterations / seconds : 0,
        skipped: 0,
        evals: rep.evals,
        stop: rep.stalled ? `stalled: ${rep.stalled}` : rep.stop,
      };
      if (opts.validation) {
        const v0 = performance.now();
        const v = await runner.evaluate(opts.validation);
        record.valLoss = v.loss;
        record.valAccuracy = classification ? v.accuracy : NaN;
        record.valSeconds = (performance.now() - v0) / 1000;
      }
      let stop = false;
      if (earlyStopping) {
        const value = ({ val_loss: record.valLoss, val_accuracy: record.valAccuracy, train_loss: record.trainLoss, train_accuracy: record.trainAccuracy } as Record<Monitor, number | undefined>)[earlyStopping.monitor] ?? NaN;
        const d = earlyStopping.update(value, record.epoch);
        record.improved = d.improved;
        if (d.improved && earlyStopping.restoreBestWeights) best = await m.readVector(m.x);
        stop = d.stop;
      }
      trainer.history.push(record);
      result.history.push(record);
      await opts.callbacks?.onEpoch?.(record);
      if (stop) {
        result.stoppedEarly = true;
        break;
      }
      if (rep.stalled || CONVERGED.has(rep.stop)) {
        result.stop = record.stop;
        break;
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
  } finally {
    opt.destroy?.();
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
