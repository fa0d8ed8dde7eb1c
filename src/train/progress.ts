/**
 * Terminal output of a training run. On a TTY: one progress line redrawn in place (at most ~10 times a second),
 *
 *   epoch 2/5 [##########··········] 215/430  loss 0.1234  acc 96.51%  812 steps/s  ETA 0:42
 *
 * with finished epochs printed above it; elsewhere (pipes, CI logs): plain lines, one per epoch. Formatting is
 * kept apart from the training loop so the trainer stays browser-safe and silent.
 *
 * A full-batch method's epoch is one step of up to max_iter iterations, which can run for minutes: once a step has
 * run ITERATION_EVERY_MS, a line after an iteration says where it is, at most every ITERATION_EVERY_MS,
 *
 *   epoch 2/5  iteration 7/20 (27)  evals 9  loss 0.3551  max|g| 1.20e-3  12.3 s
 *
 * (redrawn in place on a TTY, a plain line elsewhere; with --json on stderr, so stdout keeps only the JSON).
 */
import type { EpochRecord, IterationRecord, StepRecord } from './trainer.js';

export interface ProgressSink {
  write(text: string): void;
  /** Redraw in place (a TTY); otherwise only whole lines are written. */
  isTTY: boolean;
  columns?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : `${(100 * x).toFixed(2)}%`);
const num = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(4));

/**
 * One plain line per epoch, e.g. `epoch 3/5  loss 0.0712  acc 97.85%  val_loss 0.0801  val_acc 97.60%  lr 1e-3 ...`; for
 * a full-batch method (the record has `evals`) `epoch 2/5  iterations 20 (40)  evals 23  loss 0.4012 → 0.3551
 * max|g| 1.2e-3  val_loss ...  4.1 s  stop max_iter`.
 */
export function formatEpoch(r: EpochRecord, totalEpochs?: number): string {
  if (r.evals !== undefined) return formatFullBatchEpoch(r, totalEpochs);
  const parts = [
    `epoch ${r.epoch}${totalEpochs ? `/${totalEpochs}` : ''}${r.partial ? ' (partial)' : ''}`,
    `steps ${r.totalSteps}`,
    `loss ${num(r.trainLoss)}`,
    `acc ${pct(r.trainAccuracy)}`,
  ];
  if (r.valLoss !== undefined) parts.push(`val_loss ${num(r.valLoss)}`, `val_acc ${pct(r.valAccuracy)}`);
  parts.push(`lr ${r.lr.toPrecision(3)}`, `${r.stepsPerSecond.toFixed(1)} steps/s`, `${r.seconds.toFixed(1)} s`);
  if (r.skipped > 0) parts.push(`skipped ${r.skipped}`);
  if (r.improved) parts.push('*');
  return parts.join('  ');
}

function formatFullBatchEpoch(r: EpochRecord, totalEpochs?: number): string {
  const parts = [
    `epoch ${r.epoch}${totalEpochs ? `/${totalEpochs}` : ''}${r.partial ? ' (partial)' : ''}`,
    `iterations ${r.steps} (${r.totalSteps})`,
    `evals ${r.evals}`,
    `loss ${num(r.trainLoss)} → ${num(r.lossAfter)}`,
    `max|g| ${r.gradMax === undefined ? '-' : r.gradMax.toExponential(2)}`,
  ];
  if (r.valLoss !== undefined) parts.push(`val_loss ${num(r.valLoss)}`, `val_acc ${pct(r.valAccuracy)}`);
  parts.push(`${r.seconds.toFixed(1)} s`, `stop ${r.stop}`);
  if (r.improved) parts.push('*');
  return parts.join('  ');
}

/** e.g. `epoch 2/5  iteration 7/20 (27)  evals 9  loss 0.3551  max|g| 1.20e-3  12.3 s` (see the module comment). */
export function formatIteration(r: IterationRecord, totalEpochs?: number): string {
  return [
    `epoch ${r.epoch}${totalEpochs ? `/${totalEpochs}` : ''}`,
    `iteration ${r.iteration}/${r.maxIter} (${r.totalSteps})`,
    `evals ${r.evals}`,
    `loss ${num(r.loss)}`,
    `max|g| ${r.gradMax.toExponential(2)}`,
    `${r.seconds.toFixed(1)} s`,
  ].join('  ');
}

export class Progress {
  private readonly sink: ProgressSink;
  /** Steps the whole run will take (for the ETA), and epochs if known. */
  private readonly totalSteps: number;
  private readonly totalEpochs: number | undefined;
  private readonly firstStep: number;
  /** The clock (milliseconds; tests inject one). */
  private readonly now: () => number;
  private readonly t0: number;
  private lastDraw = 0;
  static PLAIN_EVERY_MS = 30_000;
  /** A full-batch step's progress line: not before the step has run this long, nor sooner after the last one. */
  static ITERATION_EVERY_MS = 5_000;
  private lastIteration = -Infinity;
  private drawn = false;
  private epochSteps = 0;
  private epochStart: number;

  constructor(sink: ProgressSink, opts: { totalSteps: number; totalEpochs?: number; firstStep?: number; now?: () => number }) {
    this.sink = sink;
    this.totalSteps = opts.totalSteps;
    this.totalEpochs = opts.totalEpochs;
    this.firstStep = opts.firstStep ?? 0;
    this.now = opts.now ?? (() => performance.now());
    this.t0 = this.epochStart = this.now();
  }

  /**
   * After every step: redraws the bar on a TTY (throttled); elsewhere a plain line every PLAIN_EVERY_MS, so a slow
   * run (a software adapter takes minutes per epoch) still shows it is alive in a log.
   */
  step(s: StepRecord): void {
    this.epochSteps++;
    const now = this.now();
    if (!this.sink.isTTY) {
      if (now - Math.max(this.lastDraw, this.t0) < Progress.PLAIN_EVERY_MS) return;
      this.lastDraw = now;
      const done = s.step + 1 - this.firstStep;
      const rate = done / Math.max((now - this.t0) / 1000, 1e-9);
      const m = s.metrics;
      this.sink.write(
        `  step ${s.step + 1}/${this.totalSteps} (epoch ${s.epoch}, batch ${s.batch + 1}/${s.batches})` +
          (m && m.rows > 0 ? `  loss ${(m.lossSum / m.rows).toFixed(4)}  acc ${pct(m.correct / m.rows)}` : '') +
          `  ${rate.toFixed(rate < 10 ? 2 : 0)} steps/s  ETA ${formatDuration((this.totalSteps - s.step - 1) / rate)}\n`,
      );
      return;
    }
    const last = s.batch + 1 === s.batches || s.step + 1 === this.totalSteps;
    if (now - this.lastDraw < 100 && !last) return;
    this.lastDraw = now;
    const done = s.step + 1 - this.firstStep;
    const rate = done / Math.max((now - this.t0) / 1000, 1e-9);
    const eta = (this.totalSteps - s.step - 1) / rate;
    const width = 20;
    const filled = Math.round((width * (s.batch + 1)) / s.batches);
    const m = s.metrics;
    const line = [
      `epoch ${s.epoch}${this.totalEpochs ? `/${this.totalEpochs}` : ''}`,
      `[${'#'.repeat(filled)}${'·'.repeat(width - filled)}] ${s.batch + 1}/${s.batches}`,
      m && m.rows > 0 ? ` loss ${(m.lossSum / m.rows).toFixed(4)}` : '',
      m && m.rows > 0 ? ` acc ${pct(m.correct / m.rows)}` : '',
      ` ${rate.toFixed(rate < 10 ? 1 : 0)} steps/s`,
      ` ETA ${formatDuration(eta)}`,
    ].join(' ');
    this.draw(line);
  }

  /** A line redrawn in place on a TTY, cut to its width. */
  private draw(line: string): void {
    const cols = this.sink.columns ?? 120;
    this.sink.write(`\r\x1b[2K${line.length > cols - 1 ? line.slice(0, cols - 1) : line}`);
    this.drawn = true;
  }

  /**
   * After each iteration of a full-batch step: its progress line (module comment) once the step has run
   * ITERATION_EVERY_MS (the record's `seconds`), and then at most every ITERATION_EVERY_MS by this Progress's clock.
   */
  iteration(r: IterationRecord): void {
    const now = this.now();
    const every = Progress.ITERATION_EVERY_MS;
    if (r.seconds * 1000 < every || now - this.lastIteration < every) return;
    this.lastIteration = now;
    const line = formatIteration(r, this.totalEpochs);
    if (this.sink.isTTY) this.draw(line);
    else this.sink.write(line + '\n');
  }

  /** A finished epoch: printed as a permanent line (above the bar on a TTY). */
  epoch(r: EpochRecord): void {
    this.log(formatEpoch(r, this.totalEpochs));
    this.epochSteps = 0;
    this.epochStart = this.now();
  }

  /** Any message line; on a TTY the bar is cleared first and redrawn by the next step. */
  log(line: string): void {
    this.clear();
    this.sink.write(line + '\n');
  }

  /** Removes the bar (before the final summary). */
  clear(): void {
    if (this.drawn) this.sink.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** Seconds since the current epoch started and the steps it has taken (for callers that report themselves). */
  epochProgress(): { steps: number; seconds: number } {
    return { steps: this.epochSteps, seconds: (this.now() - this.epochStart) / 1000 };
  }
}
