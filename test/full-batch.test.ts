/**
 * Full-batch training from the trainer (optimizer LBFGS / NonlinearCG / Newton): the runners' full-batch objective
 * (mean loss over the whole set and its gradient, in chunks) against finite differences and across devices, L-BFGS
 * training MNIST logistic regression and a small MLP on subsets (CPU and GPU), and the refusals.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.js';
import { loadMnist } from '../src/data/mnist-node.js';
import { parseModelSpec } from '../src/model/spec.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';
import { expectWithin } from '../src/testing/sums.js';
import { boundedFullBatch } from './helpers/full-batch-bounds.js';
import { gpu } from './helpers/gpu.js';

let train: Dataset;
let test: Dataset;

beforeAll(async () => {
  const mnist = await loadMnist();
  train = mnist.train.subset(Uint32Array.from({ length: 1000 }, (_, i) => i), 'mnist-1000');
  test = mnist.test.subset(Uint32Array.from({ length: 500 }, (_, i) => i), 'mnist-test-500');
});
afterAll(async () => (await gpu()).destroy());

const logistic = (optimizer: RunnerConfig['optimizer'], batchSize = 400): RunnerConfig => ({ model: parseModelSpec('784-10'), batchSize, optimizer, seed: 3 });

describe('the full-batch objective', () => {
  it('CPU float64: f is the mean loss of the whole set (chunked or not), ∇f matches central differences', async () => {
    const small = train.subset(Uint32Array.from({ length: 130 }, (_, i) => i), 'mnist-130');
    const cfg = { ...logistic({ name: 'LBFGS' }, 48), model: parseModelSpec('784-6-10:tanh') };
    const runner = await createCpuRunner(cfg, { dtype: 'float64' });
    await runner.setTrainingData(small);
    const m = await runner.fullBatchMachine();
    const g = m.vector('g'), F = m.scalars(1);
    await m.evaluate(g, F);
    const [f] = await m.read([F]);
    expect(f).toBeCloseTo((await runner.evaluate(small)).loss, 12); // tanh MLP: training and evaluation forward agree
    const grad = await m.readVector(g);
    const x = await m.readVector(m.x);
    const h = 1e-6;
    for (const i of [0, 17, 4000, x.length - 1]) {
      const at = async (v: number) => {
        const xs = Float64Array.from(x);
        xs[i] = v;
        await m.writeVector(m.x, xs);
        await m.evaluate(g, F);
        return (await m.read([F]))[0]!;
      };
      const fd = ((await at(x[i]! + h)) - (await at(x[i]! - h))) / (2 * h);
      expect(Math.abs(fd - grad[i]!), `∂f/∂θ${i}`).toBeLessThan(1e-7 * Math.max(1, Math.abs(fd)));
    }
  });

  it('GPU (float32) and the float64 CPU runner: f and ∇f over 3 chunks within their bounds of the float64 reference, then L-BFGS fits a small MLP with it', async () => {
    const engine = await gpu();
    const before = engine.memory().buffers;
    const small = train.subset(Uint32Array.from({ length: 200 }, (_, i) => i), 'mnist-200');
    const cfg: RunnerConfig = {
      model: parseModelSpec('784-8-10:relu'), batchSize: 96, seed: 1,
      optimizer: { name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 8, history_size: 10 } },
    };
    const cpuRunner = await createCpuRunner(cfg, { dtype: 'float64' });
    const gpuRunner = await createGpuRunner(engine, cfg);
    // Both at the GPU's parameters (float32 values: exact in both).
    const params = (await gpuRunner.exportState()).params;
    await cpuRunner.importState(await gpuRunner.exportState());
    // The bound of a correct float32 device (test/helpers/full-batch-bounds.ts: each chunk's sums γ_n·Σ|terms| carried
    // through the layers, the chunks' weighted sum, the loss sum over all 200 rows).
    const ref = await boundedFullBatch(cfg, params, small);
    for (const [device, runner] of [['GPU', gpuRunner], ['CPU float64', cpuRunner]] as const) {
      await runner.setTrainingData(small);
      const m = await runner.fullBatchMachine!();
      const g = m.vector('g'), F = m.scalars(1);
      await m.writeVector(g, new Float64Array(m.n).fill(NaN)); // the first chunk must write, not accumulate
      await m.evaluate(g, F);
      const f = (await m.read([F]))[0]!;
      const grad = await m.readVector(g);
      m.destroy();
      // float64 rounds as the float32 derivation does with u = 2⁻⁵³: 2⁻²⁹ of each bound.
      const scale = device === 'GPU' ? 1 : 2 ** -29;
      expectWithin([f], { value: [ref.f.value], bound: [scale * ref.f.bound] }, `${device}: f`);
      expectWithin(grad, { value: ref.g.value, bound: ref.g.bound.map((b) => scale * b) }, `${device}: ∇f`);
    }
    // Training through the trainer on the same runner: the full-batch loss falls every epoch, to a tenth.
    const res = await new Trainer(gpuRunner, cfg).fit(small, { epochs: 2, seed: 0 });
    const final = (await gpuRunner.evaluate(small)).loss;
    expect(res.history[1]!.trainLoss).toBeLessThan(res.history[0]!.trainLoss);
    expect(final, res.history.map((r) => `${r.trainLoss}/${r.stop}`).join(' ')).toBeLessThan(0.1 * res.history[0]!.trainLoss);
    expect(res.history.every((r) => r.evals! >= r.steps && r.steps > 0)).toBe(true);
    gpuRunner.destroy();
    cpuRunner.destroy();
    expect(engine.memory().buffers).toBe(before);
  });
});

describe('L-BFGS trains from the trainer on the whole (sub)set', () => {
  it('MNIST logistic regression (784-10): CPU on 500 examples (test accuracy > 80%), GPU on 300 (> 75%); loss falls every epoch', async () => {
    const engine = await gpu();
    const optimizer = { name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 8, history_size: 10 } } as const;
    for (const [device, n, minAccuracy] of [['cpu', 500, 0.8], ['gpu', 300, 0.75]] as const) {
      const cfg = logistic(optimizer, n);
      const subset = train.subset(Uint32Array.from({ length: n }, (_, i) => i), `mnist-${n}`);
      const runner = device === 'cpu' ? await createCpuRunner(cfg, { dtype: 'float64' }) : await createGpuRunner(engine, cfg);
      const trainer = new Trainer(runner, cfg);
      const res = await trainer.fit(subset, { epochs: 3, seed: 0, validation: test });
      const losses = res.history.map((r) => r.trainLoss);
      expect(losses.length, res.stop).toBeGreaterThanOrEqual(2);
      for (let k = 1; k < losses.length; k++) expect(losses[k]!, `epoch ${k + 1} (${device})`).toBeLessThan(losses[k - 1]!);
      expect(res.history.every((r) => Number.isFinite(r.valAccuracy!))).toBe(true);
      expect((await trainer.evaluate(test)).accuracy, device).toBeGreaterThan(minAccuracy);
      runner.destroy();
    }
  });

  it('a small MLP (784-16-10 relu) on a 200-example subset, CPU float64: the training loss falls below 0.05', async () => {
    const subset = train.subset(Uint32Array.from({ length: 200 }, (_, i) => i), 'mnist-200');
    const cfg: RunnerConfig = { model: parseModelSpec('784-16-10:relu'), batchSize: 200, optimizer: { name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 15, history_size: 10 } }, seed: 1 };
    const runner = await createCpuRunner(cfg, { dtype: 'float64' });
    const res = await new Trainer(runner, cfg).fit(subset, { epochs: 3, seed: 0 });
    expect((await runner.evaluate(subset)).loss, res.history.map((r) => `${r.trainLoss.toFixed(3)}/${r.stop}`).join(' ')).toBeLessThan(0.05);
  });

  it('NonlinearCG and Newton run from the trainer too', async () => {
    const subset = train.subset(Uint32Array.from({ length: 200 }, (_, i) => i), 'mnist-200');
    for (const name of ['NonlinearCG', 'Newton'] as const) {
      const cfg = logistic({ name, hyperparams: { max_iter: 3 } }, 200);
      const runner = await createCpuRunner(cfg, { dtype: 'float64' });
      const res = await new Trainer(runner, cfg).fit(subset, { epochs: 2, seed: 0 });
      const final = (await runner.evaluate(subset)).loss;
      expect(final, name).toBeLessThan(0.5 * res.history[0]!.trainLoss);
    }
  });
});

describe('full-batch refusals', () => {
  it('dropout, BatchNorm (1-D and 2-D), schedules, a checkpoint without a writer, per-batch steps: each named', async () => {
    const opt = { name: 'LBFGS' } as const;
    for (const [spec, msg] of [
      ['784-16-10:relu,dropout=0.2', 'is dropout (p = 0.2)'], ['784-16-10:relu,bn', 'is BatchNorm'], ['1x28x28-conv(2,3)-bn2d-relu-flatten-dense(10)', 'layer 1 is BatchNorm'],
    ] as const) {
      const cfg = { ...logistic(opt), model: parseModelSpec(spec) };
      const runner = await createCpuRunner(cfg);
      await expect(new Trainer(runner, cfg).fit(train, { epochs: 1, seed: 0 })).rejects.toThrow(msg);
    }
    const runner = await createCpuRunner(logistic(opt));
    const trainer = new Trainer(runner, logistic(opt));
    await expect(trainer.fit(train, { epochs: 1, seed: 0, schedule: 'cosine:T=10' })).rejects.toThrow('LBFGS takes no learning-rate schedule');
    // Checkpoints work (test/full-batch-checkpoint.test.ts), through the same hook as first-order training.
    await expect(trainer.fit(train, { epochs: 1, seed: 0, checkpoint: { path: '/tmp/x' } })).rejects.toThrow('fit: checkpoint given but the Trainer has no writeCheckpoint hook');
    expect(() => runner.step({ step: 0, start: 0, rows: 10, lr: 1 })).toThrow('LBFGS is a full-batch method with no per-batch step');
    expect((await runner.exportState()).optimizer).toBeNull();
    await expect(createCpuRunner(logistic({ name: 'LBFGS', hyperparams: { history_size: 0 } }))).rejects.toThrow('optimizer.hyperparams.history_size must be at least 1');
    await expect(createCpuRunner(logistic({ name: 'LBFGS', hyperparams: { momentum: 0.9 } } as never))).rejects.toThrow('optimizer.hyperparams.momentum: LBFGS has no hyperparameter "momentum"');
    await expect(createCpuRunner({ ...logistic(opt), clip: { maxNorm: 1 } })).rejects.toThrow('clip: LBFGS is a full-batch method and does not clip gradients');
    await expect(createCpuRunner({ ...logistic(opt), gradNorms: true })).rejects.toThrow('gradNorms: LBFGS is a full-batch method with no per-step metrics');
    await expect(createCpuRunner(logistic({ name: 'GaussNewton' }))).rejects.toThrow('optimizer.name: GaussNewton needs a least-squares objective');
    await expect(createCpuRunner(logistic({ name: 'Newton', hyperparams: { hessian: 'exact' } }))).rejects.toThrow("optimizer.hyperparams.hessian: a model's training loss has no exact Hessian-vector product");
  });
});
