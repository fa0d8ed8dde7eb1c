/**
 * Linear interpolation of the rate, torch's LinearLR (closed form):
 *
 *   α_t = α₀ · (s + (e − s) · min(t, τ) / τ)        s = start_factor, e = end_factor, τ = total_iters
 *
 * which is the textbook linear decay α_t = (1 − t/τ)·α₀' + (t/τ)·α_τ with α₀' = s·α₀ and α_τ = e·α₀, held at α_τ
 * after τ (Goodfellow et al., Deep Learning, §8.3.1). Defaults as torch: s = 1/3, e = 1, τ = 5; like torch, both
 * factors must lie in [0, 1]. For a warm-up in front of another schedule use `warmup` (warmup.ts).
 */
import { inRange, nonNegative, positiveInt } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface LinearLROptions {
  lr: number;
  /** s: factor on lr at t = 0 (default 1/3). */
  start_factor?: number;
  /** e: factor on lr from t = τ on (default 1). */
  end_factor?: number;
  /** τ: steps of the interpolation (default 5). */
  total_iters?: number;
  unit?: StepUnit;
}

export class LinearLR extends ClosedFormSchedule {
  readonly name = 'linear';
  readonly baseLr: number;
  readonly start_factor: number;
  readonly end_factor: number;
  readonly total_iters: number;

  constructor(o: LinearLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('LinearLR', 'lr', o.lr);
    this.start_factor = inRange('LinearLR', 'start_factor', o.start_factor ?? 1 / 3, 0, 1);
    this.end_factor = inRange('LinearLR', 'end_factor', o.end_factor ?? 1, 0, 1);
    this.total_iters = positiveInt('LinearLR', 'total_iters', o.total_iters ?? 5, 'steps from start to end factor');
  }

  protected formula(t: number): number {
    const s = this.start_factor;
    const e = this.end_factor;
    return this.baseLr * (s + ((e - s) * Math.min(t, this.total_iters)) / this.total_iters);
  }

  protected args(): { [field: string]: Json } {
    return {
      lr: this.baseLr,
      start_factor: this.start_factor,
      end_factor: this.end_factor,
      total_iters: this.total_iters,
    };
  }
}
