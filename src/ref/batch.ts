/**
 * CPU reference of shaders/batch.wgsl: mini-batch gather through an epoch permutation. See the shader header for the
 * math; these loops are the specification the GPU is tested against.
 */
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

/** Rows of batch buffers that hold examples: min(batch, L − start), 0 when start ≥ L (L = permutation length). */
export function batchRowCount(start: number, batch: number, permLen: number): number {
  return start >= permLen ? 0 : Math.min(batch, permLen - start);
}

/** The dataset row behind batch row b, or -1 for a zero row (past the count, or a permutation entry ≥ N). */
function sourceRow(perm: ArrayLike<number>, start: number, b: number, rows: number, fill: number): number {
  if (b >= batchRowCount(start, fill, perm.length)) return -1;
  const r = perm[start + b]!;
  return r < rows ? r : -1;
}

export interface GatherU8RefInput {
  /** N·D bytes, row-major. */
  images: Uint8Array;
  /** N labels. */
  labels: ArrayLike<number>;
  dim: number;
  perm: ArrayLike<number>;
  start: number;
  batch: number;
  /** Rows filled at most (default: batch). */
  fill?: number;
  scale: number;
  shift: number;
}

/** x[b, d] = byte(r·D + d)·scale + shift, labels[b] = label[r], r = perm[start + b]; zero rows past the count. */
export function gatherU8Ref(o: GatherU8RefInput, dtype: Dtype): { x: FloatArray; labels: Uint32Array } {
  const r32 = rounder(dtype);
  const rows = o.labels.length;
  const x = allocate(dtype, o.batch * o.dim);
  const labels = new Uint32Array(o.batch);
  // The GPU receives scale and shift as f32 uniforms.
  const scale = r32(o.scale);
  const shift = r32(o.shift);
  for (let b = 0; b < o.batch; b++) {
    const r = sourceRow(o.perm, o.start, b, rows, o.fill ?? o.batch);
    if (r < 0) continue; // zeros
    labels[b] = o.labels[r]!;
    for (let d = 0; d < o.dim; d++) x[b * o.dim + d] = r32(r32(o.images[r * o.dim + d]! * scale) + shift);
  }
  return { x, labels };
}

export interface GatherF32RefInput {
  /** N·D values, row-major. */
  data: ArrayLike<number>;
  /** N·K values, row-major. */
  targets: ArrayLike<number>;
  dim: number;
  targetDim: number;
  perm: ArrayLike<number>;
  start: number;
  batch: number;
  /** Rows filled at most (default: batch). */
  fill?: number;
}

/** x[b, :] = data[r, :], targets[b, :] = target_data[r, :], r = perm[start + b]; zero rows past the count. */
export function gatherF32Ref(o: GatherF32RefInput): { x: Float32Array; targets: Float32Array } {
  const rows = o.data.length / o.dim;
  const x = new Float32Array(o.batch * o.dim);
  const targets = new Float32Array(o.batch * o.targetDim);
  for (let b = 0; b < o.batch; b++) {
    const r = sourceRow(o.perm, o.start, b, rows, o.fill ?? o.batch);
    if (r < 0) continue;
    for (let d = 0; d < o.dim; d++) x[b * o.dim + d] = o.data[r * o.dim + d]!;
    for (let k = 0; k < o.targetDim; k++) targets[b * o.targetDim + k] = o.targets[r * o.targetDim + k]!;
  }
  return { x, targets };
}
