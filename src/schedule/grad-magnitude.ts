/**
 * Gradient-magnitude control: the rate shrinks by how large the gradients are,
 *
 *   α_{t+1} = α_t / (1 + c·√|g_t|),   α_0 = lr
 *
 * where |g_t| is the norm of the gradient of step t (wgtrain's optimizers pass the global L2 norm over all
 * parameters). Step t is taken with α_t and its gradient sets the rate of step t + 1, so, as for every other
 * schedule, the rate is known before the step and `step({ gradNorm })` follows `optimizer.step()`. c = 0 is a
 * constant rate.
 *
 * On the GPU the optimizer kernel applies `gradMagnitudeLr` itself, to an α it keeps in a buffer, with the norm it
 * has just reduced, so the host never waits for the norm. The schedule is marked `needs: 'gradNorm'` for that; the
 * optimizer finds the control with `gradMagnitudeControl(schedule)` and, before a checkpoint, hands the device's α
 * back with `adopt(lr, t)` so that `state()` holds what the GPU holds.
 */
import { nonNegative, nonNegativeInt, ScheduleError } from './check.js';
import { BaseSchedule, type Json, type Schedule, type ScheduleState, type StepFeed, type StepUnit } from './schedule.js';

/**
 * α_{t+1} = α_t / (1 + c·√gradNorm): the CPU reference of the update the optimizer kernel applies. 'float32' rounds
 * every intermediate to f32, as the kernel computes it; gradNorm must be finite and >= 0.
 */
export function gradMagnitudeLr(
  lr: number,
  c: number,
  gradNorm: number,
  dtype: 'float32' | 'float64' = 'float64',
): number {
  if (dtype === 'float64') return lr / (1 + c * Math.sqrt(gradNorm));
  const f = Math.fround;
  return f(f(lr) / f(1 + f(f(c) * f(Math.sqrt(f(gradNorm))))));
}

export interface GradMagnitudeLROptions {
  /** α_0. */
  lr: number;
  /** c >= 0. */
  c: number;
  unit?: StepUnit;
}

const OWNER = 'GradMagnitudeLR';

export class GradMagnitudeLR extends BaseSchedule {
  readonly name = 'gradmag';
  readonly needs = 'gradNorm' as const;
  readonly closedForm = false;
  readonly baseLr: number;
  readonly c: number;
  private _lr: number;

  constructor(o: GradMagnitudeLROptions) {
    super(o.unit);
    this.baseLr = nonNegative(OWNER, 'lr', o.lr);
    this.c = nonNegative(OWNER, 'c', o.c, 'c in lr / (1 + c*sqrt(|g|)), e.g. 0.01');
    this._lr = this.baseLr;
  }

  get lr(): number {
    return this._lr;
  }

  lrAt(_t: number): number {
    throw new ScheduleError(
      `${OWNER} has no closed form: its rate depends on the gradient norms fed to step(); read .lr after each step instead`,
    );
  }

  step(feed?: StepFeed): number {
    const g = feed?.gradNorm;
    if (typeof g !== 'number' || !Number.isFinite(g) || g < 0) {
      throw new ScheduleError(
        `${OWNER}: step() needs { gradNorm }, the finite norm (>= 0) of the gradient of the step just taken, ` +
          `got ${JSON.stringify(feed)}${typeof g === 'number' && !Number.isFinite(g) ? ` (gradNorm = ${g})` : ''}`,
      );
    }
    this._lr = gradMagnitudeLr(this._lr, this.c, g);
    this._t += 1;
    return this._lr;
  }

  /** Take over the α and step count that the optimizer kernel reached on the GPU (before `state()`). */
  adopt(lr: number, t: number): void {
    const a = nonNegative(OWNER, 'adopt lr', lr);
    this._t = nonNegativeInt(OWNER, 'adopt t', t);
    this._lr = a;
  }

  protected args(): { [field: string]: Json } {
    return { lr: this.baseLr, c: this.c };
  }

  protected override extraState(): { [field: string]: Json } {
    return { lr: this._lr };
  }

  protected override loadExtra(state: ScheduleState): void {
    this._lr = nonNegative(OWNER, 'state.lr', state.lr);
  }
}

/** The gradient-magnitude control now setting `schedule`'s rate (past any warm-up), or null if there is none. */
export function gradMagnitudeControl(schedule: Schedule): GradMagnitudeLR | null {
  const a = schedule.active();
  return a instanceof GradMagnitudeLR ? a : null;
}
