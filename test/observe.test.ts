/**
 * Observing comparisons (src/testing/observe.ts): every expectClose reports its worst element — the one that used
 * the largest share of its tolerance — whether it passes or throws; observers do not nest.
 */
import { describe, expect, it } from 'vitest';
import { expectClose, worstElement } from '../src/testing/compare.js';
import { expectWithin } from '../src/testing/sums.js';
import { observeComparisons, worstComparison, type ComparisonReport } from '../src/testing/observe.js';

describe('comparison reports', () => {
  it('worstElement picks the largest error / (atol + rtol·|ref|), not the largest error', () => {
    // Element 1 has the larger error, element 2 the larger share of its (smaller) tolerance.
    const w = worstElement([1, 10.5, 0.01], [1, 10, 0.0], { atol: 0.02, rtol: 0.1 });
    expect(w.error).toBeCloseTo(0.01, 12);
    expect(w.allowed).toBeCloseTo(0.02, 12);
    expect(w.ratio).toBeCloseTo(0.5, 12);
    expect(worstElement([NaN], [1], { atol: 1, rtol: 0 }).ratio).toBeNaN();
    expect(worstElement([Infinity], [Infinity], { atol: 0, rtol: 0 }).ratio).toBe(0);
  });

  it('collects the reports of passing and failing comparisons while a function runs, and none outside it', async () => {
    const seen: ComparisonReport[] = [];
    expectClose([1], [1], { atol: 0, rtol: 0 }, 'outside');
    await expect(
      observeComparisons(async () => {
        expectClose([1, 2.001], [1, 2], { atol: 0, rtol: 1e-3 }, 'passes');
        await Promise.resolve();
        expectClose([3], [2], { atol: 0.5, rtol: 0 }, 'fails');
      }, (r) => seen.push(r)),
    ).rejects.toThrow(/fails: 1 of 1 elements outside/);
    expect(seen.map((r) => r.what)).toEqual(['passes', 'fails']);
    expect(seen[0]!.count).toBe(2);
    expect(seen[0]!.ratio).toBeCloseTo(0.5, 6);
    expect(seen[1]!.ratio).toBeCloseTo(2, 12);
    expect(worstComparison(seen)!.what).toBe('fails');
    expectClose([1], [1], { atol: 0, rtol: 0 }, 'after');
    expect(seen.length).toBe(2);
  });

  it('expectWithin (per-element bounds) reports its worst element too', async () => {
    const seen: ComparisonReport[] = [];
    await observeComparisons(async () => expectWithin([1, 2.5], { value: [1, 2], bound: [0.1, 1] }, 'bounded'), (r) => seen.push(r));
    expect(seen).toEqual([{ what: 'bounded', count: 2, error: 0.5, allowed: 1, ratio: 0.5 }]);
  });

  it('refuses to nest observers', async () => {
    await expect(observeComparisons(() => observeComparisons(async () => 1, () => {}), () => {})).rejects.toThrow(/already observing/);
    // …and the outer one is released afterwards.
    await expect(observeComparisons(async () => 2, () => {})).resolves.toBe(2);
  });
});
