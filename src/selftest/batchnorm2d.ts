import type { Engine } from '../gpu/index.js';
import { BatchNorm2dOp } from '../kernels/batchnorm2d.js';
import { batchnorm2dBackwardRef, batchnorm2dEvalRef, batchnorm2dTrainRef, nchwToRowsRef, type Nchw } from '../ref/batchnorm2d.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin, sumBound } from '../testing/sums.js';
import { BATCHNORM_TOL } from './batchnorm.js';
import type { SelfCheck } from './types.js';

/**
 * BatchNorm2d train forward (with a fused ReLU when `relu`), backward and eval forward on random NCHW inputs, every
 * output first NaN, against the float64 reference. Inputs as in BatchNorm1d's check (per-channel offsets up to 4,
 * spreads down to 0.25; the first two values of each channel on opposite sides of its offset), so y, dx and the
 * statistics meet BATCHNORM_TOL; dγ = Σ dy·x̂ and dβ = Σ dy are sums of m = N·H·W terms that cancel, compared
 * within γ_m·Σ|terms| (any summation order) on top of it.
 */
export async function checkBatchNorm2dCase(e: Engine, rand: () => number, s: Nchw, relu: boolean): Promise<void> {
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
  const epi = (out: GPUBuffer) => (relu ? { epilogue: { activation: 'relu' as const, out } } : {});
  const ops: BatchNorm2dOp[] = [];
  try {
    ops.push(await BatchNorm2dOp.forwardTrain(e, { ...s, ...bufs, ...epi(bufs.out) }));
    ops.push(await BatchNorm2dOp.backward(e, { ...s, ...bufs }));
    ops.push(await BatchNorm2dOp.forwardEval(e, { ...s, ...bufs, y: bufs.yEval, ...epi(bufs.outEval) }));
    e.run('batchnorm2d check', (pass) => ops.forEach((op) => op.encode(pass)));
    const t = batchnorm2dTrainRef(x, s, gamma, beta, rm, rv, 'float64');
    const bw = batchnorm2dBackwardRef(x, dy, s, gamma, t.mean, t.invstd, 'float64');
    const ev = batchnorm2dEvalRef(x, s, gamma, beta, t.runningMean, t.runningVar, 'float64');
    const what = `batchnorm2d N=${N} C=${C} P=${P}${relu ? ' +relu' : ''}`;
    const tol = BATCHNORM_TOL;
    const saved = await e.readF32(bufs.saved);
    expectClose(saved.subarray(0, C), t.mean, tol, `${what}: mean`);
    expectClose(saved.subarray(C), t.invstd, tol, `${what}: invstd`);
    expectClose(await e.readF32(bufs.y), t.y, tol, `${what}: y`);
    const run = await e.readF32(bufs.running);
    expectClose(run.subarray(0, C), t.runningMean, tol, `${what}: running_mean`);
    expectClose(run.subarray(C), t.runningVar, tol, `${what}: running_var`);
    expectClose(await e.readF32(bufs.dx), bw.dx, tol, `${what}: dx`);
    expectClose(await e.readF32(bufs.yEval), ev, tol, `${what}: eval y`);
    if (relu) {
      expectClose(await e.readF32(bufs.out), t.y.map((v) => Math.max(v, 0)), tol, `${what}: relu(y)`);
      expectClose(await e.readF32(bufs.outEval), ev.map((v) => Math.max(v, 0)), tol, `${what}: eval relu(y)`);
    }
    // Σ|terms| per channel of dβ = Σ dy and dγ = Σ dy·x̂ (over the rows of the transposed view).
    const m = N * P;
    const xr = nchwToRowsRef(x, s, 'float64');
    const dyr = nchwToRowsRef(dy, s, 'float64');
    const absDb = new Float64Array(C);
    const absDg = new Float64Array(C);
    for (let r = 0; r < m; r++) {
      for (let c = 0; c < C; c++) {
        absDb[c]! += Math.abs(dyr[r * C + c]!);
        absDg[c]! += Math.abs(dyr[r * C + c]! * (xr[r * C + c]! - t.mean[c]!) * t.invstd[c]!);
      }
    }
    const within = (value: ArrayLike<number>, abs: Float64Array) => ({ value, bound: Array.from(abs, (a, c) => sumBound(m + 2, a) + tol.atol + tol.rtol * Math.abs(value[c]!)) });
    expectWithin(await e.readF32(bufs.dbeta), within(bw.dbeta, absDb), `${what}: dbeta`, 'γ_(m+2)·Σ|terms| + tol');
    expectWithin(await e.readF32(bufs.dgamma), within(bw.dgamma, absDg), `${what}: dgamma`, 'γ_(m+2)·Σ|terms| + tol');
  } finally {
    for (const op of ops) op.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  }
}

/** A 7×5 plane; P = 1 (BatchNorm1d's shape, through the 2-D kernel); m = 4·143 > the workgroup's 256 invocations. */
export const BATCHNORM2D_CASES: [Nchw, boolean][] = [
  [{ batch: 2, channels: 3, plane: 35 }, true],
  [{ batch: 3, channels: 5, plane: 1 }, false],
  [{ batch: 4, channels: 2, plane: 143 }, true],
];

export const batchnorm2dChecks: SelfCheck[] = [
  {
    name: 'batchnorm2d.train_backward_eval',
    async run(e, rand) {
      for (const [s, relu] of BATCHNORM2D_CASES) await checkBatchNorm2dCase(e, rand, s, relu);
    },
  },
];
