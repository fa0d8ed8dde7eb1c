/**
 * What a caller controls inside one `step()` of a method of this folder (StepOptions): an AbortSignal that cuts the
 * step short at the next iteration boundary, and a callback after every iteration (progress display, or yielding to
 * the event loop so a signal handler can run).
 *
 * A cut step can be resumed. torch's step(closure) keeps two counters local to the call, the iterations and the
 * evaluations made so far (its `n_iter` and `current_evals`), and tests them against max_iter and max_eval. When an
 * abort cuts a step, the method keeps them (StepCounters; exported with the method's state as `step_iter` and
 * `step_evals`, 0 between whole steps), and the next step() counts on from them: it evaluates f and ∇f at the point
 * where the cut step stopped (the value and gradient the cut step held there, recomputed; that evaluation is not
 * counted again against max_eval) and runs the iterations the cut step had left. At an iteration boundary every
 * method's state is what its next iteration needs, so abort + step() takes the same iterates as one uninterrupted
 * step: bit for bit on a deterministic machine (the CPU reference, one GPU engine); only the count of evaluations
 * made grows by the repeated one (StepReport.evals and L-BFGS's func_evals say what was really computed).
 *
 * Where a step stops: at the top of each iteration (so also after the step's first evaluation, before any iteration)
 * — L-BFGS and nonlinear CG never inside a line search, whose trial points belong to one iteration. Newton's method
 * and Levenberg-Marquardt also stop between the conjugate-gradient iterations of their inner solve (each one a
 * Hessian- or Jacobian-vector product, with finite differences a full gradient evaluation): the unfinished iteration
 * is dropped (x has not moved yet; its counters are undone), so the state is that of the last boundary.
 */
import { MinimizeError } from './errors.js';
import type { MethodState, StateReader } from './state.js';

export interface StepOptions {
  /**
   * Aborting it stops the step at the next iteration boundary: the step returns with stop 'aborted' and the point
   * reached, and the next step() finishes it (see the module comment). Checked between iterations only, so a step
   * always makes its first evaluation.
   */
  signal?: AbortSignal;
  /** After every completed iteration (before the termination tests); a returned promise is awaited. */
  onIteration?(p: IterationProgress): void | Promise<void>;
}

export interface IterationProgress {
  /** Iterations of this step so far (a step resumed after an abort counts on from where it was cut) and its max_iter. */
  iteration: number;
  maxIter: number;
  /** Evaluations of the objective this step has counted so far (likewise). */
  evals: number;
  /** f at the current point (the method's latest value) and max|∇f| there. */
  loss: number;
  gradMax: number;
}

/** The two step-local counters of the module comment, carried from a cut step to the next call. */
export class StepCounters {
  private carried = { iter: 0, evals: 0 };

  /** Starts a step: counts on from a cut step, or from zero. */
  begin(maxIter: number, opts: StepOptions = {}): StepRun {
    const c = this.carried;
    this.carried = { iter: 0, evals: 0 };
    return new StepRun(this, maxIter, opts, c.iter, c.evals);
  }

  /** Called by a StepRun that was cut. */
  keep(iter: number, evals: number): void {
    this.carried = { iter, evals };
  }

  /** For exportState: `step_iter` and `step_evals`. */
  scalars(): { step_iter: number; step_evals: number } {
    return { step_iter: this.carried.iter, step_evals: this.carried.evals };
  }

  /** Reads `step_iter` and `step_evals` of a saved state (checked; states saved before they existed: between steps). */
  static read(r: StateReader): { iter: number; evals: number } {
    const has = (k: string) => r.s.scalars[k] !== undefined;
    const c = { iter: has('step_iter') ? r.count('step_iter') : 0, evals: has('step_evals') ? r.count('step_evals') : 0 };
    if (c.iter > 0 && c.evals === 0) throw new MinimizeError(`${r.s.method} state: scalars.step_evals is 0 but step_iter is ${c.iter}: a cut step has made at least its first evaluation`);
    return c;
  }

  /** For importState, with what `read` returned. */
  restore(c: { iter: number; evals: number }): void {
    this.carried = { ...c };
  }
}

/** The names StepCounters adds to a method's state scalars (for StateReader.only). */
export const STEP_COUNTER_KEYS = ['step_iter', 'step_evals'] as const;

/** Iterations of a step a saved state was cut in (0: saved between steps). */
export function cutIterations(s: MethodState): number {
  const v = s.scalars.step_iter;
  return typeof v === 'number' ? v : 0;
}

/** The counters of one step() call. */
export class StepRun {
  /** Iterations (torch's local n_iter) and evaluations (current_evals) of the step, counted on across a cut. */
  iter: number;
  evals: number;
  private readonly iter0: number;
  private readonly resumed: boolean;
  /** Evaluations this call made (StepReport.evals), the repeated first one and dropped work included. */
  private made = 0;

  constructor(private readonly owner: StepCounters, readonly maxIter: number, private readonly opts: StepOptions, iter: number, evals: number) {
    this.iter = this.iter0 = iter;
    this.evals = evals;
    this.resumed = evals > 0;
  }

  /** The step's first evaluation, at the point it starts from (counted once across a cut). */
  first(): void {
    this.made++;
    if (!this.resumed) this.evals = 1;
  }

  /** `n` more evaluations of the step. */
  add(n: number): void {
    this.made += n;
    this.evals += n;
  }


  /** Iterations this call completed. */
  get iterations(): number {
    return this.iter - this.iter0;
  }

  /** Evaluations this call made. */
  get evaluations(): number {
    return this.made;
  }

  /** After an iteration: the onIteration callback. */
  async completed(loss: number, gradMax: number): Promise<void> {
    await this.opts.onIteration?.({ iteration: this.iter, maxIter: this.maxIter, evals: this.evals, loss, gradMax });
  }

  /** Whether the signal asks to stop here (an iteration boundary); if so the counters are kept for the next call. */
  cut(): boolean {
    if (!this.opts.signal?.aborted) return false;
    this.owner.keep(this.iter, this.evals);
    return true;
  }

  /**
   * Cuts the step inside the iteration it is in, dropping that iteration (x must not have moved yet): the counters
   * go back to the last boundary; `wastedEvals` made for it count as work done (StepReport.evals), not against max_eval.
   */
  dropIteration(wastedEvals = 0): void {
    this.made += wastedEvals;
    this.iter--;
    this.owner.keep(this.iter, this.evals);
  }
}

/** StepReport's `stop` for a step an abort cut short. */
export const ABORTED = 'aborted';
