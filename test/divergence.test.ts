/** DivergenceMonitor: a non-finite loss is divergence at once; guard skips only when they keep coming. */
import { describe, expect, it } from 'vitest';
import { DivergenceMonitor } from '../src/train/divergence.js';
import type { MetricsReport } from '../src/train/runner.js';

const report = (lastStep: number, lossSum: number, skipped = 0): MetricsReport =>
  ({ steps: 10, lastStep, lossSum, correct: 5, rows: 100, skipped, loss: lossSum / 100, accuracy: 0.05, invalid: 0 });

describe('DivergenceMonitor', () => {
  it('a finite run never diverges', () => {
    const m = new DivergenceMonitor();
    for (let s = 9; s < 500; s += 10) expect(m.update(report(s, 1e6 / s))).toBeNull();
    expect(m.reason).toBeNull();
  });

  it('a NaN or infinite loss is divergence at once, and it stays so', () => {
    const m = new DivergenceMonitor();
    expect(m.update(report(9, 230))).toBeNull();
    expect(m.update(report(19, NaN))).toBe('the training loss is NaN by step 20');
    expect(m.atStep).toBe(20);
    expect(m.update(report(29, 1))).toBe('the training loss is NaN by step 20');
    expect(new DivergenceMonitor().update(report(0, Infinity))).toBe('the training loss is infinite by step 1');
  });

  it('an empty report (no rows) is not a NaN loss', () => {
    expect(new DivergenceMonitor().update({ ...report(0, NaN), rows: 0 })).toBeNull();
  });

  it('guard skips count only while they keep coming', () => {
    const m = new DivergenceMonitor({ maxSkipped: 4 });
    expect(m.update(report(9, 10, 3))).toBeNull();
    expect(m.update(report(19, 10, 0))).toBeNull(); // a clean window starts over
    expect(m.update(report(29, 10, 2))).toBeNull();
    expect(m.update(report(39, 10, 2))).toMatch(/^the non-finite guard kept skipping steps: 4 by step 40/);
    expect(() => new DivergenceMonitor({ maxSkipped: 0 })).toThrow(/maxSkipped must be an integer >= 1/);
  });
});
