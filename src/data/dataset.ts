/**
 * In-memory dataset: N examples of D input values each, with integer class labels, float targets, or neither (inputs
 * to predict on). Browser-safe. Inputs stay in their given type (bytes for images: normalisation happens on the GPU).
 *
 * Shapes: inputs N×D (row-major, D = product(inputShape)); labels N; targets N×K.
 *
 *   Dataset.from({ inputs: [[0.1, 0.2], [0.3, 0.4]], labels: [0, 1] })       // rows of numbers and class ids
 *   Dataset.from({ inputs: xs, targets: ys })                                // float targets: rows, or one per example
 *   Dataset.from({ inputs: [[0.5, 0.5]] })                                   // no labels: for predict
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
  /** N class ids in [0, numClasses). Give labels, targets, or neither (a dataset only to predict on). */
  labels?: LabelArray;
  /** Number of classes; defaults to max(label) + 1. */
  numClasses?: number;
  /** N×K float regression targets. */
  targets?: Float32Array;
  /** K, the size of one target row; required with targets. */
  targetSize?: number;
}

/** Plain arrays for `Dataset.from`: no typed arrays, shapes or class counts needed. */
export interface DatasetArrays {
  name?: string;
  /**
   * One row of D numbers per example (`number[][]`, or typed-array rows), or all N×D values in one flat array
   * (number[], Float32Array, or Uint8Array bytes) with `inputShape`. Numbers become float32; bytes stay bytes (the
   * runner scales them on the device: RunnerConfig.inputScale / inputShift).
   */
  inputs: readonly ArrayLike<number>[] | ArrayLike<number>;
  /** One example's shape for flat inputs, e.g. [28, 28]; rows give [D] themselves. */
  inputShape?: readonly number[];
  /** One integer class id per example, 0-based. */
  labels?: ArrayLike<number>;
  /** Number of classes; default max(label) + 1. */
  numClasses?: number;
  /** Float targets: one row of K numbers per example, or one number per example (K = 1), or N×K flat with targetSize. */
  targets?: readonly ArrayLike<number>[] | ArrayLike<number>;
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

  /** A dataset from plain arrays (see DatasetArrays); errors name the row or value that is wrong. */
  static from(arrays: DatasetArrays): Dataset {
    if (arrays === null || typeof arrays !== 'object') throw new TypeError(`Dataset.from: give { inputs, labels? | targets? }, got ${typeName(arrays)}.`);
    const name = arrays.name ?? 'dataset';
    const x = rowsOrFlat(arrays.inputs, `${name}: inputs`);
    let inputs: InputArray;
    let inputShape: readonly number[];
    if (x.rows) {
      inputs = x.values instanceof Uint8Array ? x.values : Float32Array.from(x.values);
      inputShape = arrays.inputShape ?? [x.width];
    } else {
      inputs = x.values instanceof Uint8Array || x.values instanceof Float32Array ? x.values : Float32Array.from(x.values);
      if (!arrays.inputShape) {
        throw new TypeError(`${name}: inputs is one flat array of ${x.values.length} values: give inputShape (one example's shape, e.g. [2]), or give one row per example.`);
      }
      inputShape = arrays.inputShape;
    }
    const init: DatasetInit = { name, inputs, inputShape };
    if (arrays.labels !== undefined) {
      const l = arrays.labels;
      if (l === null || typeof l !== 'object' || typeof (l as ArrayLike<number>).length !== 'number') {
        throw new TypeError(`${name}: labels must be an array of class ids, got ${typeName(l)}.`);
      }
      const labels = new Int32Array(l.length);
      for (let i = 0; i < l.length; i++) {
        const v = l[i]!;
        if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) {
          throw new RangeError(`${name}: labels[${i}] = ${v} is not a class id (an integer >= 0); for float targets give \`targets\` instead.`);
        }
        labels[i] = v;
      }
      init.labels = labels;
      if (arrays.numClasses !== undefined) init.numClasses = arrays.numClasses;
    }
    if (arrays.targets !== undefined) {
      const t = rowsOrFlat(arrays.targets, `${name}: targets`);
      init.targets = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
      init.targetSize = arrays.targetSize ?? (t.rows ? t.width : 1);
    }
    return new Dataset(init);
  }

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
    if (labels !== undefined && targets !== undefined) {
      throw new TypeError(`${name}: give labels (class ids) or targets (float rows), not both.`);
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
    } else if (targets !== undefined) {
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

  /** Whether the examples carry labels or targets (what training and evaluation need); predict needs neither. */
  get labelled(): boolean {
    return this.labels !== undefined || this.targets !== undefined;
  }

  /** Example i: a view of its D input values and its label or target row (if any). */
  example(i: number): { input: InputArray; label?: number; target?: Float32Array } {
    if (!Number.isInteger(i) || i < 0 || i >= this.length) {
      throw new RangeError(`${this.name}: example index ${i} is outside [0, ${this.length}).`);
    }
    const input = this.inputs.subarray(i * this.exampleSize, (i + 1) * this.exampleSize);
    if (this.labels) return { input, label: this.labels[i]! };
    if (!this.targets) return { input };
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
    if (!this.targets) return new Dataset({ name, inputs, inputShape: this.inputShape }, indices.slice());
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

/** Rows (an array of equal-length arrays) or one flat array of finite-or-not numbers, checked for shape only. */
function rowsOrFlat(a: unknown, what: string): { rows: boolean; values: ArrayLike<number>; width: number } {
  if (a === null || typeof a !== 'object' || typeof (a as ArrayLike<unknown>).length !== 'number') {
    throw new TypeError(`${what} must be an array of rows (number[][]) or a flat array of numbers, got ${typeName(a)}.`);
  }
  const arr = a as ArrayLike<unknown>;
  if (arr.length === 0) throw new RangeError(`${what} is empty: a dataset needs at least one example.`);
  const first = arr[0];
  if (typeof first === 'number') {
    for (let i = 0; i < arr.length; i++) if (typeof arr[i] !== 'number') throw new TypeError(`${what}[${i}] is ${typeName(arr[i])}, not a number.`);
    return { rows: false, values: arr as ArrayLike<number>, width: 1 };
  }
  if (first === null || typeof first !== 'object' || typeof (first as ArrayLike<unknown>).length !== 'number') {
    throw new TypeError(`${what}[0] is ${typeName(first)}: give rows of numbers (number[][]) or one flat array of numbers.`);
  }
  const width = (first as ArrayLike<number>).length;
  if (width === 0) throw new RangeError(`${what}[0] is an empty row.`);
  const bytes = first instanceof Uint8Array;
  const values = bytes ? new Uint8Array(arr.length * width) : new Array<number>(arr.length * width);
  for (let r = 0; r < arr.length; r++) {
    const row = arr[r] as ArrayLike<unknown> | null;
    if (row === null || typeof row !== 'object' || row.length !== width) {
      throw new RangeError(`${what}[${r}] has ${row === null || typeof row !== 'object' ? typeName(row) : `${row.length} values`}; every row needs ${width} (as row 0).`);
    }
    for (let c = 0; c < width; c++) {
      const v = row[c];
      if (typeof v !== 'number') throw new TypeError(`${what}[${r}][${c}] is ${typeName(v)}, not a number.`);
      values[r * width + c] = v;
    }
  }
  return { rows: true, values, width };
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
