/**
 * Bounds for shaders/batchnorm.wgsl against the float64 reference (src/ref/batchnorm.ts), carried operation by
 * operation through the kernel's formulas (its header) from the sums over the batch (src/testing/sums.ts): each
 * value v̂ is known to within e(v); a sum of B terms adds γ_B·Σ(|term| + e) + Σe; a product adds the spread
 * (|a| + ea)(|b| + eb) − |ab|; every rounding adds u·|v| (÷ 5u, inverseSqrt 4u). First order where noted; no
 * compensated summation is assumed. float32 constants (ε = 1e-5, momentum, γ) are the float32 values the GPU uses,
 * so the difference between them and the float64 ones counts too (u relative).
 *
 * Inputs may carry errors (a model's activations, a GPU's saved statistics): `ex`, `edy`, `emean`, `einvstd`.
 *
 * The split form (the shaders' headers: chunks of L rows reduced apart, then merged) changes only the forward's
 * Σ(x − mean)², bounded by `splitSquaresError`; its means and the backward's sums are plain sums in another order,
 * which the any-order bound already covers.
 */
import { BATCHNORM_DEFAULTS, batchnormBackwardRef, batchnormEvalRef, batchnormTrainRef, type BatchNormOptions } from '../../ref/batchnorm.js';
import { FTZ, U, WGSL_REL, productError, sumBound, type Bounded } from '../sums.js';

const at = (e: ArrayLike<number> | undefined, i: number): number => (e ? e[i]! : 0);

/** |(w ± ew)^(−1/2) − w^(−1/2)| ≤ (w − ew)^(−1/2) − w^(−1/2) (exact: the function is convex and decreasing). */
function invSqrtSpread(w: number, ew: number): number {
  return ew < w ? 1 / Math.sqrt(w - ew) - 1 / Math.sqrt(w) : Infinity;
}

/** Single form: q = Σ d², d = x − mean (rounded): terms (|d| + ed)² with spread 2|d|ed + ed². */
function singleSquaresError(x: ArrayLike<number>, B: number, F: number, f: number, mu: number, em: number, ex?: ArrayLike<number>): number {
  let qWide = 0;
  let qSpread = 0;
  for (let b = 0; b < B; b++) {
    const d = Math.abs(x[b * F + f]! - mu);
    const ed = at(ex, b * F + f) + em + U * d;
    qWide += (d + ed) * (d + ed);
    qSpread += 2 * d * ed + ed * ed;
  }
  return sumBound(B, qWide) + qSpread;
}

/**
 * Split form: |q̂ − Σ_b (x_b − mean)²| for feature f, rows in chunks of L. What the GPU forms (its x̃ = x ± ex, its
 * mean μ̂ = μ ± em, the same sum as the single form's): per chunk k of n_k rows, Ŝ_k = Σ x̃ (γ_(n_k)), the shift
 * â_k = Ŝ_k / n_k, D̂_k = Σ fl(x̃ − â_k) (terms with one rounding: γ_(n_k)), Q̂_k = Σ fl(fl(x̃ − â_k)²) (two: γ_(n_k+1));
 * then q̂ = Σ_k [Q̂_k + 2·δ̂_k·D̂_k + n_k·δ̂_k·δ̂_k], δ̂_k = fl(â_k − μ̂): 3K terms, the worst with 4 roundings of its
 * own (δ̂ twice, two products), so γ_(3K+3) of their magnitudes. The identity
 *   Σ_(b∈k) (x̃_b − μ̂)² = Σ (x̃_b − â)² + 2(â − μ̂)·Σ (x̃_b − â) + n_k·(â − μ̂)²   (exact for any â)
 * leaves â_k's own error out; it enters only through magnitudes: |x̃_b − â_k| ≤ |x_b − μ_k| + ex_b + e_ak =: r_b,
 * |â_k − μ̂| ≤ |μ_k − μ| + e_ak + em =: Δ_k, |Σ (x̃_b − â_k)| = n_k·|mean_k(x̃) − â_k| ≤ n_k·e'_ak. Last, from
 * Σ(x̃ − μ̂)² to the exact Σ(x − μ)²: 2Σ|d|·ex + 2·em·|Σd| + Σ(ex + em)² (d = x − μ; Σd is 0 up to float64 rounding).
 */
function splitSquaresError(x: ArrayLike<number>, B: number, F: number, f: number, mu: number, em: number, L: number, ex?: ArrayLike<number>): number {
  if (!(Number.isInteger(L) && L >= 1)) throw new RangeError(`splitSquaresError: chunk ${L} must be a positive integer`);
  const K = Math.ceil(B / L);
  let err = 0;
  let wide = 0;
  for (let k = 0; k < K; k++) {
    const from = k * L;
    const to = Math.min(from + L, B);
    const n = to - from;
    let sum = 0;
    let abs = 0;
    let exSum = 0;
    for (let b = from; b < to; b++) {
      sum += x[b * F + f]!;
      abs += Math.abs(x[b * F + f]!);
      exSum += at(ex, b * F + f);
    }
    const muK = sum / n;
    const eS = sumBound(n, abs + exSum);
    const eShiftOwn = eS / n + WGSL_REL.div * (Math.abs(muK) + (exSum + eS) / n); // |mean_k(x̃) − â_k|
    const eShift = eShiftOwn + exSum / n; // |μ_k − â_k|
    let r1 = 0;
    let r2 = 0;
    for (let b = from; b < to; b++) {
      const r = Math.abs(x[b * F + f]! - muK) + at(ex, b * F + f) + eShift;
      r1 += r;
      r2 += r * r;
    }
    const eQ = sumBound(n + 1, r2);
    const eD = sumBound(n, r1);
    const delta = Math.abs(muK - mu) + eShift + em;
    err += eQ + 2 * delta * eD;
    wide += r2 + eQ + 2 * delta * (n * eShiftOwn + eD) + n * delta * delta;
  }
  let dSum = 0;
  let input = 0;
  for (let b = 0; b < B; b++) {
    const d = x[b * F + f]! - mu;
    const e = at(ex, b * F + f);
    dSum += d;
    input += 2 * Math.abs(d) * e + (e + em) * (e + em);
  }
  return err + sumBound(3 * K + 3, wide) + input + 2 * em * Math.abs(dSum);
}

export interface BatchNormTrainBounded {
  y: Bounded;
  mean: Bounded;
  invstd: Bounded;
  runningMean: Bounded;
  runningVar: Bounded;
}

/** forward_train over x [B, F]; `ex` bounds x's own errors. */
export function batchnormTrainBounded(
  x: ArrayLike<number>,
  B: number,
  F: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  opts: BatchNormOptions = {},
  ex?: ArrayLike<number>,
  split?: { chunk: number },
): BatchNormTrainBounded {
  const t = batchnormTrainRef(x, B, F, gamma, beta, runningMean, runningVar, 'float64', opts);
  const eps = opts.eps ?? BATCHNORM_DEFAULTS.eps;
  const mom = opts.momentum ?? BATCHNORM_DEFAULTS.momentum;
  const eY = new Float64Array(B * F);
  const eMean = new Float64Array(F);
  const eInv = new Float64Array(F);
  const eRm = new Float64Array(F);
  const eRv = new Float64Array(F);
  for (let f = 0; f < F; f++) {
    const mu = t.mean[f]!;
    let exSum = 0;
    for (let b = 0; b < B; b++) exSum += at(ex, b * F + f);
    // mean = (Σ x) / B
    const em = (sumBound(B, t.xAbs[f]! + exSum) + exSum) / B + WGSL_REL.div * Math.abs(mu) + FTZ;
    const q = t.sq[f]!;
    const eq = split ? splitSquaresError(x, B, F, f, mu, em, split.chunk, ex) : singleSquaresError(x, B, F, f, mu, em, ex);
    const v = q / B;
    const ev = eq / B + WGSL_REL.div * v;
    const w = v + eps;
    const ew = ev + U * w + U * eps; // the addition, and ε rounded to float32
    const is = t.invstd[f]!;
    const ei = invSqrtSpread(w, ew) + WGSL_REL.inverseSqrt * (is + invSqrtSpread(w, ew));
    const g = gamma[f]!;
    const scale = is * g;
    const es = Math.abs(g) * ei + U * (Math.abs(scale) + Math.abs(g) * ei);
    for (let b = 0; b < B; b++) {
      const i = b * F + f;
      const d = x[i]! - mu;
      const ed = at(ex, i) + em + U * Math.abs(d);
      const prod = d * scale;
      const ep = productError(d, ed, scale, es) + U * (Math.abs(prod) + productError(d, ed, scale, es));
      eY[i] = ep + U * (Math.abs(t.y[i]!) + ep) + FTZ;
    }
    eMean[f] = em;
    eInv[f] = ei;
    // running = (1 − m)·running + m·stat, m and 1 − m rounded to float32: each product within 3u, the sum u.
    const rmTerms = Math.abs((1 - mom) * runningMean[f]!) + Math.abs(mom * mu);
    eRm[f] = Math.abs(mom) * em * (1 + 4 * U) + 4 * U * rmTerms + FTZ;
    const unb = q / (B - 1);
    const eUnb = eq / (B - 1) + WGSL_REL.div * unb;
    const rvTerms = Math.abs((1 - mom) * runningVar[f]!) + Math.abs(mom * unb);
    eRv[f] = Math.abs(mom) * eUnb * (1 + 4 * U) + 4 * U * rvTerms + FTZ;
  }
  return {
    y: { value: t.y, bound: eY },
    mean: { value: t.mean, bound: eMean },
    invstd: { value: t.invstd, bound: eInv },
    runningMean: { value: t.runningMean, bound: eRm },
    runningVar: { value: t.runningVar, bound: eRv },
  };
}

/**
 * A bound that holds whichever form the GPU used: the single form's, or the split form's with chunks of `chunk`
 * rows (element by element, the larger). For callers that do not know the form, e.g. a runner's whole step.
 */
export function batchnormTrainBoundedEitherForm(
  x: ArrayLike<number>,
  B: number,
  F: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  opts: BatchNormOptions,
  ex: ArrayLike<number> | undefined,
  chunk: number,
): BatchNormTrainBounded {
  const a = batchnormTrainBounded(x, B, F, gamma, beta, runningMean, runningVar, opts, ex);
  const b = batchnormTrainBounded(x, B, F, gamma, beta, runningMean, runningVar, opts, ex, { chunk });
  const larger = (p: Bounded, q: Bounded): Bounded => ({ value: p.value, bound: Float64Array.from(p.bound, (v, i) => Math.max(v, q.bound[i]!)) });
  return {
    y: larger(a.y, b.y), mean: larger(a.mean, b.mean), invstd: larger(a.invstd, b.invstd),
    runningMean: larger(a.runningMean, b.runningMean), runningVar: larger(a.runningVar, b.runningVar),
  };
}

/** forward_eval: y = (x − running_mean)·(inverseSqrt(running_var + ε)·γ) + β, running stats exact; `ex` for x. */
export function batchnormEvalBounded(
  x: ArrayLike<number>,
  B: number,
  F: number,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  runningMean: ArrayLike<number>,
  runningVar: ArrayLike<number>,
  opts: Pick<BatchNormOptions, 'eps'> = {},
  ex?: ArrayLike<number>,
): Bounded {
  const value = batchnormEvalRef(x, B, F, gamma, beta, runningMean, runningVar, 'float64', opts);
  const eps = opts.eps ?? BATCHNORM_DEFAULTS.eps;
  const bound = new Float64Array(B * F);
  for (let f = 0; f < F; f++) {
    const scale = Math.abs(gamma[f]!) / Math.sqrt(runningVar[f]! + eps);
    // ε to float32, the addition, inverseSqrt (4u, and ½ of the argument's 2u), × γ: within 8u of |scale|.
    const es = 8 * U * scale;
    for (let b = 0; b < B; b++) {
      const i = b * F + f;
      const d = x[i]! - runningMean[f]!;
      const ed = at(ex, i) + U * Math.abs(d);
      const ep = productError(d, ed, scale, es);
      bound[i] = ep + U * (Math.abs(d * scale) + ep) + U * (Math.abs(value[i]!) + 2 * ep) + FTZ;
    }
  }
  return { value, bound };
}

export interface BatchNormBackwardBounded {
  dx: Bounded;
  dgamma: Bounded;
  dbeta: Bounded;
}

/**
 * backward from the saved statistics: the GPU reads back its own mean and invstd, known to within emean, einvstd of
 * the exact ones (batchnormTrainBounded); x and dy to within ex, edy.
 */
export function batchnormBackwardBounded(
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  B: number,
  F: number,
  gamma: ArrayLike<number>,
  mean: ArrayLike<number>,
  invstd: ArrayLike<number>,
  err: { ex?: ArrayLike<number>; edy?: ArrayLike<number>; emean?: ArrayLike<number>; einvstd?: ArrayLike<number> } = {},
): BatchNormBackwardBounded {
  const r = batchnormBackwardRef(x, dy, B, F, gamma, mean, invstd, 'float64');
  const eDx = new Float64Array(B * F);
  const eDg = new Float64Array(F);
  const eDb = new Float64Array(F);
  const xhat = new Float64Array(B);
  const eXhat = new Float64Array(B);
  for (let f = 0; f < F; f++) {
    const is = invstd[f]!;
    const eis = at(err.einvstd, f);
    let edySum = 0;
    let prodWide = 0;
    let prodSpread = 0;
    for (let b = 0; b < B; b++) {
      const i = b * F + f;
      const d = x[i]! - mean[f]!;
      const ed = at(err.ex, i) + at(err.emean, f) + U * Math.abs(d);
      xhat[b] = d * is;
      eXhat[b] = productError(d, ed, is, eis) + U * (Math.abs(xhat[b]!) + productError(d, ed, is, eis));
      const edy = at(err.edy, i);
      edySum += edy;
      const sp = productError(dy[i]!, edy, xhat[b]!, eXhat[b]!);
      prodWide += Math.abs(dy[i]! * xhat[b]!) + sp;
      prodSpread += sp;
    }
    const eSdy = sumBound(B, r.dyAbs[f]! + edySum) + edySum;
    const eSdyx = sumBound(B, prodWide) + prodSpread; // + one rounding per product, inside γ_B's n
    eDb[f] = eSdy;
    eDg[f] = eSdyx;
    const sdy = r.dbeta[f]!;
    const sdyx = r.dgamma[f]!;
    const g = gamma[f]!;
    const k = (g * is) / B;
    const ek = (Math.abs(g) * eis) / B + (U + WGSL_REL.div) * (Math.abs(k) + (Math.abs(g) * eis) / B);
    for (let b = 0; b < B; b++) {
      const i = b * F + f;
      // inner = (B·dy − sdy) − x̂·sdyx, each operation rounded
      const bdy = B * dy[i]!;
      const e1 = B * at(err.edy, i) + U * Math.abs(bdy);
      const diff = bdy - sdy;
      const e2 = e1 + eSdy + U * (Math.abs(diff) + e1 + eSdy);
      const xs = xhat[b]! * sdyx;
      const e3 = productError(xhat[b]!, eXhat[b]!, sdyx, eSdyx) + U * (Math.abs(xs) + productError(xhat[b]!, eXhat[b]!, sdyx, eSdyx));
      const inner = diff - xs;
      const e4 = e2 + e3 + U * (Math.abs(inner) + e2 + e3);
      const ep = productError(k, ek, inner, e4);
      eDx[i] = ep + U * (Math.abs(k * inner) + ep) + FTZ;
    }
  }
  return { dx: { value: r.dx, bound: eDx }, dgamma: { value: r.dgamma, bound: eDg }, dbeta: { value: r.dbeta, bound: eDb } };
}
