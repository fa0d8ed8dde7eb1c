/**
 * CPU reference of shaders/reduce.wgsl: column sums and range statistics as plain loops (float64 sums; float32
 * rounds each addition, i.e. naive sequential f32 summation). Each sum comes with Σ|terms|, the scale of its
 * rounding error on any implementation (src/testing/sums.ts).
 */
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

/** out_j = β·out0_j + Σ_i x_ij  (β = 0: out0 is ignored, even NaN) */
export function columnSumRef(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  dtype: Dtype,
  beta = 0,
  out0?: ArrayLike<number>,
): FloatArray {
  return columnSumRefWithAbs(x, rows, cols, dtype, beta, out0).value;
}

/**
 * columnSumRef with abs_j = Σ_i |x_ij| + |β·out0_j| beside each value, and n = the number of terms per column
 * (rows, plus one for β·out0 when β ≠ 0).
 */
export function columnSumRefWithAbs(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  dtype: Dtype,
  beta = 0,
  out0?: ArrayLike<number>,
): { value: FloatArray; abs: Float64Array; n: number } {
  const r = rounder(dtype);
  const value = allocate(dtype, cols);
  const abs = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = 0;
    let a = 0;
    for (let i = 0; i < rows; i++) {
      s = r(s + x[i * cols + j]!);
      a += Math.abs(x[i * cols + j]!);
    }
    value[j] = beta === 0 ? s : r(r(beta * out0![j]!) + s);
    abs[j] = beta === 0 ? a : a + Math.abs(beta * out0![j]!);
  }
  return { value, abs, n: rows + (beta === 0 ? 0 : 1) };
}

export interface RangeStats {
  sum: number;
  sumsq: number;
  /** √sumsq */
  norm: number;
  /** max |v| over finite v */
  maxabs: number;
  count: number;
  /** number of NaN / ±inf elements (excluded from sum, sumsq, maxabs) */
  nonfinite: number;
  /** smallest index of a non-finite element (relative to the range; in the concatenation for the global), or -1 */
  firstNonfinite: number;
}

/** The reference's record: the statistics and Σ|v| over the finite elements (Σ|terms| of `sum`; sumsq is its own). */
export interface RangeStatsRef extends RangeStats {
  absSum: number;
}

/** [global, range 0, range 1, ...] over ranges [start, end) of `buffers[r]` (one buffer per range, or one for all). */
export function rangeStatsRef(parts: { data: ArrayLike<number>; ranges: ReadonlyArray<readonly [number, number]> }[]): RangeStatsRef[] {
  const per: RangeStatsRef[] = [];
  const g: RangeStatsRef = { sum: 0, sumsq: 0, norm: 0, maxabs: 0, count: 0, nonfinite: 0, firstNonfinite: -1, absSum: 0 };
  for (const { data, ranges } of parts) {
    for (const [start, end] of ranges) {
      const s: RangeStatsRef = { sum: 0, sumsq: 0, norm: 0, maxabs: 0, count: end - start, nonfinite: 0, firstNonfinite: -1, absSum: 0 };
      for (let i = start; i < end; i++) {
        const v = data[i]!;
        if (!Number.isFinite(v)) {
          if (s.nonfinite++ === 0) s.firstNonfinite = i - start;
          continue;
        }
        s.sum += v;
        s.absSum += Math.abs(v);
        s.sumsq += v * v;
        s.maxabs = Math.max(s.maxabs, Math.abs(v));
      }
      s.norm = Math.sqrt(s.sumsq);
      if (g.firstNonfinite < 0 && s.firstNonfinite >= 0) g.firstNonfinite = g.count + s.firstNonfinite;
      g.sum += s.sum;
      g.absSum += s.absSum;
      g.sumsq += s.sumsq;
      g.maxabs = Math.max(g.maxabs, s.maxabs);
      g.count += s.count;
      g.nonfinite += s.nonfinite;
      per.push(s);
    }
  }
  g.norm = Math.sqrt(g.sumsq);
  return [g, ...per];
}
