// Shared by the vitest suites and the in-browser self-test (src/selftest), so both judge results the same way.
/**
 * `expectClose`: |got − ref| ≤ atol + rtol·|ref| element-wise, NaN never passes (a NaN in either side is a
 * mismatch unless both are NaN and `nanOk` is set), and the first mismatches are printed on failure.
 */
import { reportComparison, worstRatio } from './observe.js';

export interface Tolerance {
  atol: number;
  rtol: number;
}

export function mismatches(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, nanOk = false): string[] {
  const out: string[] = [];
  if (got.length !== ref.length) return [`length ${got.length} ≠ reference length ${ref.length}`];
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!;
    const r = ref[i]!;
    const bothNaN = Number.isNaN(g) && Number.isNaN(r);
    const ok = bothNaN ? nanOk : Math.abs(g - r) <= tol.atol + tol.rtol * Math.abs(r) || (g === r); // g === r covers ±inf
    if (!ok) out.push(`[${i}] got ${g} ref ${r} |diff| ${Math.abs(g - r).toExponential(3)} > ${(tol.atol + tol.rtol * Math.abs(r)).toExponential(3)}`);
  }
  return out;
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
