import { MatmulOp, type MatmulVariant } from '../kernels/matmul.js';
import { matmulRef } from '../ref/matmul.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/**
 * Tolerance of an f32 matmul against the float64 reference, for inputs in [−1, 1]. Recursive f32 summation of K
 * products errs by at most ≈ u·Σ_k |S_k| (u = 2⁻²⁴, S_k the partial sums, |S_k| ~ √(k/9) for uniform inputs), i.e.
 * ≈ 4.6e-9·K^1.5 in the worst case and ≈ u·K/4 typically. atol = 3e-7·K·max(1, |α|) is above that worst case up to
 * K ≈ 4000 (and ~40× the typical error) while still catching one missing or doubled product (|a·b| ~ 0.25 on
 * average). The 1e-6 floor and rtol 1e-5 cover the epilogue: the rounding of α·acc, β·C, + bias (a few u of each
 * term) and the activations (a few ulp; GELU's erfc fit 1.2e-7 relative).
 */
export function matmulTol(K: number, alpha = 1): { atol: number; rtol: number } {
  return { atol: 1e-6 + 3e-7 * K * Math.max(1, Math.abs(alpha)), rtol: 1e-5 };
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 33, 130],
  [67, 9, 33],
];
/** For 'registers-vec4': M, N, K multiples of 4 (every transpose can read them as vec4), not all of 8. */
const SHAPES4: [number, number, number][] = [
  [4, 4, 4],
  [12, 36, 132],
  [68, 8, 36],
];

export const matmulChecks: SelfCheck[] = (['registers', 'registers-vec4', 'tiled', 'tiled8'] as MatmulVariant[]).map((variant) => ({
  name: `matmul.${variant}`,
  async run(e, rand) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const [M, N, K] of variant === 'registers-vec4' ? SHAPES4 : SHAPES) {
          const a = uniformArray(M * K, -1, 1, rand);
          const b = uniformArray(K * N, -1, 1, rand);
          const cOld = uniformArray(M * N, -1, 1, rand);
          const bias = uniformArray(N, -1, 1, rand);
          const o = { M, N, K, transA, transB, activation: 'relu' as const, alpha: 0.5, beta: 1 };
          const ab = e.storage('a', a);
          const bb = e.storage('b', b);
          const cb = e.storage('c', cOld);
          const biasb = e.storage('bias', bias);
          const zb = e.storage('z', new Float32Array(M * N).fill(NaN));
          const op = await MatmulOp.create(e, { ...o, a: ab, b: bb, c: cb, bias: biasb, z: zb, variant });
          try {
            e.run(`selftest matmul.${variant}`, (pass) => op.encode(pass));
            const ref = matmulRef({ ...o, a, b, c: cOld, bias }, 'float64');
            const what = `matmul.${variant} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}×${N}×${K}`;
            expectClose(await e.readF32(cb), ref.y, matmulTol(K), `${what} C`);
            expectClose(await e.readF32(zb), ref.z, matmulTol(K), `${what} Z`);
          } finally {
            for (const x of [ab, bb, cb, biasb, zb]) x.destroy();
            op.destroy();
          }
        }
      }
    }
  },
}));
