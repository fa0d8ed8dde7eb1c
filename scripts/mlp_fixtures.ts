/**
 * Writes test/fixtures/mlp-v1/: what the layer-module redesign (issue 9) must keep bit for bit, made by the version
 * before it (commit d4066a9) and re-made identically by later versions:
 *   checkpoint.safetensors  a training checkpoint of a 6-5-4-3:relu,bn,dropout=0.2 MLP (CPU runner, float32, Adam,
 *                           3 epochs of a seeded synthetic set), the format later versions must still load;
 *   golden.json             per model string and dtype: the initial parameters' and statistics' SHA-256 and, after
 *                           12 CPU training steps, the per-step losses and the parameters' and statistics' SHA-256.
 * Run: npx esbuild scripts/mlp_fixtures.ts --bundle --platform=node --format=esm --loader:.wgsl=text \
 *        --outfile=/tmp/mlp_fixtures.mjs && node /tmp/mlp_fixtures.mjs [--check]
 * With --check it compares instead of writing (exit 1 on any difference).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Dataset } from '../src/data/dataset.js';
import { layoutModel } from '../src/model/layout.js';
import { initParams, initStats } from '../src/model/params.js';
import { outputSize, parseModelSpec } from '../src/model/spec.js';
import { Random } from '../src/random.js';
import { encodeTrainingCheckpoint } from '../src/train/checkpoint.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import type { MetricsReport, RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';

const DIR = 'test/fixtures/mlp-v1';
const check = process.argv.includes('--check');

/** Seeded synthetic classification set: n examples of d floats, labels in [0, k). */
export function syntheticSet(n: number, d: number, k: number, seed: number): Dataset {
  const rand = new Random(seed);
  const inputs = rand.fillUniform(new Float32Array(n * d), -1, 1);
  const labels = new Uint8Array(n).map((_, i) => Math.floor(Math.abs(inputs[i * d]! * 7919)) % k);
  return new Dataset({ name: `synthetic-${n}x${d}`, inputs, inputShape: [d], labels, numClasses: k });
}

/** Seeded float targets for mse / bce. */
function syntheticTargets(n: number, d: number, k: number, seed: number, binary: boolean): Dataset {
  const rand = new Random(seed);
  const inputs = rand.fillUniform(new Float32Array(n * d), -1, 1);
  const targets = rand.fillUniform(new Float32Array(n * k), 0, 1).map((v) => (binary ? (v < 0.5 ? 0 : 1) : v));
  return new Dataset({ name: `synthetic-t-${n}x${d}`, inputs, inputShape: [d], targets, targetSize: k });
}

const sha = (a: Float32Array | Float64Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

const MODELS = [
  '6-5-4-3:relu',
  '6-5-4-3:relu,bn,dropout=0.2',
  '6-7-3:tanh,bn',
  '6-5-4-3:gelu,dropout=0.3,init=he_uniform',
  '6-5-4:elu,bn,loss=mse',
  '6-5-4:sigmoid,loss=bce',
  '6-8-8-3:leaky_relu,init=glorot_normal',
];

async function golden(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const text of MODELS) {
    const model = parseModelSpec(text);
    const layout = layoutModel(model);
    const outputs = outputSize(model);
    const ds = model.loss === 'softmax_ce' ? syntheticSet(40, 6, outputs, 3) : syntheticTargets(40, 6, outputs, 3, model.loss === 'bce');
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

async function checkpoint(): Promise<Uint8Array> {
  const config: RunnerConfig = { model: parseModelSpec('6-5-4-3:relu,bn,dropout=0.2'), batchSize: 8, optimizer: { name: 'Adam', hyperparams: { lr: 0.01 } }, seed: 9 };
  const runner = await createCpuRunner(config, { dtype: 'float32' });
  const trainer = new Trainer(runner, config);
  await trainer.fit(syntheticSet(30, 6, 3, 4), { epochs: 3, seed: 1, schedule: 'exp:0.9' });
  const snap = await trainer.snapshot();
  // Wall-clock fields would make the bytes differ between runs.
  snap.history = snap.history.map((h) => ({ ...h, seconds: 0, stepsPerSecond: 0, ...(h.valSeconds !== undefined ? { valSeconds: 0 } : {}) }));
  return encodeTrainingCheckpoint(snap);
}

const files: Record<string, Uint8Array> = {
  'golden.json': new TextEncoder().encode(JSON.stringify(await golden(), null, 1) + '\n'),
  'checkpoint.safetensors': await checkpoint(),
};
let bad = 0;
for (const [name, bytes] of Object.entries(files)) {
  const path = `${DIR}/${name}`;
  if (check) {
    const same = Buffer.compare(readFileSync(path), Buffer.from(bytes)) === 0;
    console.log(`${same ? 'same' : 'DIFFERENT'}: ${path}`);
    if (!same) bad++;
  } else {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path, bytes);
    console.log(`wrote ${path} (${bytes.length} bytes)`);
  }
}
process.exit(bad ? 1 : 0);
