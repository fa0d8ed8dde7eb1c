/**
 * The CPU reference computes in float64, or in float32 by rounding every intermediate with Math.fround — the
 * same rounding a GPU performs (modulo fused multiply-add and the accuracy of its exp/log/sqrt).
 */
export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export const identity = (x: number): number => x;

/** The rounding function for a dtype: Math.fround for float32, the identity for float64. */
export function rounder(dtype: Dtype): (x: number) => number {
  return dtype === 'float32' ? Math.fround : identity;
}

export function allocate(dtype: Dtype, n: number): FloatArray {
  return dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
}
