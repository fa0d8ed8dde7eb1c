/**
 * The layer-module redesign (issue 9) changed nothing an MLP user can see. test/fixtures/mlp-v1/ was written by the
 * version before it (scripts/mlp_fixtures.ts at commit d4066a9):
 * - golden.json: SHA-256 of the initial and the trained parameters and statistics, and the step losses, of 12 CPU
 *   steps for several MLP strings in float32 and float64 — this version must reproduce them bit for bit (the CPU
 *   path is deterministic: IEEE arithmetic, float32 rounded by Math.fround, V8's fdlibm exp/log/tanh);
 * - checkpoint.safetensors: a training checkpoint of 6-5-4-3:relu,bn,dropout=0.2 — it must load, name and shape
 *   every tensor by layer as before, and training must continue from it.
 * If a deliberate change of the numbers breaks golden.json, regenerate it with scripts/mlp_fixtures.ts and say why
 * in the commit.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseModelSpec } from '../src/model/spec.js';
import { decodeTrainingCheckpoint, encodeTrainingCheckpoint } from '../src/train/checkpoint.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { Trainer } from '../src/train/trainer.js';
import { MLP_V1_CHECKPOINT_MODEL, MLP_V1_DIR, goldenRecords, syntheticSet, type GoldenRecord } from './helpers/mlp-v1.js';

describe('MLPs as the version before layer modules computed them', () => {
  it('reproduces initial parameters, step losses and trained parameters bit for bit (float32 and float64)', async () => {
    const golden = JSON.parse(readFileSync(`${MLP_V1_DIR}/golden.json`, 'utf8')) as Record<string, GoldenRecord>;
    const now = await goldenRecords();
    expect(Object.keys(now)).toEqual(Object.keys(golden));
    for (const [key, rec] of Object.entries(golden)) expect(now[key], key).toEqual(rec);
  });

  it('loads an old checkpoint: same model, tensors named and shaped by layer, training continues', async () => {
    const bytes = new Uint8Array(readFileSync(`${MLP_V1_DIR}/checkpoint.safetensors`));
    const snap = decodeTrainingCheckpoint(bytes, 'checkpoint.safetensors');
    expect(snap.config.model).toEqual(parseModelSpec(MLP_V1_CHECKPOINT_MODEL));
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    const shapes = Object.fromEntries(Object.entries(header).filter(([k]) => k.startsWith('layers.')).map(([k, v]) => [k, (v as { shape: number[] }).shape]));
    expect(shapes).toEqual({
      'layers.0.weight': [6, 5], 'layers.4.weight': [5, 4], 'layers.8.weight': [4, 3],
      'layers.0.bias': [5], 'layers.4.bias': [4], 'layers.8.bias': [3],
      'layers.1.gamma': [5], 'layers.1.beta': [5], 'layers.5.gamma': [4], 'layers.5.beta': [4],
      'layers.1.running_mean': [5], 'layers.1.running_var': [5], 'layers.5.running_mean': [4], 'layers.5.running_var': [4],
    });
    // A fresh runner picks the run up where it stopped, and this version writes the same tensors back.
    const runner = await createCpuRunner(snap.config);
    const trainer = new Trainer(runner, snap.config);
    await trainer.restore(snap);
    const before = Float32Array.from(runner.params);
    const result = await trainer.fit(syntheticSet(30, 6, 3, 4), { epochs: 4, seed: 1, schedule: 'exp:0.9' });
    expect(result.steps).toBe(4);
    expect(trainer.position).toMatchObject({ epoch: 4, step: 16 });
    expect(runner.params).not.toEqual(before);
    const again = decodeTrainingCheckpoint(encodeTrainingCheckpoint(await trainer.snapshot()), 'again');
    expect(again.config.model).toEqual(snap.config.model);
  });
});
