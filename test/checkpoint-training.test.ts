/**
 * Training checkpoints of runs that are not plain classification: a regression (MSE) model, whose epoch records
 * hold a NaN accuracy, checkpoints and resumes; the non-finite numbers of epoch records (NaN, +Infinity, -Infinity)
 * come back from a checkpoint as they were (stored as the strings "NaN", "Infinity", "-Infinity"; a null of an older
 * file as NaN); a run whose weights went non-finite is refused at save with the tensor named, instead of writing a
 * file that loading would refuse.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/safetensors.js';
import { decodeTrainingCheckpoint, encodeTrainingCheckpoint, NonFiniteStateError, snapshotToCheckpoint } from '../src/train/checkpoint.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-ckpt-training-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** y = sum of the inputs (2 targets: y and −y): a regression task for MSE. */
function regression(n: number): Dataset {
  const inputs = Float32Array.from({ length: n * 4 }, (_, i) => Math.cos(i * 0.7));
  const targets = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const y = inputs[4 * i]! + inputs[4 * i + 1]! + inputs[4 * i + 2]! + inputs[4 * i + 3]!;
    targets[2 * i] = y;
    targets[2 * i + 1] = -y;
  }
  return new Dataset({ name: `regression-${n}`, inputs, inputShape: [4], targets, targetSize: 2 });
}

describe('training checkpoints', () => {
  it('an MSE model checkpoints during fit (NaN accuracy) and resumes', async () => {
    const config: RunnerConfig = { model: parseModelSpec('4-6-2:tanh,loss=mse'), batchSize: 8, optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } }, seed: 1 };
    const path = join(dir, 'mse.safetensors');
    const ds = regression(32);
    const trainer = new Trainer(await createCpuRunner(config), config, { writeCheckpoint: saveTrainingCheckpoint });
    const first = await trainer.fit(ds, { epochs: 2, seed: 3, validation: ds, checkpoint: { path } });
    expect(first.history[0]!.trainAccuracy).toBeNaN();
    const s = await loadTrainingCheckpoint(path);
    expect(s.history).toHaveLength(2);
    expect(s.history[1]!.trainAccuracy).toBeNaN();
    expect(s.history[1]!.valAccuracy).toBeNaN();
    expect(s.history[1]!.trainLoss).toBe(first.history[1]!.trainLoss);
    const resumed = new Trainer(await createCpuRunner(config), config, { writeCheckpoint: saveTrainingCheckpoint });
    await resumed.restore(s);
    const more = await resumed.fit(ds, { epochs: 3, seed: 3, validation: ds, checkpoint: { path } });
    expect(more.steps).toBe(4);
    expect(more.diverged).toBeUndefined();
  });

  it('NaN, +Infinity and -Infinity in epoch records come back from a checkpoint as they were', async () => {
    const config: RunnerConfig = { model: parseModelSpec('4-6-2:tanh,loss=mse'), batchSize: 8, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } }, seed: 1 };
    const trainer = new Trainer(await createCpuRunner(config), config);
    await trainer.fit(regression(16), { epochs: 2, seed: 3, validation: regression(8) });
    const s = await trainer.snapshot();
    s.history[0] = { ...s.history[0]!, trainLoss: Infinity, valLoss: -Infinity };
    const bytes = encodeTrainingCheckpoint(s);
    const raw = decodeCheckpoint(bytes).meta.history as Record<string, unknown>[];
    expect(raw[0]).toMatchObject({ trainLoss: 'Infinity', valLoss: '-Infinity', trainAccuracy: 'NaN', valAccuracy: 'NaN' });
    const back = decodeTrainingCheckpoint(bytes).history;
    expect(back[0]!.trainLoss).toBe(Infinity);
    expect(back[0]!.valLoss).toBe(-Infinity);
    expect(back[0]!.trainAccuracy).toBeNaN();
    expect(back[1]).toEqual(s.history[1]);
    // Files written before the convention hold null for each of them: read as NaN.
    const older = snapshotToCheckpoint(s);
    older.meta!.history = (older.meta!.history as Record<string, unknown>[]).map((r) => ({ ...r, trainLoss: null, trainAccuracy: null }));
    const old = decodeTrainingCheckpoint(encodeCheckpoint(older)).history[0]!;
    expect(old.trainLoss).toBeNaN();
    expect(old.trainAccuracy).toBeNaN();
    expect(old.valLoss).toBe(-Infinity);
  });

  it('a checkpoint whose runner config is invalid is refused at load, naming the field', async () => {
    const config: RunnerConfig = { model: parseModelSpec('4-6-2:tanh,loss=mse'), batchSize: 8, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } }, seed: 1 };
    const trainer = new Trainer(await createCpuRunner(config), config);
    await trainer.fit(regression(16), { epochs: 1, seed: 3 });
    const s = await trainer.snapshot();
    const bad = { ...s, config: { ...s.config, optimizer: { name: 'SGD' as const, hyperparams: { lr: -1 } } } };
    expect(() => decodeTrainingCheckpoint(encodeTrainingCheckpoint(bad), 'bad.safetensors')).toThrow(
      /^bad\.safetensors: metadata\.optimizer\.config\.hyperparams\.lr: lr must be >= 0/,
    );
    const clip = { ...s, config: { ...s.config, clip: { maxNorm: 0 } } };
    expect(() => decodeTrainingCheckpoint(encodeTrainingCheckpoint(clip), 'clip.safetensors')).toThrow(/^clip\.safetensors: metadata\.runner\.clip\.maxNorm: must be a positive number, got 0$/);
  });

  it('a run whose weights went non-finite is not saved; the previous checkpoint stays', async () => {
    // No guard and an absurd rate: the weights overflow to Inf/NaN within a few steps.
    const config: RunnerConfig = { model: parseModelSpec('4-6-2:relu,loss=mse'), batchSize: 8, optimizer: { name: 'SGD', hyperparams: { lr: 1e30 } }, seed: 1, guard: false };
    const path = join(dir, 'nan.safetensors');
    const ds = regression(32);
    const trainer = new Trainer(await createCpuRunner(config), config, { writeCheckpoint: saveTrainingCheckpoint });
    const error = await trainer.fit(ds, { epochs: 3, seed: 3, checkpoint: { path } }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteStateError);
    expect((error as Error).message).toMatch(/^checkpoint: tensor (layers|optim)\.\S+ element \d+ is (NaN|-?Infinity): the run diverged .*not saved, the previous file is unchanged$/);
  });
});
