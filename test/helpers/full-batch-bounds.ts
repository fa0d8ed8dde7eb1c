/**
 * The full-batch objective (Runner.fullBatchMachine: f = mean loss over the whole set, g = ∇f) in float64, with the
 * bound a correct float32 device keeps, at given parameters. The GPU forms it chunk by chunk (gpu-runner.ts
 * fullBatchObjective): each chunk c of rows_c examples (identity order, batchSize at a time) runs the training
 * forward and backward, G_c = ∇(chunk's mean loss), and g += α_c·G_c with α_c = rows_c/N rounded to float32; the
 * row losses of every chunk accumulate in the metrics, and f = (Σ loss)·(1/N).
 *
 *   per chunk   test/helpers/step-bounds.ts's bounded step: G_c within e_c, Σ_{rows of c} loss within E_c
 *   g           K products α̂_c·Ĝ_c summed in turn: |ĝ − g| ≤ Σ_c α_c·e_c + γ_(K+1)·Σ_c α_c·(|G_c| + e_c)
 *               (γ_K for the K products and K − 1 additions, one more u for α_c's rounding: Higham's γ_j + γ_1 + γ_jγ_1 ≤ γ_(j+1))
 *   f           one sum of all N row losses (each within its bound), in any order across the chunks:
 *               Σ_c E_c + γ_N·Σ_c (|Σ_c| + E_c) (E_c already counts its chunk's rows), then (hi + lo)·fl(1/N): γ_3 of |f|
 */
import type { Dataset } from '../../src/data/dataset.js';
import { gamma } from '../../src/testing/sums.js';
import { createCpuRunner } from '../../src/train/cpu-runner.js';
import { runnerSeed, type RunnerConfig } from '../../src/train/runner.js';
import { batchOf } from './lockstep.js';
import { BoundedModel, type Tracked } from './step-bounds.js';

export async function boundedFullBatch(config: RunnerConfig, params: ArrayLike<number>, ds: Dataset): Promise<{ f: { value: number; bound: number }; g: Tracked }> {
  const model = new BoundedModel(config.model);
  const ref64 = await createCpuRunner(config, { dtype: 'float64' }); // for its batch(): the gather in float64
  const N = ds.length;
  const B = Math.min(config.batchSize, N);
  const n = model.layout.n;
  const g = { value: new Float64Array(n), bound: new Float64Array(n) };
  const wide = new Float64Array(n); // Σ_c α_c·(|G_c| + e_c)
  let K = 0, lossSum = 0, lossBound = 0, lossWide = 0;
  for (let start = 0; start < N; start += B, K++) {
    const rows = Math.min(B, N - start);
    const idx = Uint32Array.from({ length: rows }, (_, i) => start + i);
    const { x, targets } = await batchOf(ref64, ds, idx, rows, config);
    const step = model.step(params, [], x, rows, targets, { training: true, seed: runnerSeed(config), step: 0 });
    const a = rows / N;
    const G = step.grads!;
    for (let i = 0; i < n; i++) {
      g.value[i]! += a * G.value[i]!;
      g.bound[i]! += a * G.bound[i]!;
      wide[i]! += a * (Math.abs(G.value[i]!) + G.bound[i]!);
    }
    lossSum += step.lossSum.value;
    lossBound += step.lossSum.bound;
    lossWide += Math.abs(step.lossSum.value) + step.lossSum.bound;
  }
  ref64.destroy();
  const gK = gamma(K + 1);
  for (let i = 0; i < n; i++) g.bound[i]! += gK * wide[i]!;
  const f = lossSum / N;
  const fBound = (lossBound + gamma(N) * lossWide) / N;
  return { f: { value: f, bound: fBound + gamma(3) * (Math.abs(f) + fBound) }, g };
}
