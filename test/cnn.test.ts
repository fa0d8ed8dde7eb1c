/**
 * CNNs through the runners: the GPU step plan of a small CNN (conv with its ReLU fused, a ReLU′ absorbed by the
 * max pooling, bn2d with its ReLU fused, flatten as an alias) trains like the CPU reference, step for step over 3
 * epochs with partial batches; one command buffer per step, with the dispatches counted. On the CPU runner a CNN
 * reads MNIST's 28×28 images as 1×28×28, learns, and resumes from a checkpoint bit for bit; its tensors are named
 * and shaped by layer in the file; data whose channels disagree with the model is refused with both shapes named.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointFile } from '../src/checkpoint/file.js';
import type { Dataset } from '../src/data/dataset.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { layoutModel } from '../src/model/layout.js';
import { modelSizes, parseModelSpec } from '../src/model/spec.js';
import { PRESETS } from '../src/train/presets.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { setBatchNormReduction } from '../src/kernels/batchnorm-reduction.js';
import { setConv2dChunkCap } from '../src/kernels/conv2d-chunk.js';
import type { Engine } from '../src/gpu/index.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { Runner, RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';
import { lockstep } from './helpers/lockstep.js';
import { syntheticSet } from './helpers/mlp-v1.js';

afterAll(async () => (await gpu()).destroy());

/** Dispatches a step of `rows` rows takes with the engine's own choices (nothing forced), after one real step. */
async function defaultDispatchesPerStep(engine: Engine, config: RunnerConfig, ds: Dataset, rows: number): Promise<number> {
  const runner = await createGpuRunner(engine, config);
  try {
    await runner.setTrainingData(ds);
    runner.beginEpoch(Uint32Array.from({ length: ds.length }, (_, i) => i));
    runner.step({ step: 0, start: 0, rows, lr: 1e-3 });
    await runner.flushMetrics();
    return runner.dispatchesPerStep;
  } finally {
    runner.destroy();
  }
}

describe('a CNN on the GPU runner trains like the CPU reference', () => {
  it('3 epochs with partial batches, step by step within the bounded reference; dispatches counted; nothing leaks', async () => {
    const engine = await gpu();
    // 2×6×7 images (84 values, flat data viewed as C×H×W); 90 = 2×32 + 26.
    const ds: Dataset = syntheticSet(90, 84, 5, 3);
    // No bias before bn2d (as usual: BatchNorm removes it; its exact gradient is 0).
    const model = parseModelSpec('2x6x7-conv(4,3,pad=1)-relu-maxpool(2)-conv(6,2,bias=false)-bn2d-relu-dropout(0.2)-flatten-dense(5)');
    const config: RunnerConfig = { model, batchSize: 32, optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } }, seed: 9 };
    const before = engine.memory();
    const g = await createGpuRunner(engine, config);
    // 3 epochs of 3 steps, each checked against the bounded float64 reference from the GPU's own state
    // (test/helpers/lockstep.ts): loss, gradients of every tensor, BatchNorm2d's running statistics, the update.
    await lockstep(g, config, ds, 9, 3e-3);
    // Forward: gather; conv+relu: im2col, matmul; maxpool; conv: im2col, matmul; bn2d+relu; dropout; dense; loss and
    // metrics. Backward: dense: dW(+db), dX; dropout; relu; bn2d; conv: rows, dW, dcols, col2im; maxpool+relu′; the
    // first conv: rows, dW(+db). Optimizer: grad stats + update. A bias gradient rides in its dW product with the
    // hardware kernel ('tiled8'); on software adapters it is a product of its own.
    const withDb = engine.software ? 2 : 1;
    const forward = 1 + 2 + 1 + 2 + 1 + 1 + 1;
    const backward = (withDb + 1) + 1 + 1 + 1 + 4 + 1 + (1 + withDb);
    expect(g.dispatchesPerStep).toBe(forward + 2 + backward + 2);
    // The step's ops by name (stepOps: on every adapter; profileStep times the same ops where 'timestamp-query' exists).
    const ops = (await g.stepOps(32)).filter((o) => o.where !== 'optimizer').map((o) => o.op);
    expect(ops).toEqual(expect.arrayContaining([
      'layers.0.conv2d+relu im2col', 'layers.0.conv2d+relu forward', 'layers.2.maxpool2d backward+relu′', 'layers.4.batchnorm2d+relu forward',
      'layers.3.conv2d dX', 'layers.0.conv2d dW',
    ]));
    expect(ops.filter((o) => o.startsWith('layers.1.') || o.startsWith('layers.7.'))).toEqual([]);
    expect(ops).not.toContain('layers.0.conv2d dX');
    const profile = await g.profileStep({ step: 99, start: 0, rows: 32, lr: 1e-3 });
    if (profile) expect(profile.map((p) => p.op)).toEqual([...ops, 'optimizer Adam']);
    g.destroy();
    expect(engine.memory().buffers).toBe(before.buffers);
  });
});

describe('a CNN whose convolutions run in chunks of examples (capped at 3, forced)', () => {
  it('trains like the CPU reference, step by step over 2 epochs with a partial batch; the extra dispatches counted', async () => {
    const engine = await gpu();
    // 2×6×7 images; 30 = 13 + 13 + 4: chunks of 3 + 3 + 3 + 3 + 1 in a full batch, 3 + 1 in the partial one.
    const ds: Dataset = syntheticSet(30, 84, 5, 3);
    const model = parseModelSpec('2x6x7-conv(4,3,pad=1)-relu-maxpool(2)-conv(6,2)-relu-flatten-dense(5)');
    const config: RunnerConfig = { model, batchSize: 13, optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } }, seed: 5 };
    const before = engine.memory();
    const perStep = await defaultDispatchesPerStep(engine, config, ds, 13);
    setConv2dChunkCap(engine, 3);
    try {
      const g = await createGpuRunner(engine, config);
      // Loss, every gradient (dW and db summed over the chunks) and the update, from the GPU's own state.
      await lockstep(g, config, ds, 5, 3e-3);
      // Per conv layer and extra chunk (4 of them): im2col and the product forward; backward a redone im2col, dy
      // rows, dW (+ db on software adapters: a product of its own), and for the second conv dcols and col2im.
      const withDb = engine.software ? 2 : 1;
      expect(g.dispatchesPerStep).toBe(perStep + 4 * (2 + 1 + 1 + withDb) + 4 * (2 + 1 + 1 + withDb + 2));
      const ops = (await g.stepOps(13)).map((o) => o.op);
      expect(ops).toEqual(expect.arrayContaining(['layers.0.conv2d+relu im2col [0:3]', 'layers.0.conv2d+relu forward [12:13]', 'layers.3.conv2d dW [3:6]']));
      g.destroy();
    } finally {
      setConv2dChunkCap(engine, undefined);
    }
    expect(engine.memory().buffers).toBe(before.buffers);
  });
});

describe('a CNN whose BatchNorm2d reduces in the split form (what GPUs pick at the preset\'s sizes), forced', () => {
  it('trains like the CPU reference, step by step over 2 epochs with a partial batch; 4 more dispatches a step', async () => {
    const engine = await gpu();
    const ds: Dataset = syntheticSet(45, 70, 5, 3);
    const model = parseModelSpec('2x5x7-conv(5,3,pad=1,bias=false)-bn2d-relu-maxpool(2)-conv(3,2)-bn2d-flatten-dense(5)');
    const config: RunnerConfig = { model, batchSize: 31, optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } }, seed: 4 };
    const before = engine.memory();
    const perStep = await defaultDispatchesPerStep(engine, config, ds, 31);
    setBatchNormReduction(engine, 'split');
    try {
      const g = await createGpuRunner(engine, config);
      // m = 31·35 = 1085 and 31·2 = 62 values per channel (14·35 and 14·2 in the partial batch): 2 chunks each (543 +
      // 542 and 31 + 31), the rule's count for a forced split at these sizes; the bounds of test/helpers/step-bounds.ts
      // hold for both forms.
      await lockstep(g, config, ds, 4, 3e-3);
      // Each of the 2 bn2d: partial sums then merge-and-apply, forward and backward: one more dispatch each way.
      expect(g.dispatchesPerStep).toBe(perStep + 2 * 2);
      // Profiles (bench/step.mjs --breakdown) name the form: K chunks × L values.
      const bn = (await g.stepOps(31)).filter((o) => o.op.includes('batchnorm2d')).map((o) => `${o.where} ${o.op} [${o.detail}]`);
      expect(bn).toEqual([
        'forward layers.1.batchnorm2d+relu forward [split 2×543]', 'forward layers.5.batchnorm2d forward [split 2×31]',
        'backward layers.5.batchnorm2d backward [split 2×31]', 'backward layers.1.batchnorm2d backward [split 2×543]',
      ]);
      g.destroy();
    } finally {
      setBatchNormReduction(engine, 'auto');
    }
    expect(engine.memory().buffers).toBe(before.buffers);
  });
});

describe('the CNN preset (wgtrain train --model cnn)', () => {
  it('468,010 parameters named by layer, as scripts/torch_cnn.py\'s model; one command buffer of 50 dispatches a step (48 on GPUs)', async () => {
    const model = parseModelSpec(PRESETS.cnn!.model);
    expect(modelSizes(model)).toBe('1x28x28-32x28x28-32x28x28-32x14x14-64x14x14-64x14x14-64x7x7-3136-128-10');
    const L = layoutModel(model);
    expect(L.params.reduce((a, p) => a + p.size, 0)).toBe(468010);
    expect(L.params.filter((p) => p.role === 'weight').map((p) => [p.name, p.shape])).toEqual([
      ['layers.0.weight', [1, 3, 3, 32]], ['layers.3.weight', [32, 3, 3, 32]], ['layers.7.weight', [32, 3, 3, 64]],
      ['layers.10.weight', [64, 3, 3, 64]], ['layers.15.weight', [3136, 128]], ['layers.18.weight', [128, 10]],
    ]);
    const engine = await gpu();
    const config: RunnerConfig = { model, batchSize: 2, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 0 };
    const g = await createGpuRunner(engine, config);
    try {
      await g.setTrainingData(syntheticSet(4, 784, 10, 1));
      g.beginEpoch(Uint32Array.from([0, 1, 2, 3]));
      g.step({ step: 0, start: 0, rows: 2, lr: 1e-3 });
      await g.flushMetrics();
      // Forward 18 (gather; per conv im2col + matmul, bn2d with its ReLU; two max pools; dense+ReLU, dropout, dense),
      // loss 2, backward 28 (dense dW, db, dX twice; dropout; ReLU; max pools with the ReLU′ before them; bn2d ×4;
      // convs: rows, dW, dcols, col2im (the first: rows, dW)), optimizer 2. The hardware kernel computes each dense
      // layer's db inside its dW product: 2 fewer there.
      expect(g.dispatchesPerStep).toBe(engine.software ? 50 : 48);
    } finally {
      g.destroy();
    }
  });
});

describe('a CNN on MNIST images (CPU runner)', () => {
  let train: Dataset;
  let dir: string;
  const config: RunnerConfig = {
    model: parseModelSpec('1x28x28-conv(4,5,stride=2)-relu-maxpool(2)-flatten-dense(10)'),
    batchSize: 50,
    optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } },
    seed: 2,
  };
  beforeAll(async () => {
    train = (await loadMnist()).train.subset(Uint32Array.from({ length: 300 }, (_, i) => i), 'mnist-300');
    dir = mkdtempSync(join(tmpdir(), 'wgtrain-cnn-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('learns from 28×28 images as 1×28×28; 2 + 2 epochs through a checkpoint equal 4; tensors by layer in the file', async () => {
    const whole = new Trainer(await createCpuRunner(config), config);
    const result = await whole.fit(train, { epochs: 4, seed: 1 });
    expect(result.history[3]!.trainLoss).toBeLessThan(result.history[0]!.trainLoss * 0.7);
    const path = join(dir, 'cnn.safetensors');
    await new Trainer(await createCpuRunner(config), config, { writeCheckpoint: saveTrainingCheckpoint }).fit(train, { epochs: 2, seed: 1, checkpoint: { path } });
    const file = await loadCheckpointFile(path);
    expect(Object.fromEntries(Object.entries(file.tensors).filter(([k]) => k.startsWith('layers.')).map(([k, t]) => [k, t.shape]))).toEqual({
      'layers.0.weight': [1, 5, 5, 4], 'layers.4.weight': [144, 10], 'layers.0.bias': [4], 'layers.4.bias': [10],
    });
    const snap = await loadTrainingCheckpoint(path);
    expect(snap.config.model).toEqual(config.model);
    const resumedRunner = await createCpuRunner(snap.config);
    const resumed = new Trainer(resumedRunner, snap.config);
    await resumed.restore(snap);
    await resumed.fit(train, { epochs: 4, seed: 1 });
    expect((await resumedRunner.exportState()).params).toEqual((await (whole as unknown as { runner: Runner }).runner.exportState()).params);
  });

  it('data whose channels or image size disagree with the model is refused, naming both shapes', async () => {
    const three = { ...config, model: parseModelSpec('3x28x28-conv(4,5)-gap-dense(10)') };
    await expect(new Trainer(await createCpuRunner(three), three).fit(train, { epochs: 1, seed: 1 })).rejects.toThrow(
      /the model's input has 3 channels of 28×28 but dataset 'mnist-300' has 1 \(its examples are 1×28×28\): write the model's input as 1x28x28/,
    );
    const wide = { ...config, model: parseModelSpec('1x14x56-conv(4,5)-gap-dense(10)') };
    await expect(new Trainer(await createCpuRunner(wide), wide).fit(train, { epochs: 1, seed: 1 })).rejects.toThrow(
      /dataset 'mnist-300' holds 28×28 images but the model takes 14×56 \(input 1x14x56\): write the model's input as 1x28x28/,
    );
  });
});
