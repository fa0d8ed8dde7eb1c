/**
 * The Trainer on the GPU runner (the suite's adapter; SwiftShader without a GPU): metrics that arrive
 * asynchronously still fill the epoch records, training is exactly resumable through a checkpoint file on the GPU
 * too, and a GPU-trained checkpoint loads into the CPU runner and scores the same there (both within the bounds of the
 * float64 reference on its parameters).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { Trainer, type FitOptions } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';
import { expectEvaluateWithin } from './helpers/lockstep.js';
import { mnistSubsets } from './helpers/mnist.js';

const CONFIG: RunnerConfig = {
  model: parseModelSpec('784-16-10:relu'),
  batchSize: 64,
  optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } },
  seed: 11,
  metricsEvery: 3,
};

let train: Dataset;
let validation: Dataset;
let dir: string;

beforeAll(async () => {
  ({ train, validation } = await mnistSubsets(500, 200));
  dir = mkdtempSync(join(tmpdir(), 'wgtrain-trainer-gpu-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fitOptions = (epochs: number): FitOptions => ({ epochs, seed: 5, schedule: 'cosine:T=32', validation });

describe('Trainer on the GPU runner', () => {
  it('2 epochs + checkpoint + 2 epochs equals 4 epochs; the checkpoint scores the same on the CPU runner', async () => {
    const engine = await gpu();
    const wholeRunner = await createGpuRunner(engine, CONFIG);
    const whole = new Trainer(wholeRunner, CONFIG);
    const result = await whole.fit(train, fitOptions(4));
    expect(result.history.map((r) => r.steps)).toEqual([8, 8, 8, 8]);
    // every step's metrics arrived (rows of the epoch = the training set)
    for (const r of result.history) expect(Number.isFinite(r.trainLoss) && r.trainAccuracy > 0).toBe(true);
    expect(result.history[3]!.trainLoss).toBeLessThan(result.history[0]!.trainLoss);

    const path = join(dir, 'gpu.safetensors');
    const first = new Trainer(await createGpuRunner(engine, CONFIG), CONFIG, { writeCheckpoint: saveTrainingCheckpoint });
    await first.fit(train, { ...fitOptions(2), checkpoint: { path } });
    first.runner.destroy();
    const snap = await loadTrainingCheckpoint(path);
    const resumedRunner = await createGpuRunner(engine, snap.config);
    const resumed = new Trainer(resumedRunner, snap.config);
    await resumed.restore(snap);
    await resumed.fit(train, fitOptions(4));
    const a = await wholeRunner.exportState();
    const b = await resumedRunner.exportState();
    expect(b.params).toEqual(a.params);
    expect(b.optimizer).toEqual(a.optimizer);

    // Both runners score the checkpoint within the bounds of the float64 reference forward on its parameters (sums
    // over 784 and 16 inputs and over the 200 rows, carried through the layers: test/helpers/step-bounds.ts);
    // predictions whose top two logits lie within their bounds may count either way.
    const cpu = await createCpuRunner(CONFIG);
    await cpu.importState(a);
    await expectEvaluateWithin(wholeRunner, CONFIG, validation, 'GPU');
    await expectEvaluateWithin(cpu, CONFIG, validation, 'CPU float32, from the GPU-trained state');
    wholeRunner.destroy();
    resumedRunner.destroy();
  });

  it('fit({ batchSize }) below the runner\'s trains as a runner of that batch size does (the runner plans it at setTrainingData)', async () => {
    const engine = await gpu();
    const small = { ...CONFIG, batchSize: 48 };
    const options: FitOptions = { epochs: 1, seed: 5, batchSize: 48 };
    const wide = await createGpuRunner(engine, CONFIG);
    const exact = await createGpuRunner(engine, small);
    const result = await new Trainer(wide).fit(train, options);
    await new Trainer(exact).fit(train, options);
    expect(result.history.map((r) => r.steps)).toEqual([Math.ceil(500 / 48)]);
    expect((await wide.exportState()).params).toEqual((await exact.exportState()).params);
    await expect(wide.setTrainingData(train, 65)).rejects.toThrow(/batchSize must be an integer in \[1, 64\]/);
    wide.destroy();
    exact.destroy();
  });
});
