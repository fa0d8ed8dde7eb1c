import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/index.js';
import { setBatchNormReduction } from '../src/kernels/batchnorm-reduction.js';
import { BatchNormOp, batchnormReduction } from '../src/kernels/batchnorm.js';
import { batchnormBackwardRef, batchnormTrainRef } from '../src/ref/batchnorm.js';
import { batchnormChecks, checkBatchNormCase, compareBatchNorm, runBatchNormCase } from '../src/selftest/batchnorm.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBounded } from '../src/testing/bounds/batchnorm.js';
import { addBounds, expectWithin } from '../src/testing/sums.js';
import { expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

describe(`batchnorm, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('train forward, running stats, backward and eval forward at awkward B and F', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [B, F] of [[2, 1], [2, 7], [7, 33], [33, 130], [130, 7], [127, 65]] as const) await checkBatchNormCase(e, rand, B, F);
  });

  it('the split form (chunks of rows reduced apart, then merged), forced at awkward B, F and chunk counts', async () => {
    const e = await gpu();
    const rand = rng();
    // 2 chunks; 5 (33 → 4 × 7 and 5; 127 → 4 × 26 and 23); one row each (B chunks: D = Q = 0, the merge alone forms
    // the variance, 130 of them per feature); the default for a forced split (⌊√B⌋: 130 → 11 × 12 and 10).
    for (const [B, F] of [[2, 1], [2, 7], [7, 33], [33, 130], [130, 7], [127, 65]] as const) {
      for (const chunks of new Set([2, Math.min(5, B), B, undefined])) await checkBatchNormCase(e, rand, B, F, { reduction: 'split', chunks });
    }
  });

  it('setBatchNormReduction forces the form of BatchNorm1d ops too', async () => {
    const e = await gpu();
    setBatchNormReduction(e, 'split');
    try {
      expect(batchnormReduction(e, { rows: 130, features: 7 })).toEqual({ form: 'split', chunks: 11, chunk: 12 });
      await checkBatchNormCase(e, rng(), 9, 5);
    } finally {
      setBatchNormReduction(e, 'auto');
    }
    expect(batchnormReduction(e, { rows: 130, features: 7 }).form).toBe('single');
  });

  it('γ, β, dγ, dβ as 256-byte-aligned ranges of flat parameter / gradient buffers; gradients written, neighbours untouched', async () => {
    const e = await gpu();
    const rand = rng();
    const B = 9;
    const F = 5;
    const x = uniformArray(B * F, -2, 2, rand);
    const dy = uniformArray(B * F, -1, 1, rand);
    const gamma = uniformArray(F, 0.5, 2, rand);
    const beta = uniformArray(F, -1, 1, rand);
    // Flat layout: [γ at 0][β at 256 bytes]; the gradient buffer has the same layout and starts full of 7s.
    const flat = new Float32Array(128).fill(123);
    flat.set(gamma, 0);
    flat.set(beta, 64);
    const params = e.storage('params', flat);
    const grads = e.storage('grads', new Float32Array(128).fill(7));
    const range = (buffer: GPUBuffer, floatOffset: number): GPUBufferBinding => ({ buffer, offset: floatOffset * 4, size: F * 4 });
    const xb = e.storage('x', x);
    const dyb = e.storage('dy', dy);
    const running = e.storage('running', Float32Array.from({ length: 2 * F }, (_, i) => (i < F ? 0 : 1)));
    const saved = poisoned(e, 'saved', 2 * F);
    const y = poisoned(e, 'y', B * F);
    const dx = poisoned(e, 'dx', B * F);
    const shape = { rows: B, features: F };
    const fwd = await BatchNormOp.forwardTrain(e, { ...shape, x: xb, y, gamma: range(params, 0), beta: range(params, 64), running, saved });
    const bwd = await BatchNormOp.backward(e, { ...shape, x: xb, dy: dyb, gamma: range(params, 0), saved, dx, dgamma: range(grads, 0), dbeta: range(grads, 64) });
    // Two steps: the gradients must be written (equal after each step), not accumulated (doubled).
    for (let step = 0; step < 2; step++) e.run('bn ranges', (pass) => (fwd.encode(pass), bwd.encode(pass)));
    const t = batchnormTrainBounded(x, B, F, gamma, beta, new Float32Array(F), new Float32Array(F).fill(1));
    const t2 = batchnormTrainBounded(x, B, F, gamma, beta, t.runningMean.value, t.runningVar.value);
    const bw = batchnormBackwardBounded(x, dy, B, F, gamma, t.mean.value, t.invstd.value, { emean: t.mean.bound, einvstd: t.invstd.bound });
    expectWithin(await e.readF32(y), t.y, 'y');
    expectWithin(await e.readF32(dx), bw.dx, 'dx');
    const g = await e.readF32(grads);
    expectWithin(g.subarray(0, F), bw.dgamma, 'dgamma range');
    expectWithin(g.subarray(64, 64 + F), bw.dbeta, 'dbeta range');
    expect([...g.subarray(F, 64), ...g.subarray(64 + F)].every((v) => v === 7)).toBe(true);
    const run = await e.readF32(running);
    // Step 2 starts from step 1's running statistics, known to within their bounds and scaled by 1 − momentum.
    const carried = (b1: ArrayLike<number>, b2: ArrayLike<number>) => addBounds(b2, Float64Array.from(b1, (v) => 0.9 * v));
    expectWithin(run.subarray(0, F), { value: t2.runningMean.value, bound: carried(t.runningMean.bound, t2.runningMean.bound) }, 'running_mean after 2 steps');
    expectWithin(run.subarray(F), { value: t2.runningVar.value, bound: carried(t.runningVar.bound, t2.runningVar.bound) }, 'running_var after 2 steps');
    for (const b of [params, grads, xb, dyb, running, saved, y, dx]) b.destroy();
    fwd.destroy();
    bwd.destroy();
  });

  it('B = 1: training is rejected at plan time with a clear error, evaluation works', async () => {
    const e = await gpu();
    const F = 3;
    const b = (n: number) => e.storage('buf', n * 4);
    const bufs = { x: b(F), y: b(F), gamma: b(F), beta: b(F), running: b(2 * F), saved: b(2 * F), dy: b(F), dx: b(F), dgamma: b(F), dbeta: b(F) };
    await expect(BatchNormOp.forwardTrain(e, { rows: 1, features: F, ...bufs })).rejects.toThrow(/at least 2 rows per batch, got 1.*Expected more than 1 value per channel/);
    await expect(BatchNormOp.backward(e, { rows: 1, features: F, ...bufs })).rejects.toThrow(/at least 2 rows/);
    e.write(bufs.x, Float32Array.of(1, 2, 3));
    e.write(bufs.gamma, Float32Array.of(1, 2, -1));
    e.write(bufs.beta, Float32Array.of(0, 1, 0.5));
    e.write(bufs.running, Float32Array.of(0.5, 0, 1, 1, 4, 0.25));
    const ev = await BatchNormOp.forwardEval(e, { rows: 1, features: F, ...bufs });
    e.run('bn eval B=1', (pass) => ev.encode(pass));
    expectWithin(await e.readF32(bufs.y), batchnormEvalBounded([1, 2, 3], 1, F, [1, 2, -1], [0, 1, 0.5], [0.5, 0, 1], [1, 4, 0.25]), 'eval B=1');
    // Sizes are checked at plan time too.
    await expect(BatchNormOp.forwardTrain(e, { rows: 4, features: F, ...bufs })).rejects.toThrow(/x holds 12 bytes, needs 48/);
    for (const v of Object.values(bufs)) v.destroy();
    ev.destroy();
  });

  it('setRows normalises a last partial batch over its own rows (split: over its own chunks of the planned size)', async () => {
    const e = await gpu();
    const rand = rng();
    const [B, F] = [130, 6];
    // Split: 13 chunks of 10 planned; 47 rows are 5 of them (the last of 7), 7 rows one; the other chunks' threads idle.
    for (const [rows, form] of [[7, {}], [7, { reduction: 'split', chunks: 13 }], [47, { reduction: 'split', chunks: 13 }]] as const) {
      const x = uniformArray(B * F, -2, 2, rand);
      const gamma = uniformArray(F, 0.5, 2, rand);
      const beta = uniformArray(F, -1, 1, rand);
      const bufs = {
        x: e.storage('x', x), y: poisoned(e, 'y', B * F), gamma: e.storage('g', gamma), beta: e.storage('b', beta),
        running: e.storage('running', new Float32Array(2 * F)), saved: poisoned(e, 'saved', 2 * F),
      };
      const op = await BatchNormOp.forwardTrain(e, { rows: B, features: F, ...form, ...bufs });
      op.setRows(rows);
      e.run('bn partial', (pass) => op.encode(pass));
      const plan = op.reduction!;
      const split = plan.form === 'split' ? { chunk: plan.chunk } : undefined;
      const t = batchnormTrainBounded(x.subarray(0, rows * F), rows, F, gamma, beta, new Float32Array(F), new Float32Array(F), {}, undefined, split);
      const y = await e.readF32(bufs.y);
      expectWithin(y.subarray(0, rows * F), t.y, `partial batch y, ${rows} rows, ${op.detail}`);
      // Rows past the partial batch are not written.
      expect(y.subarray(rows * F).every(Number.isNaN)).toBe(true);
      expect(() => op.setRows(1)).toThrow(/at least 2 rows/);
      expect(() => op.setRows(131)).toThrow(/\[2, 130\]/);
      for (const v of Object.values(bufs)) v.destroy();
      op.destroy();
    }
  });

  for (const c of batchnormChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));

  it('deliberate breaks: a row dropped from a sum, the biased variance in running_var, a lost term of dγ fail the bounds', async () => {
    const e = await gpu();
    const rand = rng();
    const fails = (f: () => void) => expect(f).toThrow(/outside \|got−ref\|/);
    const [B, F] = [33, 7];
    const { got, ref, inputs } = await runBatchNormCase(e, rand, B, F);
    const { x, dy } = inputs;
    compareBatchNorm(got, ref, 'unbroken');
    const broken = (k: keyof typeof got, f: (v: number, i: number) => number) => () => compareBatchNorm({ ...got, [k]: got[k].map(f) }, ref, `broken ${k}`);
    const last = (B - 1) * F;
    const xhat = (i: number) => (x[i]! - ref.mean.value[i % F]!) * ref.invstd.value[i % F]!;
    // Sums over rows 0..B−2 (the loop one short): the mean, dβ = Σ dy, dγ = Σ dy·x̂.
    fails(broken('mean', (v, f) => v - x[last + f]! / B));
    fails(broken('dbeta', (v, f) => v - dy[last + f]!));
    fails(broken('dgamma', (v, f) => v - dy[last + f]! * xhat(last + f)));
    // The biased variance q/B in running_var in place of torch's unbiased q/(B − 1).
    fails(broken('runningVar', (v, f) => v - (0.1 * (ref.invstd.value[f]! ** -2 - 1e-5)) / (B - 1)));
    // dx without the −x̂·dγ term; eval without ε under the square root (a change of only ~ε/(2·var) relative).
    fails(broken('dx', (v, i) => v + ((inputs.gamma[i % F]! * ref.invstd.value[i % F]!) / B) * xhat(i) * ref.dgamma.value[i % F]!));
    fails(broken('yEval', (v, i) => v * Math.sqrt((got.runningVar[i % F]! + 1e-5) / got.runningVar[i % F]!)));
  });
});

describe('batchnorm CPU reference', () => {
  it('backward = central finite differences of the training forward (float64)', () => {
    const rand = rng();
    for (const [B, F] of [[2, 1], [5, 3], [13, 4]] as const) {
      const x = Float64Array.from(uniformArray(B * F, -2, 2, rand));
      const w = Float64Array.from(uniformArray(B * F, -1, 1, rand)); // L = Σ w·y, so dL/dy = w
      const gamma = Float64Array.from(uniformArray(F, 0.5, 2, rand));
      const beta = Float64Array.from(uniformArray(F, -1, 1, rand));
      const zeros = new Float64Array(F);
      const loss = (xx: ArrayLike<number>, g: ArrayLike<number>, bt: ArrayLike<number>) => {
        const y = batchnormTrainRef(xx, B, F, g, bt, zeros, zeros, 'float64').y;
        let s = 0;
        for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
        return s;
      };
      const t = batchnormTrainRef(x, B, F, gamma, beta, zeros, zeros, 'float64');
      const an = batchnormBackwardRef(x, w, B, F, gamma, t.mean, t.invstd, 'float64');
      const h = 1e-6;
      const fd = (arr: Float64Array, i: number, f: () => number) => {
        const v = arr[i]!;
        arr[i] = v + h;
        const up = f();
        arr[i] = v - h;
        const down = f();
        arr[i] = v;
        return (up - down) / (2 * h);
      };
      const L = () => loss(x, gamma, beta);
      const tol = { atol: 1e-7, rtol: 1e-6 };
      expectClose(Array.from(x, (_, i) => fd(x, i, L)), an.dx, tol, `dx B=${B} F=${F}`);
      expectClose(Array.from(gamma, (_, i) => fd(gamma, i, L)), an.dgamma, tol, `dgamma B=${B} F=${F}`);
      expectClose(Array.from(beta, (_, i) => fd(beta, i, L)), an.dbeta, tol, `dbeta B=${B} F=${F}`);
    }
  });

  it('matches torch semantics: biased variance normalises, unbiased variance updates running_var', () => {
    // x = [1, 2, 3, 6] in one feature: mean 3, biased var 3.5, unbiased var 14/3.
    const t = batchnormTrainRef([1, 2, 3, 6], 4, 1, [1], [0], [0], [1], 'float64');
    expect(t.mean[0]).toBe(3);
    expect(t.invstd[0]).toBeCloseTo(1 / Math.sqrt(3.5 + 1e-5), 15);
    expect(t.runningMean[0]).toBeCloseTo(0.3, 15);
    expect(t.runningVar[0]).toBeCloseTo(0.9 + 0.1 * (14 / 3), 15);
    expect(t.y[0]).toBeCloseTo(-2 / Math.sqrt(3.5 + 1e-5), 12);
    // The float32 path is a correct float32 computation: within the bounds a GPU is held to (sums over the batch).
    const t32 = batchnormTrainRef([1, 2, 3, 6], 4, 1, [1], [0], [0], [1], 'float32');
    const b = batchnormTrainBounded([1, 2, 3, 6], 4, 1, [1], [0], [0], [1]);
    expectWithin(t32.y, b.y, 'float32 vs float64: y');
    expectWithin(t32.invstd, b.invstd, 'float32 vs float64: invstd');
    expectWithin(t32.runningVar, b.runningVar, 'float32 vs float64: running_var');
  });
});

describe('batchnorm reduction rule', () => {
  // Only `software` and the grid limit are read.
  const fake = (software: boolean) => ({ software, limits: { maxComputeWorkgroupsPerDimension: 65535 } }) as unknown as Engine;
  const at = (software: boolean, rows: number, features: number) => batchnormReduction(fake(software), { rows, features });

  it('GPUs split ≥ 64 rows of < 32768 features into ⌊√B⌋ chunks (fewer when F already fills 32768 threads); software stays single', () => {
    expect(at(false, 1024, 256)).toEqual({ form: 'split', chunks: 32, chunk: 32 });
    expect(at(false, 128, 256)).toEqual({ form: 'split', chunks: 11, chunk: 12 });
    expect(at(false, 1024, 8192)).toEqual({ form: 'split', chunks: 4, chunk: 256 });
    expect(at(false, 63, 256).form).toBe('single');
    expect(at(false, 1024, 32768).form).toBe('single');
    expect(at(true, 1024, 256).form).toBe('single');
    expect(() => batchnormReduction(fake(false), { rows: 4, features: 2, reduction: 'single', chunks: 2 })).toThrow(/chunks 2 is for reduction 'split'/);
    expect(() => batchnormReduction(fake(false), { rows: 4, features: 2, reduction: 'split', chunks: 5 })).toThrow(/chunks 5 must be an integer in \[1, 4\]/);
  });
});
