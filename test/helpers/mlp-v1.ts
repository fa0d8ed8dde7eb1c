/**
 * What test/fixtures/mlp-v1/ records, computed by this version: the golden CPU-path numbers of a set of MLP strings
 * and a training checkpoint. scripts/mlp_fixtures.ts writes (or checks) the files from these; test/mlp-v1.test.ts
 * compares this version with the files, which were written by the version before the layer modules (commit d4066a9).
 */
import { createHash } from 'node:crypto';
import { Dataset } from '../../src/data/dataset.js';
import { layoutModel } from '../../src/model/layout.js';
import { initParams, initStats } from '../../src/model/params.js';
import { outputSize, parseModelSpec } from '../../src/model/spec.js';
import { Random } from '../../src/random.js';
import { encodeTrainingCheckpoint } from '../../src/train/checkpoint.js';
import { createCpuRunner } from '../../src/train/cpu-runner.js';
import type { MetricsReport, RunnerConfig } from '../../src/train/runner.js';
import { Trainer } from '../../src/train/trainer.js';

export const MLP_V1_DIR = 'test/fixtures/mlp-v1';

/** The model of checkpoint.safetensors. */
export const MLP_V1_CHECKPOINT_MODEL = '6-5-4-3:relu,bn,dropout=0.2';

/** Seeded synthetic inputs in [−1, 1): labels in [0, k) (classes) or float targets (mse: [0, 1), bce: 0/1). */
export function syntheticSet(n: number, d: number, k: number, seed: number, targets?: 'mse' | 'bce'): Dataset {
  const rand = new Random(seed);
  const inputs = rand.fillUniform(new Float32Array(n * d), -1, 1);
  if (!targets) {
    const labels = new Uint8Array(n).map((_, i) => Math.floor(Math.abs(inputs[i * d]! * 7919)) % k);
    return new Dataset({ name: `synthetic-${n}x${d}`, inputs, inputShape: [d], labels, numClasses: k });
  }
  const values = rand.fillUniform(new Float32Array(n * k), 0, 1).map((v) => (targets === 'bce' ? (v < 0.5 ? 0 : 1) : v));
  return new Dataset({ name: `synthetic-t-${n}x${d}`, inputs, inputShape: [d], targets: values, targetSize: k });
}

const sha = (a: Float32Array | Float64Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

export const MLP_V1_MODELS = [
  '6-5-4-3:relu',
  '6-5-4-3:relu,bn,dropout=0.2',
  '6-7-3:tanh,bn',
  '6-5-4-3:gelu,dropout=0.3,init=he_uniform',
  '6-5-4:elu,bn,loss=mse',
  '6-5-4:sigmoid,loss=bce',
  '6-8-8-3:leaky_relu,init=glorot_normal',
];

export interface GoldenRecord {
  init: { params: string; stats: string };
  /** Per-step loss sums of 12 CPU steps (Adam, lr 0.01, batch 16 over 40 examples, seed 5). */
  losses: number[];
  params: string;
  stats: string;
}

/** Per `${model} ${dtype}`: SHA-256 of the initial and trained parameters and statistics, and the step losses. */
export async function goldenRecords(): Promise<Record<string, GoldenRecord>> {
  const out: Record<string, GoldenRecord> = {};
  for (const text of MLP_V1_MODELS) {
    const model = parseModelSpec(text);
    const layout = layoutModel(model);
    const ds = syntheticSet(40, 6, outputSize(model), 3, model.loss === 'softmax_ce' ? undefined : model.loss);
    for (const dtype of ['float32', 'float64'] as const) {
      const config: RunnerConfig = { model, batchSize: 16, optimizer: { name: 'Adam', hyperparams: { lr: 0.01 } }, seed: 5 };
      const r = await createCpuRunner(config, { dtype });
      const init = { params: sha(initParams(model, layout, 5)), stats: sha(initStats(model, layout)) };
      const losses: number[] = [];
      r.onMetrics((m: MetricsReport) => losses.push(m.lossSum));
      await r.setTrainingData(ds);
      for (let s = 0; s < 12; s++) {
        const b = s % 3;
        if (b === 0) r.beginEpoch(ds.batches({ batchSize: 16, seed: 2 }).permutation(Math.floor(s / 3)));
        r.step({ step: s, start: b * 16, rows: Math.min(16, 40 - b * 16), lr: 0.01 });
      }
      out[`${text} ${dtype}`] = { init, losses, params: sha(r.params), stats: sha(r.stats) };
    }
  }
  return out;
}

/** A checkpoint of MLP_V1_CHECKPOINT_MODEL after 3 epochs (CPU float32, Adam, seeded), wall-clock fields zeroed. */
export async function checkpointBytes(): Promise<Uint8Array> {
  const config: RunnerConfig = { model: parseModelSpec(MLP_V1_CHECKPOINT_MODEL), batchSize: 8, optimizer: { name: 'Adam', hyperparams: { lr: 0.01 } }, seed: 9 };
  const runner = await createCpuRunner(config, { dtype: 'float32' });
  const trainer = new Trainer(runner, config);
  await trainer.fit(syntheticSet(30, 6, 3, 4), { epochs: 3, seed: 1, schedule: 'exp:0.9' });
  const snap = await trainer.snapshot();
  snap.history = snap.history.map((h) => ({ ...h, seconds: 0, stepsPerSecond: 0, ...(h.valSeconds !== undefined ? { valSeconds: 0 } : {}) }));
  return encodeTrainingCheckpoint(snap);
}
