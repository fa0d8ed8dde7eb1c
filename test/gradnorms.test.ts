/**
 * Gradient norms for monitoring (shaders/gradnorms.wgsl, src/kernels/gradnorms.ts): the accumulate kernel against its
 * float64 reference (the self-check, at several seeds: awkward lengths, a group of two ranges, an empty range, a NaN
 * step), and RunnerConfig.gradNorms in the runners: the GPU runner's reports equal the norms of the gradients it
 * actually computed (read back after each step) over a window of steps, each layer with parameters named, three more
 * dispatches per step, nothing left behind; the CPU runner reports the same layers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { layoutModel } from '../src/model/layout.js';
import { parseModelSpec } from '../src/model/spec.js';
import { gradNormsRef } from '../src/ref/gradnorms.js';
import { gradNormChecks, gradNormTolerance, normCounts, normValues } from '../src/selftest/gradnorms.js';
import { expectClose } from '../src/testing/compare.js';
import { mulberry32, uniformArray } from '../src/testing/random.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { gradNormLayers } from '../src/train/grad-norm-groups.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { MetricsReport, RunnerConfig } from '../src/train/runner.js';
import { gpu } from './helpers/gpu.js';
import { TEST_SEED, seedInfo } from './helpers/random.js';

describe(`gradient norms (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('accumulate matches the float64 reference, NaN steps included (3 seeds)', async () => {
    const e = await gpu();
    for (let k = 0; k < 3; k++) await gradNormChecks[0]!.run(e, mulberry32(TEST_SEED + k));
  });

  it('the GPU runner reports the norms of the gradients it computed, per layer and over a window of steps', async () => {
    const e = await gpu();
    const rand = mulberry32(TEST_SEED);
    const n = 37;
    const ds = new Dataset({ name: 'random', inputs: uniformArray(n * 13, -1, 1, rand), inputShape: [13], labels: Uint8Array.from({ length: n }, () => Math.floor(rand() * 5)) });
    const model = parseModelSpec('13-dense(9)-bn-relu-dropout(0.1)-dense(5)');
    const config: RunnerConfig = { model, batchSize: 16, optimizer: { name: 'SGD', hyperparams: { lr: 0.1, momentum: 0.9 } }, seed: 3, metricsEvery: 3, gradNorms: true };
    const layout = layoutModel(model);
    const layers = gradNormLayers(model, layout);
    expect(layers.map((l) => l.name)).toEqual(['0 dense 13→9', '1 batchnorm 9→9', '4 dense 9→5']);

    const memBefore = e.memory();
    const plain = await createGpuRunner(e, { ...config, gradNorms: false });
    const g = await createGpuRunner(e, config);
    const reports: MetricsReport[] = [];
    g.onMetrics((m) => reports.push(m));
    await g.setTrainingData(ds);
    await plain.setTrainingData(ds);
    g.beginEpoch(Uint32Array.from({ length: n }, (_, i) => (i * 7) % n));
    plain.beginEpoch(Uint32Array.from({ length: n }, (_, i) => i));
    const grads: Float32Array[] = [];
    for (let s = 0; s < 3; s++) {
      g.step({ step: s, start: s * 16, rows: Math.min(16, n - s * 16), lr: 0.1 }); // 16, 16, then the partial 5
      grads.push(await e.readF32(g.grads, layout.n)); // waits for the step: this step's gradient, before the next
    }
    plain.step({ step: 0, start: 0, rows: 16, lr: 0.1 });
    expect(g.dispatchesPerStep - plain.dispatchesPerStep, 'extra dispatches per step (stats ×2, accumulate)').toBe(3);
    await g.flushMetrics();
    expect(reports.length).toBe(1);
    const got = reports[0]!.gradNorms!;
    expect(got.layers.map((l) => [l.layer, l.name])).toEqual(layers.map((l) => [l.layer, l.name]));
    const ref = gradNormsRef(grads, layers.map((l) => l.ranges));
    const gotR = { global: got.global, groups: got.layers.map((l) => l.norm) };
    expect(normCounts(gotR)).toEqual(normCounts(ref));
    expect(ref.global.mean).toBeGreaterThan(0);
    expectClose(normValues(gotR), normValues(ref), { atol: 1e-30, rtol: gradNormTolerance(layout.n, 3) }, 'runner gradient norms');
    // The next window starts from zero.
    g.step({ step: 3, start: 0, rows: 16, lr: 0.1 });
    await g.flushMetrics();
    expect(reports[1]!.gradNorms!.global.steps).toBe(1);
    g.destroy();
    plain.destroy();
    expect(e.memory().buffers).toBe(memBefore.buffers);
  });

  it('the CPU runner reports the same layers, every step', async () => {
    const model = parseModelSpec('13-dense(9)-bn-relu-dense(5)');
    const c = await createCpuRunner({ model, batchSize: 8, optimizer: { name: 'Adam' }, seed: 1, gradNorms: true }, { dtype: 'float64' });
    const rand = mulberry32(TEST_SEED);
    const ds = new Dataset({ name: 'random', inputs: uniformArray(8 * 13, -1, 1, rand), inputShape: [13], labels: Uint8Array.from({ length: 8 }, (_, i) => i % 5) });
    const reports: MetricsReport[] = [];
    c.onMetrics((m) => reports.push(m));
    await c.setTrainingData(ds);
    c.beginEpoch(Uint32Array.from({ length: 8 }, (_, i) => i));
    c.step({ step: 0, start: 0, rows: 8, lr: 1e-3 });
    const r = reports[0]!.gradNorms!;
    expect(r.layers.map((l) => l.name)).toEqual(['0 dense 13→9', '1 batchnorm 9→9', '3 dense 9→5']);
    const total = Math.hypot(...r.layers.map((l) => l.norm.last));
    expect(r.global.last).toBeCloseTo(total, 12);
    expect(r.global.last).toBeCloseTo(reports[0]!.gradNorm!, 12); // no clipping: the same global norm
    expect(r.global.mean).toBe(r.global.last);
  });
});
