/**
 * CPU reference of shaders/batchnorm2d.wgsl (BatchNorm2d, torch semantics). BatchNorm2d over x [N, C, P] is
 * BatchNorm1d over the N·P rows of x seen as [N·P, C] (each channel a feature), so the reference is BatchNorm1d's
 * (src/ref/batchnorm.ts) on the transposed tensor: the same loops, sums over the rows (n, q) in order.
 */
import { batchnormBackwardRef, batchnormEvalRef, batchnormTrainRef, type BatchNormOptions, type BatchNormTrainRef } from './batchnorm.js';
import { allocate, type Dtype, type FloatArray } from './dtype.js';

export interface Nchw {
  /** N */
  batch: number;
  /** C */
  channels: number;
  /** H·W */
  plane: number;
}

/** [N, C, P] → [N·P, C]. */
export function nchwToRowsRef(x: ArrayLike<number>, s: Nchw, dtype: Dtype): FloatArray {
  const out = allocate(dtype, s.batch * s.channels * s.plane);
  for (let n = 0; n < s.batch; n++) {
    for (let c = 0; c < s.channels; c++) {
      for (let q = 0; q < s.plane; q++) out[(n * s.plane + q) * s.channels + c] = x[(n * s.channels + c) * s.plane + q]!;
    }
  }
  return out;
}

/** [N·P, C] → [N, C, P]: the transpose back, i.e. nchwToRowsRef of [N, P, C]. */
export function rowsToNchwRef(t: ArrayLike<number>, s: Nchw, dtype: Dtype): FloatArray {
  return nchwToRowsRef(t, { batch: s.batch, channels: s.plane, plane: s.channels }, dtype);
}

/** Training forward; the running statistics passed in are not modified (updated ones are returned). */
export function batchnorm2dTrainRef(
  x: ArrayLike<number>, s: Nchw, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, dtype: Dtype, opts: BatchNormOptions = {},
): BatchNormTrainRef {
  const t = batchnormTrainRef(nchwToRowsRef(x, s, dtype), s.batch * s.plane, s.channels, gamma, beta, runningMean, runningVar, dtype, opts);
  return { ...t, y: rowsToNchwRef(t.y, s, dtype) };
}

export function batchnorm2dEvalRef(
  x: ArrayLike<number>, s: Nchw, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  runningMean: ArrayLike<number>, runningVar: ArrayLike<number>, dtype: Dtype, opts: Pick<BatchNormOptions, 'eps'> = {},
): FloatArray {
  return rowsToNchwRef(batchnormEvalRef(nchwToRowsRef(x, s, dtype), s.batch * s.plane, s.channels, gamma, beta, runningMean, runningVar, dtype, opts), s, dtype);
}

/** Training backward from the saved (mean, invstd): dx [N, C, P], dγ, dβ [C]. */
export function batchnorm2dBackwardRef(
  x: ArrayLike<number>, dy: ArrayLike<number>, s: Nchw, gamma: ArrayLike<number>, mean: ArrayLike<number>, invstd: ArrayLike<number>, dtype: Dtype,
): { dx: FloatArray; dgamma: FloatArray; dbeta: FloatArray } {
  const r = batchnormBackwardRef(nchwToRowsRef(x, s, dtype), nchwToRowsRef(dy, s, dtype), s.batch * s.plane, s.channels, gamma, mean, invstd, dtype);
  return { ...r, dx: rowsToNchwRef(r.dx, s, dtype) };
}
