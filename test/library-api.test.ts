/**
 * The library as an app uses it, on the CPU reference runner (fast; the GPU side is in library-gpu.test.ts): datasets
 * from plain arrays, predict on inputs without labels, predictProba, mean loss and accuracy in every metrics report,
 * validationSplit, seed defaults, labels the model cannot output, and saving / loading checkpoint bytes.
 */
import { describe, expect, it } from 'vitest';
import { Dataset, type DatasetArrays } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { loadTrainer } from '../src/train/load.js';
import type { MetricsReport, RunnerConfig } from '../src/train/runner.js';
import { Trainer } from '../src/train/trainer.js';

/** Two interleaved spirals plus a third class in the middle: rows of [x, y] and class ids, generated class by class. */
function spirals(perClass: number): { xs: number[][]; ys: number[] } {
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = (i + 1) / perClass;
      const t = c === 2 ? i : 1.75 * i / perClass * Math.PI + c * Math.PI;
      xs.push(c === 2 ? [0.1 * Math.cos(t), 0.1 * Math.sin(t)] : [r * Math.cos(t), r * Math.sin(t)]);
      ys.push(c);
    }
  }
  return { xs, ys };
}

const CONFIG: RunnerConfig = {
  model: parseModelSpec('2-16-3:tanh'),
  batchSize: 16,
  optimizer: { name: 'Adam', hyperparams: { lr: 0.02 } },
};

describe('Dataset.from', () => {
  it('takes rows and class ids, flat values with a shape, float target rows or one target per example', () => {
    const rows = Dataset.from({ inputs: [[1, 2], [3, 4], [5, 6]], labels: [0, 2, 1] });
    expect([rows.length, rows.exampleSize, rows.numClasses]).toEqual([3, 2, 3]);
    expect(rows.inputs).toEqual(new Float32Array([1, 2, 3, 4, 5, 6]));
    expect(rows.labels).toEqual(new Int32Array([0, 2, 1]));
    const flat = Dataset.from({ inputs: [1, 2, 3, 4, 5, 6], inputShape: [3], targets: [0.5, -1] });
    expect([flat.length, flat.exampleSize, flat.targetSize]).toEqual([2, 3, 1]);
    const targets = Dataset.from({ inputs: new Float32Array(4), inputShape: [2], targets: [[1, 2, 3], [4, 5, 6]] });
    expect(targets.targetSize).toBe(3);
    const bytes = Dataset.from({ inputs: [Uint8Array.of(1, 2), Uint8Array.of(3, 4)], labels: [1, 0] });
    expect(bytes.inputs).toBeInstanceOf(Uint8Array);
    const unlabelled = Dataset.from({ inputs: [[1, 2]] });
    expect([unlabelled.labelled, unlabelled.labels, unlabelled.targets]).toEqual([false, undefined, undefined]);
  });

  it('names the row or value that is wrong', () => {
    expect(() => Dataset.from({ name: 'd', inputs: [[1, 2], [3]], labels: [0, 1] })).toThrow('d: inputs[1] has 1 values; every row needs 2 (as row 0).');
    expect(() => Dataset.from({ name: 'd', inputs: [[1, 2], [3, 'x' as unknown as number]] })).toThrow('d: inputs[1][1] is string, not a number.');
    expect(() => Dataset.from({ name: 'd', inputs: [[1], [2]], labels: [0, 1.5] })).toThrow(/d: labels\[1\] = 1\.5 is not a class id .*give `targets` instead/);
    expect(() => Dataset.from({ name: 'd', inputs: [1, 2, 3, 4] })).toThrow(/d: inputs is one flat array of 4 values: give inputShape/);
    expect(() => Dataset.from({ name: 'd', inputs: [] })).toThrow('d: inputs is empty: a dataset needs at least one example.');
    expect(() => Dataset.from({ name: 'd', inputs: [[1], [2]], labels: [0] })).toThrow('d: labels has 1 entries but inputs hold 2 examples of 1 values.');
    expect(() => Dataset.from({ name: 'd', inputs: [[NaN]] })).toThrow(/d: inputs\[0\] .* is NaN; inputs must be finite/);
    expect(() => Dataset.from(null as unknown as DatasetArrays)).toThrow('Dataset.from: give { inputs, labels? | targets? }, got null.');
  });
});

describe('training on your own data (CPU runner)', () => {
  const { xs, ys } = spirals(40);
  const data = Dataset.from({ name: 'spirals', inputs: xs, labels: ys });

  it('every metrics report has the mean loss and accuracy; validationSplit holds out a seeded fraction', async () => {
    const trainer = new Trainer(await createCpuRunner(CONFIG));
    const reports: MetricsReport[] = [];
    const result = await trainer.fit(data, { epochs: 3, validationSplit: 0.25, callbacks: { onMetrics: (m) => reports.push(m) } });
    expect(reports.length).toBe(3 * Math.ceil(90 / 16));
    for (const m of reports) {
      expect(m.loss).toBeCloseTo(m.lossSum / m.rows, 12);
      expect(m.accuracy).toBeCloseTo(m.correct / m.rows, 12);
      expect(m.invalid).toBe(0);
    }
    const last = result.history.at(-1)!;
    expect(last.valLoss).toBeGreaterThan(0);
    expect(last.valAccuracy).toBeGreaterThanOrEqual(0);
    // 120 examples, a quarter held out: 90 train in batches of 16.
    expect(result.history[0]!.steps).toBe(6);
    // Same data, fraction and seed: the same split (and so the same run) again.
    const again = new Trainer(await createCpuRunner(CONFIG));
    const r2 = await again.fit(data, { epochs: 3, validationSplit: 0.25 });
    expect(r2.history.map((h) => h.valLoss)).toEqual(result.history.map((h) => h.valLoss));
    await expect(again.fit(data, { epochs: 4, validationSplit: 0.25, validation: data })).rejects.toThrow(/validation .* or validationSplit .*, not both/);
    await expect(again.fit(data, { epochs: 4, validationSplit: 1 })).rejects.toThrow('fit: validationSplit must be a fraction in (0, 1), e.g. 0.2, got 1');
  });

  it('predicts on rows without labels, gives softmax probabilities and classes, and learns the spirals', async () => {
    const trainer = new Trainer(await createCpuRunner(CONFIG));
    await trainer.fit(data, { epochs: 60 });
    const logits = await trainer.predict(xs);
    expect(logits.length).toBe(xs.length * 3);
    expect(await trainer.predict(data)).toEqual(logits);
    expect(await trainer.predict(Float32Array.from(xs.flat()))).toEqual(logits);
    const proba = await trainer.predictProba(xs);
    for (let i = 0; i < xs.length; i++) {
      const row = [...proba.subarray(3 * i, 3 * i + 3)];
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
      const z = [...logits.subarray(3 * i, 3 * i + 3)];
      const e = z.map((v) => Math.exp(v - Math.max(...z)));
      row.forEach((p, j) => expect(p).toBeCloseTo(e[j]! / e.reduce((a, b) => a + b, 0), 6));
    }
    const classes = await trainer.predictClasses(xs);
    const accuracy = classes.reduce((n, c, i) => n + (c === ys[i] ? 1 : 0), 0) / ys.length;
    expect(accuracy, 'training accuracy on the spirals').toBeGreaterThan(0.8);
    await expect(trainer.predict([[1, 2, 3]])).rejects.toThrow("dataset 'predict' has 3 values per example (shape 3) but the model takes 2 inputs");
  });

  it('predictProba is the sigmoid for bce and refuses mse', async () => {
    const bce: RunnerConfig = { model: parseModelSpec('2-4-2:tanh,loss=bce'), batchSize: 8, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } } };
    const t = new Trainer(await createCpuRunner(bce));
    const z = await t.predict([[0.3, -0.2], [1, 2]]);
    const p = await t.predictProba([[0.3, -0.2], [1, 2]]);
    z.forEach((v, i) => expect(p[i]).toBeCloseTo(1 / (1 + Math.exp(-v)), 6));
    const mse = new Trainer(await createCpuRunner({ ...bce, model: parseModelSpec('2-4-1:tanh,loss=mse') }));
    await expect(mse.predictProba([[0, 0]])).rejects.toThrow(/loss is mse .* use predict/);
    // bce grades every output: accuracy stays a fraction.
    const r = await t.fit(Dataset.from({ inputs: [[0, 1], [1, 0], [1, 1]], targets: [[1, 0], [0, 1], [1, 1]] }), { epochs: 2 });
    expect(r.history[0]!.trainAccuracy).toBeLessThanOrEqual(1);
  });

  it('seed is optional: 0 by default, for the weights and for the shuffle', async () => {
    const a = await createCpuRunner(CONFIG);
    const b = await createCpuRunner({ ...CONFIG, seed: 0 });
    expect((await a.exportState()).params).toEqual((await b.exportState()).params);
    const ta = new Trainer(a);
    const tb = new Trainer(b);
    await ta.fit(data, { epochs: 1 });
    await tb.fit(data, { epochs: 1, seed: 0 });
    expect((await a.exportState()).params).toEqual((await b.exportState()).params);
  });

  it('labels the model cannot output are an error when the data is bound', async () => {
    const bad = Dataset.from({ name: 'tens', inputs: [[0, 0], [1, 1], [2, 2]], labels: [0, 5, 9] });
    const t = new Trainer(await createCpuRunner(CONFIG));
    await expect(t.fit(bad, { epochs: 1 })).rejects.toThrow(
      "dataset 'tens': 2 labels are (the first: label 5 of example 1) outside [0, 3): the model has 3 outputs, so labels must be class ids 0..2",
    );
    await expect(t.evaluate(bad)).rejects.toThrow(/outside \[0, 3\)/);
  });

  it('save() and loadTrainer(bytes) round-trip the model: the same predictions, and training continues', async () => {
    const first = await createCpuRunner(CONFIG);
    const trainer = new Trainer(first);
    await trainer.fit(data, { epochs: 2 });
    const before = await trainer.predict(xs);
    const bytes = await trainer.save();
    const again = await loadTrainer(bytes, { name: 'spirals.safetensors' });
    expect(again.position).toEqual(trainer.position);
    expect(again.history).toEqual(trainer.history);
    expect(await again.predict(xs)).toEqual(before);
    // Continuing from the bytes equals continuing in place (the CPU runner is deterministic).
    await trainer.fit(data, { epochs: 3 });
    await again.fit(data, { epochs: 3 });
    expect(await again.predict(xs)).toEqual(await trainer.predict(xs));
    // runner.save / runner.load carry the model and optimizer state.
    const runner = await createCpuRunner(CONFIG);
    await runner.load(await first.save());
    expect(await new Trainer(runner).predict(xs)).toEqual(await trainer.predict(xs));
    // Bytes of another model, or not bytes at all, are refused with the reason.
    const other = await createCpuRunner({ ...CONFIG, model: parseModelSpec('2-8-3:relu') });
    await expect(other.load(bytes, 'spirals.safetensors')).rejects.toThrow(/spirals\.safetensors: the checkpoint holds the model 2-16-3 tanh .*not this one \(2-8-3 relu/);
    await expect(loadTrainer(bytes.buffer as unknown as Uint8Array)).rejects.toThrow(/expected the checkpoint's bytes as a Uint8Array .* got ArrayBuffer/);
    // A trainer that never trained saves too (its initial weights).
    const fresh = new Trainer(await createCpuRunner(CONFIG));
    expect((await loadTrainer(await fresh.save())).position).toEqual({ step: 0, epoch: 0, batch: 0 });
  });
});
