/**
 * The GPU step plan against the CPU reference runner: same model, seed, batches and learning rates; per-step losses
 * and final parameters must agree within a stated tolerance. Also: the plan allocates nothing per step, records a
 * constant number of dispatches per step, and every buffer it created is gone after destroy().
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { parseModelSpec, validateModelSpec } from '../src/model/spec.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { MetricsReport, Runner, RunnerConfig } from '../src/train/runner.js';
import { expectClose } from '../src/testing/compare.js';
import { gpu } from './helpers/gpu.js';

let mnistSmall: Dataset | null = null;
async function smallMnist(n: number): Promise<Dataset> {
  if (!mnistSmall) {
    const m = await loadMnist();
    mnistSmall = m.train.subset(Uint32Array.from({ length: 2000 }, (_, i) => i), 'mnist-2000');
  }
  return mnistSmall.subset(Uint32Array.from({ length: n }, (_, i) => i), `mnist-${n}`);
}

/** Runs `steps` steps over epochs of ds, reporting every step's mean loss. */
async function train(r: Runner, ds: Dataset, steps: number, batch: number, lr: number): Promise<number[]> {
  const losses: number[] = [];
  r.onMetrics((m: MetricsReport) => {
    if (m.steps === 1) losses.push(m.lossSum / m.rows);
  });
  await r.setTrainingData(ds);
  const perEpoch = Math.ceil(ds.length / batch);
  for (let s = 0; s < steps; s++) {
    const b = s % perEpoch;
    if (b === 0) r.beginEpoch(ds.batches({ batchSize: batch, seed: 11 }).permutation(Math.floor(s / perEpoch)));
    const start = b * batch;
    r.step({ step: s, start, rows: Math.min(batch, ds.length - start), lr });
    // The ring merges snapshots when readbacks lag (by design); waiting here makes every report cover one step.
    await r.flushMetrics();
  }
  await r.flushMetrics();
  return losses;
}

describe('GPU step plan vs CPU reference runner', () => {
  afterAll(async () => (await gpu()).destroy());

  for (const [spec, optimizer, extra] of [
    ['784-24-16-10:relu', { name: 'Adam', hyperparams: { lr: 1e-3 } }, {}],
    ['784-20-10:tanh,bn,dropout=0.2', { name: 'SGD', hyperparams: { lr: 0.05, momentum: 0.9, weight_decay: 1e-4 } }, { clip: { maxNorm: 1 } }],
    // The gradient-magnitude control on the device: α_t = α_{t−1}/(1 + c·√‖g_t‖), the host's lr ignored.
    ['784-16-10:relu', { name: 'SGD', hyperparams: { lr: 0.2 } }, { gradLr: { c: 0.05 }, clip: { value: 0.05 } }],
  ] as const) {
    it(`${spec} with ${optimizer.name}: 20 steps agree (partial last batch included)`, async () => {
      const engine = await gpu();
      const ds = await smallMnist(150); // 150 = 2×64 + 22: every epoch ends with a partial batch
      const config: RunnerConfig = { model: parseModelSpec(spec), batchSize: 64, optimizer, seed: 42, metricsEvery: 1, ...extra };
      const memBefore = engine.memory();
      const g = await createGpuRunner(engine, config);
      const c = await createCpuRunner(config, { dtype: 'float32' });
      const lr = (optimizer.hyperparams as { lr: number }).lr;
      const gl = await train(g, ds, 20, 64, lr);
      const cl = await train(c, ds, 20, 64, lr);
      expect(gl.length).toBe(20);
      // Per-step mean losses: f32 summation order differs (GPU tree sums, fused epilogues), and the difference
      // compounds over 20 updates; 1e-3 relative is far below a one-step change of the loss (~1e-2).
      expectClose(gl, cl, { atol: 1e-4, rtol: 1e-3 }, 'per-step loss, GPU vs CPU');
      const gs = await g.exportState();
      const cs = await c.exportState();
      expectClose(gs.params, cs.params, { atol: 2e-4, rtol: 2e-3 }, 'parameters after 20 steps');
      expect(gs.optimizer.step).toBe(20);
      if ('gradLr' in extra) {
        const [ga, ca] = [gs.optimizer.groups[0]!.lr, cs.optimizer.groups[0]!.lr];
        expect(ca).toBeLessThan(0.2 * 0.9); // the control did lower the rate
        expect(Math.abs(ga - ca)).toBeLessThanOrEqual(1e-4 * ca);
      }
      g.destroy();
      expect(engine.memory().buffers).toBe(memBefore.buffers);
    });
  }

  for (const loss of ['mse', 'bce'] as const) {
    it(`${loss} on float targets (one-hot of the digit): 20 steps agree`, async () => {
      const engine = await gpu();
      const base = await smallMnist(150);
      const targets = new Float32Array(150 * 10);
      for (let i = 0; i < 150; i++) targets[i * 10 + base.labels![i]!] = 1;
      const ds = new Dataset({ name: `mnist-150-${loss}`, inputs: base.inputs, inputShape: [28, 28], targets, targetSize: 10 });
      const config: RunnerConfig = { model: parseModelSpec(`784-16-10:tanh,loss=${loss}`), batchSize: 64, optimizer: { name: 'RMSprop', hyperparams: { lr: 1e-3 } }, seed: 3, metricsEvery: 1 };
      const g = await createGpuRunner(engine, config);
      const c = await createCpuRunner(config, { dtype: 'float32' });
      const gl = await train(g, ds, 20, 64, 1e-3);
      const cl = await train(c, ds, 20, 64, 1e-3);
      expect(gl.length).toBe(20);
      expectClose(gl, cl, { atol: 1e-4, rtol: 1e-3 }, `${loss}: per-step loss, GPU vs CPU`);
      expect(gl[19]!).toBeLessThan(gl[0]!);
      g.destroy();
    });
  }

  it('a model that starts with dropout (no gradient w.r.t. the input is planned): 10 steps agree', async () => {
    const engine = await gpu();
    const ds = await smallMnist(150);
    const base = parseModelSpec('784-16-10:relu');
    const model = validateModelSpec({ ...base, layers: [{ type: 'dropout', p: 0.2 }, ...base.layers] });
    const config: RunnerConfig = { model, batchSize: 64, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 9, metricsEvery: 1 };
    const g = await createGpuRunner(engine, config);
    const c = await createCpuRunner(config, { dtype: 'float32' });
    expectClose(await train(g, ds, 10, 64, 1e-3), await train(c, ds, 10, 64, 1e-3), { atol: 1e-4, rtol: 1e-3 }, 'input dropout: per-step loss');
    expectClose((await g.exportState()).params, (await c.exportState()).params, { atol: 2e-4, rtol: 2e-3 }, 'input dropout: parameters');
    g.destroy();
  });

  it('float inputs with integer labels (the float gather with labels): 20 steps agree', async () => {
    const engine = await gpu();
    const base = await smallMnist(150);
    const inputs = Float32Array.from(base.inputs, (v) => v / 255 - 0.5);
    const ds = new Dataset({ name: 'mnist-150-float', inputs, inputShape: [28, 28], labels: base.labels!, numClasses: 10 });
    const config: RunnerConfig = { model: parseModelSpec('784-16-10:relu'), batchSize: 64, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 5, metricsEvery: 1 };
    const g = await createGpuRunner(engine, config);
    const c = await createCpuRunner(config, { dtype: 'float32' });
    const gl = await train(g, ds, 20, 64, 1e-3);
    const cl = await train(c, ds, 20, 64, 1e-3);
    expectClose(gl, cl, { atol: 1e-4, rtol: 1e-3 }, 'float inputs + labels: per-step loss, GPU vs CPU');
    expect((await g.evaluate(ds)).accuracy).toBeCloseTo((await c.evaluate(ds)).accuracy, 2);
    g.destroy();
  });

  it('allocates nothing per step and records a constant number of dispatches', async () => {
    const engine = await gpu();
    const ds = await smallMnist(256);
    const config: RunnerConfig = { model: parseModelSpec('784-32-32-32-10:relu'), batchSize: 32, optimizer: { name: 'AdamW' }, seed: 1, metricsEvery: 8 };
    const g = await createGpuRunner(engine, config);
    await g.setTrainingData(ds);
    g.beginEpoch(ds.batches({ batchSize: 32, seed: 1 }).permutation(0));
    g.step({ step: 0, start: 0, rows: 32, lr: 1e-3 });
    const perStep = g.dispatchesPerStep;
    const mem = engine.memory();
    for (let s = 1; s < 8; s++) {
      g.step({ step: s, start: s * 32, rows: 32, lr: 1e-3 });
      expect(g.dispatchesPerStep).toBe(perStep);
      expect(engine.memory()).toEqual(mem);
    }
    await g.flushMetrics();
    expect(engine.memory().buffers).toBe(mem.buffers);
    // gather + 4 matmuls + loss + metrics + 4 dW(+db: fused into one dispatch by the hardware kernel, apart on software
    // adapters) + 3 dX (each absorbing the relu′ before it) + optimizer (guard: stats + update)
    const dbApart = engine.software ? 4 : 0;
    expect(perStep).toBe(1 + 4 + 2 + 4 + dbApart + 3 + 2);
    // A longer run — epochs, evaluations, predictions and state exports in between — holds GPU memory steady.
    // (The first round builds the evaluation plans — one per batch shape — and keeps them; later rounds add nothing.)
    const val = await smallMnist(100);
    let steady: ReturnType<typeof engine.memory> | null = null;
    for (let epoch = 1; epoch <= 4; epoch++) {
      g.beginEpoch(ds.batches({ batchSize: 32, seed: 1 }).permutation(epoch));
      for (let b = 0; b < 8; b++) g.step({ step: 8 * epoch + b, start: b * 32, rows: 32, lr: 1e-3 });
      await g.flushMetrics();
      await g.evaluate(val);
      await g.predict(val, 0, 10);
      await g.exportState();
      steady ??= engine.memory();
      expect(engine.memory()).toEqual(steady);
    }
    // Per-kernel GPU time with timestamp queries (SwiftShader has them): every op of the step, labelled.
    const profile = await g.profileStep({ step: 100, start: 0, rows: 32, lr: 1e-3 });
    const dWdb = engine.software ? 'dW, db' : 'dW+db';
    if (engine.features.has('timestamp-query')) {
      expect(profile!.map((p) => p.op)).toEqual([
        'gather batch', 'layers.0.dense+relu forward', 'layers.2.dense+relu forward', 'layers.4.dense+relu forward', 'layers.6.dense forward',
        'loss softmax_ce forward+backward', 'metrics accumulate',
        `layers.6.dense ${dWdb}`, 'layers.6.dense dX·relu′',
        `layers.4.dense ${dWdb}`, 'layers.4.dense dX·relu′',
        `layers.2.dense ${dWdb}`, 'layers.2.dense dX·relu′',
        `layers.0.dense ${dWdb}`, 'optimizer AdamW',
      ]);
      for (const p of profile!) expect(p.ms, p.op).toBeGreaterThanOrEqual(0);
      expect(profile!.reduce((a, p) => a + p.ms, 0)).toBeGreaterThan(0);
    } else expect(profile).toBeNull();
    g.destroy();
  });
});
