/**
 * Bounds for shaders/loss.wgsl (mse, bce with logits) against the float64 reference (src/ref/loss.ts), per row and
 * per element, from the row sums (src/testing/sums.ts); no compensated summation is assumed.
 *
 *   mse   term d² with d = y − t: the subtraction and the square are two roundings on top of the row's N − 1
 *         additions, so γ_(N+2)·Σ d²; loss = Σ/N adds 2.5 ulp.  grad = (y − t)·(2·scale/N): 8u of |grad| (the
 *         subtraction, 2·scale/N to 2.5 ulp, scale itself rounded to float32, the product).
 *   bce   ℓ = lin + log1p(exp(−|z|)), lin = z(1 − t) or −z·t (2 roundings): exp within (6 + 4|z|)u, log1p's series
 *         12u + 2e-10 of its value, the sum u. Row: γ_N over the N terms, each known to within its own error; ÷ N.
 *         grad = (σ(z) − t)·g: |Δσ| ≤ σ(1 − σ)(6 + 4|z|)u (from exp) + 7u·σ (1 + e, ÷, ×), then u|σ − t| and 7u|grad|.
 *   Predictions known only to within ey (a model's output) add: mse Σ[(|d| + ey)² − d²] to the row sum and
 *   |g|·ey to the gradient; bce ey per term (|∂ℓ/∂z| = |σ − t| ≤ 1) and |g|·ey/4 to the gradient (σ' ≤ 1/4).
 */
import { lossRef, sigmoid, type LossKind } from '../../ref/loss.js';
import { FTZ, U, WGSL_REL, gamma, sumBound, type Bounded } from '../sums.js';

export interface LossBounded {
  /** [B] per-row mean loss */
  loss: Bounded;
  /** [B, N] gradient of scale·Σ_i loss_i */
  grad: Bounded;
  /** [B] reference flags (bce: correct elements), as lossRef */
  flags: Uint32Array;
}

export function lossBounded(
  kind: LossKind,
  pred: ArrayLike<number>,
  targets: ArrayLike<number>,
  B: number,
  N: number,
  scale = 1 / B,
  ey?: ArrayLike<number>,
): LossBounded {
  const ref = lossRef(kind, pred, targets, B, N, 'float64', scale);
  const lossBound = new Float64Array(B);
  const gradBound = new Float64Array(B * N);
  const g = Math.abs((kind === 'mse' ? 2 : 1) * scale) / N;
  for (let i = 0; i < B; i++) {
    let wide = 0;
    let spread = 0;
    for (let j = 0; j < N; j++) {
      const k = i * N + j;
      const y = pred[k]!;
      const t = targets[k]!;
      const e = ey?.[k] ?? 0;
      if (kind === 'mse') {
        const d = Math.abs(y - t);
        wide += (d + e) * (d + e);
        spread += 2 * d * e + e * e;
        gradBound[k] = g * e * (1 + 8 * U) + 8 * U * Math.abs(ref.grad[k]!) + FTZ;
      } else {
        const lin = y >= 0 ? y * (1 - t) : -y * t;
        const l = lin + Math.log1p(Math.exp(-Math.abs(y)));
        const own = 2 * U * Math.abs(lin) + (l - lin) * ((18 + 4 * Math.abs(y)) * U + 2e-10) + U * l + FTZ;
        wide += l + own + e;
        spread += own + e;
        const s = sigmoid(y);
        const es = s * (1 - s) * WGSL_REL.exp(y) + 7 * U * s + e / 4;
        gradBound[k] = g * (es + U * Math.abs(s - t)) * (1 + 7 * U) + 7 * U * Math.abs(ref.grad[k]!) + FTZ;
      }
    }
    const es = kind === 'mse' ? gamma(N + 2) * wide + N * FTZ + spread : sumBound(N, wide) + spread;
    lossBound[i] = (es / N) * (1 + WGSL_REL.div) + WGSL_REL.div * ref.loss[i]! + FTZ;
  }
  return { loss: { value: ref.loss, bound: lossBound }, grad: { value: ref.grad, bound: gradBound }, flags: ref.flags };
}
