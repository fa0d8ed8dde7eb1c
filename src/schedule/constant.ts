/**
 * Constant learning rate: α_t = α₀ for every t.
 *
 * Spec: `constant` (or `constant:lr=0.01`). Not torch's ConstantLR, which scales the rate by a factor for the first
 * `total_iters` steps; that shape is a LinearLR with start_factor = end_factor, or a warm-up.
 */
import { nonNegative } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface FixedLROptions {
  /** α₀. */
  lr: number;
  unit?: StepUnit;
}

export class FixedLR extends ClosedFormSchedule {
  readonly name = 'constant';
  readonly baseLr: number;

  constructor(o: FixedLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('constant', 'lr', o.lr);
  }

  protected formula(_t: number): number {
    return this.baseLr;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr };
  }
}
