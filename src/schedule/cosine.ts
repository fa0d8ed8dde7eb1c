/**
 * Cosine annealing, torch's CosineAnnealingLR and CosineAnnealingWarmRestarts (SGDR; Loshchilov & Hutter,
 * https://arxiv.org/abs/1608.03983).
 *
 *   CosineAnnealingLR:  α_t = η_min + (α₀ − η_min) · (1 + cos(π t / T_max)) / 2
 *
 * As in torch the curve is not clamped: past T_max the rate climbs back towards α₀ (period 2·T_max). Stop training
 * at T_max, or use warm restarts.
 *
 *   CosineAnnealingWarmRestarts:  α_t = η_min + (α₀ − η_min) · (1 + cos(π T_cur / T_i)) / 2
 *
 * where the first cycle has T_i = T_0 steps, each restart multiplies T_i by T_mult, and T_cur is t minus the steps
 * of the cycles already completed, so α jumps back to α₀ at t = T_0, T_0 + T_0·T_mult, ... Torch's integer
 * arguments are kept (T_0 > 0 and T_mult >= 1 integers); t may be fractional, as torch's `step(epoch + i/iters)`.
 */
import { nonNegative, positive, positiveInt } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface CosineAnnealingLROptions {
  /** α₀ (η_max). */
  lr: number;
  /** Steps from α₀ down to η_min. */
  T_max: number;
  /** η_min (default 0). */
  eta_min?: number;
  unit?: StepUnit;
}

export class CosineAnnealingLR extends ClosedFormSchedule {
  readonly name = 'cosine';
  readonly baseLr: number;
  readonly T_max: number;
  readonly eta_min: number;

  constructor(o: CosineAnnealingLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('CosineAnnealingLR', 'lr', o.lr);
    this.T_max = positive('CosineAnnealingLR', 'T_max', o.T_max, 'steps from lr down to eta_min');
    this.eta_min = nonNegative('CosineAnnealingLR', 'eta_min', o.eta_min ?? 0);
  }

  protected formula(t: number): number {
    return this.eta_min + ((this.baseLr - this.eta_min) * (1 + Math.cos((Math.PI * t) / this.T_max))) / 2;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, T_max: this.T_max, eta_min: this.eta_min };
  }
}

export interface CosineAnnealingWarmRestartsOptions {
  lr: number;
  /** Steps in the first cycle. */
  T_0: number;
  /** Growth of the cycle length at each restart (default 1). */
  T_mult?: number;
  /** η_min (default 0). */
  eta_min?: number;
  unit?: StepUnit;
}

export class CosineAnnealingWarmRestarts extends ClosedFormSchedule {
  readonly name = 'sgdr';
  readonly baseLr: number;
  readonly T_0: number;
  readonly T_mult: number;
  readonly eta_min: number;

  constructor(o: CosineAnnealingWarmRestartsOptions) {
    super(o.unit);
    this.baseLr = nonNegative('CosineAnnealingWarmRestarts', 'lr', o.lr);
    this.T_0 = positiveInt('CosineAnnealingWarmRestarts', 'T_0', o.T_0, 'steps in the first cycle');
    this.T_mult = positiveInt('CosineAnnealingWarmRestarts', 'T_mult', o.T_mult ?? 1, 'cycle growth, an integer >= 1');
    this.eta_min = nonNegative('CosineAnnealingWarmRestarts', 'eta_min', o.eta_min ?? 0);
  }

  /** Position in the current cycle: T_cur and T_i at time t. */
  cycleAt(t: number): { T_cur: number; T_i: number } {
    if (this.T_mult === 1) return { T_cur: t % this.T_0, T_i: this.T_0 };
    // Whole cycles are integers, so subtracting them is exact; torch's log-based jump can land one cycle off.
    let start = 0;
    let T_i = this.T_0;
    while (t >= start + T_i) {
      start += T_i;
      T_i *= this.T_mult;
    }
    return { T_cur: t - start, T_i };
  }

  protected formula(t: number): number {
    const { T_cur, T_i } = this.cycleAt(t);
    return this.eta_min + ((this.baseLr - this.eta_min) * (1 + Math.cos((Math.PI * T_cur) / T_i))) / 2;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, T_0: this.T_0, T_mult: this.T_mult, eta_min: this.eta_min };
  }
}
