/**
 * The n-dimensional quadratic f(x) = ½·xᵀAx − bᵀx with a given symmetric A (n×n) and b (n): ∇f = Ax − b, H = A.
 * For positive-definite A its minimum is x* = A⁻¹b, and the condition number of A sets how hard it is for
 * first-order methods (CG solves it in at most n steps in exact arithmetic). `conditionedQuadratic` builds one with
 * a chosen condition number, as the L-BFGS fixtures do (10-D, κ = 10⁴).
 *
 * Operation order (shaders/quadratic.wgsl; each operation rounded in the dtype):
 *   v_i = Σ_j A_ij·x_j (j ascending),  g_i = v_i − b_i,  f = Σ_i x_i·(0.5·v_i − b_i)  (i ascending on the CPU; a
 *   two-pass tree on the GPU),  (H·v)_i = Σ_j A_ij·v_j.
 */
import src from '../../shaders/quadratic.wgsl';
import { defineKernel, type Engine } from '../gpu/index.js';
import type { GpuObjective, GpuPlan } from '../linalg/objective.js';
import { VectorSumOp } from '../linalg/vector.js';
import { rounder, type Dtype, type FloatArray } from '../ref/dtype.js';
import { Random } from '../random.js';
import { checkLength, pointOf, type KnownPoint, type Problem } from './problem.js';

const files = [{ file: 'quadratic.wgsl', text: src }];
export const quadraticValueGradKernel = defineKernel({
  label: 'quadratic.value_grad',
  files,
  entry: 'value_grad',
  bindings: { qp: 'uniform', a: 'read', b: 'read', x: 'read', g: 'read_write', terms: 'read_write' },
});
export const quadraticHvpKernel = defineKernel({
  label: 'quadratic.hvp',
  files,
  entry: 'hvp',
  bindings: { qp: 'uniform', a: 'read', v: 'read', hv: 'read_write' },
});
const WG = 64;

export interface QuadraticInit {
  /** n×n, row-major flat (n² numbers) or a list of n rows; must be symmetric. */
  A: ArrayLike<number> | readonly (readonly number[])[];
  b: ArrayLike<number>;
  /** Default 'quadratic'. */
  name?: string;
}

function flatMatrix(A: QuadraticInit['A'], n: number, name: string): Float64Array {
  const rows = Array.isArray(A) && Array.isArray(A[0]);
  const flat = rows ? (A as number[][]).flat() : Array.from(A as ArrayLike<number>);
  if (rows && (A as number[][]).some((row) => row.length !== n)) throw new RangeError(`${name}: A must have ${n} rows of ${n} numbers (b has ${n})`);
  if (flat.length !== n * n) throw new RangeError(`${name}: A has ${flat.length} numbers; with b of length ${n} it must be ${n}×${n} = ${n * n}`);
  flat.forEach((v, k) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${name}: A[${Math.floor(k / n)}][${k % n}] must be a finite number, got ${JSON.stringify(v)}`);
  });
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < i; j++) {
      if (flat[i * n + j] !== flat[j * n + i]) {
        throw new RangeError(`${name}: A must be symmetric (½xᵀAx has gradient Ax only then): A[${i}][${j}] = ${flat[i * n + j]} but A[${j}][${i}] = ${flat[j * n + i]}`);
      }
    }
  }
  return Float64Array.from(flat);
}

/** Solves A x = b by Cholesky in float64; null when A is not positive definite. */
export function choleskySolve(A: Float64Array, b: ArrayLike<number>, n: number): Float64Array | null {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * n + j]!;
      for (let k = 0; k < j; k++) s -= L[i * n + k]! * L[j * n + k]!;
      if (i === j) {
        if (!(s > 0)) return null;
        L[i * n + i] = Math.sqrt(s);
      } else L[i * n + j] = s / L[j * n + j]!;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i]!;
    for (let k = 0; k < i; k++) s -= L[i * n + k]! * y[k]!;
    y[i] = s / L[i * n + i]!;
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i]!;
    for (let k = i + 1; k < n; k++) s -= L[k * n + i]! * x[k]!;
    x[i] = s / L[i * n + i]!;
  }
  return x;
}

export interface QuadraticProblem extends Problem {
  /** A, row-major, as given (float64). */
  readonly A: Float64Array;
  readonly b: Float64Array;
}

export function quadraticProblem(init: QuadraticInit): QuadraticProblem {
  const name = init.name ?? 'quadratic';
  const bArr = Array.from(init.b ?? []);
  const n = bArr.length;
  if (n < 1) throw new RangeError(`${name}: b must hold at least one number (its length is the dimension)`);
  bArr.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`${name}: b[${i}] must be a finite number, got ${JSON.stringify(v)}`);
  });
  const A = flatMatrix(init.A, n, name);
  const b = Float64Array.from(bArr);
  const xstar = choleskySolve(A, b, n);
  const known: KnownPoint[] = [];
  if (xstar) {
    let f = 0;
    for (let i = 0; i < n; i++) f -= 0.5 * b[i]! * xstar[i]!;
    known.push({ x: Array.from(xstar), f, kind: 'global minimum' });
  }
  const problem: QuadraticProblem = {
    name,
    dim: n,
    A,
    b,
    formula: `f(x) = ½·xᵀAx − bᵀx (n = ${n})`,
    starts: [new Array(n).fill(0)],
    known,
    evaluate(x: ArrayLike<number>, g?: FloatArray | null, dtype: Dtype = 'float64'): number {
      const r = rounder(dtype);
      const xs = pointOf(problem, x, dtype);
      if (g) checkLength(problem, g, 'g');
      let f = 0;
      for (let i = 0; i < n; i++) {
        let v = 0;
        for (let j = 0; j < n; j++) v = r(v + r(r(A[i * n + j]!) * xs[j]!));
        const bi = r(b[i]!);
        if (g) g[i] = r(v - bi);
        f = r(f + r(xs[i]! * r(r(0.5 * v) - bi)));
      }
      return f;
    },
    hvp(_x: ArrayLike<number>, v: ArrayLike<number>, out: FloatArray, dtype: Dtype = 'float64'): void {
      const r = rounder(dtype);
      checkLength(problem, v, 'v');
      checkLength(problem, out, 'out');
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < n; j++) s = r(s + r(r(A[i * n + j]!) * r(v[j]!)));
        out[i] = s;
      }
    },
    hessian: () => Float64Array.from(A),
    gpu(engine: Engine): GpuObjective {
      const aBuf = engine.storage(`${name}.A`, Float32Array.from(A));
      const bBuf = engine.storage(`${name}.b`, Float32Array.from(b));
      const groups = Math.ceil(n / WG);
      const params = async (k: Awaited<ReturnType<Engine['kernel']>>) => {
        const u = k.uniforms('qp').set({ n });
        u.write();
        return u;
      };
      return {
        n,
        async valueGrad({ x, g, f }): Promise<GpuPlan> {
          const k = await engine.kernel(quadraticValueGradKernel, { WG });
          const u = await params(k);
          const terms = engine.storage(`${name}.terms`, 4 * n);
          const group = k.bind({ qp: u.buffer, a: aBuf, b: bBuf, x, g, terms });
          const sum = await VectorSumOp.plan(engine, { x: terms, n, out: f, label: `${name}.f` });
          return {
            encode(encoder) {
              const pass = encoder.beginComputePass({ label: `${name}.value_grad` });
              k.dispatch1d(pass, group, groups);
              sum.encode(pass);
              pass.end();
            },
            destroy() {
              u.destroy();
              terms.destroy();
              sum.destroy();
            },
          };
        },
        async hvp({ v, out }): Promise<GpuPlan> {
          const k = await engine.kernel(quadraticHvpKernel, { WG });
          const u = await params(k);
          const group = k.bind({ qp: u.buffer, a: aBuf, v, hv: out });
          return {
            encode(encoder) {
              const pass = encoder.beginComputePass({ label: `${name}.hvp` });
              k.dispatch1d(pass, group, groups);
              pass.end();
            },
            destroy: () => u.destroy(),
          };
        },
        destroy() {
          aBuf.destroy();
          bBuf.destroy();
        },
      };
    },
  };
  return problem;
}

/**
 * A symmetric positive-definite quadratic with eigenvalues log-spaced from 1 to `condition`, A = Q·diag(λ)·Qᵀ with
 * a seeded random orthogonal Q (product of n Householder reflections), and b with standard normal entries
 * (wgtrain's `Random`, stream 0).
 * `float32Entries` (default true) rounds A and b to float32 values (A stays exactly symmetric), so float32 and
 * float64 runs see the same problem.
 */
export function conditionedQuadratic(o: { dim: number; condition: number; seed: number; float32Entries?: boolean; name?: string }): QuadraticProblem {
  const { dim: n, condition, seed } = o;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`dim must be a positive integer, got ${n}`);
  if (!(condition >= 1 && Number.isFinite(condition))) throw new RangeError(`condition must be a finite number >= 1, got ${condition}`);
  const rng = new Random(seed);
  const normal = () => rng.normal();
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let k = 0; k < n; k++) {
    const v = Array.from({ length: n }, normal);
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) v[i]! /= norm;
    // Q ← Q·(I − 2vvᵀ)
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Q[i * n + j]! * v[j]!;
      for (let j = 0; j < n; j++) Q[i * n + j]! -= 2 * s * v[j]!;
    }
  }
  const lambda = Array.from({ length: n }, (_, i) => (n === 1 ? 1 : condition ** (i / (n - 1))));
  const round = o.float32Entries === false ? (v: number) => v : Math.fround;
  const A = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += Q[i * n + k]! * lambda[k]! * Q[j * n + k]!;
      A[i * n + j] = A[j * n + i] = round(s);
    }
  }
  const b = Array.from({ length: n }, () => round(normal()));
  return quadraticProblem({ A, b, name: o.name ?? 'quadratic' });
}
