/**
 * `wgtrain evaluate --checkpoint FILE`: loads a training checkpoint and prints the loss and accuracy of its model on
 * the MNIST test set, or on the validation split it was trained with (--split validation: the split's size and seed
 * come from the checkpoint, so no example the model trained on is counted).
 *
 *   test loss 0.0612  accuracy 98.21%  (10000 examples; checkpoint step 2150, epoch 5)
 *   --json: {"split", "loss", "accuracy", "count", "step", "epoch", "adapter"} on stdout (a non-finite number as the
 *   string "NaN", "Infinity" or "-Infinity", json-numbers.ts).
 * Exit status: 0 done, 1 run error (unreadable or corrupt checkpoint included), 2 bad arguments (a --validation that
 * differs from the checkpoint's split, or a validation split the checkpoint does not have, included).
 */
import { loadMnist } from '../data/mnist-node.js';
import { splitMnist } from '../data/mnist.js';
import type { Engine } from '../gpu/index.js';
import type { Dtype } from '../optim/rule.js';
import { loadTrainingCheckpoint } from '../train/checkpoint-file.js';
import type { Runner } from '../train/runner.js';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './args.js';
import { adapterChoice, checkMnistModel, checkpointSplit, checkSplitFlags } from './checks.js';
import { ADAPTER_FLAG, checkDtype, createRunner } from './train.js';
import { toJson } from '../json-numbers.js';

const COMMAND = 'wgtrain evaluate';

export const EVALUATE_FLAGS = {
  checkpoint: { type: 'string', value: 'FILE', help: 'checkpoint written by wgtrain train --save (required)' },
  split: { type: 'string', help: 'which examples', choices: ['test', 'validation'], default: 'test' },
  validation: { type: 'int', value: 'N', help: "size of the validation split: the checkpoint's; if given, it must agree" },
  device: { type: 'string', help: 'where to run', choices: ['gpu', 'cpu'], default: 'gpu' },
  adapter: ADAPTER_FLAG,
  dtype: { type: 'string', help: 'precision of the CPU runner (the GPU computes in float32)', choices: ['float32', 'float64'], default: 'float32' },
  json: { type: 'boolean', help: 'one JSON object on stdout; logs on stderr' },
} as const satisfies FlagSpecs;

export async function evaluateMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  let adapter;
  try {
    args = parseArgs(argv, EVALUATE_FLAGS, COMMAND);
    if (!args.help && args.values.checkpoint === undefined) throw new ArgError(`${COMMAND}: --checkpoint FILE is required`);
    checkDtype(args.values.device!, args.values.dtype!, args.given, COMMAND);
    adapter = args.values.device === 'gpu' ? adapterChoice(args.values.adapter, COMMAND) : undefined;
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
    const split = checkpointSplit(ckpt);
    try {
      checkMnistModel(ckpt.config.model, `the model of ${v.checkpoint}`, COMMAND);
      checkSplitFlags(split, args.given, v, COMMAND);
      if (v.split === 'validation' && split.validation === 0) {
        throw new ArgError(`${COMMAND}: ${v.checkpoint} was trained with --validation 0: it has no validation split; use --split test`);
      }
    } catch (e) {
      if (!(e instanceof ArgError)) throw e;
      io.stderr(`${e.message}\n`);
      return 2;
    }
    const mnist = await loadMnist();
    const ds = v.split === 'test' ? mnist.test : splitMnist(mnist, { validation: split.validation, seed: split.seed }).validation;
    const made = await createRunner(ckpt.config, { device: v.device as 'gpu' | 'cpu', adapter, dtype: v.dtype as Dtype, log });
    runner = made.runner;
    engine = made.engine;
    await runner.importState(ckpt.state);
    const r = await runner.evaluate(ds);
    const { step, epoch } = ckpt.position;
    if (v.json) {
      io.stdout(toJson({ split: v.split, loss: r.loss, accuracy: r.accuracy, count: r.count, step, epoch, adapter: made.adapter }) + '\n');
    } else {
      io.stdout(
        `${v.split} loss ${r.loss.toFixed(4)}  accuracy ${(100 * r.accuracy).toFixed(2)}%  ` +
          `(${r.count} examples; checkpoint step ${step}, epoch ${epoch}; ${made.adapter})\n`,
      );
    }
    return 0;
  } catch (e) {
    io.stderr(`${COMMAND}: ${(e as Error).message}\n`);
    return 1;
  } finally {
    runner?.destroy();
    engine?.destroy();
  }
}
