/**
 * The Trainer on the real CPU runner (float32): a 784-16-10 MLP on 512 MNIST training examples learns (loss goes
 * down), and training is exactly resumable: 2 epochs + checkpoint file + load into a fresh runner + 2 more epochs
 * gives bit-identical parameters, optimizer state and epoch metrics to 4 uninterrupted epochs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { Trainer, type EpochRecord, type FitOptions } from '../src/train/trainer.js';
import { mnistSubsets } from './helpers/mnist.js';

const CONFIG: RunnerConfig = {
  model: parseModelSpec('784-16-10:relu,dropout=0.1'),
  batchSize: 64,
  optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } },
  seed: 11,
};

let train: Dataset;
let validation: Dataset;
let dir: string;

beforeAll(async () => {
  ({ train, validation } = await mnistSubsets(500, 200));
  dir = mkdtempSync(join(tmpdir(), 'wgtrain-trainer-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fitOptions = (epochs: number): FitOptions => ({
  epochs,
  seed: 5,
  schedule: 'warmup:4+cosine:T=32',
  validation,
  earlyStopping: { patience: 10 },
});

const timeless = (h: EpochRecord[]) => h.map((r) => ({ ...r, seconds: 0, stepsPerSecond: 0, valSeconds: 0 }));

describe('Trainer on the CPU runner', () => {
  it('learns: training and validation loss go down', async () => {
    const runner = await createCpuRunner(CONFIG);
    const result = await new Trainer(runner, CONFIG).fit(train, { ...fitOptions(4) });
    const [first, last] = [result.history[0]!, result.history[3]!];
    expect(result.steps).toBe(4 * 8); // 500 / 64 → 8 batches (7 full + 52)
    expect(last.trainLoss).toBeLessThan(first.trainLoss * 0.8);
    expect(last.valLoss!).toBeLessThan(first.valLoss!);
    expect(last.valAccuracy!).toBeGreaterThan(0.6);
  });

  it('2 epochs + save + load + 2 epochs equals 4 epochs bit for bit', async () => {
    const wholeRunner = await createCpuRunner(CONFIG);
    const whole = new Trainer(wholeRunner, CONFIG);
    await whole.fit(train, fitOptions(4));

    const path = join(dir, 'run.safetensors');
    const first = new Trainer(await createCpuRunner(CONFIG), CONFIG, { writeCheckpoint: saveTrainingCheckpoint });
    await first.fit(train, { ...fitOptions(2), checkpoint: { path } });

    const snap = await loadTrainingCheckpoint(path);
    expect(snap.position).toEqual({ step: 16, epoch: 2, batch: 0 });
    const resumedRunner = await createCpuRunner(snap.config);
    const resumed = new Trainer(resumedRunner, snap.config);
    await resumed.restore(snap);
    await resumed.fit(train, fitOptions(4));

    const a = await wholeRunner.exportState();
    const b = await resumedRunner.exportState();
    expect(b.params).toEqual(a.params);
    expect(b.optimizer).toEqual(a.optimizer);
    expect(timeless(resumed.history)).toEqual(timeless(whole.history));
    expect(await resumed.evaluate(validation)).toEqual(await whole.evaluate(validation));
  });
});
