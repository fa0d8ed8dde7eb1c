/**
 * CPU reference of shaders/softmax.wgsl: row softmax / log-softmax (forward and backward), fused softmax-cross-entropy
 * with integer labels, and the metrics accumulator. Plain loops over a B×C row-major matrix; see the shader header
 * for the math. float64 computes the textbook formula directly (max-subtracted); float32 rounds every intermediate.
 */
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

/** flags value of a row whose label is out of range [0, C). */
export const INVALID_FLAG = 0xffffffff;

interface RowStats {
  /** max_j z_j */
  m: number;
  /** lowest index of the maximum */
  a: number;
  /** log Σ_j exp(z_j − m), i.e. lse(z) − m */
  l: number;
  /** Σ_j exp(z_j − m) */
  s: number;
  /** Σ_{j≠a} exp(z_j − m) */
  t: number;
}

function rowStats(z: ArrayLike<number>, base: number, C: number, r: (x: number) => number): RowStats {
  let m = z[base]!;
  let a = 0;
  for (let j = 1; j < C; j++) {
    if (z[base + j]! > m) {
      m = z[base + j]!;
      a = j;
    }
  }
  // t = Σ_{j≠a} exp(z_j − m) and lse − m = log1p(t): log(s) would lose t < 1e-16 in float64 too.
  let t = 0;
  for (let j = 0; j < C; j++) if (j !== a) t = r(t + r(Math.exp(r(z[base + j]! - m))));
  return { m, a, t, s: r(1 + t), l: r(Math.log1p(t)) };
}

/**
 * The sums every softmax-family kernel forms per row, in float64: max m_i, argmax a_i (lowest index on ties),
 * s_i = Σ_j exp(z_ij − m_i) and t_i = s_i − 1 = Σ_{j≠a} exp(z_ij − m_i). Every term is positive, so s and t are
 * their own Σ|terms| (src/testing/sums.ts).
 */
export function softmaxRowSumsRef(z: ArrayLike<number>, B: number, C: number): { max: Float64Array; argmax: Uint32Array; sum: Float64Array; rest: Float64Array } {
  const out = { max: new Float64Array(B), argmax: new Uint32Array(B), sum: new Float64Array(B), rest: new Float64Array(B) };
  for (let i = 0; i < B; i++) {
    const st = rowStats(z, i * C, C, (x) => x);
    out.max[i] = st.m;
    out.argmax[i] = st.a;
    out.sum[i] = 1 + st.t;
    out.rest[i] = st.t;
  }
  return out;
}

/** y = softmax(z) (or log_softmax(z)) row by row. */
export function softmaxRef(z: ArrayLike<number>, B: number, C: number, dtype: Dtype, log = false): FloatArray {
  const r = rounder(dtype);
  const y = allocate(dtype, B * C);
  for (let i = 0; i < B; i++) {
    const base = i * C;
    const st = rowStats(z, base, C, r);
    for (let j = 0; j < C; j++) {
      const d = r(z[base + j]! - st.m);
      y[base + j] = log ? r(d - st.l) : r(r(Math.exp(d)) / st.s);
    }
  }
  return y;
}

/**
 * Backward of softmax given its output sm: dz_j = sm_j (dy_j − Σ_k dy_k sm_k).
 * Backward of log_softmax given its output sm: dz_j = dy_j − exp(sm_j) Σ_k dy_k.
 */
export function softmaxBackwardRef(
  sm: ArrayLike<number>,
  dy: ArrayLike<number>,
  B: number,
  C: number,
  dtype: Dtype,
  log = false,
): FloatArray {
  return softmaxBackwardRefWithAbs(sm, dy, B, C, dtype, log).dz;
}

/**
 * softmaxBackwardRef with the row sum it forms beside it: dot_i = Σ_k dy_k·sm_k (log: Σ_k dy_k) and its Σ|terms|
 * abs_i = Σ_k |dy_k·sm_k| (log: Σ_k |dy_k|); C terms per row.
 */
export function softmaxBackwardRefWithAbs(
  sm: ArrayLike<number>,
  dy: ArrayLike<number>,
  B: number,
  C: number,
  dtype: Dtype,
  log = false,
): { dz: FloatArray; dot: Float64Array; abs: Float64Array } {
  const r = rounder(dtype);
  const dz = allocate(dtype, B * C);
  const dot = new Float64Array(B);
  const abs = new Float64Array(B);
  for (let i = 0; i < B; i++) {
    const base = i * C;
    let d = 0;
    let a = 0;
    for (let j = 0; j < C; j++) {
      const term = log ? dy[base + j]! : r(dy[base + j]! * sm[base + j]!);
      d = r(d + term);
      a += Math.abs(term);
    }
    dot[i] = d;
    abs[i] = a;
    for (let j = 0; j < C; j++) {
      dz[base + j] = log ? r(dy[base + j]! - r(r(Math.exp(sm[base + j]!)) * d)) : r(sm[base + j]! * r(dy[base + j]! - d));
    }
  }
  return { dz, dot, abs };
}

export interface CrossEntropyRef {
  /** [B] lse(z_i) − z_i[label_i]; NaN for an out-of-range label */
  loss: FloatArray;
  /** [B] 1 if argmax (lowest index on ties) == label, 0 if not, INVALID_FLAG for an out-of-range label */
  flags: Uint32Array;
  /** [B, C] (softmax(z_i) − onehot(label_i)) · scale; a zero row for an out-of-range label */
  dz: FloatArray;
}

/** Softmax cross-entropy with integer labels, per row, with its gradient scaled by `scale` (1/B for a batch mean). */
export function crossEntropyRef(
  z: ArrayLike<number>,
  labels: ArrayLike<number>,
  B: number,
  C: number,
  dtype: Dtype,
  scale = 1 / B,
): CrossEntropyRef {
  const r = rounder(dtype);
  const loss = allocate(dtype, B);
  const flags = new Uint32Array(B);
  const dz = allocate(dtype, B * C);
  for (let i = 0; i < B; i++) {
    const base = i * C;
    const label = labels[i]!;
    if (!(Number.isInteger(label) && label >= 0 && label < C)) {
      loss[i] = NaN;
      flags[i] = INVALID_FLAG;
      continue; // dz row stays 0
    }
    const st = rowStats(z, base, C, r);
    loss[i] = r(st.l + r(st.m - z[base + label]!));
    flags[i] = st.a === label ? 1 : 0;
    for (let j = 0; j < C; j++) {
      const pj = r(r(Math.exp(r(z[base + j]! - st.m))) / st.s);
      dz[base + j] = r(r(pj - (j === label ? 1 : 0)) * scale);
    }
  }
  return { loss, flags, dz };
}

/** The fields of the GPU metrics struct, as numbers. */
export interface MetricsValues {
  /** Σ of the loss of valid rows */
  lossSum: number;
  /** Σ of the flags of valid rows (correct predictions, or correct elements for binary cross-entropy) */
  correct: number;
  /** number of valid rows */
  rows: number;
  /** number of rows flagged INVALID (out-of-range label) */
  invalid: number;
  /** number of accumulations */
  batches: number;
}

export function emptyMetrics(): MetricsValues {
  return { lossSum: 0, correct: 0, rows: 0, invalid: 0, batches: 0 };
}

/** metrics += the batch's per-row losses and flags (the GPU's `metrics_accumulate`), summed in float64. */
export function accumulateMetricsRef(m: MetricsValues, loss: ArrayLike<number>, flags: ArrayLike<number>, rows = loss.length): MetricsValues {
  const out = { ...m, batches: m.batches + 1 };
  for (let i = 0; i < rows; i++) {
    if (flags[i] === INVALID_FLAG) {
      out.invalid++;
      continue;
    }
    out.lossSum += loss[i]!;
    out.correct += flags[i]!;
    out.rows++;
  }
  return out;
}

/** Σ_i loss_i: the scalar whose gradient (times `scale`) `crossEntropyRef` returns; for finite differences. */
export function crossEntropyTotal(z: ArrayLike<number>, labels: ArrayLike<number>, B: number, C: number): number {
  const { loss } = crossEntropyRef(z, labels, B, C, 'float64');
  let s = 0;
  for (let i = 0; i < B; i++) s += loss[i]!;
  return s;
}
