/**
 * Piecewise-constant decay, torch's StepLR and MultiStepLR (closed forms; torch's recursive forms agree with them
 * when nothing else changes the rate).
 *
 *   StepLR:       α_t = α₀ · γ^⌊t / step_size⌋
 *   MultiStepLR:  α_t = α₀ · γ^|{ m ∈ milestones : m ≤ t }|
 *
 * Defaults as torch: γ = 0.1. Stricter than torch: milestones must be strictly increasing integers >= 0 (torch
 * counts a repeated milestone twice and sorts an unsorted list silently).
 */
import { nonNegative, nonNegativeInt, positive, positiveInt, ScheduleError } from './check.js';
import { ClosedFormSchedule, type Json, type StepUnit } from './schedule.js';

export interface StepLROptions {
  /** α₀. */
  lr: number;
  /** Steps between decays. */
  step_size: number;
  /** Decay factor γ (default 0.1). */
  gamma?: number;
  unit?: StepUnit;
}

export class StepLR extends ClosedFormSchedule {
  readonly name = 'step';
  readonly baseLr: number;
  readonly step_size: number;
  readonly gamma: number;

  constructor(o: StepLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('StepLR', 'lr', o.lr);
    this.step_size = positiveInt('StepLR', 'step_size', o.step_size, 'the number of steps between decays');
    this.gamma = positive('StepLR', 'gamma', o.gamma ?? 0.1, 'the factor applied every step_size steps');
  }

  protected formula(t: number): number {
    return this.baseLr * this.gamma ** Math.floor(t / this.step_size);
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, step_size: this.step_size, gamma: this.gamma };
  }
}

export interface MultiStepLROptions {
  lr: number;
  /** Steps at which the rate is multiplied by γ, strictly increasing. */
  milestones: readonly number[];
  /** Decay factor γ (default 0.1). */
  gamma?: number;
  unit?: StepUnit;
}

export class MultiStepLR extends ClosedFormSchedule {
  readonly name = 'multistep';
  readonly baseLr: number;
  readonly milestones: readonly number[];
  readonly gamma: number;

  constructor(o: MultiStepLROptions) {
    super(o.unit);
    this.baseLr = nonNegative('MultiStepLR', 'lr', o.lr);
    if (!Array.isArray(o.milestones) || o.milestones.length === 0) {
      throw new ScheduleError(
        `MultiStepLR: milestones must be a non-empty list of step indices, got ${JSON.stringify(o.milestones)}`,
      );
    }
    o.milestones.forEach((m, i) => {
      nonNegativeInt('MultiStepLR', `milestones[${i}]`, m);
      if (i > 0 && m <= o.milestones[i - 1]!) {
        throw new ScheduleError(
          `MultiStepLR: milestones must be strictly increasing, got ${JSON.stringify(o.milestones)} ` +
            `(milestones[${i}] = ${m} <= milestones[${i - 1}] = ${o.milestones[i - 1]}); sort them and drop repeats`,
        );
      }
    });
    this.milestones = Object.freeze([...o.milestones]);
    this.gamma = positive('MultiStepLR', 'gamma', o.gamma ?? 0.1, 'the factor applied at each milestone');
  }

  protected formula(t: number): number {
    let passed = 0;
    for (const m of this.milestones) if (m <= t) passed++;
    return this.baseLr * this.gamma ** passed;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, milestones: [...this.milestones], gamma: this.gamma };
  }
}
