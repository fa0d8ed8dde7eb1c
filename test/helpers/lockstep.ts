/**
 * Comparing the GPU runner with the CPU reference over many steps, step by step ("lockstep").
 *
 * Why not two free-running trajectories: rounding differences of one float32 step are amplified by later steps
 * through the training dynamics (Adam, for one, turns the rounding of a gradient that is ~0 into a full ±lr step), so
 * no useful bound holds between two independent runs after many steps. Instead, before every step k the GPU's own
 * state (parameters, BatchNorm statistics, optimizer state) is read back and both references start from it:
 *   - the step's loss (the GPU's metrics: Σ over rows), its correct count, every parameter gradient (the GPU's
 *     gradient buffer) and BatchNorm's running statistics are compared with the float64 reference model within the
 *     bounds of test/helpers/step-bounds.ts: the kernels' sum bounds γ_n·Σ|terms| carried through the layers;
 *   - the parameters and optimizer state after the step are compared with the float32 CPU optimizer applied to the
 *     GPU's own gradient, within |gpu − cpu| ≤ 1e-5·|Δ| + 4 float32 roundings of the value (the element-wise
 *     rounding of one optimizer step, derived in test/optim_gpu.test.ts), plus — with clipping by norm or the
 *     gradient-magnitude lr, which use the GPU's own gradient norm — the spread of the CPU update when that norm varies
 *     within its bound (a sum of n squares: γ_(n+1), halved by the square root, plus sqrt's 9u).
 * The GPU runs every step on its own (step count, epochs, partial batches, schedules); only the references are
 * re-anchored, so a wrong step is caught at the step where it happens, with the tightest bound that step allows.
 */
import { expect } from 'vitest';
import type { Dataset } from '../../src/data/dataset.js';
import { MNIST_NORMALIZATION } from '../../src/kernels/batch.js';
import { createCpuRunner, type CpuRunner } from '../../src/train/cpu-runner.js';
import type { GpuRunner } from '../../src/train/gpu-runner.js';
import { runnerSeed, type MetricsReport, type Runner, type RunnerConfig, type RunnerState } from '../../src/train/runner.js';
import { U, WGSL_REL, expectWithin, gamma } from '../../src/testing/sums.js';
import { BoundedModel, byteInputBound, type Tracked } from './step-bounds.js';

/** The inputs of examples idx (normalised like the GPU gather) with their bounds, and their targets. */
export async function batchOf(ref: CpuRunner, ds: Dataset, idx: ArrayLike<number>, rows: number, config: RunnerConfig) {
  const { x, targets } = ref.batch(ds, idx, rows);
  let bound: Float64Array;
  if (ds.inputs instanceof Uint8Array) {
    const D = ds.exampleSize;
    const raw = new Float64Array(rows * D);
    for (let b = 0; b < rows; b++) for (let d = 0; d < D; d++) raw[b * D + d] = ds.inputs[idx[b]! * D + d]!;
    bound = byteInputBound(raw, config.inputScale ?? MNIST_NORMALIZATION.scale, config.inputShift ?? MNIST_NORMALIZATION.shift);
  } else bound = new Float64Array(rows * ds.exampleSize);
  return { x: { value: Float64Array.from(x), bound } as Tracked, targets };
}

/** Loss sum and correct count of one report against the bounded reference. */
function expectMetrics(got: { lossSum: number; correct: number }, ref: ReturnType<BoundedModel['step']>, what: string): void {
  const d = Math.abs(got.lossSum - ref.lossSum.value);
  expect(d, `${what}: loss sum ${got.lossSum} vs ${ref.lossSum.value}, bound ${ref.lossSum.bound}`).toBeLessThanOrEqual(ref.lossSum.bound);
  if (!Number.isNaN(ref.correct.value)) {
    expect(Math.abs(got.correct - ref.correct.value), `${what}: correct ${got.correct} vs ${ref.correct.value} (${ref.correct.ambiguous} within their bounds of a tie)`).toBeLessThanOrEqual(ref.correct.ambiguous);
  }
}

/** |got − ref| ≤ 1e-5·scale + ulps·u·|ref| + extra, per element (the optimizer's own rounding; see the header). */
function expectStepClose(got: ArrayLike<number>, ref: ArrayLike<number>, scale: ArrayLike<number>, extra: ArrayLike<number> | null, what: string): void {
  const bound = Float64Array.from(ref, (r, i) => 1e-5 * scale[i]! + 4 * U * Math.abs(r) + (extra ? extra[i]! : 0));
  expectWithin(got, { value: ref, bound }, what, '1e-5·|Δ| + 4u·|value| (+ the norm spread)');
}

/** The CPU float32 optimizer step on the GPU's gradient from the GPU's state (optionally with a given gradient norm). */
async function replay(cpu: CpuRunner, before: RunnerState, grads: Float32Array, lr: number, norm?: number): Promise<RunnerState> {
  await cpu.importState(before);
  cpu.grads.set(grads);
  cpu.applyGradients({ lr }, norm);
  return cpu.exportState();
}

/** What one GPU step produced, as the checks see it (a deliberate-break test may alter it through `tamper`). */
export interface GpuStep {
  step: number;
  before: RunnerState;
  report: { lossSum: number; correct: number; rows: number };
  grads: Float32Array;
  after: RunnerState;
}

/**
 * Runs `steps` steps of the GPU runner over epochs of ds (a partial last batch included) and checks each against the
 * references (see the header). Returns the GPU's per-step mean losses. `tamper` may alter what a step produced before
 * it is checked (deliberate-break tests).
 */
export async function lockstep(g: GpuRunner, config: RunnerConfig, ds: Dataset, steps: number, lr: number, tamper?: (st: GpuStep) => void): Promise<number[]> {
  const batch = config.batchSize;
  const model = new BoundedModel(config.model);
  const ref64 = await createCpuRunner(config, { dtype: 'float64' }); // for its batch(): the gather in float64
  const opt32 = await createCpuRunner(config, { dtype: 'float32' });
  const reports: MetricsReport[] = [];
  const off = g.onMetrics((m) => reports.push(m));
  await g.setTrainingData(ds);
  const perEpoch = Math.ceil(ds.length / batch);
  const losses: number[] = [];
  let perm: Uint32Array = new Uint32Array(0);
  for (let s = 0; s < steps; s++) {
    const b = s % perEpoch;
    if (b === 0) g.beginEpoch((perm = ds.batches({ batchSize: batch, seed: 11 }).permutation(Math.floor(s / perEpoch))));
    const start = b * batch;
    const rows = Math.min(batch, ds.length - start);
    const before = await g.exportState();
    g.step({ step: s, start, rows, lr });
    await g.flushMetrics();
    const own = reports.splice(0).find((m) => m.lastStep === s && m.steps === 1);
    if (!own) throw new Error(`step ${s}: no metrics report of its own`);
    const st: GpuStep = { step: s, before, report: { ...own }, grads: await g.engine.readF32(g.grads, g.layout.n), after: await g.exportState() };
    tamper?.(st);
    const { report, grads, after } = st;
    losses.push(report.lossSum / report.rows);
    const what = `step ${s} (rows ${rows})`;

    const { x, targets } = await batchOf(ref64, ds, perm.subarray(start, start + rows), rows, config);
    const ref = model.step(before.params, before.stats, x, rows, targets, { training: true, seed: runnerSeed(config), step: s });
    expect(report.rows).toBe(rows);
    expectMetrics(report, ref, what);
    expectWithin(grads, ref.grads!, `${what}: gradients`);
    if (after.stats.length) expectWithin(after.stats, ref.stats!, `${what}: BatchNorm running statistics`);

    const cpu = await replay(opt32, before, grads, lr);
    let spread: Float64Array | null = null;
    let normRel = 0;
    if (config.clip?.maxNorm !== undefined || config.gradLr) {
      // The GPU measures the norm itself: within ½γ_(n+1) + 9u of the exact one (any order of the n squares).
      const v = config.clip?.value;
      let sq = 0;
      for (const gi of grads) sq += (v === undefined ? gi : Math.min(v, Math.max(-v, gi))) ** 2;
      const norm = Math.sqrt(sq);
      const rel = (normRel = gamma(g.layout.n + 1) / 2 + WGSL_REL.sqrt);
      const lo = await replay(opt32, before, grads, lr, norm * (1 - rel));
      const hi = await replay(opt32, before, grads, lr, norm * (1 + rel));
      spread = Float64Array.from(cpu.params, (p, i) => Math.max(Math.abs(lo.params[i]! - p), Math.abs(hi.params[i]! - p)));
    }
    const moved = Float64Array.from(cpu.params, (p, i) => Math.abs(p - before.params[i]!));
    expectStepClose(after.params, cpu.params, moved, spread, `${what}: parameters after the update`);
    expect(after.optimizer!.step).toBe(cpu.optimizer!.step);
    // Group learning rates (the gradient-magnitude control changes them on the device).
    cpu.optimizer!.groups.forEach((gr, k) => {
      const gl = after.optimizer!.groups[k]!.lr;
      expect(Math.abs(gl - gr.lr), `${what}: lr of group ${k}: ${gl} vs ${gr.lr}`).toBeLessThanOrEqual((1e-5 + normRel) * Math.abs(gr.lr));
    });
    for (const [slot, vals] of Object.entries(cpu.optimizer!.state)) {
      const old = before.optimizer!.state[slot];
      const scale = Float64Array.from(vals, (v, i) => Math.max(Math.abs(v), Math.abs(old?.[i] ?? 0)));
      expectStepClose(after.optimizer!.state[slot]!, vals, scale, null, `${what}: optimizer state ${slot}`);
    }
  }
  off();
  ref64.destroy();
  opt32.destroy();
  return losses;
}

/** The bounded float64 evaluation-mode forward of ds (labelled) on the runner's own parameters. */
export async function boundedForward(runner: Runner, config: RunnerConfig, ds: Dataset): Promise<ReturnType<BoundedModel['step']>> {
  const state = await runner.exportState();
  const ref64 = await createCpuRunner(config, { dtype: 'float64' });
  const idx = Uint32Array.from({ length: ds.length }, (_, i) => i);
  const { x, targets } = await batchOf(ref64, ds, idx, ds.length, config);
  ref64.destroy();
  return new BoundedModel(config.model).step(state.params, state.stats, x, ds.length, targets, { training: false, seed: runnerSeed(config), step: 0 });
}

/** runner.evaluate(ds) against the bounded float64 forward on the runner's own parameters (evaluation mode). */
export async function expectEvaluateWithin(runner: Runner, config: RunnerConfig, ds: Dataset, what: string): Promise<void> {
  const ref = await boundedForward(runner, config, ds);
  const got = await runner.evaluate(ds);
  const graded = config.model.loss === 'bce' ? ds.length * ds.targetSize! : ds.length;
  expectMetrics({ lossSum: got.loss * ds.length, correct: Math.round(got.accuracy * graded) }, ref, `${what}: evaluate`);
}

/** runner.predict(ds) (ds labelled) against the bounded float64 forward on the runner's own parameters; returns it. */
export async function expectPredictWithin(runner: Runner, config: RunnerConfig, ds: Dataset, what: string): Promise<Float32Array> {
  const ref = await boundedForward(runner, config, ds);
  const got = await runner.predict(ds);
  expectWithin(got, ref.out, `${what}: predictions`);
  return got;
}
