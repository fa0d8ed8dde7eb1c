import type { Engine } from '../gpu/index.js';
import { BatchNormOp } from '../kernels/batchnorm.js';
import { batchnormBackwardRef, batchnormEvalRef, batchnormTrainRef } from '../ref/batchnorm.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/**
 * GPU (f32, sequential sums over B) vs the float64 reference. Inputs are O(1) with per-feature offsets up to 4 and
 * spreads down to 0.25, so x̂ and dx carry the f32 rounding of Σ over B ≤ 130 rows amplified by invstd ≤ ~7.
 */
export const BATCHNORM_TOL = { atol: 2e-5, rtol: 1e-4 };

/** Runs train forward, backward and eval forward for one (B, F) and checks every output against float64. */
export async function checkBatchNormCase(e: Engine, rand: () => number, rows: number, features: number, tol = BATCHNORM_TOL): Promise<void> {
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
  const shape = { rows: B, features: F };
  const ops = [
    await BatchNormOp.forwardTrain(e, { ...shape, ...bufs }),
    await BatchNormOp.backward(e, { ...shape, ...bufs }),
    await BatchNormOp.forwardEval(e, { ...shape, ...bufs, y: bufs.yEval }),
  ];
  try {
    e.run('batchnorm check', (pass) => ops.forEach((op) => op.encode(pass)));
    const t = batchnormTrainRef(x, B, F, gamma, beta, rm, rv, 'float64');
    const bw = batchnormBackwardRef(x, dy, B, F, gamma, t.mean, t.invstd, 'float64');
    const ev = batchnormEvalRef(x, B, F, gamma, beta, t.runningMean, t.runningVar, 'float64');
    const what = `B=${B} F=${F}`;
    const saved = await e.readF32(bufs.saved);
    expectClose(saved.subarray(0, F), t.mean, tol, `batchnorm mean ${what}`);
    expectClose(saved.subarray(F), t.invstd, tol, `batchnorm invstd ${what}`);
    expectClose(await e.readF32(bufs.y), t.y, tol, `batchnorm forward_train y ${what}`);
    const run = await e.readF32(bufs.running);
    expectClose(run.subarray(0, F), t.runningMean, tol, `batchnorm running_mean ${what}`);
    expectClose(run.subarray(F), t.runningVar, tol, `batchnorm running_var ${what}`);
    expectClose(await e.readF32(bufs.dx), bw.dx, tol, `batchnorm dx ${what}`);
    // dγ = Σ_b dy·x̂ and dβ = Σ_b dy are sums over B rows that cancel: their f32 error scales with Σ_b |term|, not with
    // |result|. Tolerance: 4·√B·2⁻²³·max_f Σ_b |term| on top of `tol` (a wrong formula is off by O(Σ|term|/B) or more).
    let sumAbs = 0;
    for (let f = 0; f < F; f++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += Math.abs(dy[b * F + f]!) * Math.max(1, Math.abs((x[b * F + f]! - t.mean[f]!) * t.invstd[f]!));
      sumAbs = Math.max(sumAbs, s);
    }
    const sumTol = { atol: tol.atol + 4 * Math.sqrt(B) * 2 ** -23 * sumAbs, rtol: tol.rtol };
    expectClose(await e.readF32(bufs.dgamma), bw.dgamma, sumTol, `batchnorm dgamma ${what}`);
    expectClose(await e.readF32(bufs.dbeta), bw.dbeta, sumTol, `batchnorm dbeta ${what}`);
    expectClose(await e.readF32(bufs.yEval), ev, tol, `batchnorm forward_eval y ${what}`);
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
];
