/**
 * What a minimizer evaluates (src/minimize/): a differentiable function f of the flat parameter vector x (n numbers),
 * on the CPU or on the GPU, with optional extras:
 * - exact Hessian-vector products H(x)·v where the problem has a cheap Hessian (else methods use finite differences
 *   of gradients);
 * - for least-squares problems f(x) = ½‖r(x)‖² with m residuals: r(x), Jacobian-vector products J·v (m numbers) and
 *   transposed products Jᵀ·u (n numbers), which Gauss-Newton and Levenberg-Marquardt need.
 *
 * CPU objectives compute in the dtype of the arrays they are given (Float32Array: every operation rounded to float32;
 * Float64Array: double). GPU objectives are plans bound once to buffers and encoded into a command encoder; they
 * compute in float32 and write f as one f32 element of a storage buffer (the minimizer's scalar buffer), so f never
 * leaves the GPU unless the minimizer reads it.
 */
import type { FloatArray } from '../ref/dtype.js';

export interface CpuLeastSquares {
  /** Number of residuals. */
  readonly m: number;
  residuals(x: FloatArray, r: FloatArray): void;
  /** out (m) = J(x)·v (n). */
  jvp(x: FloatArray, v: FloatArray, out: FloatArray): void;
  /** out (n) = J(x)ᵀ·u (m). */
  vjp(x: FloatArray, u: FloatArray, out: FloatArray): void;
}

export interface CpuObjective {
  readonly n: number;
  /**
   * f(x), and ∇f(x) written into g; a promise where the evaluation is long and yields to the event loop on the way
   * (a model's training set, evaluated in chunks: cpu-runner.ts).
   */
  evaluate(x: FloatArray, g: FloatArray): number | Promise<number>;
  /** out = H(x)·v, exact, where the problem supplies it. */
  hvp?(x: FloatArray, v: FloatArray, out: FloatArray): void;
  readonly leastSquares?: CpuLeastSquares;
}

/** One f32 element of a storage buffer: where a GPU objective writes f. */
export interface ScalarRef {
  buffer: GPUBuffer;
  /** Element index (not bytes). */
  index: number;
}

/** Work encoded into a command encoder (its own compute passes and copies), created once and encoded many times. */
export interface GpuPlan {
  encode(encoder: GPUCommandEncoder): void;
  destroy(): void;
}

export interface GpuLeastSquares {
  readonly m: number;
  residuals(io: { x: GPUBuffer; r: GPUBuffer }): Promise<GpuPlan>;
  jvp(io: { x: GPUBuffer; v: GPUBuffer; out: GPUBuffer }): Promise<GpuPlan>;
  vjp(io: { x: GPUBuffer; u: GPUBuffer; out: GPUBuffer }): Promise<GpuPlan>;
}

export interface GpuObjective {
  readonly n: number;
  /**
   * The parameter buffer, when the objective owns it (a model's flat parameters): the minimizer then iterates on it
   * in place. Otherwise the minimizer creates x and passes it to the plans.
   */
  readonly params?: GPUBuffer;
  /** A plan that writes f(x) to `f` and ∇f(x) to g (n floats). */
  valueGrad(io: { x: GPUBuffer; g: GPUBuffer; f: ScalarRef }): Promise<GpuPlan>;
  /** A plan that writes H(x)·v to out, where the objective has an exact Hessian. */
  hvp?(io: { x: GPUBuffer; v: GPUBuffer; out: GPUBuffer }): Promise<GpuPlan>;
  readonly leastSquares?: GpuLeastSquares;
  /** Releases what the objective itself created (not the plans, which have their own destroy). */
  destroy?(): void;
}
