/**
 * When a run has diverged. Two uses of one criterion:
 *   - at the end of every fit, from its epoch records (`divergence`: FitResult.diverged; the CLI then exits 3);
 *   - while it runs, from its metrics reports (`DivergenceMonitor`, `fit({ stopOnDivergence })`), so it can stop
 *     instead of running on through NaN or overflow.
 * A run has diverged when any of:
 *   1. the loss is not finite (the last epoch's training or validation loss; a report's training loss);
 *   2. the non-finite guard skips steps (their gradients held NaN or Inf): more than half of the fit's steps; for the
 *      monitor, `maxSkipped` steps (default 5) in reports in a row (a report without skips starts the count again);
 *   3. the loss exploded and stayed finite: it is more than EXPLOSION_FACTOR times the run's reference loss,
 *        reference = max(start, zero-output loss)
 *      where start is the loss of the run's first step (the model before any update, on its first batch; a checkpoint
 *      keeps it, so a resumed run has the reference of the uninterrupted one) and the zero-output loss is that of a
 *      model whose outputs are all 0 on the training data: ln K for softmax cross-entropy over K classes (a uniform
 *      guess), ln 2 for binary cross-entropy, the mean of the squared targets for mse. That floor keeps a run that
 *      starts from trained weights (a low start) from being called diverged by an ordinary bump, and gives mse a scale
 *      that a lucky first batch cannot lower.
 * Why 1000: training lowers the loss from its start; noise, a warm restart or a learning-rate bump raise it by a small
 * factor, never back past its start by orders of magnitude. A softmax classifier 1000 times worse than guessing
 * (loss 2,300 for 10 classes) is putting logit gaps in the thousands on wrong classes; an mse model 1000 times worse
 * than predicting zeros has errors 30 times the targets' size. Runs that blow up get there within a few steps and go
 * on to 1e10 and beyond (SGD at lr 3000 on MNIST: 1e12 after 12 steps), where float32 sums of squares are close to
 * overflowing. The default MLP recipe starts at ln 10 ≈ 2.3 and only falls (to a test loss of 0.06 after 5 epochs,
 * BENCHMARKS.md), so its line is at 2,300; test/divergence.test.ts checks curves of that shape, a noisy classifier
 * (random labels, Adam at lr 0.05, batch 2) and an mse regression that starts at 1e4, none near the line.
 * A loss that grew by less (SGD at lr 100 on MNIST: 260 times its start, at chance accuracy) is a failed run but not
 * counted here: the line is drawn where no training run that still means anything can be.
 *
 *   const watch = new DivergenceMonitor();
 *   const stop = new AbortController();
 *   await trainer.fit(train, { …, signal: stop.signal, callbacks: { onMetrics(m) { if (watch.update(m)) stop.abort(); } } });
 *   if (watch.reason) console.log(`${watch.reason}. ${DIVERGENCE_HINT}`);
 * (fit({ stopOnDivergence: true }) does this, and gives the monitor the run's reference loss.)
 */
import type { Dataset } from '../data/dataset.js';
import { outputSize, type ModelSpec } from '../model/spec.js';
import type { MetricsReport } from './runner.js';
import type { EpochRecord } from './trainer.js';

/** What usually helps. */
export const DIVERGENCE_HINT = 'Lower the learning rate (try 10× smaller), or clip the gradient norm (e.g. clip by norm 1.0).';

/** How many times its reference a finite loss may reach before the run counts as exploded. */
export const EXPLOSION_FACTOR = 1e3;

/**
 * The loss of a model whose outputs are all 0, per example as the runners report it: ln K (softmax_ce, K classes),
 * ln 2 (bce), the mean over examples of the mean squared target (mse; 0 without targets).
 */
export function zeroOutputLoss(model: ModelSpec, train: Dataset | undefined): number {
  if (model.loss === 'softmax_ce') return Math.log(outputSize(model));
  if (model.loss === 'bce') return Math.LN2;
  const t = train?.targets;
  if (!t || t.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < t.length; i++) sum += t[i]! * t[i]!;
  return sum / t.length;
}

/** max(start, floor) (see the module comment), or undefined when neither gives a scale. */
export function referenceLoss(start: number | undefined, floor: number): number | undefined {
  const r = Math.max(start !== undefined && Number.isFinite(start) ? start : 0, Number.isFinite(floor) ? floor : 0);
  return r > 0 ? r : undefined;
}

/** Why a loss described by `what` counts as diverged (not finite, or exploded past `reference`), or undefined. */
export function lossDivergence(what: string, loss: number, reference: number | undefined): string | undefined {
  if (!Number.isFinite(loss)) return `${what} is ${loss}`;
  if (reference !== undefined && loss > EXPLOSION_FACTOR * reference) {
    return (
      `${what} is ${loss.toPrecision(3)}, more than ${EXPLOSION_FACTOR} times the run's reference loss ${reference.toPrecision(3)} ` +
      "(its first step's, or an all-zero output's when higher): it exploded while staying finite"
    );
  }
  return undefined;
}

/** Why a fit counts as diverged, from its records (the module comment), or undefined. */
export function divergence(
  r: { history: readonly EpochRecord[]; steps: number; skipped: number },
  reference: number | undefined,
): string | undefined {
  const last = r.history.at(-1);
  const train = last && last.steps > 0 ? lossDivergence(`the training loss of epoch ${last.epoch}`, last.trainLoss, reference) : undefined;
  if (train) return train;
  const val = last?.valLoss !== undefined ? lossDivergence(`the validation loss of epoch ${last.epoch}`, last.valLoss, reference) : undefined;
  if (val) return val;
  if (r.steps > 0 && 2 * r.skipped > r.steps) return `the non-finite guard skipped ${r.skipped} of ${r.steps} steps (their gradients held NaN or Inf)`;
  return undefined;
}

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
  /** The run's reference loss (referenceLoss), once known: a report's loss past EXPLOSION_FACTOR times it diverges. */
  reference: number | undefined;
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
    const exploded = m.rows > 0 ? lossDivergence(`the training loss by step ${step}`, m.loss, this.reference) : undefined;
    if (exploded) return this.diverge(exploded, step);
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
