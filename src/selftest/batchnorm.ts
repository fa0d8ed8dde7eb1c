import type { Engine } from '../gpu/index.js';
import type { BatchNormForm, BatchNormReductionPlan } from '../kernels/batchnorm-reduction.js';
import { BatchNormOp } from '../kernels/batchnorm.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBounded } from '../testing/bounds/batchnorm.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin, type Bounded } from '../testing/sums.js';
import type { SelfCheck } from './types.js';

// Tolerances: bounds carried from the sums over the batch through every operation of the kernels
// (src/testing/bounds/batchnorm.ts); no compensated summation is assumed.

/** What one (B, F) case produced on the GPU, named like the bounded references it is compared with. */
export interface BatchNormOutputs {
  mean: Float32Array;
  invstd: Float32Array;
  y: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
  dx: Float32Array;
  dgamma: Float32Array;
  dbeta: Float32Array;
  yEval: Float32Array;
}

/** Checks every output of a case against its bounded float64 reference (throws with the first mismatches). */
export function compareBatchNorm(got: BatchNormOutputs, ref: Record<keyof BatchNormOutputs, Bounded>, what: string): void {
  for (const k of Object.keys(ref) as (keyof BatchNormOutputs)[]) expectWithin(got[k], ref[k], `batchnorm ${k} ${what}`);
}

/**
 * Runs train forward, backward and eval forward for one (B, F) and checks every output against float64; `form` forces
 * the reduction (and its chunk count), the split form held to its own bound.
 */
export async function checkBatchNormCase(e: Engine, rand: () => number, rows: number, features: number, form: BatchNormForm = {}): Promise<void> {
  const { got, ref, plan } = await runBatchNormCase(e, rand, rows, features, form);
  expectForm(plan, form, `batchnorm B=${rows} F=${features}`);
  compareBatchNorm(got, ref, `B=${rows} F=${features} ${plan.form === 'split' ? `split K=${plan.chunks} L=${plan.chunk}` : 'single'}`);
}

/** A forced form was planned (else the check would test the other form under the forced one's name). */
export function expectForm(plan: BatchNormReductionPlan, form: BatchNormForm, what: string): void {
  if (form.reduction !== undefined && plan.form !== form.reduction) throw new Error(`${what}: forced reduction '${form.reduction}' but the op planned '${plan.form}'`);
}

/** One (B, F) case on fresh random inputs: the GPU's outputs and the bounded references. */
export async function runBatchNormCase(
  e: Engine,
  rand: () => number,
  rows: number,
  features: number,
  form: BatchNormForm = {},
): Promise<{
  got: BatchNormOutputs;
  ref: Record<keyof BatchNormOutputs, Bounded>;
  inputs: { x: Float32Array; dy: Float32Array; gamma: Float32Array };
  plan: BatchNormReductionPlan;
}> {
  const B = rows;
  const F = features;
  const offset = uniformArray(F, -4, 4, rand);
  const spread = uniformArray(F, 0.25, 3, rand);
  const x = new Float32Array(B * F);
  // Rows 0 and 1 sit on opposite sides of the offset, so even a batch of 2 has a spread ≥ `spread`: a batch whose
  // values nearly coincide (spread ≪ |mean|) loses digits to x − mean in any f32 implementation, torch's included.
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) {
      const u = b === 0 ? 0.5 + 0.5 * rand() : b === 1 ? -0.5 - 0.5 * rand() : 2 * rand() - 1;
      x[b * F + f] = offset[f]! + spread[f]! * u;
    }
  }
  const dy = uniformArray(B * F, -2, 2, rand);
  const gamma = uniformArray(F, 0.5, 1.5, rand).map((g) => (rand() < 0.3 ? -g : g));
  const beta = uniformArray(F, -1, 1, rand);
  const rm = uniformArray(F, -1, 1, rand);
  const rv = uniformArray(F, 0.5, 2, rand);
  const running = new Float32Array(2 * F);
  running.set(rm, 0);
  running.set(rv, F);
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const bufs = {
    x: e.storage('x', x),
    dy: e.storage('dy', dy),
    gamma: e.storage('gamma', gamma),
    beta: e.storage('beta', beta),
    running: e.storage('running', running),
    saved: e.storage('saved', nan(2 * F)),
    y: e.storage('y', nan(B * F)),
    yEval: e.storage('y_eval', nan(B * F)),
    dx: e.storage('dx', nan(B * F)),
    dgamma: e.storage('dgamma', nan(F)),
    dbeta: e.storage('dbeta', nan(F)),
  };
  const shape = { rows: B, features: F, ...form };
  const ops = [
    await BatchNormOp.forwardTrain(e, { ...shape, ...bufs }),
    await BatchNormOp.backward(e, { ...shape, ...bufs }),
    await BatchNormOp.forwardEval(e, { ...shape, ...bufs, y: bufs.yEval }),
  ];
  try {
    e.run('batchnorm check', (pass) => ops.forEach((op) => op.encode(pass)));
    const saved = await e.readF32(bufs.saved);
    const run = await e.readF32(bufs.running);
    const got: BatchNormOutputs = {
      mean: saved.subarray(0, F),
      invstd: saved.subarray(F),
      y: await e.readF32(bufs.y),
      runningMean: run.subarray(0, F),
      runningVar: run.subarray(F),
      dx: await e.readF32(bufs.dx),
      dgamma: await e.readF32(bufs.dgamma),
      dbeta: await e.readF32(bufs.dbeta),
      yEval: await e.readF32(bufs.yEval),
    };
    const plan = ops[0]!.reduction!;
    const t = batchnormTrainBounded(x, B, F, gamma, beta, rm, rv, {}, undefined, plan.form === 'split' ? { chunk: plan.chunk } : undefined);
    // The backward reads the GPU's saved statistics, known to within the forward's bounds; forward_eval reads the
    // running statistics forward_train has just written (exact inputs there).
    const bw = batchnormBackwardBounded(x, dy, B, F, gamma, t.mean.value, t.invstd.value, { emean: t.mean.bound, einvstd: t.invstd.bound });
    const yEval = batchnormEvalBounded(x, B, F, gamma, beta, got.runningMean, got.runningVar);
    return { got, ref: { ...t, ...bw, yEval }, inputs: { x, dy, gamma }, plan };
  } finally {
    for (const b of Object.values(bufs)) b.destroy();
    for (const op of ops) op.destroy();
  }
}

export const batchnormChecks: SelfCheck[] = [
  {
    name: 'batchnorm.train_backward_eval',
    async run(e, rand) {
      for (const [B, F] of [[2, 1], [7, 33], [130, 7]] as const) await checkBatchNormCase(e, rand, B, F);
    },
  },
  {
    // The form GPUs pick for few features of many rows, forced at small sizes: 130 rows in 6 chunks (5 × 22 and 20).
    name: 'batchnorm.split',
    async run(e, rand) {
      for (const [B, F] of [[2, 1], [7, 33], [130, 7]] as const) await checkBatchNormCase(e, rand, B, F, { reduction: 'split', chunks: Math.min(6, B) });
    },
  },
];
