/**
 * Reduce the rate when a metric stops improving: torch's ReduceLROnPlateau, same state machine and defaults.
 * `step({ metric })` is called once per epoch (unit 'epoch' by default) with the validation metric just measured:
 *
 *   better(a) = a < best·(1 − threshold)   mode 'min', threshold_mode 'rel'
 *             = a < best − threshold       mode 'min', threshold_mode 'abs'
 *             = a > best·(1 + threshold)   mode 'max', threshold_mode 'rel'
 *             = a > best + threshold       mode 'max', threshold_mode 'abs'
 *
 *   t += 1
 *   if better(metric): best = metric, bad = 0    else bad += 1
 *   if cooldown_counter > 0: cooldown_counter −= 1, bad = 0        (bad epochs in cooldown do not count)
 *   if bad > patience:
 *       new = max(α·factor, min_lr);  if α − new > eps: α = new   (changes smaller than eps are ignored)
 *       cooldown_counter = cooldown, bad = 0
 *
 * best starts at +∞ ('min') or −∞ ('max'), so the first metric is always an improvement. As in torch a NaN metric
 * is never better, so it counts as a bad epoch. Defaults as torch: mode 'min', factor 0.1, patience 10,
 * threshold 1e-4, threshold_mode 'rel', cooldown 0, min_lr 0, eps 1e-8. Stricter than torch: factor in (0, 1),
 * integer patience and cooldown >= 0, and threshold < 1 in 'rel' mode (at 1 nothing could ever be better).
 * One rate, so min_lr is one number (torch's per-group list has no counterpart).
 */
import { decodeNumber, encodeNumber } from '../json-numbers.js';
import { inRange, nonNegative, nonNegativeInt, oneOf, ScheduleError } from './check.js';
import { BaseSchedule, type Json, type ScheduleState, type StepFeed, type StepUnit } from './schedule.js';

export interface ReduceLROnPlateauOptions {
  lr: number;
  mode?: 'min' | 'max';
  factor?: number;
  patience?: number;
  threshold?: number;
  threshold_mode?: 'rel' | 'abs';
  cooldown?: number;
  min_lr?: number;
  eps?: number;
  /** Default 'epoch'. */
  unit?: StepUnit;
}

const OWNER = 'ReduceLROnPlateau';

/** ±∞ and NaN are not JSON; a checkpoint stores them as the strings 'Infinity', '-Infinity', 'NaN' (json-numbers.ts). */
const encode = (x: number): Json => encodeNumber(x);

function decode(field: string, v: Json | undefined): number {
  const x = decodeNumber(v);
  if (typeof x !== 'number') throw new ScheduleError(`${OWNER}: state.${field} must be a number, got ${JSON.stringify(v)}`);
  return x;
}

export class ReduceLROnPlateau extends BaseSchedule {
  readonly name = 'plateau';
  readonly needs = 'metric' as const;
  readonly closedForm = false;
  readonly baseLr: number;
  readonly mode: 'min' | 'max';
  readonly factor: number;
  readonly patience: number;
  readonly threshold: number;
  readonly threshold_mode: 'rel' | 'abs';
  readonly cooldown: number;
  readonly min_lr: number;
  readonly eps: number;

  private _lr: number;
  private _best: number;
  private _bad = 0;
  private _cooldownCounter = 0;

  constructor(o: ReduceLROnPlateauOptions) {
    super(o.unit, 'epoch');
    this.baseLr = nonNegative(OWNER, 'lr', o.lr);
    this.mode = oneOf(OWNER, 'mode', o.mode ?? 'min', ['min', 'max'] as const);
    this.factor = inRange(OWNER, 'factor', o.factor ?? 0.1, 0, 1, { lo: true, hi: true }, 'new lr = lr * factor');
    this.patience = nonNegativeInt(OWNER, 'patience', o.patience ?? 10, 'bad epochs tolerated before a reduction');
    this.threshold_mode = oneOf(OWNER, 'threshold_mode', o.threshold_mode ?? 'rel', ['rel', 'abs'] as const);
    this.threshold =
      this.threshold_mode === 'rel'
        ? inRange(OWNER, 'threshold', o.threshold ?? 1e-4, 0, 1, { hi: true }, "relative improvement in 'rel' mode")
        : nonNegative(OWNER, 'threshold', o.threshold ?? 1e-4, "absolute improvement in 'abs' mode");
    this.cooldown = nonNegativeInt(OWNER, 'cooldown', o.cooldown ?? 0, 'epochs to wait after a reduction');
    this.min_lr = nonNegative(OWNER, 'min_lr', o.min_lr ?? 0);
    this.eps = nonNegative(OWNER, 'eps', o.eps ?? 1e-8);
    this._lr = this.baseLr;
    this._best = this.worst;
  }

  private get worst(): number {
    return this.mode === 'min' ? Infinity : -Infinity;
  }

  get lr(): number {
    return this._lr;
  }

  /** Best metric so far (±∞ before the first). */
  get best(): number {
    return this._best;
  }

  /** Bad epochs counted since the last improvement, reduction or cooldown. */
  get numBadEpochs(): number {
    return this._bad;
  }

  get cooldownCounter(): number {
    return this._cooldownCounter;
  }

  isBetter(a: number, best: number): boolean {
    if (this.mode === 'min') {
      return this.threshold_mode === 'rel' ? a < best * (1 - this.threshold) : a < best - this.threshold;
    }
    return this.threshold_mode === 'rel' ? a > best * (this.threshold + 1) : a > best + this.threshold;
  }

  lrAt(_t: number): number {
    throw new ScheduleError(
      `${OWNER} has no closed form: its rate depends on the metrics fed to step(); read .lr after each step instead`,
    );
  }

  step(feed?: StepFeed): number {
    const metric = feed?.metric;
    if (typeof metric !== 'number') {
      throw new ScheduleError(
        `${OWNER}: step() needs { metric }, the validation ${this.mode === 'min' ? 'loss' : 'score'} of the epoch ` +
          `just finished, got ${JSON.stringify(feed)}`,
      );
    }
    this._t += 1;
    if (this.isBetter(metric, this._best)) {
      this._best = metric;
      this._bad = 0;
    } else {
      this._bad += 1;
    }
    if (this._cooldownCounter > 0) {
      this._cooldownCounter -= 1;
      this._bad = 0;
    }
    if (this._bad > this.patience) {
      const next = Math.max(this._lr * this.factor, this.min_lr);
      if (this._lr - next > this.eps) this._lr = next;
      this._cooldownCounter = this.cooldown;
      this._bad = 0;
    }
    return this._lr;
  }

  protected args(): { [field: string]: Json } {
    return {
      lr: this.baseLr,
      mode: this.mode,
      factor: this.factor,
      patience: this.patience,
      threshold: this.threshold,
      threshold_mode: this.threshold_mode,
      cooldown: this.cooldown,
      min_lr: this.min_lr,
      eps: this.eps,
    };
  }

  protected override extraState(): { [field: string]: Json } {
    return {
      lr: this._lr,
      best: encode(this._best),
      num_bad_epochs: this._bad,
      cooldown_counter: this._cooldownCounter,
    };
  }

  protected override loadExtra(state: ScheduleState): void {
    const lr = nonNegative(OWNER, 'state.lr', state.lr);
    const best = decode('best', state.best);
    const bad = nonNegativeInt(OWNER, 'state.num_bad_epochs', state.num_bad_epochs);
    const cooldown = nonNegativeInt(OWNER, 'state.cooldown_counter', state.cooldown_counter);
    this._lr = lr;
    this._best = best;
    this._bad = bad;
    this._cooldownCounter = cooldown;
  }
}
