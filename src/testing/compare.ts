// Shared by the vitest suites and the in-browser self-test (src/selftest), so both judge results the same way.
/**
 * `expectClose`: |got − ref| ≤ atol + rtol·|ref| element-wise, NaN never passes, and the first mismatches are
 * printed on failure.
 */
import { reportComparison, worstRatio } from './observe.js';
import { mismatchesWithin } from './sums.js';

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** The elements outside |got − ref| ≤ atol + rtol·|ref| (sums.ts's mismatchesWithin with that bound per element). */
export function mismatches(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): string[] {
  return mismatchesWithin(got, { value: ref, bound: Array.from(ref, (r) => tol.atol + tol.rtol * Math.abs(r)) });
}

/** The element with the largest |got − ref| / (atol + rtol·|ref|): what `observeComparisons` reports. */
export function worstElement(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance): { error: number; allowed: number; ratio: number } {
  return worstRatio(got, ref, (i) => tol.atol + tol.rtol * Math.abs(ref[i]!));
}

export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, what = 'values'): void {
  reportComparison({ what, count: ref.length, ...worstElement(got, ref, tol) });
  const bad = mismatches(got, ref, tol);
  if (bad.length) {
    throw new Error(
      `${what}: ${bad.length} of ${ref.length} elements outside |got−ref| ≤ ${tol.atol} + ${tol.rtol}·|ref|; first mismatches:\n  ${bad.slice(0, 8).join('\n  ')}`,
    );
  }
}

/** Sizes that are not multiples of tiles or workgroup sizes. */
export const AWKWARD = [1, 7, 33, 127, 130];
