/**
 * The validation pass that ends an epoch, shared by Trainer.fit and fitFullBatch: announces it (onValidation, so a
 * progress display can say why the run pauses), evaluates the set, and fills the record's val fields (valAccuracy NaN
 * for a regression loss).
 */
import type { Dataset } from '../data/dataset.js';
import type { Runner } from './runner.js';
import type { EpochRecord, FitCallbacks } from './trainer.js';

export async function validateEpoch(runner: Runner, validation: Dataset, record: EpochRecord, classification: boolean, callbacks?: FitCallbacks): Promise<void> {
  callbacks?.onValidation?.({ epoch: record.epoch, examples: validation.length });
  const v0 = performance.now();
  const v = await runner.evaluate(validation);
  record.valLoss = v.loss;
  record.valAccuracy = classification ? v.accuracy : NaN;
  record.valSeconds = (performance.now() - v0) / 1000;
}
