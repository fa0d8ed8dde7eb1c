/**
 * When a fit counts as diverged (src/train/divergence.ts): a loss that is not finite, a guard that skipped most
 * steps, or a loss that exploded while staying finite (more than 1000 times the run's reference: its first step's
 * loss, at least a uniform guess's). Checked on loss curves of the shapes ordinary training has (the default MLP
 * recipe's, a noisy classifier's, an mse regression that starts large) that must not count, and on real fits: a
 * finite explosion on the CPU and the GPU (whose reference is its first step's loss alone, though it reports metrics
 * every 50 steps), and a resume, which keeps the reference of the uninterrupted run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { decodeTrainingCheckpoint, encodeTrainingCheckpoint } from '../src/train/checkpoint.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { divergence, DivergenceMonitor, EXPLOSION_FACTOR, referenceLoss, zeroOutputLoss } from '../src/train/divergence.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { MetricsReport, RunnerConfig } from '../src/train/runner.js';
import { Trainer, type EpochRecord } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';
import { boundedForward } from './helpers/lockstep.js';

afterAll(async () => (await gpu()).destroy());

const classifier = parseModelSpec('784-256-256-10:relu');
const regressor = parseModelSpec('4-6-2:tanh,loss=mse');

/** Epoch records with these training (and validation) losses. */
function curve(train: number[], val?: number[]): EpochRecord[] {
  return train.map((trainLoss, i) => ({
    epoch: i + 1, steps: 10, totalSteps: 10 * (i + 1), trainLoss, trainAccuracy: NaN, lr: 1e-3, seconds: 1, stepsPerSecond: 10, skipped: 0,
    ...(val ? { valLoss: val[i] } : {}),
  }));
}

/** y = 0 for x = 1: a 1-1 linear mse model whose SGD step multiplies w + b by (1 − 4·lr). */
const ones = new Dataset({ name: 'ones', inputs: new Float32Array(8).fill(1), inputShape: [1], targets: new Float32Array(8), targetSize: 1 });
/** lr 1: w + b triples (and flips sign) every step; 20 steps: the loss grows by 3^40 ≈ 1e19, still finite in float32. */
const exploding: RunnerConfig = { model: parseModelSpec('1-1:loss=mse'), batchSize: 4, optimizer: { name: 'SGD', hyperparams: { lr: 1 } }, seed: 2 };

/** y = 100·Σx (2 targets: y and −y): an mse regression whose loss starts near 1e4. */
function large(n: number): Dataset {
  const inputs = Float32Array.from({ length: n * 4 }, (_, i) => Math.cos(i * 0.7));
  const targets = new Float32Array(n * 2);
  for (let i = 0; i < n; i++) {
    const y = 100 * (inputs[4 * i]! + inputs[4 * i + 1]! + inputs[4 * i + 2]! + inputs[4 * i + 3]!);
    targets[2 * i] = y;
    targets[2 * i + 1] = -y;
  }
  return new Dataset({ name: `large-${n}`, inputs, inputShape: [4], targets, targetSize: 2 });
}

/** Random labels: a classifier whose loss only wanders around ln 3. */
function noise(n: number): Dataset {
  const inputs = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i * 1.3) * 3);
  const labels = Uint8Array.from({ length: n }, (_, i) => (i * 7919) % 3);
  return new Dataset({ name: `noise-${n}`, inputs, inputShape: [6], labels, numClasses: 3 });
}

describe('the criterion', () => {
  it('ordinary curves do not count: the default MLP recipe, a noisy classifier, an mse regression that starts large', () => {
    // The default recipe (784-256-256-10, Adam 1e-3, cosine, 5 epochs): 2.31 at its first step, then epoch means.
    const ref = referenceLoss(2.31, zeroOutputLoss(classifier, undefined))!;
    expect(ref).toBeCloseTo(2.31, 12);
    expect(divergence({ history: curve([0.29, 0.1, 0.06, 0.04, 0.03], [0.13, 0.09, 0.08, 0.07, 0.07]), steps: 2150, skipped: 0 }, ref)).toBeUndefined();
    // Noise, a warm restart, a learning-rate bump: a last epoch 10 times worse than the start still is not divergence.
    expect(divergence({ history: curve([0.5, 3, 23]), steps: 30, skipped: 0 }, ref)).toBeUndefined();
    // Fine-tuning from trained weights (first step 0.001): all-zero outputs (a uniform guess, ln 10) set the scale.
    expect(referenceLoss(0.001, zeroOutputLoss(classifier, undefined))).toBeCloseTo(Math.log(10), 12);
    expect(divergence({ history: curve([0.8]), steps: 10, skipped: 0 }, referenceLoss(0.001, Math.log(10)))).toBeUndefined();
    expect(zeroOutputLoss(parseModelSpec('3-2:loss=bce'), undefined)).toBeCloseTo(Math.LN2, 15);
    // mse: the mean squared target (a first batch that happens to fit well cannot lower the scale), or nothing at all.
    expect(zeroOutputLoss(regressor, large(4))).toBeGreaterThan(1e4);
    expect(referenceLoss(undefined, zeroOutputLoss(regressor, undefined))).toBeUndefined();
    expect(referenceLoss(0.5, 2e4)).toBe(2e4);
    expect(divergence({ history: curve([4e3, 900, 120, 30], [5e3, 1e3, 150, 40]), steps: 40, skipped: 0 }, referenceLoss(1.2e4, 0))).toBeUndefined();
  });

  it('counts non-finite losses, skipped steps, and a finite loss past 1000 times the reference', () => {
    const ref = referenceLoss(2.3, Math.log(10));
    expect(divergence({ history: curve([1.2, NaN]), steps: 20, skipped: 3 }, ref)).toBe('the training loss of epoch 2 is NaN');
    expect(divergence({ history: curve([1.2], [Infinity]), steps: 10, skipped: 0 }, ref)).toBe('the validation loss of epoch 1 is Infinity');
    expect(divergence({ history: curve([1.2]), steps: 10, skipped: 6 }, ref)).toMatch(/^the non-finite guard skipped 6 of 10 steps/);
    expect(divergence({ history: curve([0.5, 2.7e12]), steps: 20, skipped: 0 }, ref)).toBe(
      "the training loss of epoch 2 is 2.70e+12, more than 1000 times the run's reference loss 2.30 (its first step's, or an all-zero output's when higher): it exploded while staying finite",
    );
    expect(divergence({ history: curve([0.5], [EXPLOSION_FACTOR * 2.3 * 1.01]), steps: 10, skipped: 0 }, ref)).toMatch(/^the validation loss of epoch 1 is 2\.32e\+3, more than 1000 times/);
    expect(divergence({ history: curve([0.5], [EXPLOSION_FACTOR * 2.3 * 0.99]), steps: 10, skipped: 0 }, ref)).toBeUndefined();
  });
});

const report = (lastStep: number, lossSum: number, skipped = 0): MetricsReport =>
  ({ steps: 10, lastStep, lossSum, correct: 5, rows: 100, skipped, loss: lossSum / 100, accuracy: 0.05, invalid: 0 });

describe('DivergenceMonitor', () => {
  it('a finite run never diverges', () => {
    const m = new DivergenceMonitor();
    for (let s = 9; s < 500; s += 10) expect(m.update(report(s, 1e6 / s))).toBeNull();
    expect(m.reason).toBeNull();
  });

  it('a NaN or infinite loss is divergence at once, and it stays so', () => {
    const m = new DivergenceMonitor();
    expect(m.update(report(9, 230))).toBeNull();
    expect(m.update(report(19, NaN))).toBe('the training loss is NaN by step 20');
    expect(m.atStep).toBe(20);
    expect(m.update(report(29, 1))).toBe('the training loss is NaN by step 20');
    expect(new DivergenceMonitor().update(report(0, Infinity))).toBe('the training loss is infinite by step 1');
  });

  it('an empty report (no rows) is not a NaN loss', () => {
    expect(new DivergenceMonitor().update({ ...report(0, NaN), rows: 0 })).toBeNull();
  });

  it('guard skips count only while they keep coming', () => {
    const m = new DivergenceMonitor({ maxSkipped: 4 });
    expect(m.update(report(9, 10, 3))).toBeNull();
    expect(m.update(report(19, 10, 0))).toBeNull(); // a clean window starts over
    expect(m.update(report(29, 10, 2))).toBeNull();
    expect(m.update(report(39, 10, 2))).toMatch(/^the non-finite guard kept skipping steps: 4 by step 40/);
    expect(() => new DivergenceMonitor({ maxSkipped: 0 })).toThrow(/maxSkipped must be an integer >= 1/);
  });

  it('a finite loss past 1000 times the reference is divergence, once the reference is known', () => {
    const m = new DivergenceMonitor();
    expect(m.update(report(9, 1e6))).toBeNull(); // no reference yet: nothing to compare with
    m.reference = 2.3;
    expect(m.update(report(19, 2.3e5))).toBeNull(); // loss 2,300: at the line, not past it
    expect(m.update(report(29, 2.4e5))).toMatch(/^the training loss by step 30 is 2\.40e\+3, more than 1000 times the run's reference loss 2\.30/);
    expect(m.atStep).toBe(30);
  });
});

describe('fits', () => {
  it('a finite explosion counts as diverged, on the CPU and on the GPU (reference: the first step alone)', async () => {
    const cpu = new Trainer(await createCpuRunner(exploding), exploding);
    const cpuStart = (await cpu.runner.exportState()).params;
    const first: number[] = [];
    const a = await cpu.fit(ones, { epochs: 10, seed: 1, shuffle: false, callbacks: { onMetrics: (m) => first.push(m.loss) } });
    const last = a.history.at(-1)!.trainLoss;
    expect(Number.isFinite(last) && last > 1e15, String(last)).toBe(true);
    expect(a.skipped).toBe(0);
    expect(cpu.startLoss).toBe(first[0]);
    expect(a.referenceLoss).toBe(first[0]);
    expect(a.diverged).toMatch(/^the training loss of epoch 10 is [\d.]+e\+\d+, more than 1000 times the run's reference loss .*: it exploded while staying finite$/);

    // The GPU reports every 50 steps; its first report would cover all 20 steps, so the first step is flushed alone.
    const runner = await createGpuRunner(await gpu(), exploding);
    // Both runners start from the same parameters (the seed's); the first step's mean loss is a float32 result on
    // each, so each lies within the bound of the float64 reference on those parameters (test/helpers/step-bounds.ts:
    // the sums' γ_n·Σ|terms| carried through the layers and the loss, and the metrics' sum over the rows). The rows
    // are identical, so the mean over all 8 is the first batch's mean, and its bound (÷ 8) covers that of 4 rows.
    expect((await runner.exportState()).params).toEqual(cpuStart);
    const start = await boundedForward(runner, exploding, ones);
    const mean = { value: start.lossSum.value / ones.length, bound: start.lossSum.bound / ones.length };
    const g = await new Trainer(runner, exploding).fit(ones, { epochs: 10, seed: 1, shuffle: false });
    runner.destroy();
    for (const [device, loss] of [['CPU', a.referenceLoss!], ['GPU', g.referenceLoss!]] as const) {
      // + the host's float64 division lossSum / rows
      expect(Math.abs(loss - mean.value), `${device} reference loss ${loss} vs ${mean.value}`).toBeLessThanOrEqual(mean.bound + Number.EPSILON * mean.value);
    }
    expect(g.diverged).toMatch(/it exploded while staying finite$/);
  });

  it('stopOnDivergence stops a finite explosion at the report that crosses the line', async () => {
    const trainer = new Trainer(await createCpuRunner(exploding), exploding);
    const r = await trainer.fit(ones, { epochs: 10, seed: 1, shuffle: false, stopOnDivergence: true });
    // The loss grows 9× per step from about 1: past 1000 times it after 4 steps, long before the 20 the run asks for.
    expect(r.diverged).toMatch(/^the training loss by step \d+ is [\d.]+e\+\d+, more than 1000 times the run.s reference loss .*: it exploded while staying finite$/);
    expect(r.steps).toBeLessThan(8);
  });

  it('ordinary fits do not: an mse regression from 1e4, and a noisy classifier at a high rate with batch 2', async () => {
    const mse: RunnerConfig = { model: regressor, batchSize: 8, optimizer: { name: 'Adam', hyperparams: { lr: 0.05 } }, seed: 1 };
    const r = await new Trainer(await createCpuRunner(mse), mse).fit(large(32), { epochs: 6, seed: 3, validation: large(16) });
    expect(r.referenceLoss).toBeGreaterThan(1e3);
    expect(r.diverged).toBeUndefined();
    const ce: RunnerConfig = { model: parseModelSpec('6-16-3:relu'), batchSize: 2, optimizer: { name: 'Adam', hyperparams: { lr: 0.05 } }, seed: 1 };
    const c = await new Trainer(await createCpuRunner(ce), ce).fit(noise(40), { epochs: 6, seed: 3, validation: noise(12) });
    const worst = Math.max(...c.history.map((e) => Math.max(e.trainLoss, e.valLoss!)));
    expect(worst / c.referenceLoss!).toBeLessThan(EXPLOSION_FACTOR / 10); // far from the line, not just under it
    expect(c.diverged).toBeUndefined();
  });

  it('a checkpoint keeps the start: a resumed run is judged against the same reference as the uninterrupted one', async () => {
    const whole = new Trainer(await createCpuRunner(exploding), exploding);
    const uninterrupted = await whole.fit(ones, { epochs: 10, seed: 1, shuffle: false });
    const part = new Trainer(await createCpuRunner(exploding), exploding);
    await part.fit(ones, { epochs: 2, seed: 1, shuffle: false });
    const s = decodeTrainingCheckpoint(encodeTrainingCheckpoint(await part.snapshot()));
    expect(s.startLoss).toBe(part.startLoss);
    const resumed = new Trainer(await createCpuRunner(exploding), exploding);
    await resumed.restore(s);
    const rest = await resumed.fit(ones, { epochs: 10, seed: 1, shuffle: false });
    expect(rest.referenceLoss).toBe(uninterrupted.referenceLoss);
    expect(rest.diverged).toBe(uninterrupted.diverged);
  });
});
