/**
 * Bounds for shaders/matmul.wgsl against the float64 reference.
 *
 *   Z = α·Σ_k op(A)[i,k]·op(B)[k,j] + β·C_old + bias:  K products, then α·acc, β·C_old, and two additions, so no term
 *   passes through more than K + 3 roundings: |Ẑ − Z| ≤ γ_(K+3)·abs, abs = |α|Σ|a·b| + |β·C_old| + |bias| (the
 *   reference's Σ|terms|, src/ref/matmul.ts), whatever the kernel's k order, tiling or fused multiply-adds.
 *   Inputs known only to within ea, eb, ec, ebias (a model's activations) add |α|·Σ[(|a|+ea)(|b|+eb) − |a||b|]
 *   + |β|·ec + ebias, and those terms are summed with the same γ.
 *   Y = act(Z): Lipschitz(act)·bound(Z) + the activation's own error (bounds/activation.ts).
 *   Y = Z ⊙ f'(zIn) (activationGradZ, zIn exact): |f'(zIn)|·bound(Z) + the derivative's own error.
 */
import { defaultAlpha } from '../../kernels/activation.js';
import { matmulRef, type MatmulRefOptions } from '../../ref/matmul.js';
import { gamma, type Bounded } from '../sums.js';
import { activationDerivative } from '../../ref/activation.js';
import { activationBackwardOwnError, activationLipschitz, activationOwnError } from './activation.js';

export interface MatmulInputErrors {
  a?: ArrayLike<number>;
  b?: ArrayLike<number>;
  c?: ArrayLike<number>;
  bias?: ArrayLike<number>;
}

export function matmulBounded(o: MatmulRefOptions, err: MatmulInputErrors = {}): { y: Bounded; z: Bounded } {
  const { M, N, K } = o;
  const ref = matmulRef(o, 'float64', { abs: true });
  const g = gamma(K + 3);
  const alpha = Math.abs(o.alpha ?? 1);
  const beta = Math.abs(o.beta ?? 0);
  const zb = new Float64Array(M * N);
  for (let i = 0; i < M * N; i++) zb[i] = g * ref.abs[i]! + (K + 3) * 2 ** -126;
  if (err.a || err.b) {
    // Σ_k [(|a| + ea)(|b| + eb) − |a||b|] = Σ_k ea·(|b| + eb) + Σ_k |a|·eb: the products' spread from the inputs' errors.
    const spread = new Float64Array(M * N);
    if (err.a) absProduct(M, N, K, err.a, !!o.transA, o.b, err.b, !!o.transB, spread);
    if (err.b) absProduct(M, N, K, o.a, !!o.transA, err.b, undefined, !!o.transB, spread);
    for (let i = 0; i < M * N; i++) zb[i]! += (1 + g) * alpha * spread[i]!;
  }
  for (let i = 0; i < M * N; i++) {
    if (err.c && beta !== 0) zb[i]! += (1 + g) * beta * err.c[i]!;
    if (err.bias && o.bias) zb[i]! += (1 + g) * err.bias[i % N]!;
  }
  const kind = o.activation ?? 'identity';
  const actAlpha = o.activationAlpha ?? defaultAlpha(kind);
  const L = activationLipschitz(kind, actAlpha);
  const yb = new Float64Array(M * N);
  const zIn = o.activationGradZ;
  for (let i = 0; i < M * N; i++) {
    yb[i] = zIn
      ? Math.abs(activationDerivative(kind, zIn[i]!, actAlpha)) * zb[i]! + activationBackwardOwnError(kind, ref.z[i]!, ref.y[i]!)
      : L * zb[i]! + activationOwnError(kind, ref.y[i]!);
  }
  return { y: { value: ref.y, bound: yb }, z: { value: ref.z, bound: zb } };
}

/** out += |op(A)|·(|op(B)| + eB) in float64 (magnitudes only; i-k-j order over row-major copies). */
function absProduct(
  M: number,
  N: number,
  K: number,
  a: ArrayLike<number>,
  transA: boolean,
  b: ArrayLike<number>,
  eb: ArrayLike<number> | undefined,
  transB: boolean,
  out: Float64Array,
): void {
  const A = new Float64Array(M * K);
  for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) A[i * K + k] = Math.abs(transA ? a[k * M + i]! : a[i * K + k]!);
  const Bm = new Float64Array(K * N);
  for (let k = 0; k < K; k++) {
    for (let j = 0; j < N; j++) {
      const at = transB ? j * K + k : k * N + j;
      Bm[k * N + j] = Math.abs(b[at]!) + (eb ? eb[at]! : 0);
    }
  }
  for (let i = 0; i < M; i++) {
    for (let k = 0; k < K; k++) {
      const aik = A[i * K + k]!;
      if (aik === 0) continue;
      for (let j = 0; j < N; j++) out[i * N + j]! += aik * Bm[k * N + j]!;
    }
  }
}
