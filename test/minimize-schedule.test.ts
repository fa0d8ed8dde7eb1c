/**
 * minimize({ schedule }): a learning-rate schedule drives a first-order method step by step (the optimizer
 * playground's schedule control) on the CPU and on the GPU, the same rates and the same iterates as plain SGD with
 * those rates written out; methods that choose their own steps refuse a schedule.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { minimize } from '../src/minimize/minimize.js';
import { TEST_FUNCTIONS } from '../src/problems/registry.js';
import { expectClose } from '../src/testing/compare.js';
import { gpu } from './helpers/gpu.js';

const bowl = TEST_FUNCTIONS.bowl!;

/** SGD on the bowl with lr_k = 0.3·0.8^k, in float64: ∇f = (2x + y, x + 2y). */
function reference(steps: number): { x: number[][]; lr: number[] } {
  let [x, y] = [3, -2];
  const xs: number[][] = [];
  const lrs: number[] = [];
  for (let k = 0; k < steps; k++) {
    xs.push([x, y]);
    const lr = 0.3 * 0.8 ** k;
    lrs.push(lr);
    [x, y] = [x - lr * (2 * x + y), y - lr * (x + 2 * y)];
  }
  return { x: xs, lr: lrs };
}

describe('minimize with a learning-rate schedule', () => {
  afterAll(async () => (await gpu()).destroy());

  for (const device of ['cpu', 'gpu'] as const) {
    it(`SGD with exp:gamma=0.8 follows lr_k = 0.3·0.8^k (${device})`, async () => {
      const r = await minimize(bowl, {
        method: 'SGD', hyperparams: { lr: 0.3 }, start: [3, -2], steps: 12, schedule: 'exp:gamma=0.8', tolerance: 0, device,
        ...(device === 'gpu' ? { engine: await gpu() } : {}),
      });
      const ref = reference(12);
      expect(r.history.length).toBe(12);
      expectClose(r.history.map((h) => h.lr!), ref.lr, { atol: 0, rtol: device === 'cpu' ? 1e-15 : 1e-6 }, 'scheduled lr');
      // float32 on the GPU: 12 steps of a contraction, each rounding a few operations (≈ 10 ulp of 3 in all).
      expectClose(r.history.flatMap((h) => h.x!), ref.x.flat(), { atol: device === 'cpu' ? 1e-13 : 5e-6, rtol: 0 }, 'iterates');
    });
  }

  it('without a schedule the lr is the method\'s, unrecorded; LBFGS refuses a schedule', async () => {
    const r = await minimize(bowl, { method: 'SGD', hyperparams: { lr: 0.3 }, start: [3, -2], steps: 2, tolerance: 0 });
    expect(r.history[0]!.lr).toBeUndefined();
    await expect(minimize(bowl, { method: 'LBFGS', schedule: 'exp:gamma=0.8', steps: 2 })).rejects.toThrow(/schedules apply to the first-order optimizers; LBFGS chooses its own steps/);
    await expect(minimize(bowl, { method: 'SGD', schedule: 'plateau', steps: 2 })).rejects.toThrow(/needs a validation metric/);
  });
});
