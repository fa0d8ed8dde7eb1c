/**
 * When a run has diverged, from its metrics reports (Runner.onMetrics / fit's onMetrics callback), so it can stop
 * instead of running on through NaN:
 *   - the training loss of a report is not finite (NaN or ±inf): diverged at once;
 *   - the non-finite guard skipped steps (their gradients held NaN or Inf) in reports in a row, `maxSkipped` steps in
 *     all (default 5): diverged. A report without skips starts the count again.
 *
 *   const watch = new DivergenceMonitor();
 *   const stop = new AbortController();
 *   await trainer.fit(train, { …, signal: stop.signal, callbacks: { onMetrics(m) { if (watch.update(m)) stop.abort(); } } });
 *   if (watch.reason) console.log(`${watch.reason}. ${DIVERGENCE_HINT}`);
 */
import type { MetricsReport } from './runner.js';

/** What usually helps. */
export const DIVERGENCE_HINT = 'Lower the learning rate (try 10× smaller), or clip the gradient norm (e.g. clip by norm 1.0).';

export interface DivergenceOptions {
  /** Skipped steps in consecutive reports that count as divergence (default 5). */
  maxSkipped?: number;
}

export class DivergenceMonitor {
  readonly maxSkipped: number;
  /** Why the run counts as diverged, once it does (it stays so). */
  reason: string | null = null;
  /** Global step (1-based count) by which it was seen. */
  atStep: number | null = null;
  private skippedInARow = 0;

  constructor(options: DivergenceOptions = {}) {
    const m = options.maxSkipped ?? 5;
    if (!(Number.isInteger(m) && m >= 1)) throw new RangeError(`DivergenceMonitor: maxSkipped must be an integer >= 1, got ${m}`);
    this.maxSkipped = m;
  }

  /** Takes one report; returns the reason when the run has (now or before) diverged, else null. */
  update(m: MetricsReport): string | null {
    if (this.reason) return this.reason;
    const step = m.lastStep + 1;
    if (m.rows > 0 && !Number.isFinite(m.lossSum)) return this.diverge(`the training loss is ${m.lossSum > 0 ? 'infinite' : m.lossSum < 0 ? '−infinite' : 'NaN'} by step ${step}`, step);
    if (m.skipped > 0) {
      this.skippedInARow += m.skipped;
      if (this.skippedInARow >= this.maxSkipped) {
        return this.diverge(`the non-finite guard kept skipping steps: ${this.skippedInARow} by step ${step} (their gradients held NaN or Inf)`, step);
      }
    } else this.skippedInARow = 0;
    return null;
  }

  private diverge(reason: string, step: number): string {
    this.reason = reason;
    this.atStep = step;
    return reason;
  }
}
