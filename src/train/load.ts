/**
 * A trainer rebuilt from checkpoint bytes alone: the checkpoint holds the configuration (model, optimizer, batch
 * size, seed, ...), so a model saved in a browser loads in Node and the other way round, on the GPU or the CPU.
 */
import type { Engine } from '../gpu/engine.js';
import type { Dtype } from '../optim/rule.js';
import { decodeTrainingCheckpoint } from './checkpoint.js';
import { createCpuRunner } from './cpu-runner.js';
import { createGpuRunner } from './gpu-runner.js';
import { Trainer } from './trainer.js';

export interface LoadOptions {
  /** Train and predict on this engine's GPU; without one, on the CPU reference runner. */
  engine?: Engine;
  /** CPU runner precision (default float32). */
  dtype?: Dtype;
  /** Names the checkpoint in errors (e.g. its file or store key). */
  name?: string;
}

/**
 * Decodes and verifies checkpoint bytes (Trainer.save(), runner.save(), a file the CLI wrote), builds a runner of the
 * model they hold and a Trainer restored to their position: predict at once, or fit further.
 *
 *   const trainer = await loadTrainer(bytes, { engine });   const probs = await trainer.predictProba(rows);
 */
export async function loadTrainer(bytes: Uint8Array, options: LoadOptions = {}): Promise<Trainer> {
  const snapshot = decodeTrainingCheckpoint(bytes, options.name ?? 'checkpoint');
  const runner = options.engine
    ? await createGpuRunner(options.engine, snapshot.config)
    : await createCpuRunner(snapshot.config, options.dtype ? { dtype: options.dtype } : {});
  try {
    const trainer = new Trainer(runner, snapshot.config);
    await trainer.restore(snapshot);
    return trainer;
  } catch (e) {
    runner.destroy();
    throw e;
  }
}
