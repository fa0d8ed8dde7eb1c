/**
 * CPU reference of shaders/batchnorm.wgsl (BatchNorm1d, torch semantics): the same loops, in float64 or in float32
 * with every intermediate rounded. See the shader header for the math.
 */
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

export interface BatchNormOptions {
  /** Default 1e-5 (torch). */
  eps?: number;
  /** Default 0.1 (torch): running = (1 − m)·running + m·batch_stat. */
  momentum?: number;
}

export const BATCHNORM_DEFAULTS = { eps: 1e-5, momentum: 0.1 } as const;

export interface BatchNormTrainRef {
  y: FloatArray;
  /** Batch mean [F] and 1/sqrt(biased var + eps) [F]: what the GPU saves for backward. */
  mean: FloatArray;
  invstd: FloatArray;
  /** Updated running statistics [F] each. */
  runningMean: FloatArray;
  runningVar: FloatArray;
  /** The sums formed per feature [F], with their Σ|terms|: Σ_b |x| (for Σ_b x) and q = Σ_b (x − mean)² (its own). */
  xAbs: Float64Array;
  sq: Float64Array;
}

/** Training forward over x [B, F]; the running statistics passed in are not modified (new arrays are returned). */
export function batchnormTrainRef(
  x: ArrayLike<number>,
  rows: number,
  features: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  dtype: Dtype,
  opts: BatchNormOptions = {},
): BatchNormTrainRef {
  if (rows < 2) throw new RangeError(batchnormRowsError(rows));
  const r = rounder(dtype);
  const eps = r(opts.eps ?? BATCHNORM_DEFAULTS.eps);
  const m = r(opts.momentum ?? BATCHNORM_DEFAULTS.momentum);
  const B = rows;
  const F = features;
  const y = allocate(dtype, B * F);
  const mean = allocate(dtype, F);
  const invstd = allocate(dtype, F);
  const rm = allocate(dtype, F);
  const rv = allocate(dtype, F);
  const xAbs = new Float64Array(F);
  const sq = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let s = 0;
    for (let b = 0; b < B; b++) {
      s = r(s + x[b * F + f]!);
      xAbs[f]! += Math.abs(x[b * F + f]!);
    }
    const mu = r(s / B);
    let q = 0;
    for (let b = 0; b < B; b++) {
      const d = r(x[b * F + f]! - mu);
      q = r(q + r(d * d));
    }
    const is = r(1 / Math.sqrt(r(r(q / B) + eps)));
    sq[f] = q;
    mean[f] = mu;
    invstd[f] = is;
    const scale = r(is * gamma[f]!);
    for (let b = 0; b < B; b++) y[b * F + f] = r(r(r(x[b * F + f]! - mu) * scale) + beta[f]!);
    rm[f] = r(r(r(1 - m) * runningMean[f]!) + r(m * mu));
    rv[f] = r(r(r(1 - m) * runningVar[f]!) + r(m * r(q / (B - 1))));
  }
  return { y, mean, invstd, runningMean: rm, runningVar: rv, xAbs, sq };
}

/** Evaluation forward: y = (x − running_mean) / sqrt(running_var + eps) · γ + β. */
export function batchnormEvalRef(
  x: ArrayLike<number>,
  rows: number,
  features: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  dtype: Dtype,
  opts: Pick<BatchNormOptions, 'eps'> = {},
): FloatArray {
  const r = rounder(dtype);
  const eps = r(opts.eps ?? BATCHNORM_DEFAULTS.eps);
  const F = features;
  const y = allocate(dtype, rows * F);
  for (let f = 0; f < F; f++) {
    const scale = r(r(1 / Math.sqrt(r(runningVar[f]! + eps))) * gamma[f]!);
    for (let b = 0; b < rows; b++) y[b * F + f] = r(r(r(x[b * F + f]! - runningMean[f]!) * scale) + beta[f]!);
  }
  return y;
}

/**
 * Training backward from the saved (mean, invstd): dx [B, F], dγ [F], dβ [F], and Σ|terms| of the two sums per
 * feature: dyAbs = Σ_b |dy| (of dβ) and dyxAbs = Σ_b |dy·x̂| (of dγ).
 */
export function batchnormBackwardRef(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  rows: number,
  features: number,
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  dtype: Dtype,
): { dx: FloatArray; dgamma: FloatArray; dbeta: FloatArray; dyAbs: Float64Array; dyxAbs: Float64Array } {
  const r = rounder(dtype);
  const B = rows;
  const F = features;
  const dx = allocate(dtype, B * F);
  const dgamma = allocate(dtype, F);
  const dbeta = allocate(dtype, F);
  const dyAbs = new Float64Array(F);
  const dyxAbs = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    let sdy = 0;
    let sdyx = 0;
    for (let b = 0; b < B; b++) {
      const g = dy[b * F + f]!;
      const term = r(g * r(r(x[b * F + f]! - mean[f]!) * invstd[f]!));
      sdy = r(sdy + g);
      sdyx = r(sdyx + term);
      dyAbs[f]! += Math.abs(g);
      dyxAbs[f]! += Math.abs(term);
    }
    dgamma[f] = sdyx;
    dbeta[f] = sdy;
    const k = r(r(gamma[f]! * invstd[f]!) / B);
    for (let b = 0; b < B; b++) {
      const xhat = r(r(x[b * F + f]! - mean[f]!) * invstd[f]!);
      dx[b * F + f] = r(k * r(r(r(B * dy[b * F + f]!) - sdy) - r(xhat * sdyx)));
    }
  }
  return { dx, dgamma, dbeta, dyAbs, dyxAbs };
}

export function batchnormRowsError(rows: number): string {
  return (
    `BatchNorm1d in training needs at least 2 rows per batch, got ${rows}: the unbiased running variance divides by ` +
    `B − 1 (torch raises "Expected more than 1 value per channel when training"). Use a batch of ≥ 2 (drop a last ` +
    `batch of 1 with dropLast), or evaluation mode.`
  );
}
