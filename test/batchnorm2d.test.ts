/**
 * BatchNorm2d: the reference (BatchNorm1d's on the transposed tensor) against a hand-computed case and finite
 * differences; the GPU in both reduction forms (single: one workgroup per channel; split: chunks of a channel reduced
 * apart, then merged), each forced, against the float64 reference with outputs poisoned with NaN
 * (src/selftest/batchnorm2d.ts); which form the automatic rule picks where.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkBindings } from '../src/gpu/index.js';
import type { Engine } from '../src/gpu/index.js';
import { setBatchNormReduction } from '../src/kernels/batchnorm-reduction.js';
import {
  batchnorm2dBackwardApplyKernel, batchnorm2dBackwardKernel, batchnorm2dBackwardPartialKernel, batchnorm2dForwardApplyKernel, batchnorm2dForwardEvalKernel,
  batchnorm2dForwardPartialKernel, batchnorm2dForwardTrainKernel, batchnorm2dReduction, BatchNorm2dOp,
} from '../src/kernels/batchnorm2d.js';
import { batchnorm2dBackwardRef, batchnorm2dTrainRef } from '../src/ref/batchnorm2d.js';
import { BATCHNORM2D_CASES, checkBatchNorm2dCase } from '../src/selftest/batchnorm2d.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

describe('batchnorm2d CPU reference', () => {
  it('per channel over the batch and the plane; running variance unbiased over N·H·W', () => {
    // N = 2, C = 2, P = 2: channel 0 holds 1, 2 (n = 0) and 3, 4 (n = 1); channel 1 holds 10 ×4.
    const x = [1, 2, 10, 10, 3, 4, 10, 10];
    const t = batchnorm2dTrainRef(x, { batch: 2, channels: 2, plane: 2 }, [1, 1], [0, 0], [0, 0], [1, 1], 'float64', { momentum: 0.5 });
    expect(Array.from(t.mean)).toEqual([2.5, 10]);
    expect(t.runningVar[0]).toBeCloseTo(0.5 * 1 + 0.5 * (5 / 3), 12); // var 1.25 biased, 5/3 unbiased over m = 4
    const s = 1 / Math.sqrt(1.25 + 1e-5);
    expect(Array.from(t.y).map((v) => +v.toFixed(9))).toEqual([-1.5 * s, -0.5 * s, 0, 0, 0.5 * s, 1.5 * s, 0, 0].map((v) => +v.toFixed(9)));
  });

  it(`gradients: directional finite differences of Σ dy·y w.r.t. x, γ, β (float64; ${seedInfo()})`, () => {
    const rand = rng();
    const s = { batch: 3, channels: 2, plane: 5 };
    const n = 30;
    const x = Float64Array.from(uniformArray(n, -2, 2, rand));
    const dy = Float64Array.from(uniformArray(n, -1, 1, rand));
    const gamma = Float64Array.from([0.7, -1.3]);
    const beta = Float64Array.from([0.2, -0.4]);
    const f = (xx: ArrayLike<number>, g: ArrayLike<number>, b: ArrayLike<number>) =>
      Array.from(batchnorm2dTrainRef(xx, s, g, b, [0, 0], [1, 1], 'float64').y).reduce((acc, v, i) => acc + v * dy[i]!, 0);
    const t = batchnorm2dTrainRef(x, s, gamma, beta, [0, 0], [1, 1], 'float64');
    const g = batchnorm2dBackwardRef(x, dy, s, gamma, t.mean, t.invstd, 'float64');
    const h = 1e-6;
    for (const [name, base, grad] of [['x', x, g.dx], ['γ', gamma, g.dgamma], ['β', beta, g.dbeta]] as const) {
      const v = Float64Array.from(base, () => 2 * rand() - 1);
      const moved = (sign: number) => Float64Array.from(base, (b, i) => b + sign * h * v[i]!);
      const at = (sign: number) => (name === 'x' ? f(moved(sign), gamma, beta) : name === 'γ' ? f(x, moved(sign), beta) : f(x, gamma, moved(sign)));
      const fd = (at(1) - at(-1)) / (2 * h);
      const an = Array.from(grad).reduce((acc, gi, i) => acc + gi * v[i]!, 0);
      expect(Math.abs(fd - an), `${name}: ∇·v = ${an} vs ${fd}`).toBeLessThan(1e-7 * (1 + Math.abs(an)));
    }
  });
});

describe(`batchnorm2d GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader', async () => {
    const e = await gpu();
    const defs = [
      batchnorm2dForwardTrainKernel, batchnorm2dForwardEvalKernel, batchnorm2dBackwardKernel,
      batchnorm2dForwardPartialKernel, batchnorm2dForwardApplyKernel, batchnorm2dBackwardPartialKernel, batchnorm2dBackwardApplyKernel,
    ];
    for (const def of defs) {
      expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
    }
  });

  it('train forward (with a fused ReLU), running statistics, backward and eval forward', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu);
  });

  it('both workgroup sizes (64: software adapters, 256: GPUs) on every case', async () => {
    const e = await gpu();
    const rand = rng();
    for (const workgroupSize of [64, 256]) for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu, { workgroupSize, reduction: 'single' });
  });

  it('the split form at awkward chunkings: uneven last chunks, one-value chunks, more chunks than invocations', async () => {
    const e = await gpu();
    const rand = rng();
    // m = N·P = 70, 3, 572, 903. 2 chunks (3 → 2 + 1); 7 (70 in 7 × 10, 572 → 6 × 82 and 80, 903 in 7 × 129); 100
    // (572 → 95 × 6 and 2, 903 → 90 × 10 and 3: more chunks than the 64 invocations that merge them); up to 600, m
    // chunks (one value each: D = Q = 0, the merge alone forms the variance; 572 > 256 invocations).
    for (const [s, relu] of BATCHNORM2D_CASES) {
      const m = s.batch * s.plane;
      const counts = [2, 7, 100, m <= 600 ? m : 2].map((k) => Math.min(k, m));
      for (const chunks of new Set(counts)) await checkBatchNorm2dCase(e, rand, s, relu, { reduction: 'split', chunks });
    }
    await checkBatchNorm2dCase(e, rand, { batch: 3, channels: 7, plane: 45 }, true, { reduction: 'split', workgroupSize: 256, chunks: 4 });
    // The default chunk count of a forced split (2 at these sizes: batchnorm2dSplitChunks).
    await checkBatchNorm2dCase(e, rand, { batch: 5, channels: 3, plane: 17 }, false, { reduction: 'split' });
  });

  it('setBatchNormReduction forces the form of every op planned on the engine afterwards', async () => {
    const e = await gpu();
    const rand = rng();
    setBatchNormReduction(e, 'split');
    try {
      await checkBatchNorm2dCase(e, rand, { batch: 2, channels: 3, plane: 35 }, true);
      expect(batchnorm2dReduction(e, { batch: 2, channels: 3, plane: 35 }).form).toBe('split');
      expect(batchnorm2dReduction(e, { batch: 2, channels: 3, plane: 35, reduction: 'single' }).form).toBe('single');
    } finally {
      setBatchNormReduction(e, 'auto');
    }
    expect(batchnorm2dReduction(e, { batch: 2, channels: 3, plane: 35 }).form).toBe('single');
    expect(() => setBatchNormReduction(e, 'fast' as never)).toThrow(/'fast' is not one of 'single', 'split', 'auto'/);
  });

  it('training on one value per channel is refused with torch\'s reason', async () => {
    const e = await gpu();
    const b = e.storage('b', 64);
    await expect(BatchNorm2dOp.forwardTrain(e, { batch: 1, channels: 2, plane: 1, x: b, y: b, gamma: b, beta: b, running: b, saved: b })).rejects.toThrow(/more than 1 value per channel/);
    b.destroy();
  });
});

describe('batchnorm2d reduction rule', () => {
  // Only `software` and the grid limit are read.
  const fake = (software: boolean) => ({ software, limits: { maxComputeWorkgroupsPerDimension: 65535 } }) as unknown as Engine;
  const at = (software: boolean, batch: number, channels: number, plane: number) => batchnorm2dReduction(fake(software), { batch, channels, plane });

  it('GPUs split the CNN preset\'s layers into ≈ 512 workgroups; small, many-channel or software cases stay single', () => {
    // 32×28×28 and 64×14×14 at batch 128: 16 chunks of 6272, 8 of 3136.
    expect(at(false, 128, 32, 784)).toEqual({ form: 'split', chunks: 16, chunk: 6272 });
    expect(at(false, 128, 64, 196)).toEqual({ form: 'split', chunks: 8, chunk: 3136 });
    expect(at(true, 128, 32, 784).form).toBe('single');
    // Chunks of ≥ 2048 values: m = 4095 is one chunk, so single; 4096 is two.
    expect(at(false, 5, 3, 819).form).toBe('single');
    expect(at(false, 4, 3, 1024)).toEqual({ form: 'split', chunks: 2, chunk: 2048 });
    // 512 channels or more already give 2+ workgroups per multiprocessor.
    expect(at(false, 128, 512, 784).form).toBe('single');
    expect(at(false, 128, 300, 784)).toEqual({ form: 'split', chunks: 2, chunk: 50176 });
  });

  it('a requested chunk count becomes K chunks of L = ⌈m / K⌉, none empty; bad requests are named', () => {
    expect(batchnorm2dReduction(fake(true), { batch: 2, channels: 1, plane: 5, reduction: 'split', chunks: 6 })).toEqual({ form: 'split', chunks: 5, chunk: 2 });
    expect(() => batchnorm2dReduction(fake(true), { batch: 2, channels: 1, plane: 5, reduction: 'split', chunks: 11 })).toThrow(/chunks 11 must be an integer in \[1, 10\]/);
    expect(() => batchnorm2dReduction(fake(false), { batch: 2, channels: 1, plane: 5, reduction: 'single', chunks: 2 })).toThrow(/chunks 2 is for reduction 'split'/);
    expect(() => batchnorm2dReduction(fake(false), { batch: 2, channels: 1, plane: 5, reduction: 'fast' as never })).toThrow(/reduction 'fast' must be 'single' or 'split'/);
  });
});
