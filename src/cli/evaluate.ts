/**
 * `wgtrain evaluate --checkpoint FILE`: loads a training checkpoint and prints the loss and accuracy of its model on
 * the MNIST test set (or the validation split it was trained with: --split validation).
 *
 *   test loss 0.0612  accuracy 98.21%  (10000 examples; checkpoint step 2150, epoch 5)
 *   --json: {"split", "loss", "accuracy", "count", "step", "epoch", "adapter"} on stdout.
 * Exit status: 0 done, 1 run error (unreadable or corrupt checkpoint included), 2 bad arguments.
 */
import { loadMnist } from '../data/mnist-node.js';
import { splitMnist } from '../data/mnist.js';
import type { Engine } from '../gpu/index.js';
import type { Dtype } from '../optim/rule.js';
import { loadTrainingCheckpoint } from '../train/checkpoint.js';
import type { Runner } from '../train/runner.js';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './args.js';
import { createRunner, type RunnerOptions } from './train.js';

export const EVALUATE_FLAGS = {
  checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written by wgtrain train --save (required)' },
  split: { type: 'string', help: 'which examples', choices: ['test', 'validation'], default: 'test' },
  validation: { type: 'int', value: 'N', help: 'size of the validation split (as in training)', default: 5000 },
  device: { type: 'string', help: 'where to run', choices: ['gpu', 'cpu'], default: 'gpu' },
  adapter: { type: 'string', help: 'WebGPU adapter', choices: ['auto', 'hardware', 'software'], default: 'auto' },
  dtype: { type: 'string', help: 'precision of the CPU runner', choices: ['float32', 'float64'], default: 'float32' },
  json: { type: 'boolean', help: 'one JSON object on stdout; logs on stderr' },
} as const satisfies FlagSpecs;

export async function evaluateMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, EVALUATE_FLAGS, 'wgtrain evaluate');
    if (!args.help && args.values.checkpoint === undefined) throw new ArgError('wgtrain evaluate: --checkpoint FILE is required');
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n(wgtrain evaluate --help lists the flags)\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(usage(EVALUATE_FLAGS, 'wgtrain evaluate --checkpoint FILE [flags]') + '\n');
    return 0;
  }
  const v = args.values;
  const log = (line: string) => (v.json ? io.stderr : io.stdout)(line + '\n');
  let runner: Runner | undefined;
  let engine: Engine | undefined;
  try {
    const ckpt = await loadTrainingCheckpoint(v.checkpoint!);
    const mnist = await loadMnist();
    const ds = v.split === 'test' ? mnist.test : splitMnist(mnist, { validation: v.validation!, seed: ckpt.data.seed }).validation;
    const made = await createRunner(ckpt.config, { device: v.device as 'gpu' | 'cpu', adapter: v.adapter as RunnerOptions['adapter'], dtype: v.dtype as Dtype, log });
    runner = made.runner;
    engine = made.engine;
    await runner.importState(ckpt.state);
    const r = await runner.evaluate(ds);
    const { step, epoch } = ckpt.position;
    if (v.json) {
      io.stdout(JSON.stringify({ split: v.split, loss: r.loss, accuracy: r.accuracy, count: r.count, step, epoch, adapter: made.adapter }) + '\n');
    } else {
      io.stdout(
        `${v.split} loss ${r.loss.toFixed(4)}  accuracy ${(100 * r.accuracy).toFixed(2)}%  ` +
          `(${r.count} examples; checkpoint step ${step}, epoch ${epoch}; ${made.adapter})\n`,
      );
    }
    return 0;
  } catch (e) {
    io.stderr(`wgtrain evaluate: ${(e as Error).message}\n`);
    return 1;
  } finally {
    runner?.destroy();
    engine?.destroy();
  }
}
