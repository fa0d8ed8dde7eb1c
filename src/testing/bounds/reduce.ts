/**
 * Bounds for shaders/reduce.wgsl (column sums, range statistics) against the float64 reference, from the sums'
 * Σ|terms| (src/ref/reduce.ts) and src/testing/sums.ts. No compensated summation is assumed.
 */
import { columnSumRefWithAbs, type RangeStatsRef } from '../../ref/reduce.js';
import { gamma, sumBound, WGSL_REL, type Bounded } from '../sums.js';

/**
 * out_j = β·out0_j + Σ_i x_ij: n = rows (+1 for β·out0, a product added last) terms, any order (the loop over rows
 * runs in one invocation). `ex`: bounds on the inputs' own errors, carried through with weight 1 + γ_n.
 */
export function colsumBounded(
  x: ArrayLike<number>,
  rows: number,
  cols: number,
  beta = 0,
  out0?: ArrayLike<number>,
  ex?: ArrayLike<number>,
): Bounded {
  const ref = columnSumRefWithAbs(x, rows, cols, 'float64', beta, out0);
  const bound = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let e = 0;
    if (ex) for (let i = 0; i < rows; i++) e += ex[i * cols + j]!;
    bound[j] = sumBound(ref.n, ref.abs[j]! + e) + e;
  }
  return { value: ref.value, bound };
}

/**
 * Bounds of one statistics record: `chain` = the longest rounding chain into its sum (StatsOp.roundingChains).
 *   sum:   γ_chain·Σ|v|;   sumsq: γ_(chain+1)·sumsq (each v² is one more rounding; all terms ≥ 0);
 *   norm = √sumsq: |√(q + δ) − √q| ≤ δ/√q, plus sqrt's own 4.5 ulp (√δ when q = 0).
 */
export function statsBounds(ref: RangeStatsRef, chain: number): { sum: number; sumsq: number; norm: number } {
  const n = Math.max(1, ref.count - ref.nonfinite);
  const sum = sumBound(chain, ref.absSum) + n * 2 ** -126;
  const sumsq = gamma(chain + 1) * ref.sumsq + n * 2 ** -126;
  const norm = ref.norm > 0 ? sumsq / ref.norm + WGSL_REL.sqrt * ref.norm : Math.sqrt(sumsq);
  return { sum, sumsq, norm };
}
