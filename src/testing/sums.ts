// Shared by the vitest suites and the in-library self-test (src/selftest): how far a correct GPU's float32 result may
// lie from the float64 reference when the result is formed by a sum (column and row sums, dot products, norms,
// means and variances, log-sum-exp, Σ dy·y, loss sums) or computed from one.
/**
 * `sumBound(n, Σ|terms|)` and the comparisons built on it (`expectSumClose`, `expectWithin`).
 *
 * The bound. A float32 sum of n terms, each term exact or carrying one rounding of its own (a product a·b), computed
 * in ANY order and association — one loop, several accumulators, a tree, with or without fused multiply-adds —
 * satisfies (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., §3.1 and §4.2)
 *
 *     |ŝ − s| ≤ γ_n · Σ|terms| + n·2⁻¹²⁶,      γ_n = n·u / (1 − n·u),   u = 2⁻²⁴ (float32 unit roundoff).
 *
 * Why: the computed sum is Σ_i t_i·Π_k(1 + δ_ik) with |δ_ik| ≤ u, the product running over the roundings term i
 * passes through: its own (a product's), then at most n − 1 additions, the last of which is the rounding of the
 * final value itself. At most n factors, and |Π_{k≤n}(1 + δ_k) − 1| ≤ γ_n (Higham, Lemma 3.1). The bound is the
 * worst case over every order, so it holds whatever a shader compiler does with a loop; it grows with Σ|terms|,
 * not with |s|, because terms of mixed sign cancel while their rounding errors do not.
 *
 * The floor n·2⁻¹²⁶: WGSL lets an implementation flush subnormal values to zero, which the relative model does not
 * cover; each of the n operations may then lose up to 2⁻¹²⁶ (the smallest normal float32) in absolute terms.
 *
 * Not assumed: compensated (Kahan) or double-f32 (TwoSum) summation. Algebraically their correction terms are zero,
 * nothing in WGSL obliges a compiler to keep them (NVIDIA's Vulkan driver was seen not to), so a bound that relied on
 * them (≈ 2u·|s|) would fail on a correct GPU.
 *
 * n smaller than the number of terms: only where the kernel's structure fixes the longest chain of roundings any one
 * term passes through, e.g. a reduction in several dispatches or through workgroup memory behind barriers, which no
 * compiler may reorder; a loop inside one invocation counts its full length. The reference (src/ref) returns
 * Σ|terms| next to each sum it forms; where a result is computed FROM sums (a softmax, a normalised value, a loss),
 * src/testing/bounds/ carries the sum bounds through the remaining operations to one bound per element, and
 * `expectWithin` compares with it.
 *
 * Accuracy of other operations, as WGSL specifies it (WGSL §"Floating Point Accuracy"; 1 ulp ≤ 2u·|x| for a normal
 * x): +, −, × correctly rounded (u relative); x / y 2.5 ulp; inverseSqrt 2 ulp; sqrt as 1 / inverseSqrt; exp(x)
 * 3 + 2|x| ulp; log 3 ulp outside [0.5, 2]. `WGSL_REL` holds them as relative errors.
 *
 * Comparisons never pass on NaN: a NaN in the result, the reference or the bound is a mismatch.
 */

import { reportComparison, worstRatio } from './observe.js';

/** float32 unit roundoff. */
export const U = 2 ** -24;
/** The most a flush-to-zero of a subnormal may change a value by: the smallest normal float32. */
export const FTZ = 2 ** -126;

/** γ_n = n·u / (1 − n·u): the bound on |Π_{k≤n}(1 + δ_k) − 1| for |δ_k| ≤ u. Infinity once n·u ≥ 1. */
export function gamma(n: number): number {
  if (n <= 0) return 0;
  const nu = n * U;
  return nu < 1 ? nu / (1 - nu) : Infinity;
}

/** |ŝ − s| ≤ γ_n·Σ|terms| + n·2⁻¹²⁶ for a float32 sum of n terms (each exact or one product), in any order. */
export function sumBound(n: number, absSum: number): number {
  return gamma(n) * absSum + n * FTZ;
}

/** Relative error bounds of WGSL builtins on float32 (as multiples of the result's magnitude). */
export const WGSL_REL = {
  /** x / y: 2.5 ulp */
  div: 5 * U,
  /** inverseSqrt: 2 ulp */
  inverseSqrt: 4 * U,
  /** sqrt, specified as 1 / inverseSqrt: 2 + 2.5 ulp */
  sqrt: 9 * U,
  /** log outside [0.5, 2]: 3 ulp (inside: 2⁻²¹ absolute) */
  log: 6 * U,
  /** exp(x) of an exact argument: 3 + 2|x| ulp */
  exp: (x: number): number => (6 + 4 * Math.abs(x)) * U,
} as const;

/** Bound on |(a ± ea)(b ± eb) − ab| for inputs known to within ea, eb (exact, not first-order). */
export function productError(a: number, ea: number, b: number, eb: number): number {
  return Math.abs(a) * eb + ea * Math.abs(b) + ea * eb;
}

/** A reference result with a bound per element: a correct result satisfies |got − value| ≤ bound. */
export interface Bounded {
  value: ArrayLike<number>;
  bound: ArrayLike<number>;
}

/** A reference sum: its values, Σ|terms| of each, and n (terms per sum, or the longest rounding chain, see above). */
export interface SumRef {
  value: ArrayLike<number>;
  abs: ArrayLike<number>;
  n: number;
}

/** The per-element bounds γ_n·Σ|terms| + n·2⁻¹²⁶ of a reference sum. */
export function sumBounds(ref: SumRef): Bounded {
  return { value: ref.value, bound: Array.from(ref.abs, (a) => sumBound(ref.n, a)) };
}

/** Elements with |got − value| > bound (NaN anywhere is a mismatch; ±inf passes only when equal), described. */
export function mismatchesWithin(got: ArrayLike<number>, ref: Bounded): string[] {
  if (got.length !== ref.value.length) return [`length ${got.length} ≠ reference length ${ref.value.length}`];
  const out: string[] = [];
  for (let i = 0; i < ref.value.length; i++) {
    const g = got[i]!;
    const r = ref.value[i]!;
    const b = ref.bound[i]!;
    const d = Math.abs(g - r);
    const ok = d <= b || (g === r && !Number.isNaN(b));
    if (!ok) out.push(`[${i}] got ${g} ref ${r} |diff| ${d.toExponential(3)} > bound ${b.toExponential(3)}`);
  }
  return out;
}

/** Throws, with the first mismatches, unless |got − value| ≤ bound for every element. `rule` names the bound. */
export function expectWithin(got: ArrayLike<number>, ref: Bounded, what: string, rule = 'the derived bound'): void {
  reportComparison({ what, count: ref.value.length, ...worstRatio(got, ref.value, (i) => ref.bound[i]!) });
  const bad = mismatchesWithin(got, ref);
  if (bad.length) {
    throw new Error(`${what}: ${bad.length} of ${ref.value.length} elements outside |got−ref| ≤ ${rule}; first mismatches:\n  ${bad.slice(0, 8).join('\n  ')}`);
  }
}

/** expectWithin for a plain reference sum: |got − Σ| ≤ γ_n·Σ|terms| + n·2⁻¹²⁶ per element. */
export function expectSumClose(got: ArrayLike<number>, ref: SumRef, what: string): void {
  expectWithin(got, sumBounds(ref), what, `γ_${ref.n}·Σ|terms| + ${ref.n}·2⁻¹²⁶`);
}

/** Element-wise a + b of two bound arrays (for bounds made of several parts). */
export function addBounds(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]!);
}

/** The elements i of a bounded reference for which keep(i) holds (e.g. the rows with a valid label). */
export function pickBounded(ref: Bounded, keep: (i: number) => boolean): Bounded {
  const idx = Array.from({ length: ref.value.length }, (_, i) => i).filter(keep);
  return { value: idx.map((i) => ref.value[i]!), bound: idx.map((i) => ref.bound[i]!) };
}
