/**
 * A problem of the library: a function to minimise with its value and gradient on the CPU (float64, or float32 with
 * every operation rounded) and on the GPU (float32 WGSL), the Hessian where it is cheap, and what a playground or a
 * test needs to know about it (dimension, standard starts, known minima, a plotting window for 2-D functions).
 *
 * Every problem evaluates in a fixed operation order, written in its module's header and mirrored by its shader, so
 * CPU float32, GPU float32 and an outside reference (torch, scripts/torch_traces.py) compute the same numbers, up to
 * the fused multiply-adds a GPU compiler may form.
 */
import type { Engine } from '../gpu/index.js';
import type { CpuLeastSquares, CpuObjective, GpuObjective } from '../linalg/objective.js';
import { rounder, type Dtype, type FloatArray } from '../ref/dtype.js';

export interface KnownPoint {
  readonly x: readonly number[];
  readonly f: number;
  readonly kind: 'global minimum' | 'local minimum' | 'saddle point';
}

export interface LeastSquaresProblem {
  /** Number of residuals r_i(x); f = ½ Σ r_i². */
  readonly m: number;
  residuals(x: ArrayLike<number>, r: FloatArray, dtype?: Dtype): void;
  jvp(x: ArrayLike<number>, v: ArrayLike<number>, out: FloatArray, dtype?: Dtype): void;
  vjp(x: ArrayLike<number>, u: ArrayLike<number>, out: FloatArray, dtype?: Dtype): void;
}

export interface Problem {
  /** The name used by specs and the CLI, e.g. 'rosenbrock2d'. */
  readonly name: string;
  readonly dim: number;
  /** The formula in one line, e.g. 'f = (1 − x)² + 100·(y − x²)²'. */
  readonly formula: string;
  /**
   * f(x) in `dtype` (default float64), and ∇f(x) into g when g is given (same length as x). x is read as numbers of
   * that dtype (float32: rounded first). Throws when x or g has the wrong length.
   */
  evaluate(x: ArrayLike<number>, g?: FloatArray | null, dtype?: Dtype): number;
  /** out = H(x)·v (exact), where the Hessian is cheap. */
  hvp?(x: ArrayLike<number>, v: ArrayLike<number>, out: FloatArray, dtype?: Dtype): void;
  /** The dense Hessian, row-major dim×dim, in float64, where cheap. */
  hessian?(x: ArrayLike<number>): Float64Array;
  /** Present for least-squares problems (f = ½‖r(x)‖²). */
  readonly leastSquares?: LeastSquaresProblem;
  /** The GPU objective (shaders/ of this problem's family) on `engine`. */
  gpu(engine: Engine): GpuObjective;
  /** Standard starting points, e.g. (−1.2, 1) for Rosenbrock. */
  readonly starts: readonly (readonly number[])[];
  /** Known minima and saddle points. */
  readonly known: readonly KnownPoint[];
  /** For 2-D plots: [[xmin, xmax], [ymin, ymax]] (1-D: [[xmin, xmax]]). */
  readonly window?: readonly (readonly [number, number])[];
}

/** Throws a clear error unless `v` has exactly `n` entries. */
export function checkLength(problem: { name: string; dim: number }, v: ArrayLike<number>, what: string, n = problem.dim): void {
  if (!v || typeof v.length !== 'number' || v.length !== n) {
    throw new RangeError(
      `${problem.name} is ${problem.dim}-dimensional: ${what} has ${v?.length ?? 0} numbers, expected ${n}` +
        (what === 'x' || what === 'x0' || what === 'start' ? ` (give ${n} coordinates, e.g. --start ${Array(n).fill(0).join(',')})` : ''),
    );
  }
}

/** x as numbers of `dtype`, after checking its length: the rounded copy every evaluation starts from. */
export function pointOf(problem: { name: string; dim: number }, x: ArrayLike<number>, dtype: Dtype): number[] {
  checkLength(problem, x, 'x');
  const r = rounder(dtype);
  return Array.from(x, (v) => r(v));
}

/** The problem's CPU objective in `dtype` (what a CPU minimizer evaluates). */
export function cpuObjective(problem: Problem, dtype: Dtype): CpuObjective {
  const ls = problem.leastSquares;
  return {
    n: problem.dim,
    evaluate: (x, g) => problem.evaluate(x, g, dtype),
    ...(problem.hvp ? { hvp: (x: FloatArray, v: FloatArray, out: FloatArray) => problem.hvp!(x, v, out, dtype) } : {}),
    ...(ls
      ? {
          leastSquares: {
            m: ls.m,
            residuals: (x, r) => ls.residuals(x, r, dtype),
            jvp: (x, v, out) => ls.jvp(x, v, out, dtype),
            vjp: (x, u, out) => ls.vjp(x, u, out, dtype),
          } satisfies CpuLeastSquares,
        }
      : {}),
  };
}
