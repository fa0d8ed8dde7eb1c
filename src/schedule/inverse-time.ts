/**
 * Inverse-time ("1/t") decay: α_t = α₀ / (1 + d·t).
 *
 * No torch class; Keras' InverseTimeDecay with decay_steps = 1 and staircase off is the same curve. d = 0 is a
 * constant rate.
 */
import { nonNegative } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface InverseTimeLROptions {
  lr: number;
  /** Decay rate d >= 0 per step. */
  decay: number;
  unit?: StepUnit;
}

export class InverseTimeLR extends ClosedFormSchedule {
  readonly name = 'invtime';
  readonly baseLr: number;
  readonly decay: number;

  constructor(o: InverseTimeLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('InverseTimeLR', 'lr', o.lr);
    this.decay = nonNegative('InverseTimeLR', 'decay', o.decay, 'd in lr / (1 + d*t), e.g. 0.01');
  }

  protected formula(t: number): number {
    return this.baseLr / (1 + this.decay * t);
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, decay: this.decay };
  }
}
