/**
 * The learning-rate schedule interface, and the base classes that do the generic work (step counter, checkpoint
 * state, config checks) so each schedule module writes only its formula and its argument checks.
 *
 * Time. `t` counts calls of `step()`: `lr` is the rate for the optimizer step (or epoch) about to run, and the
 * trainer calls `step()` after it, as with torch's `optimizer.step(); scheduler.step()`. A schedule's `unit` says
 * whether the trainer calls `step()` after every optimizer step ('step', the default) or after every epoch
 * ('epoch'; ReduceLROnPlateau's default, since it is fed a validation metric). The formulas are written in `t` and
 * do not care which; `t` starts at 0 and `lr` at t = 0 is the schedule's initial rate.
 *
 * Two kinds. Closed-form schedules (everything but plateau and grad-magnitude) have `closedForm = true` and a pure
 * `lrAt(t)`, so `lr === lrAt(t)` always and `t` is their whole state. Feedback schedules depend on what they are
 * fed: ReduceLROnPlateau (`needs: 'metric'`, one validation metric per `step`) and the gradient-magnitude control
 * (`needs: 'gradNorm'`, one gradient norm per `step`); their `lrAt` throws.
 *
 * Checkpoints. `state()` is plain JSON: the schedule's full `config()` (the object form of its spec, with every
 * default filled in), `t`, and the feedback schedules' own fields. `load(state)` refuses a state saved by a
 * differently configured schedule, naming the first field that differs; `restoreSchedule` in spec.ts rebuilds a
 * schedule from a state alone.
 */
import { ScheduleError } from './check.js';

/** How often the trainer calls `step()`. */
export type StepUnit = 'step' | 'epoch';

/** What `step()` must be given: nothing, the epoch's validation metric, or the norm of the step's gradient. */
export type ScheduleNeeds = 'nothing' | 'metric' | 'gradNorm';

/** What the trainer hands to `step()`; a schedule reads only what its `needs` names and ignores the rest. */
export interface StepFeed {
  /** Validation metric of the epoch just finished (ReduceLROnPlateau). */
  metric?: number;
  /** Norm of the gradient of the step just taken (gradient-magnitude control). */
  gradNorm?: number;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A schedule's configuration in object form: `name` is the spec name ('cosine', 'warmup', ...) and every other field
 * is an argument under its torch name (`T_max`, `eta_min`, ...). `config()` returns it with all defaults filled in.
 */
export interface ScheduleConfig {
  name: string;
  [field: string]: Json;
}

/** A checkpoint of a schedule: JSON, so it survives `JSON.stringify`/`JSON.parse` unchanged. */
export interface ScheduleState {
  config: ScheduleConfig;
  t: number;
  [field: string]: Json;
}

export interface Schedule {
  /** Spec name, the `name` of `config()`. */
  readonly name: string;
  readonly unit: StepUnit;
  readonly needs: ScheduleNeeds;
  /** True when `lrAt` is a pure function of t (no feedback schedule anywhere inside). */
  readonly closedForm: boolean;
  /** Number of `step()` calls so far. */
  readonly t: number;
  /** Learning rate for the step (or epoch) about to run. */
  readonly lr: number;
  /** Learning rate at any t >= 0 without touching the state; throws for feedback schedules. */
  lrAt(t: number): number;
  /** Advance t by one, reading from `feed` what `needs` names; returns the new `lr`. */
  step(feed?: StepFeed): number;
  /** The schedule now setting the rate: itself, or for a warm-up past its ramp, the schedule it handed over to. */
  active(): Schedule;
  config(): ScheduleConfig;
  state(): ScheduleState;
  /** Resume from `state()` of an identically configured schedule. */
  load(state: ScheduleState): void;
}

/** Checks a time argument to `lrAt`; fractional t is allowed (epochs counted in fractions, as torch allows). */
export function checkTime(owner: string, t: number): number {
  if (typeof t !== 'number' || !Number.isFinite(t) || t < 0) {
    throw new ScheduleError(`${owner}: t must be a finite number >= 0, got ${String(t)}`);
  }
  return t;
}

/** The first difference between two configs as "path: saved X, this schedule Y", or null when they are equal. */
export function configDiff(saved: Json, mine: Json, path = 'config'): string | null {
  if (saved === mine) return null;
  const isObj = (v: Json): v is { [k: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (Array.isArray(saved) && Array.isArray(mine)) {
    if (saved.length !== mine.length) return `${path}: saved ${JSON.stringify(saved)}, this schedule ${JSON.stringify(mine)}`;
    for (let i = 0; i < saved.length; i++) {
      const d = configDiff(saved[i]!, mine[i]!, `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (isObj(saved) && isObj(mine)) {
    for (const k of new Set([...Object.keys(saved), ...Object.keys(mine)])) {
      const d = configDiff(saved[k] ?? null, mine[k] ?? null, `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return `${path}: saved ${JSON.stringify(saved)}, this schedule ${JSON.stringify(mine)}`;
}

/** Step counter, unit and checkpoint plumbing shared by every schedule. */
export abstract class BaseSchedule implements Schedule {
  abstract readonly name: string;
  abstract readonly needs: ScheduleNeeds;
  abstract readonly closedForm: boolean;
  abstract get lr(): number;
  abstract lrAt(t: number): number;
  abstract step(feed?: StepFeed): number;
  /** Arguments in torch names, without `name` and `unit` (added by `config()`). */
  protected abstract args(): { [field: string]: Json };

  protected _t = 0;
  readonly unit: StepUnit;

  constructor(unit: StepUnit | undefined, defaultUnit: StepUnit = 'step') {
    const u = unit ?? defaultUnit;
    if (u !== 'step' && u !== 'epoch') {
      throw new ScheduleError(`schedule: unit must be 'step' or 'epoch', got ${JSON.stringify(u)}`);
    }
    this.unit = u;
  }

  get t(): number {
    return this._t;
  }

  active(): Schedule {
    return this;
  }

  config(): ScheduleConfig {
    return { name: this.name, ...this.args(), unit: this.unit };
  }

  state(): ScheduleState {
    return { config: this.config(), t: this._t, ...this.extraState() };
  }

  load(state: ScheduleState): void {
    if (typeof state !== 'object' || state === null || typeof state.config !== 'object') {
      throw new ScheduleError(`${this.name}: load() needs an object from state(), got ${JSON.stringify(state)}`);
    }
    const diff = configDiff(state.config, this.config());
    if (diff) {
      throw new ScheduleError(
        `${this.name}: cannot load a state saved by a different schedule (${diff}); ` +
          'build the schedule from the saved state.config (restoreSchedule) or start it fresh',
      );
    }
    if (typeof state.t !== 'number' || !Number.isSafeInteger(state.t) || state.t < 0) {
      throw new ScheduleError(`${this.name}: state.t must be an integer >= 0, got ${JSON.stringify(state.t)}`);
    }
    this.loadExtra(state);
    this._t = state.t;
  }

  /** Fields beyond config and t that a checkpoint needs (feedback schedules). */
  protected extraState(): { [field: string]: Json } {
    return {};
  }

  /** Validate and restore `extraState()`'s fields; throw before changing anything. */
  protected loadExtra(_state: ScheduleState): void {}
}

/** A schedule whose rate is a pure function of t: `lr = lrAt(t)`, and t is its whole state. */
export abstract class ClosedFormSchedule extends BaseSchedule {
  readonly needs: ScheduleNeeds = 'nothing';
  readonly closedForm = true;

  /** The formula; `t` is already checked to be finite and >= 0. */
  protected abstract formula(t: number): number;

  lrAt(t: number): number {
    return this.formula(checkTime(this.name, t));
  }

  get lr(): number {
    return this.formula(this._t);
  }

  step(_feed?: StepFeed): number {
    // Check before moving, so a schedule that ends (one-cycle) is not left past its end by a failed step.
    const next = this.formula(this._t + 1);
    this._t += 1;
    return next;
  }
}
