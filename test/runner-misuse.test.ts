/**
 * Runners and the Trainer used wrongly get a clear error, and a rejected GPU runner leaves nothing allocated:
 * - every config check runs before the first allocation (engine.memory() unchanged after a refusal);
 * - step() with a start outside the epoch, beginEpoch() with an index outside the training set;
 * - every method after destroy() says "this runner was destroyed" (CPU and GPU), and so does an engine after destroy;
 * - a second fit() on a Trainer that is fitting is refused with "already fitting" (as are evaluate / restore /
 *   snapshot from outside the running fit; from an onEpoch callback they work);
 * - two Trainers on one runner: while one fits, a new Trainer over it, and another Trainer's fit, evaluate or predict,
 *   are refused ("the runner already belongs to a Trainer that is fitting it"); between fits the runner passes on.
 * Fault cases of whole layers (out of memory, device loss, long runs) are in faults.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { parseModelSpec } from '../src/model/spec.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import type { Runner, RunnerConfig } from '../src/train/runner.js';
import { RunnerConfigError, validateRunnerConfig } from '../src/train/runner-checks.js';
import { Trainer } from '../src/train/trainer.js';
import { createEngine } from '../src/gpu/node.js';
import { gpu } from './helpers/gpu.js';

afterAll(async () => (await gpu()).destroy());

/** 32 examples of 6 features in 3 classes: small enough that any step is instant on SwiftShader. */
function tiny(n = 32): Dataset {
  const inputs = Float32Array.from({ length: n * 6 }, (_, i) => Math.sin(i * 1.7));
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
  return new Dataset({ name: `tiny-${n}`, inputs, inputShape: [6], labels, numClasses: 3 });
}

const CONFIG: RunnerConfig = { model: parseModelSpec('6-5-3'), batchSize: 8, optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } }, seed: 3 };

const makers: Record<'cpu' | 'gpu', (c: RunnerConfig) => Promise<Runner>> = {
  cpu: (c) => createCpuRunner(c),
  gpu: async (c) => createGpuRunner(await gpu(), c),
};

describe('runner config is checked before anything is allocated', () => {
  const bad: [string, Partial<RunnerConfig>, RegExp][] = [
    ['an unknown optimizer', { optimizer: { name: 'Adamm' } as never }, /optimizer\.name: unknown optimizer "Adamm".*expected one of SGD/],
    ['a negative learning rate', { optimizer: { name: 'Adam', hyperparams: { lr: -0.1 } } }, /optimizer\.hyperparams\.lr: lr must be >= 0/],
    ['an unknown hyperparameter', { optimizer: { name: 'SGD', hyperparams: { lr: 0.1, betas: [0.9, 0.99] } } as never }, /SGD has no hyperparameter "betas"/],
    ['a negative clip norm', { clip: { maxNorm: -1 } }, /clip\.maxNorm: must be a positive number, got -1/],
    ['a clip typo', { clip: { max_norm: 1 } as never }, /clip\.max_norm: unknown field/],
    ['a zero batch size', { batchSize: 0 }, /batchSize: must be a positive integer/],
    ['a fractional seed', { seed: 1.5 }, /seed: must be an integer/],
    ['a bad gradLr', { gradLr: { c: -1 } }, /gradLr\.c: must be a number >= 0/],
    ['metricsEvery 0', { metricsEvery: 0 }, /metricsEvery: must be a positive integer/],
    ['gradNorms not a boolean', { gradNorms: 'yes' as never }, /gradNorms: must be true or false/],
  ];
  for (const [what, change, message] of bad) {
    it(`${what}: both runners refuse it with the field named; the GPU engine holds no new buffer`, async () => {
      const config = { ...CONFIG, ...change } as RunnerConfig;
      expect(() => validateRunnerConfig(config)).toThrow(RunnerConfigError);
      await expect(createCpuRunner(config)).rejects.toThrow(message);
      const engine = await gpu();
      const before = engine.memory();
      await expect(createGpuRunner(engine, config)).rejects.toThrow(message);
      expect(engine.memory()).toEqual(before);
    });
  }
});

for (const device of ['cpu', 'gpu'] as const) {
  describe(`${device} runner misuse`, () => {
    it('step() outside the epoch and permutations outside the training set are refused', async () => {
      const r = await makers[device](CONFIG);
      const ds = tiny(32);
      await r.setTrainingData(ds);
      const bad = Uint32Array.from({ length: 32 }, (_, i) => i);
      bad[17] = 999;
      expect(() => r.beginEpoch(bad)).toThrow('beginEpoch: permutation[17] = 999 is not an example of the training set (indices are 0..31)');
      expect(() => r.beginEpoch(new Uint32Array(31))).toThrow('the permutation has 31 entries but the training set has 32');
      r.beginEpoch(Uint32Array.from({ length: 32 }, (_, i) => 31 - i));
      expect(() => r.step({ step: 0, start: -5, rows: 8, lr: 0.01 })).toThrow(/step: start -5 with 8 rows is outside the epoch's 32 examples/);
      expect(() => r.step({ step: 0, start: 30, rows: 8, lr: 0.01 })).toThrow(/step: start 30 with 8 rows is outside the epoch's 32 examples/);
      expect(() => r.step({ step: 0, start: 2.5, rows: 8, lr: 0.01 })).toThrow(/start 2\.5/);
      expect(() => r.step({ step: -1, start: 0, rows: 8, lr: 0.01 })).toThrow(/step must be an integer in \[0, 2\^32\)/);
      expect(() => r.step({ step: 0, start: 0, rows: 9, lr: 0.01 })).toThrow(/rows must be an integer in \[1, 8\]/);
      await expect(r.predict(ds, 30, 5)).rejects.toThrow(/predict: examples \[30, 30 \+ 5\) are outside the dataset's 32/);
      await expect(r.evaluate(tiny(0))).rejects.toThrow("evaluate: dataset 'tiny-0' has no examples");
      // A valid step still works after the refusals.
      r.step({ step: 0, start: 24, rows: 8, lr: 0.01 });
      await r.flushMetrics();
      r.destroy();
    });

    it('every method after destroy() says the runner was destroyed', async () => {
      const r = await makers[device](CONFIG);
      const ds = tiny(32);
      await r.setTrainingData(ds);
      r.beginEpoch(Uint32Array.from({ length: 32 }, (_, i) => i));
      const state = await r.exportState();
      r.destroy();
      r.destroy(); // twice is harmless
      const name = device === 'cpu' ? 'CpuRunner' : 'GpuRunner';
      const calls: [string, () => unknown][] = [
        ['setTrainingData', () => r.setTrainingData(ds)],
        ['beginEpoch', () => r.beginEpoch(new Uint32Array(32))],
        ['step', () => r.step({ step: 0, start: 0, rows: 8, lr: 0.01 })],
        ['onMetrics', () => r.onMetrics(() => undefined)],
        ['flushMetrics', () => r.flushMetrics()],
        ['evaluate', () => r.evaluate(ds)],
        ['predict', () => r.predict(ds)],
        ['exportState', () => r.exportState()],
        ['importState', () => r.importState(state)],
        // The GPU runner's ready() answers without making a promise per step; after destroy it still rejects.
        ...(r.ready ? [['ready', () => r.ready!()] as [string, () => unknown]] : []),
      ];
      for (const [method, call] of calls) {
        const error = await (async () => call())().then(() => null, (e: unknown) => e);
        expect(error, method).toBeInstanceOf(Error);
        expect((error as Error).message, method).toMatch(new RegExp(`^${name}\\.${method}: this runner was destroyed; create a new one`));
      }
    });
  });
}

describe('engine after destroy', () => {
  it('says so on every call instead of failing inside WebGPU', async () => {
    const e = await createEngine({ log: false });
    const b = e.storage('kept', 16);
    e.destroy();
    const message = 'wgtrain: this engine was destroyed; create a new one with createEngine()';
    expect(() => e.storage('x', 16)).toThrow(message);
    expect(() => e.write(b, new Float32Array(4))).toThrow(message);
    await expect(e.flush()).rejects.toThrow(message);
    await expect(e.read(b)).rejects.toThrow(message);
    expect(e.memory().buffers).toBe(0);
  });
});

describe('Trainer misuse', () => {
  it('a second fit while one runs is refused with "already fitting"; evaluation works from onEpoch', async () => {
    for (const device of ['cpu', 'gpu'] as const) {
      const r = await makers[device](CONFIG);
      const trainer = new Trainer(r, CONFIG);
      const ds = tiny(32);
      let fromCallback: number | undefined;
      const first = trainer.fit(ds, {
        epochs: 2, seed: 1,
        callbacks: { onEpoch: async () => void (fromCallback = (await trainer.evaluate(ds)).count) },
      });
      // Called while the first fit is between its steps (not in a callback).
      const second = trainer.fit(ds, { epochs: 4, seed: 1 });
      const evaluation = trainer.evaluate(ds);
      const snapshot = trainer.snapshot();
      await expect(second).rejects.toThrow('Trainer.fit: already fitting; await the running fit() before starting another');
      await expect(evaluation).rejects.toThrow('Trainer.evaluate: already fitting');
      await expect(snapshot).rejects.toThrow('Trainer.snapshot: already fitting');
      const result = await first;
      expect(result.position.epoch, device).toBe(2);
      expect(fromCallback).toBe(32);
      // Afterwards it is free again.
      expect((await trainer.fit(ds, { epochs: 3, seed: 1 })).position.epoch).toBe(3);
      r.destroy();
      await expect(trainer.fit(ds, { epochs: 4, seed: 1 })).rejects.toThrow('this runner was destroyed');
    }
  });

  it("a config that is not the runner's run is refused by new Trainer (model, optimizer, batch size)", async () => {
    const r = await makers.cpu(CONFIG);
    expect(() => new Trainer(r, { ...CONFIG })).not.toThrow();
    expect(() => new Trainer(r, { ...CONFIG, model: parseModelSpec('6-4-3') })).toThrow("new Trainer: the config given differs from the runner's in model");
    expect(() => new Trainer(r, { ...CONFIG, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } } })).toThrow("optimizer (SGD vs the runner's Adam)");
    expect(() => new Trainer(r, { ...CONFIG, batchSize: 16 })).toThrow("batchSize (16 vs the runner's 8)");
    r.destroy();
  });

  it('two Trainers cannot drive one runner at once; between fits the runner passes to the other', async () => {
    const ds = tiny(32);
    const solo = await createCpuRunner(CONFIG);
    await new Trainer(solo, CONFIG).fit(ds, { epochs: 2, seed: 1 });
    const expected = (await solo.exportState()).params;
    for (const device of ['cpu', 'gpu'] as const) {
      const r = await makers[device](CONFIG);
      const a = new Trainer(r, CONFIG);
      const b = new Trainer(r, CONFIG); // made before a fits: allowed, it is idle
      let fromCallback: number | undefined;
      const first = a.fit(ds, { epochs: 2, seed: 1, callbacks: { onEpoch: async () => void (fromCallback ??= (await b.evaluate(ds)).count) } });
      const belongs = 'the runner already belongs to a Trainer that is fitting it';
      expect(() => new Trainer(r, CONFIG), device).toThrow(`new Trainer: ${belongs}; await that fit() first`);
      const second = b.fit(ds, { epochs: 4, seed: 1 });
      const evaluation = b.evaluate(ds);
      const prediction = b.predict(ds);
      await expect(second).rejects.toThrow(`Trainer.fit: ${belongs}; two Trainers cannot train one runner at once`);
      await expect(evaluation).rejects.toThrow(`Trainer.evaluate: ${belongs}`);
      await expect(prediction).rejects.toThrow(`Trainer.predict: ${belongs}`);
      expect((await first).position, device).toEqual({ step: 8, epoch: 2, batch: 0 });
      expect(fromCallback, device).toBe(32); // from a's onEpoch nothing is in flight
      // The refused calls did not interleave: the CPU runner ends with exactly the weights of a Trainer alone.
      if (device === 'cpu') expect((await r.exportState()).params).toEqual(expected);
      // Afterwards the runner passes on: b trains the same weights further, and a new Trainer may be made.
      const more = await b.fit(ds, { epochs: 1, seed: 1 });
      expect(more.steps).toBe(4);
      expect(() => new Trainer(r, CONFIG)).not.toThrow();
      r.destroy();
    }
  });
});
