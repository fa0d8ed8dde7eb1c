/**
 * Bounds for shaders/reduce.wgsl's range statistics against the float64 reference, from the sums' Σ|terms|
 * (src/ref/reduce.ts) and src/testing/sums.ts. No compensated summation is assumed. (Column sums need nothing beyond
 * the plain sum bound: expectSumClose(got, columnSumRefWithAbs(...)).)
 */
import type { RangeStatsRef } from '../../ref/reduce.js';
import { gamma, sumBound, WGSL_REL } from '../sums.js';

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
