/**
 * The GPU step plan against the CPU reference, step by step: every step's loss, correct count, gradients, BatchNorm
 * statistics and update, each checked from the GPU's own state before the step (test/helpers/lockstep.ts explains
 * the bounds and why free-running trajectories cannot be compared tightly). Also: the plan allocates nothing per
 * step, records a constant number of dispatches per step, and every buffer it created is gone after destroy().
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { parseModelSpec, validateModelSpec } from '../src/model/spec.js';
import { setBatchNormReduction } from '../src/kernels/batchnorm-reduction.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { gpu } from './helpers/gpu.js';
import { expectEvaluateWithin, lockstep, type GpuStep } from './helpers/lockstep.js';
import { layoutModel, paramSlot } from '../src/model/layout.js';

let mnistSmall: Dataset | null = null;
async function smallMnist(n: number): Promise<Dataset> {
  if (!mnistSmall) {
    const m = await loadMnist();
    mnistSmall = m.train.subset(Uint32Array.from({ length: 2000 }, (_, i) => i), 'mnist-2000');
  }
  return mnistSmall.subset(Uint32Array.from({ length: n }, (_, i) => i), `mnist-${n}`);
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
      const lr = (optimizer.hyperparams as { lr: number }).lr;
      const gl = await lockstep(g, config, ds, 20, lr);
      expect(gl.length).toBe(20);
      const gs = await g.exportState();
      expect(gs.optimizer!.step).toBe(20);
      if ('gradLr' in extra) expect(gs.optimizer!.groups[0]!.lr).toBeLessThan(0.2 * 0.9); // the control did lower the rate
      g.destroy();
      expect(engine.memory().buffers).toBe(memBefore.buffers);
    });
  }

  it('BatchNorm1d in the split form (what GPUs pick for ≥ 64 rows of few features), forced: 6 steps agree; 2 more dispatches a step', async () => {
    const engine = await gpu();
    const ds = await smallMnist(150);
    const config: RunnerConfig = { model: parseModelSpec('784-20-10:tanh,bn'), batchSize: 64, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 7 };
    const memBefore = engine.memory();
    const single = await createGpuRunner(engine, config);
    await lockstep(single, config, ds, 1, 1e-3);
    const perStep = single.dispatchesPerStep;
    single.destroy();
    setBatchNormReduction(engine, 'split');
    try {
      const g = await createGpuRunner(engine, config);
      // 64 rows in 8 chunks of 8; the partial batch's 22 rows in 4 chunks of 6 and 4.
      await lockstep(g, config, ds, 6, 1e-3);
      expect(g.dispatchesPerStep).toBe(perStep + 2);
      g.destroy();
    } finally {
      setBatchNormReduction(engine, 'auto');
    }
    expect(engine.memory().buffers).toBe(memBefore.buffers);
  });

  for (const loss of ['mse', 'bce'] as const) {
    it(`${loss} on float targets (one-hot of the digit): 20 steps agree`, async () => {
      const engine = await gpu();
      const base = await smallMnist(150);
      const targets = new Float32Array(150 * 10);
      for (let i = 0; i < 150; i++) targets[i * 10 + base.labels![i]!] = 1;
      const ds = new Dataset({ name: `mnist-150-${loss}`, inputs: base.inputs, inputShape: [28, 28], targets, targetSize: 10 });
      const config: RunnerConfig = { model: parseModelSpec(`784-16-10:tanh,loss=${loss}`), batchSize: 64, optimizer: { name: 'RMSprop', hyperparams: { lr: 1e-3 } }, seed: 3, metricsEvery: 1 };
      const g = await createGpuRunner(engine, config);
      const gl = await lockstep(g, config, ds, 20, 1e-3);
      expect(gl.length).toBe(20);
      expect(gl[19]!).toBeLessThan(gl[0]!);
      await expectEvaluateWithin(g, config, ds, loss);
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
    await lockstep(g, config, ds, 10, 1e-3);
    g.destroy();
  });

  it('float inputs with integer labels (the float gather with labels): 20 steps agree', async () => {
    const engine = await gpu();
    const base = await smallMnist(150);
    const inputs = Float32Array.from(base.inputs, (v) => v / 255 - 0.5);
    const ds = new Dataset({ name: 'mnist-150-float', inputs, inputShape: [28, 28], labels: base.labels!, numClasses: 10 });
    const config: RunnerConfig = { model: parseModelSpec('784-16-10:relu'), batchSize: 64, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 5, metricsEvery: 1 };
    const g = await createGpuRunner(engine, config);
    await lockstep(g, config, ds, 20, 1e-3);
    await expectEvaluateWithin(g, config, ds, 'float inputs + labels');
    g.destroy();
  });

  it('deliberate breaks: a gradient never written, a row missing from the loss, a weight not updated fail the lockstep', async () => {
    const engine = await gpu();
    const ds = await smallMnist(150);
    const config: RunnerConfig = { model: parseModelSpec('784-16-10:relu'), batchSize: 64, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 7, metricsEvery: 1 };
    const bias0 = paramSlot(layoutModel(config.model), 0, 'bias')!;
    const w2 = paramSlot(layoutModel(config.model), 2, 'weight')!;
    const breaks: [string, (st: GpuStep) => void][] = [
      ['layer 0 bias gradient never written', (st) => st.grads.fill(0, bias0.offset, bias0.offset + bias0.size)],
      ['two rows of the output layer\'s weight gradient swapped', (st) => {
        const row = (r: number) => st.grads.slice(w2.offset + r * 10, w2.offset + r * 10 + 10);
        const [a, b] = [row(3), row(4)];
        st.grads.set(b, w2.offset + 3 * 10);
        st.grads.set(a, w2.offset + 4 * 10);
      }],
      ['one row\'s loss missing from the metrics', (st) => (st.report.lossSum -= st.report.lossSum / st.report.rows)],
      ['one weight not updated', (st) => (st.after.params[w2.offset + 7] = st.before.params[w2.offset + 7]!)],
    ];
    for (const [what, tamper] of breaks) {
      const g = await createGpuRunner(engine, config);
      await expect(lockstep(g, config, ds, 3, 1e-3, (st) => st.step === 1 && tamper(st)), what).rejects.toThrow(/^step 1 .*(outside \|got−ref\||loss sum)/);
      g.destroy();
    }
  });

  // Evaluation and prediction share the runner's evaluation data, plans and metrics buffer; a page that predicts a
  // drawing while it evaluates the test set must get the numbers it would get calling them one after the other.
  it('evaluate and predict called together (not awaited in turn) give what they give one at a time', async () => {
    const engine = await gpu();
    const ds = await smallMnist(96);
    const g = await createGpuRunner(engine, { model: parseModelSpec('784-16-10:relu'), batchSize: 32, optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } }, seed: 3 });
    try {
      await g.setTrainingData(ds);
      g.beginEpoch(ds.batches({ batchSize: 32, seed: 3 }).permutation(0));
      for (let s = 0; s < 3; s++) g.step({ step: s, start: 32 * s, rows: 32, lr: 1e-2 });
      const val = (await smallMnist(200)).subset(Uint32Array.from({ length: 70 }, (_, i) => 130 + i), 'val-70');
      const other = (await smallMnist(200)).subset(Uint32Array.from({ length: 5 }, (_, i) => 100 + i), 'other-5');
      const alone = { evaluation: await g.evaluate(val), prediction: await g.predict(other), again: await g.evaluate(val) };
      const [evaluation, prediction, again] = await Promise.all([g.evaluate(val), g.predict(other), g.evaluate(val)]);
      expect({ evaluation, prediction, again }).toEqual(alone);
    } finally {
      g.destroy();
    }
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
