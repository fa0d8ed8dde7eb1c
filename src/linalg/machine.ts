/**
 * The vector machine: what every minimizer of src/minimize/ is written against, so one algorithm (L-BFGS, nonlinear
 * CG, Newton-CG, Levenberg-Marquardt) runs on the CPU reference (cpu-machine.ts: float64, or float32 with every
 * operation rounded) and on the GPU (gpu-machine.ts) without a second copy of its logic.
 *
 * The machine holds vectors (the iterate x, gradients, directions, history; opaque handles) and a small file of
 * scalar slots. Vector operations and the objective's evaluations are queued; dot products land in scalar slots
 * and may feed later coefficients (`Coef`) without the host seeing them. Only `read` brings numbers back: on the GPU
 * it is one readback of the scalar file, so an algorithm's readbacks are exactly its `read` calls, and it calls
 * `read` only where it must decide something (a line-search test, a termination test).
 *
 * Scalars hold the working precision (float32 values on the GPU and the float32 CPU machine).
 */
import type { Dtype } from '../ref/dtype.js';
import type { Coef, ScalarMode } from './vector.js';

export type { Coef } from './vector.js';

/** A vector on the machine (opaque; compare handles by identity). */
export interface Vec {
  readonly id: number;
  readonly length: number;
  readonly label: string;
}

/** Index of a scalar slot. */
export type Slot = number;

export interface VectorMachine {
  readonly device: 'cpu' | 'gpu';
  readonly dtype: Dtype;
  /** Parameters. */
  readonly n: number;
  /** The iterate: evaluations read it. */
  readonly x: Vec;
  /** Whether the objective supplies exact Hessian-vector products. */
  readonly hasHvp: boolean;
  /** Residual count of a least-squares objective (f = ½‖r‖²), or null. */
  readonly residualCount: number | null;
  /** `read` calls so far (GPU: readbacks). */
  readonly readbacks: number;
  /** Objective evaluations so far (value and gradient). */
  readonly evaluations: number;

  /** A new vector of `length` (default n), zero-filled. */
  vector(label: string, length?: number): Vec;
  /** `count` consecutive new scalar slots (initially 0); returns the first. */
  scalars(count?: number): Slot;

  /** z ← α·x + β·y (or z ← α·x without y). z may be x or y (in place); x and y may be the same vector. */
  axpby(z: Vec, alpha: Coef, x: Vec, beta?: Coef, y?: Vec): void;
  copy(dst: Vec, src: Vec): void;
  /**
   * sc[out] = scale·Σ x_i·y_i. With `stats` (out must own 4 slots) also sc[out+1] = max|x_i|, sc[out+2] = Σ|x_i|,
   * sc[out+3] = #{i : x_i or y_i is NaN/±inf}; non-finite pairs are left out of the other three.
   */
  dot(out: Slot, x: Vec, y: Vec, opts?: { scale?: number; stats?: boolean }): void;

  /**
   * sc[out] = A / B ('div'), A·√B ('mul_sqrt') or A / √B ('div_sqrt', 0 when B = 0), with A, B coefficients (host
   * constants or scalars already on the machine): CG's α = rᵀr / pᵀAp without a readback.
   */
  scalar(out: Slot, mode: ScalarMode, a: Coef, b: Coef): void;

  /** f(x) → sc[f], ∇f(x) → g. */
  evaluate(g: Vec, f: Slot): Promise<void>;
  /** out = H(x)·v, exact (requires hasHvp). */
  hvp(v: Vec, out: Vec): Promise<void>;
  /** Least squares: r(x) (m), J(x)·v (m), J(x)ᵀ·u (n). */
  residuals(r: Vec): Promise<void>;
  jvp(v: Vec, out: Vec): Promise<void>;
  vjp(u: Vec, out: Vec): Promise<void>;

  /** Runs everything queued and returns these scalars (GPU: one readback). */
  read(slots: readonly Slot[]): Promise<number[]>;
  /**
   * Runs everything queued without reading anything back (GPU: submits the queue), so other users of the device —
   * a runner evaluating or exporting the parameters that are x — see the last operations. CPU: nothing to do.
   */
  flush(): void;
  /** The values of a vector (runs the queue first; for results and tests). */
  readVector(v: Vec): Promise<Float64Array>;
  /** Overwrites a vector (runs the queue first). */
  writeVector(v: Vec, data: ArrayLike<number>): Promise<void>;
  /** Releases every vector and plan the machine created (not the objective's own buffers). */
  destroy(): void;
}

export class MachineError extends Error {
  override name = 'MachineError';
}

/** Checks that a coefficient slot exists. */
export function checkCoef(k: Coef | undefined, slots: number, what: string): void {
  if (k === undefined || typeof k === 'number') {
    if (typeof k === 'number' && !Number.isFinite(k)) throw new MachineError(`${what}: coefficient ${k} is not finite`);
    return;
  }
  checkSlot(k.slot, slots, what);
  if (k.sub !== undefined) checkSlot(k.sub, slots, what);
}

function checkSlot(s: number, slots: number, what: string): void {
  if (!(Number.isInteger(s) && s >= 0 && s < slots)) throw new MachineError(`${what}: scalar slot ${s} does not exist`);
}
