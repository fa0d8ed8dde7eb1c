/**
 * In-memory dataset: N examples of D input values each, with either integer class labels or float targets.
 * Browser-safe. Inputs stay in their given type (bytes for images: normalisation happens on the GPU).
 *
 * Shapes: inputs N×D (row-major, D = product(inputShape)); labels N; targets N×K.
 */
import { Random, Streams } from '../random.js';
import { BatchSchedule, type BatchScheduleOptions } from './batches.js';

export type InputArray = Uint8Array | Float32Array;
export type LabelArray = Uint8Array | Int32Array;

export interface DatasetInit {
  /** Used in error messages, e.g. "mnist-train". */
  name?: string;
  /** N×D values, row-major. */
  inputs: InputArray;
  /** Shape of one example, e.g. [28, 28]; D = product. */
  inputShape: readonly number[];
  /** N class ids in [0, numClasses). Give either labels or targets. */
  labels?: LabelArray;
  /** Number of classes; defaults to max(label) + 1. */
  numClasses?: number;
  /** N×K float regression targets. */
  targets?: Float32Array;
  /** K, the size of one target row; required with targets. */
  targetSize?: number;
}

export interface SplitOptions {
  /** Validation examples: a count (integer >= 0) or a fraction of N in (0, 1). */
  validation: number;
  /** Test examples, same convention; default 0. */
  test?: number;
  /** Seed of the shuffle that assigns examples to parts (stream `Streams.split`). */
  seed: number;
  /** false: take the parts in order (train first) without shuffling. Default true. */
  shuffle?: boolean;
}

export interface Split {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
}

export class Dataset {
  readonly name: string;
  readonly inputs: InputArray;
  readonly inputShape: readonly number[];
  /** D: values per example. */
  readonly exampleSize: number;
  /** N: number of examples. */
  readonly length: number;
  readonly labels: LabelArray | undefined;
  readonly numClasses: number | undefined;
  readonly targets: Float32Array | undefined;
  readonly targetSize: number | undefined;
  /** For a subset: the index of each example in the dataset it was taken from. */
  readonly sourceIndices: Uint32Array | undefined;

  constructor(init: DatasetInit, sourceIndices?: Uint32Array) {
    const name = init.name ?? 'dataset';
    this.name = name;
    const { inputs, inputShape } = init;
    if (!(inputs instanceof Uint8Array || inputs instanceof Float32Array)) {
      throw new TypeError(`${name}: inputs must be a Uint8Array or Float32Array (N×D row-major), got ${typeName(inputs)}.`);
    }
    if (!Array.isArray(inputShape) || inputShape.length === 0 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(`${name}: inputShape must be a non-empty list of positive integers (one example's shape, e.g. [28, 28]), got ${JSON.stringify(inputShape)}.`);
    }
    const d = inputShape.reduce((a, b) => a * b, 1);
    if (inputs.length % d !== 0) {
      throw new RangeError(
        `${name}: inputs has ${inputs.length} values, not a multiple of the example size ${d} (inputShape [${inputShape.join(', ')}]); check inputShape or the array.`,
      );
    }
    const n = inputs.length / d;
    if (inputs instanceof Float32Array) {
      const bad = firstNonFinite(inputs);
      if (bad >= 0) {
        throw new RangeError(`${name}: inputs[${bad}] (example ${Math.floor(bad / d)}, value ${bad % d}) is ${inputs[bad]}; inputs must be finite.`);
      }
    }
    this.inputs = inputs;
    this.inputShape = [...inputShape];
    this.exampleSize = d;
    this.length = n;
    this.sourceIndices = sourceIndices;

    const { labels, targets } = init;
    if ((labels === undefined) === (targets === undefined)) {
      throw new TypeError(`${name}: give exactly one of labels (class ids) or targets (float rows); got ${labels ? 'both' : 'neither'}.`);
    }
    if (labels !== undefined) {
      if (!(labels instanceof Uint8Array || labels instanceof Int32Array)) {
        throw new TypeError(`${name}: labels must be a Uint8Array or Int32Array, got ${typeName(labels)}.`);
      }
      if (labels.length !== n) {
        throw new RangeError(`${name}: labels has ${labels.length} entries but inputs hold ${n} examples of ${d} values.`);
      }
      let max = -1;
      for (let i = 0; i < n; i++) {
        const l = labels[i]!;
        if (l < 0) throw new RangeError(`${name}: labels[${i}] = ${l} is negative; class ids start at 0.`);
        if (l > max) max = l;
      }
      const numClasses = init.numClasses ?? max + 1;
      if (!Number.isInteger(numClasses) || numClasses < 1) {
        throw new RangeError(`${name}: numClasses ${numClasses} must be a positive integer.`);
      }
      if (max >= numClasses) {
        throw new RangeError(`${name}: labels[${labels.indexOf(max)}] = ${max} is out of range for numClasses ${numClasses}.`);
      }
      this.labels = labels;
      this.numClasses = numClasses;
    } else {
      const k = init.targetSize;
      if (!(targets instanceof Float32Array)) {
        throw new TypeError(`${name}: targets must be a Float32Array (N×K row-major), got ${typeName(targets)}.`);
      }
      if (k === undefined || !Number.isInteger(k) || k < 1) {
        throw new RangeError(`${name}: targetSize (K, the length of one target row) must be a positive integer, got ${k}.`);
      }
      if (targets.length !== n * k) {
        throw new RangeError(`${name}: targets has ${targets.length} values but ${n} examples × targetSize ${k} = ${n * k}.`);
      }
      const bad = firstNonFinite(targets);
      if (bad >= 0) throw new RangeError(`${name}: targets[${bad}] (example ${Math.floor(bad / k)}) is ${targets[bad]}; targets must be finite.`);
      this.targets = targets;
      this.targetSize = k;
    }
  }

  /** Example i: a view of its D input values and its label or target row. */
  example(i: number): { input: InputArray; label?: number; target?: Float32Array } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.name}: example index ${i} is outside [0, ${this.length}).`);
    }
    const input = this.inputs.subarray(i * this.exampleSize, (i + 1) * this.exampleSize);
    if (this.labels) return { input, label: this.labels[i]! };
    const k = this.targetSize!;
    return { input, target: this.targets!.subarray(i * k, (i + 1) * k) };
  }

  /** A new dataset holding copies of the given examples, in the given order. */
  subset(indices: Uint32Array, name = `${this.name}-subset`): Dataset {
    const d = this.exampleSize;
    const inputs = new (this.inputs.constructor as { new (n: number): InputArray })(indices.length * d);
    for (let j = 0; j < indices.length; j++) {
      const i = indices[j]!;
      if (i >= this.length) throw new RangeError(`${this.name}: subset index ${i} (position ${j}) is outside [0, ${this.length}).`);
      inputs.set(this.inputs.subarray(i * d, (i + 1) * d), j * d);
    }
    if (this.labels) {
      const labels = new (this.labels.constructor as { new (n: number): LabelArray })(indices.length);
      for (let j = 0; j < indices.length; j++) labels[j] = this.labels[indices[j]!]!;
      return new Dataset({ name, inputs, inputShape: this.inputShape, labels, numClasses: this.numClasses! }, indices.slice());
    }
    const k = this.targetSize!;
    const targets = new Float32Array(indices.length * k);
    for (let j = 0; j < indices.length; j++) targets.set(this.targets!.subarray(indices[j]! * k, (indices[j]! + 1) * k), j * k);
    return new Dataset({ name, inputs, inputShape: this.inputShape, targets, targetSize: k }, indices.slice());
  }

  /** Seeded per-epoch order and batch boundaries over this dataset's examples. */
  batches(options: BatchScheduleOptions): BatchSchedule {
    return new BatchSchedule(this.length, options);
  }

  /**
   * Splits into disjoint train / validation / test parts covering every example. With shuffle (the default) a
   * seeded permutation decides membership; each part then lists its examples in their original order, so a part
   * depends only on (N, sizes, seed). `sourceIndices` of each part records which examples it took.
   */
  split(options: SplitOptions): Split {
    const n = this.length;
    const nVal = partSize(options.validation, n, 'validation', this.name);
    const nTest = partSize(options.test ?? 0, n, 'test', this.name);
    if (nVal + nTest > n) {
      throw new RangeError(`${this.name}: validation ${nVal} + test ${nTest} examples exceed the ${n} available.`);
    }
    const nTrain = n - nVal - nTest;
    const order = options.shuffle === false ? identity(n) : new Random(options.seed, { stream: Streams.split }).permutation(n);
    const part = (from: number, to: number) => order.slice(from, to).sort();
    return {
      train: this.subset(part(0, nTrain), `${this.name}-train`),
      validation: this.subset(part(nTrain, nTrain + nVal), `${this.name}-validation`),
      test: this.subset(part(nTrain + nVal, n), `${this.name}-test`),
    };
  }
}

function partSize(value: number, n: number, what: string, name: string): number {
  if (Number.isInteger(value) && value >= 0) return value;
  if (value > 0 && value < 1) return Math.round(value * n);
  throw new RangeError(`${name}: split ${what} = ${value} must be a count (integer >= 0) or a fraction in (0, 1).`);
}

function identity(n: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  return p;
}

function firstNonFinite(a: Float32Array): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

function typeName(x: unknown): string {
  if (x === null) return 'null';
  if (typeof x !== 'object') return typeof x;
  return (x as object).constructor?.name ?? 'object';
}
