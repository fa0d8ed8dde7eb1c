/**
 * The 1cycle policy, torch's OneCycleLR (Smith & Topin, https://arxiv.org/abs/1708.07120), meant to be stepped after
 * every batch. With T = total_steps, p = pct_start, α_max = max_lr,
 *
 *   α_init = α_max / div_factor,   α_min = α_init / final_div_factor
 *
 * the cycle is a list of phases, each annealing from one rate to the next as `pct` runs from 0 to 1:
 *
 *   two-phase (default):  [0, pT−1]: α_init → α_max     [pT−1, T−1]: α_max → α_min
 *   three_phase:          [0, pT−1]: α_init → α_max     [pT−1, 2pT−2]: α_max → α_init     [2pT−2, T−1]: α_init → α_min
 *
 *   pct = (t − start) / (end − start) in the first phase with t <= end (or the last phase)
 *   cos:    anneal(a, b, pct) = b + (a − b) · (1 + cos(π·pct)) / 2
 *   linear: anneal(a, b, pct) = a + (b − a) · pct
 *
 * Momentum (β₁ for Adam-like optimizers) is annealed the opposite way, max_momentum → base_momentum → max_momentum,
 * when cycle_momentum is on; `momentumAt(t)` gives it and the trainer applies it. As in torch, t may reach
 * total_steps (the last phase is extrapolated one step) and t > total_steps is an error. Defaults as torch:
 * pct_start 0.3, anneal_strategy 'cos', div_factor 25, final_div_factor 1e4, three_phase false, cycle_momentum true,
 * base_momentum 0.85, max_momentum 0.95. Stricter than torch: a phase of zero or negative length (which torch
 * divides by zero over, or runs backwards) is refused at construction.
 */
import { bool, finite, inRange, oneOf, positive, positiveInt, ScheduleError } from './check.js';
import { ClosedFormSchedule, checkTime, type Json, type StepUnit } from './schedule.js';

export type AnnealStrategy = 'cos' | 'linear';

export interface OneCycleLROptions {
  max_lr: number;
  /** T; or give epochs and steps_per_epoch and T = epochs · steps_per_epoch. */
  total_steps?: number;
  epochs?: number;
  steps_per_epoch?: number;
  pct_start?: number;
  anneal_strategy?: AnnealStrategy;
  div_factor?: number;
  final_div_factor?: number;
  three_phase?: boolean;
  cycle_momentum?: boolean;
  base_momentum?: number;
  max_momentum?: number;
  unit?: StepUnit;
}

interface Phase {
  end: number;
  lr: [number, number];
  momentum: [number, number];
}

const OWNER = 'OneCycleLR';

export class OneCycleLR extends ClosedFormSchedule {
  readonly name = 'onecycle';
  readonly max_lr: number;
  readonly total_steps: number;
  readonly pct_start: number;
  readonly anneal_strategy: AnnealStrategy;
  readonly div_factor: number;
  readonly final_div_factor: number;
  readonly three_phase: boolean;
  readonly cycle_momentum: boolean;
  readonly base_momentum: number;
  readonly max_momentum: number;
  private readonly phases: Phase[];

  constructor(o: OneCycleLROptions) {
    super(o.unit);
    this.max_lr = positive(OWNER, 'max_lr', o.max_lr, 'the peak learning rate');
    if (o.total_steps !== undefined) {
      this.total_steps = positiveInt(OWNER, 'total_steps', o.total_steps);
    } else if (o.epochs !== undefined || o.steps_per_epoch !== undefined) {
      const epochs = positiveInt(OWNER, 'epochs', o.epochs, 'give epochs and steps_per_epoch, or total_steps');
      const per = positiveInt(OWNER, 'steps_per_epoch', o.steps_per_epoch, 'give epochs and steps_per_epoch, or total_steps');
      this.total_steps = epochs * per;
    } else {
      throw new ScheduleError(`${OWNER}: give total_steps, or epochs and steps_per_epoch (total_steps = their product)`);
    }
    this.pct_start = inRange(OWNER, 'pct_start', o.pct_start ?? 0.3, 0, 1, {}, 'the fraction of the cycle spent rising');
    this.anneal_strategy = oneOf(OWNER, 'anneal_strategy', o.anneal_strategy ?? 'cos', ['cos', 'linear'] as const);
    this.div_factor = positive(OWNER, 'div_factor', o.div_factor ?? 25, 'initial lr = max_lr / div_factor');
    this.final_div_factor = positive(OWNER, 'final_div_factor', o.final_div_factor ?? 1e4, 'min lr = initial lr / final_div_factor');
    this.three_phase = bool(OWNER, 'three_phase', o.three_phase ?? false);
    this.cycle_momentum = bool(OWNER, 'cycle_momentum', o.cycle_momentum ?? true);
    this.base_momentum = finite(OWNER, 'base_momentum', o.base_momentum ?? 0.85);
    this.max_momentum = finite(OWNER, 'max_momentum', o.max_momentum ?? 0.95);

    const init = this.max_lr / this.div_factor;
    const min = init / this.final_div_factor;
    const [lo, hi] = [this.base_momentum, this.max_momentum];
    // Same float expressions as torch, so the phase boundaries land where torch puts them.
    const rise = this.pct_start * this.total_steps - 1;
    const last = this.total_steps - 1;
    this.phases = this.three_phase
      ? [
          { end: rise, lr: [init, this.max_lr], momentum: [hi, lo] },
          { end: 2 * this.pct_start * this.total_steps - 2, lr: [this.max_lr, init], momentum: [lo, hi] },
          { end: last, lr: [init, min], momentum: [hi, hi] },
        ]
      : [
          { end: rise, lr: [init, this.max_lr], momentum: [hi, lo] },
          { end: last, lr: [this.max_lr, min], momentum: [lo, hi] },
        ];
    this.checkPhases();
  }

  /** Refuse phases that torch would divide by zero over (length 0) or run backwards (negative length). */
  private checkPhases(): void {
    const pT = this.pct_start * this.total_steps;
    const where = `pct_start * total_steps = ${pT}, total_steps = ${this.total_steps}`;
    // A first phase ending before t = 0 is never entered (torch starts in the next one); one ending at 0 is 0/0.
    if (this.phases[0]!.end === 0) {
      throw new ScheduleError(`${OWNER}: the rising phase has zero length (${where}); make pct_start * total_steps != 1`);
    }
    for (let i = 1; i < this.phases.length; i++) {
      if (!(this.phases[i]!.end > this.phases[i - 1]!.end)) {
        const need = this.three_phase
          ? 'three_phase needs 1 < pct_start * total_steps < (total_steps + 1) / 2'
          : 'pct_start must be < 1';
        throw new ScheduleError(`${OWNER}: phase ${i + 1} of the cycle has no length (${where}); ${need}`);
      }
    }
  }

  private anneal(a: number, b: number, pct: number): number {
    return this.anneal_strategy === 'cos' ? b + ((a - b) / 2) * (Math.cos(Math.PI * pct) + 1) : (b - a) * pct + a;
  }

  private locate(t: number): { phase: Phase; pct: number } {
    if (t > this.total_steps) {
      throw new ScheduleError(
        `${OWNER}: t = ${t} is past the end of the cycle (total_steps = ${this.total_steps}); ` +
          'raise total_steps (or epochs) to cover the whole run',
      );
    }
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i]!;
      if (t <= phase.end || i === this.phases.length - 1) return { phase, pct: (t - start) / (phase.end - start) };
      start = phase.end;
    }
    throw new Error('unreachable: the last phase always matches');
  }

  protected formula(t: number): number {
    const { phase, pct } = this.locate(t);
    return this.anneal(phase.lr[0], phase.lr[1], pct);
  }

  /** Momentum (or β₁) for step t, or null when cycle_momentum is off and the optimizer's own value stands. */
  momentumAt(t: number): number | null {
    if (!this.cycle_momentum) return null;
    const { phase, pct } = this.locate(checkTime(this.name, t));
    return this.anneal(phase.momentum[0], phase.momentum[1], pct);
  }

  /** `momentumAt(t)` at the current t. */
  get momentum(): number | null {
    return this.momentumAt(this._t);
  }

  protected args(): { [field: string]: Json } {
    return {
      max_lr: this.max_lr,
      total_steps: this.total_steps,
      pct_start: this.pct_start,
      anneal_strategy: this.anneal_strategy,
      div_factor: this.div_factor,
      final_div_factor: this.final_div_factor,
      three_phase: this.three_phase,
      cycle_momentum: this.cycle_momentum,
      base_momentum: this.base_momentum,
      max_momentum: this.max_momentum,
    };
  }
}
