/**
 * How shaders/activation_fns.wgsl's functions enter a bound: their own error on an exact input, and the Lipschitz
 * constants that carry an input's error through f (forward) and f' (backward).
 *
 * Own error: identity and relu are exact; leaky_relu rounds α·x (and α itself to float32); the others are within
 * ACTIVATION_TOL, the accuracy the activation tests state and check (f32 exp/tanh within a few ulp; GELU's erfc fit
 * 1.2e-7 relative). In the backward dx = dy·f'(x) that accuracy is relative to |dy| (the tests use |dy| ≤ 2).
 */
import { defaultAlpha, type Activation } from '../../kernels/activation.js';
import { activate, activationDerivative } from '../../ref/activation.js';
import { U, type Bounded } from '../sums.js';

// f32 exp/tanh are within a few ulp; the erfc fit in GELU has 1.2e-7 fractional error.
export const ACTIVATION_TOL = { atol: 2e-6, rtol: 2e-5 };

const EXACT = new Set<Activation>(['identity', 'relu']);

/** max |f'|: carries |Δx| into |Δf(x)|. */
export function activationLipschitz(kind: Activation, alpha = defaultAlpha(kind)): number {
  switch (kind) {
    case 'identity': case 'relu': case 'tanh': case 'softplus': return 1;
    case 'leaky_relu': case 'elu': return Math.max(1, Math.abs(alpha));
    case 'sigmoid': return 0.25;
    case 'gelu': case 'gelu_tanh': return 1.13; // Φ(x) + xφ(x) peaks at 1.129 (x = √2)
  }
}

/** Bound on |f'(x') − f'(x)| for |x' − x| ≤ ex: max |f''|·ex, or the jump of f' at 0 when x may cross it. */
export function derivativeVariation(kind: Activation, x: number, ex: number, alpha = defaultAlpha(kind)): number {
  if (ex === 0) return 0;
  const crosses = Math.abs(x) <= ex;
  switch (kind) {
    case 'identity': return 0;
    case 'relu': return crosses ? 1 : 0;
    case 'leaky_relu': return crosses ? Math.abs(1 - alpha) : 0;
    case 'elu': return Math.abs(alpha) * ex + (crosses ? Math.abs(1 - alpha) : 0);
    case 'sigmoid': return 0.0963 * ex; // max |σ''| = 1/(6√3)
    case 'tanh': return 0.7699 * ex; // max |tanh''| = 4/(3√3)
    case 'gelu': case 'gelu_tanh': return 0.8 * ex; // |f''| = φ(x)|2 − x²| ≤ 2φ(0) = 0.798
    case 'softplus': return 0.25 * ex;
  }
}

/** |f̂(x) − f(x)| on an exact x. */
export function activationOwnError(kind: Activation, y: number): number {
  if (EXACT.has(kind)) return 0;
  if (kind === 'leaky_relu') return 2 * U * Math.abs(y);
  return ACTIVATION_TOL.atol + ACTIVATION_TOL.rtol * Math.abs(y);
}

/** |dx̂ − dx| of dx = dy·f'(x) on exact x, dy. */
export function activationBackwardOwnError(kind: Activation, dy: number, dx: number): number {
  if (EXACT.has(kind)) return 0;
  if (kind === 'leaky_relu') return 2 * U * Math.abs(dx);
  return (ACTIVATION_TOL.atol / 2) * Math.abs(dy) + ACTIVATION_TOL.rtol * Math.abs(dx);
}

/** y = f(x) in float64 with its bound, x known to within ex (default exact). */
export function activationBounded(kind: Activation, x: ArrayLike<number>, ex?: ArrayLike<number>, alpha = defaultAlpha(kind)): Bounded {
  const L = activationLipschitz(kind, alpha);
  const value = Float64Array.from(x, (v) => activate(kind, v, alpha));
  const bound = value.map((y, i) => L * (ex?.[i] ?? 0) + activationOwnError(kind, y));
  return { value, bound };
}

/** dx = dy·f'(x) in float64 with its bound, x and dy known to within ex, edy (default exact). */
export function activationBackwardBounded(
  kind: Activation,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  ex?: ArrayLike<number>,
  edy?: ArrayLike<number>,
  alpha = defaultAlpha(kind),
): Bounded {
  const n = x.length;
  const value = new Float64Array(n);
  const bound = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const d = activationDerivative(kind, x[i]!, alpha);
    const e = edy?.[i] ?? 0;
    value[i] = dy[i]! * d;
    bound[i] = Math.abs(d) * e + (Math.abs(dy[i]!) + e) * derivativeVariation(kind, x[i]!, ex?.[i] ?? 0, alpha) + activationBackwardOwnError(kind, dy[i]!, value[i]!);
  }
  return { value, bound };
}
