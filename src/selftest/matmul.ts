import { MatmulOp, type MatmulVariant } from '../kernels/matmul.js';
import { matmulBounded } from '../testing/bounds/matmul.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin } from '../testing/sums.js';
import type { SelfCheck } from './types.js';

// Tolerance: |Ẑ − Z| ≤ γ_(K+3)·(|α|Σ_k|a·b| + |β·C| + |bias|) per element, whatever the kernel's order of k, tiling
// or fused multiply-adds (src/testing/bounds/matmul.ts); Y = act(Z) adds the activation's own error.

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
          // 'tiled8' at its hardware tile (16×16 invocations) takes a minute on SwiftShader, whose barriers are slow:
          // software adapters check its code paths with a 32×32 tile (they never choose it for training).
          const tile = variant === 'tiled8' && e.software ? { wgX: 4, wgY: 4, bk: 4 } : undefined;
          const op = await MatmulOp.create(e, { ...o, a: ab, b: bb, c: cb, bias: biasb, z: zb, variant, tile });
          try {
            e.run(`selftest matmul.${variant}`, (pass) => op.encode(pass));
            const ref = matmulBounded({ ...o, a, b, c: cOld, bias });
            const what = `matmul.${variant} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${M}×${N}×${K}`;
            expectWithin(await e.readF32(cb), ref.y, `${what} C`);
            expectWithin(await e.readF32(zb), ref.z, `${what} Z`);
          } finally {
            for (const x of [ab, bb, cb, biasb, zb]) x.destroy();
            op.destroy();
          }
        }
      }
    }
  },
}));
