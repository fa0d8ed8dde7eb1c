/**
 * Exponential decay, torch's ExponentialLR: the rate is multiplied by γ after every step, α_{t+1} = γ·α_t, so
 *
 *   α_t = α₀ · γ^t.
 *
 * γ has no default (as in torch). γ > 1 is allowed: a growing rate is what a learning-rate range test uses.
 */
import { nonNegative, positive } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface ExponentialLROptions {
  lr: number;
  /** Factor γ per step. */
  gamma: number;
  unit?: StepUnit;
}

export class ExponentialLR extends ClosedFormSchedule {
  readonly name = 'exp';
  readonly baseLr: number;
  readonly gamma: number;

  constructor(o: ExponentialLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('ExponentialLR', 'lr', o.lr);
    this.gamma = positive('ExponentialLR', 'gamma', o.gamma, 'the factor applied after every step, e.g. 0.999');
  }

  protected formula(t: number): number {
    return this.baseLr * this.gamma ** t;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, gamma: this.gamma };
  }
}
