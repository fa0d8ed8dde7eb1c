/**
 * CPU reference of shaders/loss.wgsl: mean squared error and binary cross-entropy with logits over a B×N row-major
 * matrix, per row (the mean over the row's N elements), with the gradient of scale · Σ_i loss_i. Plain loops; see the
 * shader header for the math. float64 computes directly; float32 rounds every intermediate.
 */
import type { LossKind } from '../shared.js';
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

export type { LossKind } from '../shared.js';

export interface LossRef {
  /** [B] per-row mean of the element losses */
  loss: FloatArray;
  /** [B] mse: 0; bce: number of elements with (z > 0) == (t ≥ 0.5) */
  flags: Uint32Array;
  /** [B, N] ∂(scale · Σ_i loss_i)/∂pred */
  grad: FloatArray;
  /** [B] Σ|terms| of each row's sum Σ_j ℓ_ij (N terms, before the division by N; = the sum: every ℓ ≥ 0) */
  abs: Float64Array;
}

/** σ(z) without overflow. */
export function sigmoid(z: number): number {
  const e = Math.exp(-Math.abs(z));
  return z >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** The element loss: (y − t)² or max(z, 0) − z·t + log1p(exp(−|z|)). */
export function elementLoss(kind: LossKind, y: number, t: number, r: (x: number) => number = (x) => x): number {
  if (kind === 'mse') {
    const d = r(y - t);
    return r(d * d);
  }
  // max(z, 0) − z·t as z(1 − t) or −z·t, as the shader does (same value, no cancellation).
  const lin = y >= 0 ? r(y * r(1 - t)) : r(-y * t);
  return r(lin + r(Math.log1p(r(Math.exp(-Math.abs(y))))));
}

/** ∂ element loss / ∂y: 2(y − t) or σ(z) − t. */
export function elementGrad(kind: LossKind, y: number, t: number, r: (x: number) => number = (x) => x): number {
  return kind === 'mse' ? r(2 * r(y - t)) : r(r(sigmoid(y)) - t);
}

export function lossRef(
  kind: LossKind,
  pred: ArrayLike<number>,
  targets: ArrayLike<number>,
  B: number,
  N: number,
  dtype: Dtype,
  scale = 1 / B,
): LossRef {
  const r = rounder(dtype);
  const loss = allocate(dtype, B);
  const flags = new Uint32Array(B);
  const grad = allocate(dtype, B * N);
  const abs = new Float64Array(B);
  const g = r(scale / N);
  for (let i = 0; i < B; i++) {
    let s = 0;
    let correct = 0;
    for (let j = 0; j < N; j++) {
      const y = pred[i * N + j]!;
      const t = targets[i * N + j]!;
      const l = elementLoss(kind, y, t, r);
      s = r(s + l);
      abs[i]! += Math.abs(l);
      if (kind === 'bce' && y > 0 === t >= 0.5) correct++;
      grad[i * N + j] = r(elementGrad(kind, y, t, r) * g);
    }
    loss[i] = r(s / N);
    flags[i] = correct;
  }
  return { loss, flags, grad, abs };
}

/** Σ_i loss_i in float64: the scalar whose gradient (times scale) `lossRef` returns; for finite differences. */
export function lossTotal(kind: LossKind, pred: ArrayLike<number>, targets: ArrayLike<number>, B: number, N: number): number {
  const { loss } = lossRef(kind, pred, targets, B, N, 'float64');
  let s = 0;
  for (let i = 0; i < B; i++) s += loss[i]!;
  return s;
}

/** Per-row MSE with the gradient of the batch mean (scale = 1/B by default), named as the model's CPU path uses it. */
export function mseRef(pred: ArrayLike<number>, targets: ArrayLike<number>, B: number, N: number, dtype: Dtype, scale = 1 / B): LossRef & { dz: FloatArray } {
  const r = lossRef('mse', pred, targets, B, N, dtype, scale);
  return { ...r, dz: r.grad };
}

/** Per-row BCE with logits with the gradient of the batch mean (scale = 1/B by default). */
export function bceWithLogitsRef(pred: ArrayLike<number>, targets: ArrayLike<number>, B: number, N: number, dtype: Dtype, scale = 1 / B): LossRef & { dz: FloatArray } {
  const r = lossRef('bce', pred, targets, B, N, dtype, scale);
  return { ...r, dz: r.grad };
}
