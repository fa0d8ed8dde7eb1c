/**
 * CPU reference of shaders/matmul.wgsl: plain loops, the readable specification.
 *
 *   Z[i,j] = α · Σ_k op(A)[i,k]·op(B)[k,j] + β · C_old[i,j] + bias[j];   Y[i,j] = act(Z[i,j])
 *
 * op(A)[i,k] = transA ? A[k·M + i] : A[i·K + k];  op(B)[k,j] = transB ? B[j·K + k] : B[k·N + j]. Row-major.
 * With `activationGradZ`, Y[i,j] = Z[i,j]·f'(zIn[i,j]) (shaders/matmul.wgsl's ACT_GRAD). As on the GPU, C_old is not
 * read when β = 0. In float32 every multiply and add is rounded (Math.fround), summing
 * k = 0, 1, ... in order; in float64 nothing is rounded.
 *
 * With `{ abs: true }` it also returns, per element, Σ|terms| of the sum that forms Z:
 *   abs[i,j] = |α|·Σ_k |op(A)[i,k]·op(B)[k,j]| + |β·C_old[i,j]| + |bias[j]|     (K + 2 terms; src/testing/sums.ts)
 */
import { defaultAlpha, type Activation } from '../shared.js';
import { activate, activationDerivative } from './activation.js';
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

export interface MatmulRefOptions {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  /** C_old, M×N (read only when β ≠ 0). */
  c?: ArrayLike<number>;
  bias?: ArrayLike<number>;
  activation?: Activation;
  activationAlpha?: number;
  /** Y = Z ⊙ f'(zIn) instead of f(Z) (the activation's backward fused into the product; M×N). */
  activationGradZ?: ArrayLike<number>;
  alpha?: number;
  beta?: number;
}

/** Returns Y = act(Z) and the pre-activation Z, both M×N (and Σ|terms| of each Z when asked). */
export function matmulRef(o: MatmulRefOptions, dtype: Dtype): { y: FloatArray; z: FloatArray };
export function matmulRef(o: MatmulRefOptions, dtype: Dtype, opts: { abs: true }): { y: FloatArray; z: FloatArray; abs: Float64Array };
export function matmulRef(o: MatmulRefOptions, dtype: Dtype, opts: { abs?: boolean } = {}): { y: FloatArray; z: FloatArray; abs?: Float64Array } {
  const { M, N, K } = o;
  const r = rounder(dtype);
  const alpha = o.alpha ?? 1;
  const beta = o.beta ?? 0;
  const kind = o.activation ?? 'identity';
  const actAlpha = o.activationAlpha ?? defaultAlpha(kind);
  if (beta !== 0 && !o.c) throw new Error('matmulRef: β ≠ 0 needs C_old');
  const y = allocate(dtype, M * N);
  const z = allocate(dtype, M * N);
  const abs = opts.abs ? new Float64Array(M * N) : undefined;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      let accAbs = 0;
      for (let k = 0; k < K; k++) {
        const aik = o.transA ? o.a[k * M + i]! : o.a[i * K + k]!;
        const bkj = o.transB ? o.b[j * K + k]! : o.b[k * N + j]!;
        const p = r(aik * bkj);
        acc = r(acc + p);
        if (abs) accAbs += Math.abs(p);
      }
      let v = r(alpha * acc);
      if (beta !== 0) v = r(v + r(beta * o.c![i * N + j]!));
      if (o.bias) v = r(v + o.bias[j]!);
      z[i * N + j] = v;
      y[i * N + j] = o.activationGradZ
        ? r(v * r(activationDerivative(kind, o.activationGradZ[i * N + j]!, actAlpha)))
        : r(activate(kind, v, actAlpha));
      if (abs) abs[i * N + j] = Math.abs(alpha) * accAbs + (beta !== 0 ? Math.abs(beta * o.c![i * N + j]!) : 0) + (o.bias ? Math.abs(o.bias[j]!) : 0);
    }
  }
  return abs ? { y, z, abs } : { y, z };
}
