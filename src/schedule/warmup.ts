/**
 * Linear warm-up in front of any schedule: W steps of torch's LinearLR ramp, then the wrapped schedule with its
 * own t starting at 0 (torch: SequentialLR([LinearLR(start_factor=s, total_iters=W), inner], milestones=[W])).
 *
 *   α_t = α_inner(0) · (s + (1 − s) · t / W)     for t < W
 *   α_t = α_inner(t − W)                          for t >= W
 *
 * α_inner(0) is the wrapped schedule's initial rate (its `lr` at construction), so the ramp ends where the wrapped
 * schedule starts. Default s = 1/3 as torch's LinearLR; pass a small start_factor (e.g. 1/W) to ramp from near
 * zero. W = 0 is allowed and is the wrapped schedule unchanged. The warm-up counts in the wrapped schedule's unit.
 * A feedback schedule can be wrapped: during the ramp, step() does not forward the feed (a metric or gradient norm
 * from the ramp is ignored), and `active()` names the wrapped schedule only once it has taken over.
 */
import { inRange, nonNegativeInt, ScheduleError } from './check.js';
import {
  BaseSchedule,
  checkTime,
  type Json,
  type Schedule,
  type ScheduleConfig,
  type ScheduleNeeds,
  type ScheduleState,
  type StepFeed,
} from './schedule.js';

export interface LinearWarmupOptions {
  /** W: ramp steps. */
  total_iters: number;
  /** s: factor on the wrapped schedule's initial rate at t = 0 (default 1/3, as torch's LinearLR). */
  start_factor?: number;
  /** The schedule that takes over at t = W; must not have been stepped. */
  then: Schedule;
}

export class LinearWarmup extends BaseSchedule {
  readonly name = 'warmup';
  readonly total_iters: number;
  readonly start_factor: number;
  readonly inner: Schedule;
  /** α_inner(0), the rate the ramp ends at. */
  readonly target: number;

  constructor(o: LinearWarmupOptions) {
    if (typeof o.then !== 'object' || o.then === null || typeof o.then.step !== 'function') {
      throw new ScheduleError('warmup: `then` must be the schedule that follows the warm-up (e.g. a CosineAnnealingLR)');
    }
    super(o.then.unit);
    if (o.then.t !== 0) {
      throw new ScheduleError(
        `warmup: the wrapped ${o.then.name} schedule has already taken ${o.then.t} steps; wrap a fresh schedule ` +
          '(it starts its own t at 0 when the warm-up ends)',
      );
    }
    this.total_iters = nonNegativeInt('warmup', 'total_iters', o.total_iters, 'the number of warm-up steps');
    this.start_factor = inRange('warmup', 'start_factor', o.start_factor ?? 1 / 3, 0, 1);
    this.inner = o.then;
    this.target = o.then.lr;
  }

  get needs(): ScheduleNeeds {
    return this.inner.needs;
  }

  get closedForm(): boolean {
    return this.inner.closedForm;
  }

  private ramp(t: number): number {
    return this.target * (this.start_factor + ((1 - this.start_factor) * t) / this.total_iters);
  }

  lrAt(t: number): number {
    checkTime(this.name, t);
    return t < this.total_iters ? this.ramp(t) : this.inner.lrAt(t - this.total_iters);
  }

  get lr(): number {
    return this._t < this.total_iters ? this.ramp(this._t) : this.inner.lr;
  }

  step(feed?: StepFeed): number {
    if (this._t >= this.total_iters) this.inner.step(feed);
    this._t += 1;
    return this.lr;
  }

  override active(): Schedule {
    return this._t < this.total_iters ? this : this.inner.active();
  }

  // The warm-up has no unit of its own: it counts in the wrapped schedule's.
  override config(): ScheduleConfig {
    return { name: this.name, ...this.args() };
  }

  protected args(): { [field: string]: Json } {
    return { total_iters: this.total_iters, start_factor: this.start_factor, then: this.inner.config() };
  }

  protected override extraState(): { [field: string]: Json } {
    return { inner: this.inner.state() };
  }

  protected override loadExtra(state: ScheduleState): void {
    const inner = state.inner as ScheduleState | undefined;
    const innerT = Math.max(0, state.t - this.total_iters);
    if (typeof inner !== 'object' || inner === null || inner.t !== innerT) {
      throw new ScheduleError(
        `warmup: state.inner must be the wrapped schedule's state with t = ${innerT} (state.t = ${state.t} minus ` +
          `${this.total_iters} warm-up steps), got ${JSON.stringify(inner?.t ?? inner)}`,
      );
    }
    this.inner.load(inner);
  }
}
