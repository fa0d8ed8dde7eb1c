/**
 * Bounds for shaders/vector.wgsl (the vector machine of src/linalg) against float64: its reductions and the scalar
 * ops computed from them (a value known to within its bound goes in, one comes out).
 *
 *   dot / sum   src/testing/sums.ts's sumBound with n = the longest rounding chain of the reduction's shape
 *               (vector.ts sumDepth: passes and workgroup trees fixed by dispatches and barriers); a sequential loop
 *               (the float32 CPU machine) has n = the length
 *   a − b       |Δ| ≤ ea + eb + u·(|a − b| + ea + eb)
 *   a / b       (|a|·eb + |b|·ea) / (|b|·(|b| − eb)) for the inputs, then ÷'s 2.5 ulp of the result
 *   √b          |√(b ± eb) − √b| ≤ eb / √b, then sqrt's 4.5 ulp (WGSL: 1 / inverseSqrt)
 *   a·b         sums.ts productError, then one rounding
 * Every bound is exact (not first order); a divisor within its bound of 0 gives an infinite bound.
 */
import { sumDepth, type ReduceShape, type ScalarMode } from '../../linalg/vector.js';
import { U, WGSL_REL, productError, sumBound } from '../sums.js';

/** A float64 value and how far a correct float32 result may lie from it. */
export interface Known {
  value: number;
  bound: number;
}

/** Bound of a reduction of Σ|terms| = absSum in this shape (any order, no compensation assumed). */
export function reduceBound(shape: ReduceShape, absSum: number): number {
  return sumBound(sumDepth(shape), absSum);
}

/** An exact input (a host constant that float32 holds exactly, or a float32 value read back). */
export const exact = (value: number): Known => ({ value, bound: 0 });

export function difference(a: Known, b: Known): Known {
  const value = a.value - b.value;
  const e = a.bound + b.bound;
  return { value, bound: e + U * (Math.abs(value) + e) };
}

export function quotient(a: Known, b: Known): Known {
  const value = a.value / b.value;
  const ab = Math.abs(b.value);
  const e = ab > b.bound ? (Math.abs(a.value) * b.bound + ab * a.bound) / (ab * (ab - b.bound)) : Infinity;
  return { value, bound: e + WGSL_REL.div * (Math.abs(value) + e) };
}

export function squareRoot(b: Known): Known {
  const value = Math.sqrt(b.value);
  const e = b.bound === 0 ? 0 : value > 0 ? b.bound / value : Math.sqrt(b.bound);
  return { value, bound: e + WGSL_REL.sqrt * (value + e) };
}

export function product(a: Known, b: Known): Known {
  const value = a.value * b.value;
  const e = productError(a.value, a.bound, b.value, b.bound);
  return { value, bound: e + U * (Math.abs(value) + e) };
}

/** The machine's scalar ops (VectorMachine.scalar): A / B, A·√B, A / √B. */
export function scalarOpBounded(mode: ScalarMode, a: Known, b: Known): Known {
  if (mode === 'div') return quotient(a, b);
  if (mode === 'mul_sqrt') return product(a, squareRoot(b));
  return quotient(a, squareRoot(b));
}
