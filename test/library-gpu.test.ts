/**
 * The library as an app uses it, on the GPU runner: labels the model cannot output fail as on the CPU path (when the
 * data is bound, and, should any reach the loss kernel, through its invalid-label count in the metrics); predict on
 * inputs without labels; metrics reports carry mean loss and accuracy; checkpoint bytes saved on the GPU load on the
 * CPU and on the GPU (the same weights; predictions within the derived bound of the float64 forward, and on the same
 * GPU the same predictions), and back; nothing is left on the GPU.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import { loadTrainer } from '../src/train/load.js';
import type { MetricsReport, RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';
import { expectPredictWithin } from './helpers/lockstep.js';

// 3 classes of 2-D points; 45 examples = 2 batches of 16 + 13, so a partial batch is planned too.
const xs = Array.from({ length: 45 }, (_, i) => [Math.cos(i * 0.7) * (1 + (i % 3)), Math.sin(i * 0.7) * (1 + (i % 3))]);
const ys = xs.map((_, i) => i % 3);
const CONFIG: RunnerConfig = { model: parseModelSpec('2-12-3:tanh'), batchSize: 16, optimizer: { name: 'Adam', hyperparams: { lr: 0.02 } }, metricsEvery: 1 };

describe('the library on the GPU runner', () => {
  afterAll(async () => (await gpu()).destroy());

  it('labels the model cannot output: refused when bound, and counted by the loss kernel as an error', async () => {
    const engine = await gpu();
    const before = engine.memory().buffers;
    const runner = await createGpuRunner(engine, CONFIG);
    const tens = Dataset.from({ name: 'tens', inputs: xs, labels: xs.map((_, i) => i % 10) });
    await expect(new Trainer(runner).fit(tens, { epochs: 1 })).rejects.toThrow(
      /^dataset 'tens': 30 labels are \(the first: label 3 of example 3\) outside \[0, 3\): the model has 3 outputs/,
    );
    await expect(runner.evaluate(tens)).rejects.toThrow(/outside \[0, 3\)/);
    // A label that gets past the check (here: overwritten on the device) reaches the kernel, which counts it.
    const data = Dataset.from({ name: 'ok', inputs: xs, labels: ys });
    const reports: MetricsReport[] = [];
    runner.onMetrics((m) => reports.push(m));
    await runner.setTrainingData(data);
    const uploaded = (runner as unknown as { train: { data: { labels: GPUBuffer } } }).train.data.labels;
    engine.write(uploaded, Uint32Array.of(7), 4 * 5);
    runner.beginEpoch(Uint32Array.from({ length: 45 }, (_, i) => i));
    runner.step({ step: 0, start: 0, rows: 16, lr: 0.01 });
    await expect(runner.flushMetrics()).rejects.toThrow(/^dataset 'ok': 1 labels in the training steps up to 0 are outside \[0, 3\)/);
    expect(reports.at(-1)!.invalid).toBe(1);
    expect(reports.at(-1)!.rows).toBe(15);
    runner.destroy();
    expect(engine.memory().buffers).toBe(before);
  });

  it('predicts on rows without labels; reports mean loss and accuracy; saves and loads bytes', async () => {
    const engine = await gpu();
    const before = engine.memory().buffers;
    const g = new Trainer(await createGpuRunner(engine, CONFIG));
    const c = new Trainer(await createCpuRunner(CONFIG));
    const data = Dataset.from({ inputs: xs, labels: ys });
    const reports: MetricsReport[] = [];
    await g.fit(data, { epochs: 3, callbacks: { onMetrics: (m) => reports.push(m) } });
    await c.fit(data, { epochs: 1 });
    expect(reports.length).toBeGreaterThan(0);
    for (const m of reports) {
      expect(m.loss).toBeCloseTo(m.lossSum / m.rows, 6);
      expect(m.accuracy).toBeCloseTo(m.correct / m.rows, 6);
      expect(m.invalid).toBe(0);
    }
    const zg = await g.predict(xs);
    expect(await g.predict(data)).toEqual(zg);
    const proba = await g.predictProba(xs);
    for (let i = 0; i < xs.length; i++) expect(proba[3 * i]! + proba[3 * i + 1]! + proba[3 * i + 2]!).toBeCloseTo(1, 5);

    // Each runner's logits against the float64 forward on that runner's own weights, within the bound a correct float32
    // device keeps (test/helpers/step-bounds.ts: the sums' γ_n·Σ|terms|, WGSL's exp accuracy in tanh, carried through).
    expect(await expectPredictWithin(g.runner, CONFIG, data, 'GPU')).toEqual(zg);
    const bytes = await g.save();
    const onGpu = await loadTrainer(bytes, { engine });
    expect(await onGpu.predict(xs)).toEqual(zg); // same weights, same device, same kernels
    const onCpu = await loadTrainer(bytes);
    await expectPredictWithin(onCpu.runner, CONFIG, data, 'the GPU checkpoint on the CPU runner');
    expect((await onCpu.runner.exportState()).params).toEqual((await g.runner.exportState()).params);
    // And back: the CPU trainer's bytes into a GPU runner of the same model.
    const runner = await createGpuRunner(engine, CONFIG);
    await runner.load(await c.save());
    expect((await runner.exportState()).params).toEqual((await c.runner.exportState()).params);
    await expectPredictWithin(runner, CONFIG, data, 'the CPU checkpoint on the GPU runner');
    for (const t of [g, c, onGpu, onCpu]) t.runner.destroy();
    runner.destroy();
    expect(engine.memory().buffers).toBe(before);
  });
});
