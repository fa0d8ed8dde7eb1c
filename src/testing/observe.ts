/**
 * How close each comparison came to its tolerance, for reports (the kernels demo shows every self-check's worst
 * error next to what it was allowed). `expectClose` (compare.ts) and `expectWithin` / `expectSumClose` (sums.ts) call
 * `reportComparison`;
 * `observeComparisons` collects the reports made while one async function runs. Observing never changes an outcome:
 * a comparison that fails still throws.
 *
 * One observer at a time (the self-test runs its checks one after another); a nested or concurrent
 * `observeComparisons` is an error rather than a silent mix of two checks' numbers.
 */

/** The element of one comparison that used the largest share of its tolerance. */
export interface ComparisonReport {
  /** What was compared (the comparison's `what`). */
  what: string;
  /** Elements compared. */
  count: number;
  /** |got − ref| at the worst element, and the tolerance there (e.g. atol + rtol·|ref|). */
  error: number;
  allowed: number;
  /** error / allowed at that element: ≤ 1 passes. NaN when a NaN was compared. */
  ratio: number;
}

let current: ((r: ComparisonReport) => void) | null = null;

export function reportComparison(r: ComparisonReport): void {
  current?.(r);
}

/** Runs `fn`, handing every comparison it reports to `onReport`. */
export async function observeComparisons<T>(fn: () => Promise<T>, onReport: (r: ComparisonReport) => void): Promise<T> {
  if (current) throw new Error('observeComparisons: already observing (run the observed functions one after another)');
  current = onReport;
  try {
    return await fn();
  } finally {
    current = null;
  }
}

/**
 * The element with the largest |got − ref| / allowed(i) (equal values, ±inf included, count as 0; a NaN difference
 * wins at once).
 */
export function worstRatio(got: ArrayLike<number>, ref: ArrayLike<number>, allowed: (i: number) => number): { error: number; allowed: number; ratio: number } {
  const n = Math.min(got.length, ref.length);
  let worst = { error: 0, allowed: n ? allowed(0) : 0, ratio: 0 };
  for (let i = 0; i < n; i++) {
    const g = got[i]!;
    const r = ref[i]!;
    const error = g === r ? 0 : Math.abs(g - r);
    const a = allowed(i);
    const ratio = error === 0 ? 0 : error / a;
    if (Number.isNaN(ratio)) return { error, allowed: a, ratio };
    if (ratio > worst.ratio) worst = { error, allowed: a, ratio };
  }
  return worst;
}

/** The report with the largest ratio (NaN counts as largest), or undefined for none. */
export function worstComparison(reports: readonly ComparisonReport[]): ComparisonReport | undefined {
  let worst: ComparisonReport | undefined;
  for (const r of reports) {
    if (!worst || Number.isNaN(r.ratio) || r.ratio > worst.ratio) worst = r;
    if (Number.isNaN(r.ratio)) break;
  }
  return worst;
}
