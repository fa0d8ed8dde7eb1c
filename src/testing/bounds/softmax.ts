/**
 * Bounds for shaders/softmax.wgsl against the float64 reference (src/ref/softmax.ts), per element, from the row sums
 * the kernels form and WGSL's accuracy of exp, log, division (src/testing/sums.ts).
 *
 * Row sums. The kernel forms t = Σ_{j≠a} exp(z_j − m) online in one read of the row: a term enters as exp(z_j − m')
 * for the running maximum m' and is rescaled by exp(m' − m'') whenever the maximum grows. One term's relative error
 * is then at most: its entry exp, (6 + 4|x_e|)u for exp's 3 + 2|x| ulp plus |x_e|u for the rounded argument; each
 * later rescale, (7 + 5|Δ|)u (the same, plus the product); and one rounding per addition after it, at most C (the
 * loop's C − 1 and the final 1 + t). With |x_e| + Σ|Δ| = |x_j| = m − z_j and at most C rescales, a term is within
 * (8C + 5|x_j|)u, so s = 1 + t and t are within relative  ε = γ(8C + 5X),  X = max_j (m − z_j).
 * No compensation is assumed; the GPU's order of terms does not matter.
 *
 *   softmax    y_j = exp(z_j − m)·(1/s):            |Δ| ≤ y_j·(ε + (12 + 5|x_j|)u)   (exp 6 + 5|x_j|, ÷ 5, × 1)
 *   log        y_j = (z_j − m) − log1p(t):          |Δ| ≤ δl + u·(|x_j| + |y_j|),  l = log s = log1p(t), where
 *              δl = ε·t/(1 + t) + (t ≤ 1: (12u + 2e-10)·l, the series' roundings and truncation; t > 1: u + 6u·l,
 *              log(1 + t) with its argument rounded and log's 3 ulp)
 *   backward   d = Σ_k dy_k·sm_k (log: Σ_k dy_k), C terms: δ = γ_C·Σ|terms|;
 *              dz_j = sm_j·(dy_j − d):             |Δ| ≤ |sm_j|·δ·(1 + γ₂) + γ₂·|dz_j|
 *              dz_j = dy_j − exp(sm_j)·d (log):    |Δ| ≤ e_j·δ·(1 + γ₂) + e_j·|d|·(7 + 4|sm_j|)u + u·|dz_j|
 *   xent       loss = log1p(t) + (m − z_label):    δl + u·(|m − z_label| + |loss|)
 *              dz_j = (p_j − [j = label])·scale:   |dz_j|·(ε + (14 + 5|x_j|)u) (scale itself rounded to f32); the label's
 *              element also p·scale·(the same) + u|dz| (p − 1 rounded), and |dz|·(2ε + 7u) as the argmax (−t·scale/s).
 *   Logits known only to within ez (a model's output): loss gains max_j ez_j + ez_label (log-sum-exp is 1-Lipschitz
 *   in the max norm), and every probability p_j at most p_j·(e^(2·max ez) − 1).
 *   metrics    Σ loss over rows, all terms ≥ 0: γ_rows·Σ loss (its double-f32 TwoSum is not relied on).
 */
import { crossEntropyRef, softmaxBackwardRefWithAbs, softmaxRef, softmaxRowSumsRef } from '../../ref/softmax.js';
import { FTZ, U, gamma, sumBound, type Bounded } from '../sums.js';

/** ε: relative bound on the row sums s and t of a row of C logits spread over X = max_j (m − z_j). */
export function rowSumRel(C: number, X: number): number {
  return gamma(8 * C + 5 * X);
}

/** δl: the error of log1p(t̂) for a t̂ within relative ε of t (see above). */
function logSumBound(t: number, eps: number): number {
  const l = Math.log1p(t);
  return (eps * (1 + eps) * t) / (1 + t) + (t > 1 ? U + 6 * U * l : (12 * U + 2e-10) * l);
}

function spread(z: ArrayLike<number>, base: number, C: number, m: number): number {
  let X = 0;
  for (let j = 0; j < C; j++) X = Math.max(X, m - z[base + j]!);
  return X;
}

/** softmax(z) or log_softmax(z), row by row, with per-element bounds. */
export function softmaxBounded(z: ArrayLike<number>, B: number, C: number, log = false): Bounded {
  const value = softmaxRef(z, B, C, 'float64', log);
  const rs = softmaxRowSumsRef(z, B, C);
  const bound = new Float64Array(B * C);
  for (let i = 0; i < B; i++) {
    const base = i * C;
    const m = rs.max[i]!;
    const eps = rowSumRel(C, spread(z, base, C, m));
    const dl = logSumBound(rs.rest[i]!, eps);
    for (let j = 0; j < C; j++) {
      const x = m - z[base + j]!;
      const y = value[base + j]!;
      bound[base + j] = log ? dl + U * (x + Math.abs(y)) + (C + 4) * FTZ : y * (eps + (12 + 5 * x) * U) + (C + 4) * FTZ;
    }
  }
  return { value, bound };
}

/** softmax_backward / log_softmax_backward on exact inputs sm (the forward's output) and dy. */
export function softmaxBackwardBounded(sm: ArrayLike<number>, dy: ArrayLike<number>, B: number, C: number, log = false): Bounded {
  const ref = softmaxBackwardRefWithAbs(sm, dy, B, C, 'float64', log);
  const bound = new Float64Array(B * C);
  const g2 = gamma(2);
  for (let i = 0; i < B; i++) {
    const delta = sumBound(C, ref.abs[i]!);
    const d = ref.dot[i]!;
    for (let j = i * C; j < (i + 1) * C; j++) {
      const dz = Math.abs(ref.dz[j]!);
      if (log) {
        const e = Math.exp(sm[j]!);
        bound[j] = e * delta * (1 + g2) + e * Math.abs(d) * (7 + 4 * Math.abs(sm[j]!)) * U + U * dz + 4 * FTZ;
      } else {
        bound[j] = Math.abs(sm[j]!) * delta * (1 + g2) + g2 * dz + 4 * FTZ;
      }
    }
  }
  return { value: ref.dz, bound };
}

export interface CrossEntropyBounded {
  /** [B]; NaN (and bound 0) for an out-of-range label */
  loss: Bounded;
  /** [B, C]; zero rows for out-of-range labels */
  dz: Bounded;
  /** [B] reference flags (argmax == label), as crossEntropyRef */
  flags: Uint32Array;
}

/** Fused softmax cross-entropy (xent_train) with bounds; `ez` bounds the logits' own errors (default exact). */
export function crossEntropyBounded(
  z: ArrayLike<number>,
  labels: ArrayLike<number>,
  B: number,
  C: number,
  scale = 1 / B,
  ez?: ArrayLike<number>,
): CrossEntropyBounded {
  const ref = crossEntropyRef(z, labels, B, C, 'float64', scale);
  const rs = softmaxRowSumsRef(z, B, C);
  const lossBound = new Float64Array(B);
  const dzBound = new Float64Array(B * C);
  for (let i = 0; i < B; i++) {
    const label = labels[i]!;
    if (!(Number.isInteger(label) && label >= 0 && label < C)) continue;
    const base = i * C;
    const m = rs.max[i]!;
    const s = rs.sum[i]!;
    const eps = rowSumRel(C, spread(z, base, C, m));
    let E = 0;
    if (ez) for (let j = 0; j < C; j++) E = Math.max(E, ez[base + j]!);
    const inputLoss = E + (ez?.[base + label] ?? 0);
    const pSpread = Math.expm1(2 * E);
    lossBound[i] = logSumBound(rs.rest[i]!, eps) + U * (m - z[base + label]! + Math.abs(ref.loss[i]!)) + inputLoss + (C + 4) * FTZ;
    for (let j = 0; j < C; j++) {
      const x = m - z[base + j]!;
      const p = Math.exp(-x) / s;
      const dz = Math.abs(ref.dz[base + j]!);
      const own = eps + (14 + 5 * x) * U;
      let b = j === label ? p * scale * own + U * dz + dz * (2 * eps + 7 * U) : dz * own;
      b += p * scale * pSpread;
      dzBound[base + j] = b + (C + 4) * FTZ;
    }
  }
  return { loss: { value: ref.loss, bound: lossBound }, dz: { value: ref.dz, bound: dzBound }, flags: ref.flags };
}

/** The metrics accumulator's Σ loss over `rows` valid rows (every loss ≥ 0, so Σ|terms| = Σ loss). */
export function metricsLossBound(lossSum: number, rows: number): number {
  return sumBound(rows, Math.abs(lossSum));
}
