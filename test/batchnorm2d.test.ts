/**
 * BatchNorm2d: the reference (BatchNorm1d's on the transposed tensor) against a hand-computed case and finite
 * differences; the GPU (one workgroup per channel, tree reductions) against the float64 reference with outputs
 * poisoned with NaN (src/selftest/batchnorm2d.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkBindings } from '../src/gpu/index.js';
import { batchnorm2dBackwardKernel, batchnorm2dForwardEvalKernel, batchnorm2dForwardTrainKernel, BatchNorm2dOp } from '../src/kernels/batchnorm2d.js';
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
    for (const def of [batchnorm2dForwardTrainKernel, batchnorm2dForwardEvalKernel, batchnorm2dBackwardKernel]) {
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
    for (const wg of [64, 256]) for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu, wg);
  });

  it('training on one value per channel is refused with torch\'s reason', async () => {
    const e = await gpu();
    const b = e.storage('b', 64);
    await expect(BatchNorm2dOp.forwardTrain(e, { batch: 1, channels: 2, plane: 1, x: b, y: b, gamma: b, beta: b, running: b, saved: b })).rejects.toThrow(/more than 1 value per channel/);
    b.destroy();
  });
});
