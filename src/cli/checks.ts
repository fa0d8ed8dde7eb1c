/**
 * Checks the CLI runs on its arguments before any data loads or the GPU starts, each an ArgError (exit status 2)
 * that names the flag: the adapter choice (flag, else WGTRAIN_ADAPTER), whether --save can be written, whether a
 * model fits MNIST, runner-config errors mapped to the flag that set the field, and the data split, which on resume
 * and evaluation comes from the checkpoint (an explicit flag that disagrees is an error naming both values).
 */
import { open, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MNIST_CLASSES, MNIST_IMAGE_SHAPE, MNIST_TRAIN_EXAMPLES } from '../data/mnist.js';
import type { AdapterChoice } from '../gpu/acquire.js';
import { envAdapterChoice } from '../gpu/acquire-node.js';
import { outputSize, type ModelSpec } from '../model/spec.js';
import { RunnerConfigError } from '../train/runner-checks.js';
import type { DataSplit, TrainingSnapshot } from '../train/trainer.js';
import { ArgError } from './args.js';

/** --adapter when given, else WGTRAIN_ADAPTER (checked here, so a bogus value stops the run before it starts). */
export function adapterChoice(flag: string | undefined, command: string): AdapterChoice | undefined {
  if (flag !== undefined) return flag as AdapterChoice;
  try {
    return envAdapterChoice();
  } catch (e) {
    throw new ArgError(`${command}: ${(e as Error).message} (--adapter overrides it)`);
  }
}

/** Creates and removes a probe file beside `path`, so an unwritable --save fails now rather than after an epoch. */
export async function probeWritable(path: string, flag: string, command: string): Promise<void> {
  const info = await stat(path).catch(() => null);
  if (info?.isDirectory()) throw new ArgError(`${command}: --${flag} ${path} is a directory; give a file name, e.g. ${join(path, 'run.safetensors')}`);
  const dir = dirname(path);
  // Named like a save's temporary file, so a probe left by a killed process is cleaned up by the next save.
  const probe = join(dir, `${basename(path)}.tmp-${process.pid}-probe`);
  try {
    const handle = await open(probe, 'wx');
    await handle.close();
    await unlink(probe);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? `the folder ${dir} does not exist; create it first`
      : code === 'EACCES' || code === 'EPERM' ? `no permission to write in ${dir}`
      : code === 'EROFS' ? `${dir} is on a read-only file system`
      : `cannot write in ${dir}: ${(e as Error).message}`;
    throw new ArgError(`${command}: --${flag} ${path}: ${why}`);
  }
}

/** The model must take MNIST's 784 pixels and give at least its 10 classes as softmax logits. */
export function checkMnistModel(model: ModelSpec, what: string, command: string): void {
  const pixels = MNIST_IMAGE_SHAPE[0] * MNIST_IMAGE_SHAPE[1];
  const image = model.inputShape?.length === 3 ? model.inputShape : undefined;
  if (image && (image[0] !== 1 || image[1] !== MNIST_IMAGE_SHAPE[0] || image[2] !== MNIST_IMAGE_SHAPE[1])) {
    throw new ArgError(`${command}: ${what} takes ${image.join('×')} images but MNIST images are 1×28×28 (one channel of 28×28); start the layer list with 1x28x28-`);
  }
  if (model.inputs !== pixels) {
    throw new ArgError(`${command}: ${what} takes ${model.inputs} inputs but MNIST images have ${pixels} pixels (28×28); start the sizes with ${pixels}-`);
  }
  if (model.loss !== 'softmax_ce') {
    throw new ArgError(`${command}: ${what} has loss=${model.loss}, which needs float targets; MNIST has class labels: use softmax_ce (the default)`);
  }
  const outputs = outputSize(model);
  if (outputs < MNIST_CLASSES) {
    throw new ArgError(`${command}: ${what} has ${outputs} outputs but MNIST has ${MNIST_CLASSES} classes; end the sizes with -${MNIST_CLASSES}`);
  }
}

/** The flag that sets a RunnerConfig field. */
const FLAG_OF: Record<string, string> = {
  model: 'model',
  batchSize: 'batch',
  seed: 'seed',
  'optimizer.name': 'optimizer',
  'optimizer.hyperparams.lr': 'lr',
  'optimizer.hyperparams.weight_decay': 'weight-decay',
  clip: 'clip',
  'clip.maxNorm': 'clip',
  'clip.value': 'clip',
};

/** A runner-config error as an ArgError naming the flag (and its value) that set the field. */
export function configArgError(e: unknown, values: Record<string, unknown>, command: string): unknown {
  if (!(e instanceof RunnerConfigError)) return e;
  // Hyperparameters without an entry have their torch name with dashes as the flag (--history-size), when given.
  const dashed = e.field.startsWith('optimizer.hyperparams.') ? e.field.slice('optimizer.hyperparams.'.length).replace(/_/g, '-') : undefined;
  const flag = FLAG_OF[e.field] ?? (dashed !== undefined && values[dashed] !== undefined ? dashed : undefined);
  const why = e.message.startsWith(`${e.field}: `) ? e.message.slice(e.field.length + 2) : e.message.replace(/^optimizer\.hyperparams\./, '');
  return new ArgError(flag ? `${command}: --${flag} ${values[flag] ?? ''}: ${why}`.replace(' :', ':') : `${command}: ${e.message}`);
}

/** The MNIST split a checkpoint was trained on; checkpoints from before `data.split` existed imply it. */
export function checkpointSplit(s: TrainingSnapshot): DataSplit {
  if (s.data.split) return s.data.split;
  return { source: 'mnist', validation: MNIST_TRAIN_EXAMPLES - s.data.examples, seed: s.data.seed };
}

/** An explicit --validation, --seed or --train-examples must agree with the checkpoint's split. */
export function checkSplitFlags(split: DataSplit, given: ReadonlySet<string>, values: { validation?: number; seed?: number; 'train-examples'?: number }, command: string): void {
  const subset = split.trainExamples !== undefined ? `, a subset of ${split.trainExamples} training examples` : '';
  const describe = `the checkpoint's split (${split.validation} validation examples, seed ${split.seed}${subset})`;
  if (split.source !== 'mnist') throw new ArgError(`${command}: the checkpoint was trained on '${split.source}', not on the MNIST split this command builds`);
  if (given.has('validation') && values.validation !== split.validation) {
    throw new ArgError(`${command}: --validation ${values.validation} differs from ${describe}; leave --validation out to use the checkpoint's`);
  }
  if (given.has('seed') && values.seed !== split.seed) {
    throw new ArgError(`${command}: --seed ${values.seed} differs from ${describe}; leave --seed out to use the checkpoint's`);
  }
  if (given.has('train-examples') && values['train-examples'] !== split.trainExamples) {
    throw new ArgError(`${command}: --train-examples ${values['train-examples']} differs from ${describe}; leave --train-examples out to use the checkpoint's`);
  }
}

/** A fresh run's split, checked: it must leave training examples (at least --train-examples when given). */
export function mnistSplit(validation: number, seed: number, command: string, trainExamples?: number): DataSplit {
  if (validation >= MNIST_TRAIN_EXAMPLES) {
    throw new ArgError(`${command}: --validation ${validation} leaves no training examples (the MNIST training file has ${MNIST_TRAIN_EXAMPLES})`);
  }
  if (trainExamples !== undefined && !(trainExamples >= 1 && trainExamples <= MNIST_TRAIN_EXAMPLES - validation)) {
    throw new ArgError(
      `${command}: --train-examples ${trainExamples} must be between 1 and the ${MNIST_TRAIN_EXAMPLES - validation} training examples ` +
        `the split leaves (${MNIST_TRAIN_EXAMPLES} in the file, --validation ${validation})`,
    );
  }
  return { source: 'mnist', validation, seed, ...(trainExamples !== undefined ? { trainExamples } : {}) };
}

/** The MNIST parts of a split (splitMnist with its subset). */
export function splitOptions(split: DataSplit): { validation: number; seed: number; trainExamples?: number } {
  return { validation: split.validation, seed: split.seed, ...(split.trainExamples !== undefined ? { trainExamples: split.trainExamples } : {}) };
}
