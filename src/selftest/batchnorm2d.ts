import type { Engine } from '../gpu/index.js';
import type { BatchNormForm } from '../kernels/batchnorm-reduction.js';
import { BatchNorm2dOp } from '../kernels/batchnorm2d.js';
import { nchwToRowsRef, rowsToNchwRef, type Nchw } from '../ref/batchnorm2d.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBounded } from '../testing/bounds/batchnorm.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin, type Bounded } from '../testing/sums.js';
import { expectForm } from './batchnorm.js';
import type { SelfCheck } from './types.js';

/** Forced variants of a check (BatchNorm2dShape's options of the same names). */
export interface BatchNorm2dForm extends BatchNormForm {
  workgroupSize?: number;
}

/**
 * BatchNorm2d train forward (with a fused ReLU when `fuseRelu`), backward and eval forward on random NCHW inputs,
 * every output first NaN, against the float64 reference within BatchNorm1d's derived bounds on the transposed
 * tensor (src/testing/bounds/batchnorm.ts). Inputs as in BatchNorm1d's check (per-channel offsets up to 4, spreads
 * down to 0.25; the first two values of each channel on opposite sides of its offset). A ReLU changes no bound.
 * `form` forces the workgroup size, the reduction and its chunk count; the split form is held to its own bound.
 */
export async function checkBatchNorm2dCase(e: Engine, rand: () => number, s: Nchw, fuseRelu: boolean, form: BatchNorm2dForm = {}): Promise<void> {
  const { batch: N, channels: C, plane: P } = s;
  const n = N * C * P;
  const offset = uniformArray(C, -4, 4, rand);
  const spread = uniformArray(C, 0.25, 3, rand);
  const x = new Float32Array(n);
  for (let b = 0; b < N; b++) {
    for (let c = 0; c < C; c++) {
      for (let q = 0; q < P; q++) {
        const e0 = b * P + q; // the channel's e-th value
        const u = e0 === 0 ? 0.5 + 0.5 * rand() : e0 === 1 ? -0.5 - 0.5 * rand() : 2 * rand() - 1;
        x[(b * C + c) * P + q] = offset[c]! + spread[c]! * u;
      }
    }
  }
  const dy = uniformArray(n, -2, 2, rand);
  const gamma = uniformArray(C, 0.5, 1.5, rand).map((g) => (rand() < 0.3 ? -g : g));
  const beta = uniformArray(C, -1, 1, rand);
  const rm = uniformArray(C, -1, 1, rand);
  const rv = uniformArray(C, 0.5, 2, rand);
  const running = new Float32Array(2 * C);
  running.set(rm, 0);
  running.set(rv, C);
  const nan = (k: number) => new Float32Array(k).fill(NaN);
  const bufs = {
    x: e.storage('x', x), dy: e.storage('dy', dy), gamma: e.storage('gamma', gamma), beta: e.storage('beta', beta),
    running: e.storage('running', running), saved: e.storage('saved', nan(2 * C)),
    y: e.storage('y', nan(n)), out: e.storage('out', nan(n)), yEval: e.storage('y_eval', nan(n)), outEval: e.storage('out_eval', nan(n)),
    dx: e.storage('dx', nan(n)), dgamma: e.storage('dgamma', nan(C)), dbeta: e.storage('dbeta', nan(C)),
  };
  const epi = (out: GPUBuffer) => (fuseRelu ? { epilogue: { activation: 'relu' as const, out } } : {});
  const ops: BatchNorm2dOp[] = [];
  try {
    ops.push(await BatchNorm2dOp.forwardTrain(e, { ...s, ...form, ...bufs, ...epi(bufs.out) }));
    ops.push(await BatchNorm2dOp.backward(e, { ...s, ...form, ...bufs }));
    ops.push(await BatchNorm2dOp.forwardEval(e, { ...s, ...form, ...bufs, y: bufs.yEval, ...epi(bufs.outEval) }));
    e.run('batchnorm2d check', (pass) => ops.forEach((op) => op.encode(pass)));
    const saved = await e.readF32(bufs.saved);
    const run = await e.readF32(bufs.running);
    const runningMean = run.subarray(0, C);
    const runningVar = run.subarray(C);
    // BatchNorm2d is BatchNorm1d over the transposed tensor [N·P, C]: BatchNorm1d's bounds there (any summation order
    // over the m = N·P values of a channel, which covers the tree), moved back to NCHW.
    const m = N * P;
    const rows = (a: ArrayLike<number>) => nchwToRowsRef(a, s, 'float64');
    const nchw = (b: Bounded): Bounded => ({ value: rowsToNchwRef(b.value, s, 'float64'), bound: rowsToNchwRef(b.bound, s, 'float64') });
    const relu = (b: Bounded): Bounded => ({ value: Array.from(b.value, (v) => Math.max(v, 0)), bound: b.bound });
    const plan = ops[0]!.reduction!;
    expectForm(plan, form, `batchnorm2d N=${N} C=${C} P=${P}`);
    const t = batchnormTrainBounded(rows(x), m, C, gamma, beta, rm, rv, {}, undefined, plan.form === 'split' ? { chunk: plan.chunk } : undefined);
    const bw = batchnormBackwardBounded(rows(x), rows(dy), m, C, gamma, t.mean.value, t.invstd.value, { emean: t.mean.bound, einvstd: t.invstd.bound });
    // forward_eval reads the running statistics forward_train has just written (exact inputs there).
    const ev = nchw(batchnormEvalBounded(rows(x), m, C, gamma, beta, runningMean, runningVar));
    const y = nchw(t.y);
    const variant = [form.workgroupSize ? `WG=${form.workgroupSize}` : '', plan.form === 'split' ? `split K=${plan.chunks} L=${plan.chunk}` : 'single'];
    const what = `batchnorm2d N=${N} C=${C} P=${P}${fuseRelu ? ' +relu' : ''} ${variant.filter(Boolean).join(' ')}`;
    const checks: [string, ArrayLike<number>, Bounded][] = [
      ['mean', saved.subarray(0, C), t.mean], ['invstd', saved.subarray(C), t.invstd], ['y', await e.readF32(bufs.y), y],
      ['running_mean', runningMean, t.runningMean], ['running_var', runningVar, t.runningVar],
      ['dx', await e.readF32(bufs.dx), nchw(bw.dx)], ['dgamma', await e.readF32(bufs.dgamma), bw.dgamma], ['dbeta', await e.readF32(bufs.dbeta), bw.dbeta],
      ['eval y', await e.readF32(bufs.yEval), ev],
      ...(fuseRelu ? [['relu(y)', await e.readF32(bufs.out), relu(y)], ['eval relu(y)', await e.readF32(bufs.outEval), relu(ev)]] as [string, ArrayLike<number>, Bounded][] : []),
    ];
    for (const [name, got, ref] of checks) expectWithin(got, ref, `${what}: ${name}`);
  } finally {
    for (const op of ops) op.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  }
}

/** A 7×5 plane; P = 1 (BatchNorm1d's shape, through the 2-D kernel); m = 4·143 > a workgroup's 64 or 256 invocations. */
export const BATCHNORM2D_CASES: [Nchw, boolean][] = [
  [{ batch: 2, channels: 3, plane: 35 }, true],
  [{ batch: 3, channels: 5, plane: 1 }, false],
  [{ batch: 4, channels: 2, plane: 143 }, true],
  // A plane wider than either workgroup size: an invocation's strided values cross from one example to the next.
  [{ batch: 3, channels: 2, plane: 301 }, false],
];

export const batchnorm2dChecks: SelfCheck[] = [
  {
    name: 'batchnorm2d.train_backward_eval',
    async run(e, rand) {
      for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu);
    },
  },
  {
    // The form GPUs pick for few channels of many values, forced at small sizes: 7 chunks leave a short last one.
    name: 'batchnorm2d.split',
    async run(e, rand) {
      for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu, { reduction: 'split', chunks: Math.min(7, s.batch * s.plane) });
    },
  },
];
