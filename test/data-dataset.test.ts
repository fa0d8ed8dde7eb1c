// Dataset validation, seeded disjoint splits, per-epoch permutations and the last-partial-batch policy.
import { describe, expect, it } from 'vitest';
import { BatchSchedule, batchCount } from '../src/data/batches.js';
import { Dataset } from '../src/data/dataset.js';
import { Random, Streams } from '../src/random.js';

/** n examples of 3 bytes each; example i holds (i, i+1, i+2) mod 256 and label i mod 4. */
function toy(n: number): Dataset {
  const inputs = new Uint8Array(n * 3).map((_, j) => (Math.floor(j / 3) + (j % 3)) % 256);
  const labels = new Uint8Array(n).map((_, i) => i % 4);
  return new Dataset({ name: 'toy', inputs, inputShape: [3], labels });
}

describe('Dataset construction', () => {
  it('derives N, D and numClasses, and exposes examples as views', () => {
    const ds = toy(10);
    expect([ds.length, ds.exampleSize, ds.numClasses]).toEqual([10, 3, 4]);
    const e = ds.example(7);
    expect(Array.from(e.input)).toEqual([7, 8, 9]);
    expect(e.label).toBe(3);

    const reg = new Dataset({ inputs: new Float32Array(6), inputShape: [2, 1], targets: Float32Array.from([1, 2, 3, 4, 5, 6]), targetSize: 2 });
    expect(reg.length).toBe(3);
    expect(Array.from(reg.example(2).target!)).toEqual([5, 6]);
  });

  it('rejects bad shapes and values with messages naming the dataset and the fix', () => {
    const labels = new Uint8Array(2);
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(10), inputShape: [28, 28], labels })).toThrow(
      'd: inputs has 10 values, not a multiple of the example size 784 (inputShape [28, 28]); check inputShape or the array.',
    );
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(6), inputShape: [3], labels: new Uint8Array(3) })).toThrow(
      'd: labels has 3 entries but inputs hold 2 examples of 3 values.',
    );
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(6), inputShape: [3, 0], labels })).toThrow(/d: inputShape must be a non-empty list of positive integers/);
    expect(() => new Dataset({ name: 'd', inputs: [1, 2] as unknown as Uint8Array, inputShape: [1], labels })).toThrow(
      'd: inputs must be a Uint8Array or Float32Array (N×D row-major), got Array.',
    );
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(2), inputShape: [1], labels: Int32Array.from([0, -1]) })).toThrow(
      'd: labels[1] = -1 is negative; class ids start at 0.',
    );
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(2), inputShape: [1], labels: Uint8Array.from([0, 10]), numClasses: 10 })).toThrow(
      'd: labels[1] = 10 is out of range for numClasses 10.',
    );
    expect(() => new Dataset({ name: 'd', inputs: Float32Array.from([0, NaN, 1, 2]), inputShape: [2], labels })).toThrow(
      'd: inputs[1] (example 0, value 1) is NaN; inputs must be finite.',
    );
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(2), inputShape: [1], labels, targets: new Float32Array(2), targetSize: 1 })).toThrow(
      'd: give labels (class ids) or targets (float rows), not both.',
    );
    expect(new Dataset({ name: 'd', inputs: new Uint8Array(2), inputShape: [1] }).labelled).toBe(false); // inputs to predict on
    expect(() => new Dataset({ name: 'd', inputs: new Uint8Array(2), inputShape: [1], targets: new Float32Array(3), targetSize: 2 })).toThrow(
      'd: targets has 3 values but 2 examples × targetSize 2 = 4.',
    );
  });
});

describe('Dataset.split', () => {
  it('parts are disjoint, cover everything, are seeded, and carry the right rows', () => {
    const ds = toy(1000);
    const s = ds.split({ validation: 100, test: 0.2, seed: 7 });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([700, 100, 200]);
    const all = [...s.train.sourceIndices!, ...s.validation.sourceIndices!, ...s.test.sourceIndices!];
    expect(new Set(all).size).toBe(1000);
    // Rows were gathered from the right source examples.
    for (const part of [s.train, s.validation, s.test]) {
      for (let j = 0; j < part.length; j += 37) {
        const src = part.sourceIndices![j]!;
        expect(Array.from(part.example(j).input)).toEqual(Array.from(ds.example(src).input));
        expect(part.example(j).label).toBe(src % 4);
      }
      expect(part.numClasses).toBe(4);
    }
    const again = ds.split({ validation: 100, test: 0.2, seed: 7 });
    expect(again.validation.sourceIndices).toEqual(s.validation.sourceIndices);
    const other = ds.split({ validation: 100, test: 0.2, seed: 8 });
    expect(other.validation.sourceIndices).not.toEqual(s.validation.sourceIndices);
    // Membership is the documented shuffle: validation = sorted positions 700..799 of the split permutation.
    const perm = new Random(7, { stream: Streams.split }).permutation(1000);
    expect(s.validation.sourceIndices).toEqual(perm.slice(700, 800).sort());
  });

  it('without shuffle the parts are consecutive ranges', () => {
    const s = toy(10).split({ validation: 3, seed: 0, shuffle: false });
    expect(Array.from(s.train.sourceIndices!)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(Array.from(s.validation.sourceIndices!)).toEqual([7, 8, 9]);
    expect(s.test.length).toBe(0);
  });

  it('rejects sizes that do not fit', () => {
    expect(() => toy(10).split({ validation: 6, test: 5, seed: 0 })).toThrow('toy: validation 6 + test 5 examples exceed the 10 available.');
    expect(() => toy(10).split({ validation: 1.5, seed: 0 })).toThrow('toy: split validation = 1.5 must be a count (integer >= 0) or a fraction in (0, 1).');
  });
});

describe('BatchSchedule', () => {
  it('batch counts follow the documented last-batch policy', () => {
    expect(batchCount(10, 4)).toBe(3);
    expect(batchCount(10, 4, true)).toBe(2);
    expect(batchCount(8, 4, true)).toBe(2);
    expect(batchCount(0, 4)).toBe(0);
    expect(() => batchCount(10, 0)).toThrow('batchSize 0 must be a positive integer.');
    expect(() => new BatchSchedule(3, { batchSize: 4, seed: 0, dropLast: true })).toThrow(/give no batch at all/);
  });

  it('keeps the partial batch by default and drops it with dropLast', () => {
    const keep = new BatchSchedule(10, { batchSize: 4, seed: 1 });
    expect([0, 1, 2].map((b) => keep.batch(0, b).length)).toEqual([4, 4, 2]);
    const seen = [0, 1, 2].flatMap((b) => Array.from(keep.batch(0, b)));
    expect(seen.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    const drop = new BatchSchedule(10, { batchSize: 4, seed: 1, dropLast: true });
    expect(drop.batchCount).toBe(2);
    expect(() => drop.batch(0, 2)).toThrow('BatchSchedule: batch 2 is outside [0, 2).');
    // The training loop's allocation-free form says the same as batchRange.
    expect([0, 1, 2].map((b) => [keep.batchStart(b), keep.batchRows(b)])).toEqual([[0, 4], [4, 4], [8, 2]]);
    expect([0, 1, 2].map((b) => keep.batchRange(b))).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(() => drop.batchRows(2)).toThrow('BatchSchedule: batch 2 is outside [0, 2).');
    expect(() => keep.batchStart(-1)).toThrow('BatchSchedule: batch -1 is outside [0, 3).');
  });

  it('permutation(epoch) is seeded, differs between epochs, and does not depend on earlier epochs', () => {
    const a = new BatchSchedule(5000, { batchSize: 64, seed: 42 });
    const e3 = a.permutation(3).slice();
    expect(Array.from(e3).sort((x, y) => x - y)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(a.permutation(4)).not.toEqual(e3);
    const fresh = new BatchSchedule(5000, { batchSize: 64, seed: 42 });
    expect(fresh.permutation(3)).toEqual(e3); // epoch 3 first, as after a resume
    expect(new BatchSchedule(5000, { batchSize: 64, seed: 43 }).permutation(3)).not.toEqual(e3);
    expect(e3).toEqual(new Random(42, { stream: Streams.shuffle, step: 3 }).permutation(5000));
    const ordered = new BatchSchedule(5, { batchSize: 2, seed: 0, shuffle: false });
    expect(Array.from(ordered.permutation(9))).toEqual([0, 1, 2, 3, 4]);
    expect(toy(5).batches({ batchSize: 2, seed: 42 }).permutation(0)).toEqual(new BatchSchedule(5, { batchSize: 2, seed: 42 }).permutation(0));
  });
});
