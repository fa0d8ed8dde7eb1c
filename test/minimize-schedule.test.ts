/**
 * minimize({ schedule }): a learning-rate schedule drives a first-order method step by step (the optimizer
 * playground's schedule control) on the CPU and on the GPU, the same rates and the same iterates as plain SGD with
 * those rates written out; methods that choose their own steps refuse a schedule.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { minimize } from '../src/minimize/minimize.js';
import { TEST_FUNCTIONS } from '../src/problems/registry.js';
import { expectClose } from '../src/testing/compare.js';
import { expectWithin, gamma } from '../src/testing/sums.js';
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

/**
 * How far float32 SGD on the bowl may drift from the float64 iterates x_k: the GPU computes g = (2x + y, x + 2y) with one
 * rounding of a sum of Σ|terms| = (2|x| + |y|, |x| + 2|y|), and x − fl32(lr)·g in one fused multiply-add or two
 * roundings: one step, applied to where the GPU is, is within δ = γ_3·lr·Σ|terms| + γ_1·|x'| of the exact step
 * (Higham's γ_n; the sums are taken at |x_k| + E_k to cover the drift so far). An error e already made passes through
 * the step as (I − lr·H)·e, H = [[2, 1], [1, 2]], whose max-norm is |1 − 2·lr| + lr; so per step
 *   E_(k+1) = (|1 − 2·lr_k| + lr_k)·E_k + max δ_k,  E_0 = 0 (the start is exact in float32).
 * Here lr ≤ 0.3 makes that factor ≤ 0.7: the errors of earlier steps shrink, and the bound stays a few ulps of |x|.
 */
function float32Drift(ref: { x: number[][]; lr: number[] }): number[][] {
  const out: number[][] = [];
  let E = 0;
  ref.x.forEach((x, k) => {
    out.push([E, E]);
    if (k + 1 === ref.x.length) return;
    const lr = ref.lr[k]!;
    const [a, b] = [Math.abs(x[0]!) + E, Math.abs(x[1]!) + E];
    const next = ref.x[k + 1]!;
    const delta = Math.max(...[[2 * a + b, next[0]!], [a + 2 * b, next[1]!]].map(([S, xn]) => gamma(3) * lr * S! + gamma(1) * (Math.abs(xn!) + E)));
    E = (Math.abs(1 - 2 * lr) + lr) * E + delta;
  });
  return out;
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
      // The schedule runs on the host in float64 for both devices.
      expectClose(r.history.map((h) => h.lr!), ref.lr, { atol: 0, rtol: 1e-15 }, 'scheduled lr');
      if (device === 'cpu') expectClose(r.history.flatMap((h) => h.x!), ref.x.flat(), { atol: 1e-13, rtol: 0 }, 'iterates');
      else expectWithin(r.history.flatMap((h) => h.x!), { value: ref.x.flat(), bound: float32Drift(ref).flat() }, 'iterates');
    });
  }

  it('without a schedule the lr is the method\'s, unrecorded; LBFGS refuses a schedule', async () => {
    const r = await minimize(bowl, { method: 'SGD', hyperparams: { lr: 0.3 }, start: [3, -2], steps: 2, tolerance: 0 });
    expect(r.history[0]!.lr).toBeUndefined();
    await expect(minimize(bowl, { method: 'LBFGS', schedule: 'exp:gamma=0.8', steps: 2 })).rejects.toThrow(/schedules apply to the first-order optimizers; LBFGS chooses its own steps/);
    await expect(minimize(bowl, { method: 'SGD', schedule: 'plateau', steps: 2 })).rejects.toThrow(/needs a validation metric/);
  });
});
