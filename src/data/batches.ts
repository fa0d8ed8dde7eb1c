/**
 * Epoch order and mini-batch boundaries. Browser-safe.
 *
 * Each epoch visits the N examples in a seeded permutation: `permutation(epoch)` is word-for-word
 * `new Random(seed, { stream: Streams.shuffle, step: epoch }).permutation(N)`, so epoch e's order depends only on
 * (seed, e, N), never on how many epochs ran before; a run resumed from a checkpoint at epoch e sees the same order.
 * The permutation is a Uint32Array meant to be uploaded and used by a GPU gather kernel.
 *
 * Last partial batch policy: when N is not a multiple of the batch size, the final batch of an epoch holds the
 * N mod B leftover examples (dropLast: false, the default, as PyTorch's DataLoader), or is skipped (dropLast: true,
 * so every step sees exactly B examples; the skipped examples differ from epoch to epoch).
 */
import { Random, Streams } from '../random.js';

/** Batches per epoch: ceil(N / B), or floor(N / B) with dropLast. */
export function batchCount(n: number, batchSize: number, dropLast = false): number {
  checkCount(n, 'example count');
  checkBatchSize(batchSize);
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

export interface BatchScheduleOptions {
  batchSize: number;
  /** Seed of the per-epoch shuffle. */
  seed: number;
  /** Skip the last partial batch (see module comment). Default false. */
  dropLast?: boolean;
  /** false: every epoch visits examples in order 0..N-1. Default true. */
  shuffle?: boolean;
}

export class BatchSchedule {
  readonly length: number;
  readonly batchSize: number;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly shuffle: boolean;
  /** Batches per epoch. */
  readonly batchCount: number;
  private cachedEpoch = -1;
  private cached: Uint32Array | undefined;

  constructor(length: number, options: BatchScheduleOptions) {
    checkCount(length, 'example count');
    checkBatchSize(options.batchSize);
    this.length = length;
    this.batchSize = options.batchSize;
    this.seed = options.seed;
    this.dropLast = options.dropLast ?? false;
    this.shuffle = options.shuffle ?? true;
    // Validates the seed now rather than at the first epoch.
    new Random(this.seed, { stream: Streams.shuffle });
    this.batchCount = batchCount(length, this.batchSize, this.dropLast);
    if (this.batchCount === 0) {
      throw new RangeError(
        `BatchSchedule: ${length} examples with batchSize ${this.batchSize} and dropLast give no batch at all; lower batchSize or set dropLast: false.`,
      );
    }
  }

  /** The order of examples in `epoch` (0-based). The returned array is shared: copy it before modifying it. */
  permutation(epoch: number): Uint32Array {
    if (!Number.isInteger(epoch) || epoch < 0 || epoch >= 0x1_0000_0000) {
      throw new RangeError(`BatchSchedule: epoch ${epoch} must be an integer in [0, 2^32).`);
    }
    if (epoch !== this.cachedEpoch || this.cached === undefined) {
      this.cached = this.shuffle
        ? new Random(this.seed, { stream: Streams.shuffle, step: epoch }).permutation(this.length)
        : Uint32Array.from({ length: this.length }, (_, i) => i);
      this.cachedEpoch = epoch;
    }
    return this.cached;
  }

  /** Start (inclusive) and end (exclusive) positions of batch b within the epoch's permutation. */
  batchRange(b: number): [number, number] {
    const start = this.batchStart(b);
    return [start, start + this.batchRows(b)];
  }

  /** Start position of batch b within the epoch's permutation (the training loop's form: no array per step). */
  batchStart(b: number): number {
    this.checkBatch(b);
    return b * this.batchSize;
  }

  /** Examples in batch b: batchSize, fewer in an epoch's partial last batch. */
  batchRows(b: number): number {
    this.checkBatch(b);
    return Math.min(this.batchSize, this.length - b * this.batchSize);
  }

  private checkBatch(b: number): void {
    if (!Number.isInteger(b) || b < 0 || b >= this.batchCount) {
      throw new RangeError(`BatchSchedule: batch ${b} is outside [0, ${this.batchCount}).`);
    }
  }

  /** Example indices of batch b in `epoch` (a view of the permutation). */
  batch(epoch: number, b: number): Uint32Array {
    const [start, end] = this.batchRange(b);
    return this.permutation(epoch).subarray(start, end);
  }
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${what} ${n} must be a non-negative integer.`);
}

function checkBatchSize(b: number): void {
  if (!Number.isInteger(b) || b < 1) throw new RangeError(`batchSize ${b} must be a positive integer.`);
}
