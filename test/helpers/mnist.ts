/** Small MNIST sets for training tests, both cut from the training split so that they never overlap. */
import type { Dataset } from '../../src/data/dataset.js';
import { loadMnist } from '../../src/data/mnist-node.js';

/** Training examples [0, trainN) and validation examples [1000, 1000 + validationN) of MNIST's training split. */
export async function mnistSubsets(trainN: number, validationN: number): Promise<{ train: Dataset; validation: Dataset }> {
  if (trainN > 1000) throw new RangeError(`mnistSubsets: ${trainN} training examples would overlap the validation ones from 1000 on`);
  const mnist = await loadMnist();
  return {
    train: mnist.train.subset(Uint32Array.from({ length: trainN }, (_, i) => i), `mnist-${trainN}`),
    validation: mnist.train.subset(Uint32Array.from({ length: validationN }, (_, i) => 1000 + i), `mnist-val-${validationN}`),
  };
}
