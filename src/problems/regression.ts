/**
 * Regression on a dataset (shaders/regression.wgsl): linear regression (least squares), binary logistic regression,
 * and a small tanh network fitted by least squares — the problems Gauss-Newton / Levenberg-Marquardt and the
 * full-batch methods are shown on. Data are float32 values (so float32 and float64 runs see the same inputs).
 *
 * Shapes: X [m, d] row-major, y [m].  z_i(θ) = (Σ_k X_ik·w_k) + b  (k ascending), θ = (w, b), n = d + 1.
 *   linear      e_i = z_i − y_i,   f = h·Σ_i e_i·e_i  (h = 0.5/m),   ∇_w f = c·Σ_i e_i·X_i,  ∂f/∂b = c·Σ_i e_i  (c = 1/m)
 *               least squares: r_i = s·e_i (s = 1/√m, so f = ½‖r‖²),  J = s·[X 1],  H = c·[X 1]ᵀ[X 1]
 *   logistic    f = c·Σ_i (softplus(z_i) − y_i·z_i),  ∇f = c·[X 1]ᵀ(σ(z) − y),  H = c·[X 1]ᵀ diag(σ'(z)) [X 1]
 *               (y_i ∈ {0, 1}; softplus(z) = max(z, 0) + log1p(e^(−|z|)), σ(z) as act_sigmoid: no overflow)
 *   tanh net    θ = (W1 [H, d], b1 [H], w2 [H], b2), n = H·d + 2H + 1,  net_i = (Σ_j w2_j·tanh(a_ij)) + b2,
 *               a_ij = (Σ_k W1_jk·X_ik) + b1_j;  e_i = net_i − y_i, f = h·Σ e_i², ∇f = c·Jₑᵀe; least squares with
 *               r = s·e, J·v by forward mode, Jᵀu per parameter (formulas in the shader header).
 * Every sum runs in ascending index order, each operation rounded in the dtype (the GPU computes the same terms
 * and, for f, sums them in a two-pass tree: see shaders/vector.wgsl).
 */
import src from '../../shaders/regression.wgsl';
import fns from '../../shaders/activation_fns.wgsl';
import { defineKernel, type Engine, type KernelDef } from '../gpu/index.js';
import type { GpuObjective, GpuPlan, ScalarRef } from '../linalg/objective.js';
import { VectorSumOp } from '../linalg/vector.js';
import { Random } from '../random.js';
import { rounder, type Dtype, type FloatArray } from '../ref/dtype.js';
import { checkLength, pointOf, type LeastSquaresProblem, type Problem } from './problem.js';

const files = [{ file: 'activation_fns.wgsl', text: fns }, { file: 'regression.wgsl', text: src }];
const WG = 64;
const kernel = (entry: string, names: string[], write: string[]): KernelDef =>
  defineKernel({
    label: `regression.${entry}`,
    files,
    entry,
    bindings: Object.fromEntries([['rp', 'uniform'], ...names.map((n) => [n, 'read']), ...write.map((n) => [n, 'read_write'])]),
  });
export const regressionKernels = {
  linear_rows: kernel('linear_rows', ['X', 'yv', 'v'], ['out']),
  linear_cols: kernel('linear_cols', ['X', 'u'], ['out']),
  logistic_rows: kernel('logistic_rows', ['X', 'yv', 'v'], ['out', 'terms']),
  logistic_curv_rows: kernel('logistic_curv_rows', ['X', 'v', 'w'], ['out']),
  tanh_rows: kernel('tanh_rows', ['X', 'yv', 'v'], ['out']),
  tanh_jvp_rows: kernel('tanh_jvp_rows', ['X', 'v', 'w'], ['out']),
  tanh_cols: kernel('tanh_cols', ['X', 'w', 'u'], ['out']),
} as const;
type Entry = keyof typeof regressionKernels;

export interface RegressionData {
  /** m×d features, row-major. */
  readonly X: Float32Array;
  /** m targets (logistic: 0 or 1). */
  readonly y: Float32Array;
  readonly m: number;
  readonly d: number;
}

/** Checks and wraps features and targets (copied to float32). */
export function regressionData(X: ArrayLike<number>, y: ArrayLike<number>, d: number, what = 'data'): RegressionData {
  const m = y.length;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`${what}: d (features per example) must be a positive integer, got ${d}`);
  if (m < 1) throw new RangeError(`${what}: needs at least one example`);
  if (X.length !== m * d) throw new RangeError(`${what}: X has ${X.length} numbers but ${m} examples × ${d} features need ${m * d}`);
  const Xf = Float32Array.from(X);
  const yf = Float32Array.from(y);
  for (const [name, a] of [['X', Xf], ['y', yf]] as const) {
    const bad = a.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new RangeError(`${what}: ${name}[${bad}] is ${a[bad]}; features and targets must be finite`);
  }
  return { X: Xf, y: yf, m, d };
}

/**
 * The linear-regression example: m points with x uniform in [0, 10] and y = 2·x + 1 + noise·N(0, 1) (seeded,
 * wgtrain's Random); d = 1 feature. Least squares recovers (w, b) ≈ (2, 1).
 */
export function linearExampleData(o: { m?: number; seed?: number; noise?: number } = {}): RegressionData {
  const m = o.m ?? 50;
  const rng = new Random(o.seed ?? 0);
  const X = new Float32Array(m), y = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    X[i] = rng.uniformRange(0, 10);
    y[i] = 2 * X[i]! + 1 + (o.noise ?? 1) * rng.normal();
  }
  return regressionData(X, y, 1, 'linear example');
}

/** Two overlapping Gaussian blobs in the plane (unit variance, centres ±(1, 1)), labels 0 and 1 alternating. */
export function logisticExampleData(o: { m?: number; seed?: number } = {}): RegressionData {
  const m = o.m ?? 100;
  const rng = new Random(o.seed ?? 0);
  const X = new Float32Array(2 * m), y = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const label = i % 2;
    const c = label ? 1 : -1;
    X[2 * i] = c + rng.normal();
    X[2 * i + 1] = c + rng.normal();
    y[i] = label;
  }
  return regressionData(X, y, 2, 'logistic example');
}

/** A 1-D curve for the tanh network: x uniform in [−3, 3], y = sin(x) + noise·N(0, 1). */
export function curveExampleData(o: { m?: number; seed?: number; noise?: number } = {}): RegressionData {
  const m = o.m ?? 40;
  const rng = new Random(o.seed ?? 0);
  const X = new Float32Array(m), y = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    X[i] = rng.uniformRange(-3, 3);
    y[i] = Math.sin(X[i]!) + (o.noise ?? 0.05) * rng.normal();
  }
  return regressionData(X, y, 1, 'curve example');
}

// ---- CPU references -------------------------------------------------------------------------------------------

type R = (v: number) => number;
/** Sequential sum of f(i) for i < count, rounded at each addition. */
function sum(count: number, f: (i: number) => number, r: R): number {
  let s = 0;
  for (let i = 0; i < count; i++) s = r(s + f(i));
  return s;
}
/** z_i(p) = (Σ_k X_ik·p_k) + p_d. */
function zOf(data: RegressionData, p: ArrayLike<number>, i: number, r: R): number {
  const { X, d } = data;
  return r(sum(d, (k) => r(X[i * d + k]! * p[k]!), r) + p[d]!);
}
/** out_i = c·(z_i(v) − β·y_i) for every example. */
function linearRows(data: RegressionData, v: ArrayLike<number>, c: number, beta: number, r: R, out: FloatArray | number[]): void {
  for (let i = 0; i < data.m; i++) out[i] = r(c * r(zOf(data, v, i, r) - r(beta * data.y[i]!)));
}
/** out = c·[X 1]ᵀu. */
function linearCols(data: RegressionData, u: ArrayLike<number>, c: number, r: R, out: FloatArray): void {
  const { X, d, m } = data;
  for (let k = 0; k < d; k++) out[k] = r(c * sum(m, (i) => r(u[i]! * X[i * d + k]!), r));
  out[d] = r(c * sum(m, (i) => u[i]!, r));
}
function sigmoid(z: number, r: R): number {
  const e = r(Math.exp(-Math.abs(z)));
  const s = r(1 / r(1 + e));
  return z >= 0 ? s : r(e * s);
}
function softplus(z: number, r: R): number {
  return r(Math.max(z, 0) + r(Math.log1p(r(Math.exp(-Math.abs(z))))));
}
const scales = (m: number, r: R) => ({ h: r(0.5 / m), c: r(1 / m), s: r(1 / Math.sqrt(m)) });

// ---- GPU plumbing ---------------------------------------------------------------------------------------------

interface GpuData {
  X: GPUBuffer;
  y: GPUBuffer;
  destroy(): void;
}
function uploadData(engine: Engine, data: RegressionData, name: string): GpuData {
  const X = engine.storage(`${name}.X`, data.X);
  const y = engine.storage(`${name}.y`, data.y);
  return { X, y, destroy: () => (X.destroy(), y.destroy()) };
}

/** One rows/cols pass: `entry` over `count` invocations with RegParams {c, beta}. */
async function pass(
  engine: Engine, entry: Entry, data: RegressionData, hidden: number, count: number,
  p: { c: number; beta?: number }, resources: Record<string, GPUBuffer>,
): Promise<{ encode(pass: GPUComputePassEncoder): void; destroy(): void }> {
  const k = await engine.kernel(regressionKernels[entry], { WG });
  const u = k.uniforms('rp').set({ m: data.m, d: data.d, hidden, c: p.c, beta: p.beta ?? 0 });
  u.write();
  const group = k.bind({ ...resources, rp: u.buffer });
  return { encode: (pass) => k.dispatch1d(pass, group, Math.ceil(count / WG)), destroy: () => u.destroy() };
}

/** Encodes `steps` in one compute pass; destroys them and `owned` with the plan. */
function sequence(label: string, steps: { encode(pass: GPUComputePassEncoder): void; destroy(): void }[], owned: GPUBuffer[] = []): GpuPlan {
  return {
    encode(encoder) {
      const p = encoder.beginComputePass({ label });
      for (const s of steps) s.encode(p);
      p.end();
    },
    destroy() {
      for (const s of steps) s.destroy();
      for (const b of owned) b.destroy();
    },
  };
}

interface ModelShape {
  /** Which family of entries: linear or tanh (the logistic problem uses linear's columns pass). */
  kind: 'linear' | 'tanh';
  hidden: number;
  n: number;
}

/** Least-squares objective pieces on the GPU for linear and tanh models: r, J·v, Jᵀ·u and the value/gradient. */
function leastSquaresGpu(engine: Engine, data: RegressionData, g: GpuData, shape: ModelShape, name: string) {
  const { h, c, s } = scales(data.m, Math.fround);
  const rows: Entry = shape.kind === 'linear' ? 'linear_rows' : 'tanh_rows';
  const cols = (w: GPUBuffer, u: GPUBuffer, out: GPUBuffer, scale: number) =>
    shape.kind === 'linear'
      ? pass(engine, 'linear_cols', data, 0, shape.n, { c: scale }, { X: g.X, u, out })
      : pass(engine, 'tanh_cols', data, shape.hidden, shape.n, { c: scale }, { X: g.X, w, u, out });
  return {
    async valueGrad({ x, g: grad, f }: { x: GPUBuffer; g: GPUBuffer; f: ScalarRef }): Promise<GpuPlan> {
      const e = engine.storage(`${name}.e`, 4 * data.m);
      const steps = [
        await pass(engine, rows, data, shape.hidden, data.m, { c: 1, beta: 1 }, { X: g.X, yv: g.y, v: x, out: e }),
        await VectorSumOp.plan(engine, { x: e, y: e, n: data.m, out: f, scale: h, label: `${name}.f` }),
        await cols(x, e, grad, c),
      ];
      return sequence(`${name}.value_grad`, steps, [e]);
    },
    leastSquares: {
      m: data.m,
      residuals: async ({ x, r }: { x: GPUBuffer; r: GPUBuffer }) =>
        sequence(`${name}.residuals`, [await pass(engine, rows, data, shape.hidden, data.m, { c: s, beta: 1 }, { X: g.X, yv: g.y, v: x, out: r })]),
      jvp: async ({ x, v, out }: { x: GPUBuffer; v: GPUBuffer; out: GPUBuffer }) =>
        sequence(`${name}.jvp`, [
          shape.kind === 'linear'
            ? await pass(engine, 'linear_rows', data, 0, data.m, { c: s, beta: 0 }, { X: g.X, yv: g.y, v, out })
            : await pass(engine, 'tanh_jvp_rows', data, shape.hidden, data.m, { c: s }, { X: g.X, v, w: x, out }),
        ]),
      vjp: async ({ x, u, out }: { x: GPUBuffer; u: GPUBuffer; out: GPUBuffer }) => sequence(`${name}.vjp`, [await cols(x, u, out, s)]),
    },
  };
}

function leastSquaresCpu(data: RegressionData, net: (p: ArrayLike<number>, i: number, r: R) => number,
  jvpRow: (p: ArrayLike<number>, v: ArrayLike<number>, i: number, r: R) => number,
  cols: (p: ArrayLike<number>, u: ArrayLike<number>, c: number, r: R, out: FloatArray) => void,
  problem: { name: string; dim: number }): LeastSquaresProblem {
  return {
    m: data.m,
    residuals(x, out, dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      checkLength(problem, out, 'r', data.m);
      const { s } = scales(data.m, r);
      for (let i = 0; i < data.m; i++) out[i] = r(s * r(net(p, i, r) - data.y[i]!));
    },
    jvp(x, v, out, dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      checkLength(problem, v, 'v');
      checkLength(problem, out, 'out', data.m);
      const { s } = scales(data.m, r);
      const vr = Array.from(v, r);
      for (let i = 0; i < data.m; i++) out[i] = r(s * jvpRow(p, vr, i, r));
    },
    vjp(x, u, out, dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      checkLength(problem, u, 'u', data.m);
      checkLength(problem, out, 'out');
      cols(p, Array.from(u, r), scales(data.m, r).s, r, out);
    },
  };
}

// ---- The problems ---------------------------------------------------------------------------------------------

/** Linear least squares f(w, b) = 1/(2m)·Σ (X_i·w + b − y_i)² on `data`. */
export function linearRegression(data: RegressionData, name = 'linear_regression'): Problem {
  const n = data.d + 1;
  const id = { name, dim: n };
  const problem: Problem = {
    name,
    dim: n,
    formula: `f(w, b) = 1/(2m)·Σ_i (x_iᵀw + b − y_i)²  (m = ${data.m}, d = ${data.d})`,
    starts: [new Array(n).fill(0)],
    known: [],
    evaluate(x, g, dtype: Dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      const e: number[] = [];
      linearRows(data, p, 1, 1, r, e);
      const { h, c } = scales(data.m, r);
      if (g) {
        checkLength(problem, g, 'g');
        linearCols(data, e, c, r, g);
      }
      return r(h * sum(data.m, (i) => r(e[i]! * e[i]!), r));
    },
    hvp(_x, v, out, dtype: Dtype = 'float64') {
      const r = rounder(dtype);
      checkLength(problem, v, 'v');
      checkLength(problem, out, 'out');
      const t: number[] = [];
      linearRows(data, Array.from(v, r), 1, 0, r, t);
      linearCols(data, t, scales(data.m, r).c, r, out);
    },
    leastSquares: leastSquaresCpu(
      data,
      (p, i, r) => zOf(data, p, i, r),
      (_p, v, i, r) => zOf(data, v, i, r),
      (_p, u, c, r, out) => linearCols(data, u, c, r, out),
      id,
    ),
    gpu(engine) {
      const g = uploadData(engine, data, name);
      const ls = leastSquaresGpu(engine, data, g, { kind: 'linear', hidden: 0, n }, name);
      const { c } = scales(data.m, Math.fround);
      return {
        n,
        valueGrad: ls.valueGrad,
        leastSquares: ls.leastSquares,
        async hvp({ v, out }) {
          const t = engine.storage(`${name}.hv_rows`, 4 * data.m);
          return sequence(`${name}.hvp`, [
            await pass(engine, 'linear_rows', data, 0, data.m, { c: 1, beta: 0 }, { X: g.X, yv: g.y, v, out: t }),
            await pass(engine, 'linear_cols', data, 0, n, { c }, { X: g.X, u: t, out }),
          ], [t]);
        },
        destroy: () => g.destroy(),
      } satisfies GpuObjective;
    },
  };
  return problem;
}

/** Binary logistic regression f(w, b) = 1/m·Σ_i (softplus(z_i) − y_i·z_i) on `data` (y_i ∈ {0, 1}). */
export function logisticRegression(data: RegressionData, name = 'logistic_regression'): Problem {
  const bad = data.y.findIndex((v) => v !== 0 && v !== 1);
  if (bad >= 0) throw new RangeError(`${name}: targets must be 0 or 1; y[${bad}] = ${data.y[bad]}`);
  const n = data.d + 1;
  const problem: Problem = {
    name,
    dim: n,
    formula: `f(w, b) = 1/m·Σ_i (log(1 + e^(z_i)) − y_i·z_i), z_i = x_iᵀw + b  (m = ${data.m}, d = ${data.d})`,
    starts: [new Array(n).fill(0)],
    known: [],
    evaluate(x, g, dtype: Dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      const { c } = scales(data.m, r);
      const e: number[] = [];
      const terms: number[] = [];
      for (let i = 0; i < data.m; i++) {
        const z = zOf(data, p, i, r);
        terms.push(r(softplus(z, r) - r(data.y[i]! * z)));
        e.push(r(sigmoid(z, r) - data.y[i]!));
      }
      if (g) {
        checkLength(problem, g, 'g');
        linearCols(data, e, c, r, g);
      }
      return r(c * sum(data.m, (i) => terms[i]!, r));
    },
    hvp(x, v, out, dtype: Dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      checkLength(problem, v, 'v');
      checkLength(problem, out, 'out');
      const vr = Array.from(v, r);
      const t: number[] = [];
      for (let i = 0; i < data.m; i++) {
        const s = sigmoid(zOf(data, p, i, r), r);
        t.push(r(r(s * r(1 - s)) * zOf(data, vr, i, r)));
      }
      linearCols(data, t, scales(data.m, r).c, r, out);
    },
    gpu(engine) {
      const g = uploadData(engine, data, name);
      const { c } = scales(data.m, Math.fround);
      return {
        n,
        async valueGrad({ x, g: grad, f }) {
          const e = engine.storage(`${name}.e`, 4 * data.m);
          const terms = engine.storage(`${name}.terms`, 4 * data.m);
          return sequence(`${name}.value_grad`, [
            await pass(engine, 'logistic_rows', data, 0, data.m, { c: 1 }, { X: g.X, yv: g.y, v: x, out: e, terms }),
            await VectorSumOp.plan(engine, { x: terms, n: data.m, out: f, scale: c, label: `${name}.f` }),
            await pass(engine, 'linear_cols', data, 0, n, { c }, { X: g.X, u: e, out: grad }),
          ], [e, terms]);
        },
        async hvp({ x, v, out }) {
          const t = engine.storage(`${name}.hv_rows`, 4 * data.m);
          return sequence(`${name}.hvp`, [
            await pass(engine, 'logistic_curv_rows', data, 0, data.m, { c: 1 }, { X: g.X, v, w: x, out: t }),
            await pass(engine, 'linear_cols', data, 0, n, { c }, { X: g.X, u: t, out }),
          ], [t]);
        },
        destroy: () => g.destroy(),
      } satisfies GpuObjective;
    },
  };
  return problem;
}

/**
 * A one-hidden-layer tanh network d → H → 1 fitted by least squares, f = 1/(2m)·Σ (net(x_i) − y_i)², for
 * Gauss-Newton / Levenberg-Marquardt. `starts[0]` is a seeded small random initialisation (a network cannot start
 * at zero: every hidden unit would stay identical).
 */
export function tanhNetwork(data: RegressionData, o: { hidden?: number; seed?: number; name?: string } = {}): Problem {
  const H = o.hidden ?? 8;
  if (!Number.isInteger(H) || H < 1) throw new RangeError(`tanh network: hidden must be a positive integer, got ${H}`);
  const { d, X } = data;
  const name = o.name ?? 'tanh_network';
  const n = H * d + 2 * H + 1;
  const W2 = H * d + H;
  const pre = (p: ArrayLike<number>, i: number, j: number, r: R) => r(sum(d, (k) => r(p[j * d + k]! * X[i * d + k]!), r) + p[H * d + j]!);
  const hid = (p: ArrayLike<number>, i: number, j: number, r: R) => r(Math.tanh(pre(p, i, j, r)));
  const net = (p: ArrayLike<number>, i: number, r: R) => r(sum(H, (j) => r(p[W2 + j]! * hid(p, i, j, r)), r) + p[W2 + H]!);
  const jvpRow = (p: ArrayLike<number>, v: ArrayLike<number>, i: number, r: R) => {
    const s = sum(H, (j) => {
      const h = hid(p, i, j, r);
      const da = pre(v, i, j, r);
      return r(r(v[W2 + j]! * h) + r(p[W2 + j]! * r(r(1 - r(h * h)) * da)));
    }, r);
    return r(s + v[W2 + H]!);
  };
  const cols = (p: ArrayLike<number>, u: ArrayLike<number>, c: number, r: R, out: FloatArray) => {
    for (let q = 0; q < n; q++) {
      let term: (i: number) => number;
      if (q === W2 + H) term = (i) => u[i]!;
      else if (q >= W2) term = (i) => r(u[i]! * hid(p, i, q - W2, r));
      else if (q >= H * d) {
        const j = q - H * d;
        term = (i) => {
          const h = hid(p, i, j, r);
          return r(u[i]! * r(p[W2 + j]! * r(1 - r(h * h))));
        };
      } else {
        const j = Math.floor(q / d), k = q % d;
        term = (i) => {
          const h = hid(p, i, j, r);
          return r(u[i]! * r(r(p[W2 + j]! * r(1 - r(h * h))) * X[i * d + k]!));
        };
      }
      out[q] = r(c * sum(data.m, term, r));
    }
  };
  const rng = new Random(o.seed ?? 0);
  const start = Array.from({ length: n }, () => Math.fround(rng.normal(0, 0.5)));
  const problem: Problem = {
    name,
    dim: n,
    formula: `f(θ) = 1/(2m)·Σ_i (Σ_j w2_j·tanh(W1_j·x_i + b1_j) + b2 − y_i)²  (${d} → ${H} tanh → 1, m = ${data.m})`,
    starts: [start],
    known: [],
    evaluate(x, g, dtype: Dtype = 'float64') {
      const r = rounder(dtype);
      const p = pointOf(problem, x, dtype);
      const { h, c } = scales(data.m, r);
      const e = Array.from({ length: data.m }, (_, i) => r(net(p, i, r) - data.y[i]!));
      if (g) {
        checkLength(problem, g, 'g');
        cols(p, e, c, r, g);
      }
      return r(h * sum(data.m, (i) => r(e[i]! * e[i]!), r));
    },
    leastSquares: leastSquaresCpu(data, net, jvpRow, cols, { name, dim: n }),
    gpu(engine) {
      const g = uploadData(engine, data, name);
      const ls = leastSquaresGpu(engine, data, g, { kind: 'tanh', hidden: H, n }, name);
      return { n, valueGrad: ls.valueGrad, leastSquares: ls.leastSquares, destroy: () => g.destroy() } satisfies GpuObjective;
    },
  };
  return problem;
}
