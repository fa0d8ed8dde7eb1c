/**
 * What every method of src/minimize/ is to its callers (minimize(), function traces, the full-batch trainer): an
 * object on a vector machine whose `step()` is one torch-style `step(closure)` — one or more iterations on the
 * machine's objective — reporting the loss it started from, the evaluations it counted and why it stopped. A step
 * takes an AbortSignal and a per-iteration callback (step-control.ts); a step an abort cut short ends with stop
 * 'aborted', and the next step() finishes it.
 */
import type { VectorMachine } from '../linalg/machine.js';
import type { MethodState } from './state.js';
import type { StepOptions } from './step-control.js';

export interface StepReport {
  /** f at the start of the step (torch's return value of step(closure)). */
  loss: number;
  /** f at the end of the step (the last value the method computed). */
  lossAfter: number;
  /** Objective evaluations the step counted. */
  evals: number;
  /** Iterations inside the step. */
  iterations: number;
  /** Why the step ended (method-specific, e.g. 'max_iter', 'tolerance_grad'). */
  stop: string;
  /** max|g| of the last gradient computed. */
  gradMax: number;
  /** max|g| at the start of the step (of the first evaluation). */
  gradMaxStart: number;
  /** Line searches that ended without meeting their conditions (when the method uses one). */
  lineSearchFailures?: number;
  /** Set when the method could not make progress from here (e.g. a line search found no lower point): why. */
  stalled?: string;
}

export interface Minimizer {
  /** The method's name, e.g. 'LBFGS'. */
  readonly name: string;
  /** One step(closure); `opts.signal` cuts it short at the next iteration boundary (step-control.ts). */
  step(opts?: StepOptions): Promise<StepReport>;
  /** Scalar state for traces (torch names where torch has them: func_evals, n_iter). */
  readonly state: Readonly<Record<string, number>>;
  /** Releases what the method created on the machine beyond its vectors (e.g. a GPU optimizer). */
  destroy?(): void;
  /** Its state between steps, as a value (state.ts); every full-batch method has it, for checkpoints. */
  exportState?(): Promise<MethodState>;
  /** Continues from an exported state (errors name the field that does not fit). */
  importState?(s: MethodState): Promise<void>;
}

export interface MethodDef {
  /** Canonical name (torch class name where there is one). */
  readonly name: string;
  /** One line for help texts. */
  readonly summary: string;
  /** Hyperparameter names (for CLI flags and validation). */
  readonly hyperparams: readonly string[];
  /** Whether the method needs a least-squares objective (residuals and Jacobian products). */
  readonly leastSquares?: boolean;
  /** Checks hyperparameters without a machine (throws naming the field), where the method can. */
  validate?(hyperparams: Readonly<Record<string, unknown>>): void;
  create(machine: VectorMachine, hyperparams: Readonly<Record<string, unknown>>): Promise<Minimizer> | Minimizer;
}
