/**
 * Polynomial decay to zero, torch's PolynomialLR (closed form):
 *
 *   α_t = α₀ · (1 − min(t, τ) / τ)^p        τ = total_iters, p = power
 *
 * so α reaches 0 at t = τ and stays there. Defaults as torch: τ = 5, p = 1 (linear decay to zero). Stricter than
 * torch: p must be > 0 (p <= 0 gives 0^p = ∞ or a constant).
 */
import { nonNegative, positive, positiveInt } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface PolynomialLROptions {
  lr: number;
  /** τ: steps to reach zero (default 5). */
  total_iters?: number;
  /** p (default 1). */
  power?: number;
  unit?: StepUnit;
}

export class PolynomialLR extends ClosedFormSchedule {
  readonly name = 'poly';
  readonly baseLr: number;
  readonly total_iters: number;
  readonly power: number;

  constructor(o: PolynomialLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('PolynomialLR', 'lr', o.lr);
    this.total_iters = positiveInt('PolynomialLR', 'total_iters', o.total_iters ?? 5, 'steps until the rate is 0');
    this.power = positive('PolynomialLR', 'power', o.power ?? 1);
  }

  protected formula(t: number): number {
    return this.baseLr * (1 - Math.min(t, this.total_iters) / this.total_iters) ** this.power;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, total_iters: this.total_iters, power: this.power };
  }
}
