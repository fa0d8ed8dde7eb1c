/**
 * The problems library: CPU values against torch (the same operation order, scripts/torch_traces.py), gradients and
 * Hessians against finite differences, least-squares residuals and Jacobian products against the value and gradient,
 * the GPU objectives against the CPU reference on NaN-poisoned outputs, and clear errors for bad input.
 *
 * GPU tolerances come from magnitudes: an expression in which no term passes through more than k roundings is within
 * γ_k·M of its exact value (src/testing/sums.ts sumBound), M the sum of the absolute values of its terms (below,
 * computed in float64 per output), whatever order or fused multiply-adds a compiler picks; sums of many terms add
 * their length to k (and the f sums on the GPU the two-pass tree's depth).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuMachine } from '../src/linalg/gpu-machine.js';
import {
  beale, bowl, conditionedQuadratic, cpuObjective, curveExampleData, linearExampleData, linearRegression, logisticExampleData,
  logisticRegression, problemFromSpec, quadraticProblem, quartic, rosenbrock2d, saddle, tanhNetwork, TEST_FUNCTIONS, type Problem,
} from '../src/problems/index.js';
import { sumBound } from '../src/testing/sums.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo } from './helpers/random.js';

const FIXTURE = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'torch_functions', 'function_values.json'), 'utf8')) as {
  functions: { name: string; points: number[][]; float32: { f: number[]; g: number[][] }; float64: { f: number[]; g: number[][] } }[];
};

describe('closed-form functions match torch evaluated in the same operation order', () => {
  for (const fx of FIXTURE.functions) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${fx.name} ${dtype}: bit for bit`, () => {
        const p = TEST_FUNCTIONS[fx.name]!;
        const r = dtype === 'float32' ? Math.fround : (v: number) => v;
        const Arr = dtype === 'float32' ? Float32Array : Float64Array;
        fx.points.forEach((pt, k) => {
          const g = new Arr(p.dim);
          const f = p.evaluate(pt, g, dtype);
          expect(f, `${fx.name} f at ${pt}`).toBe(r(fx[dtype].f[k]!));
          expect(Array.from(g), `${fx.name} g at ${pt}`).toEqual(fx[dtype].g[k]!.map(r));
        });
      });
    }
  }
});

/** Central differences of f (gradient) or of the gradient (Hessian columns), in float64. */
function fdGradient(p: Problem, x: number[], h = 1e-6): number[] {
  return x.map((_, i) => {
    const a = x.slice(), b = x.slice();
    a[i]! += h;
    b[i]! -= h;
    return (p.evaluate(a) - p.evaluate(b)) / (2 * h);
  });
}

function gradAt(p: Problem, x: number[]): Float64Array {
  const g = new Float64Array(p.dim);
  p.evaluate(x, g);
  return g;
}

const SMALL = () => [
  bowl, quartic, rosenbrock2d, beale, saddle,
  conditionedQuadratic({ dim: 7, condition: 100, seed: 1 }),
  linearRegression(linearExampleData({ m: 33, seed: 2 })),
  logisticRegression(logisticExampleData({ m: 33, seed: 3 })),
  tanhNetwork(curveExampleData({ m: 17, seed: 4 }), { hidden: 3, seed: 5 }),
];

describe(`problems on the CPU (${seedInfo()})`, () => {
  it('gradients and Hessian-vector products agree with central differences (float64)', () => {
    const rand = rng();
    for (const p of SMALL()) {
      for (let trial = 0; trial < 3; trial++) {
        const x = (p.starts[0] ?? []).map((s) => s + (rand() - 0.5));
        const g = gradAt(p, x);
        const fd = fdGradient(p, x);
        const scale = Math.max(1, ...fd.map(Math.abs));
        fd.forEach((v, i) => expect(Math.abs(g[i]! - v), `${p.name} g[${i}] at ${x}`).toBeLessThan(2e-6 * scale));
        if (p.hvp) {
          const v = x.map(() => rand() - 0.5);
          const hv = new Float64Array(p.dim);
          p.hvp(x, v, hv);
          const h = 1e-6;
          const ga = gradAt(p, x.map((xi, i) => xi + h * v[i]!));
          const gb = gradAt(p, x.map((xi, i) => xi - h * v[i]!));
          const hs = Math.max(1, ...hv.map(Math.abs));
          hv.forEach((hvi, i) => expect(Math.abs(hvi - (ga[i]! - gb[i]!) / (2 * h)), `${p.name} Hv[${i}]`).toBeLessThan(2e-5 * hs));
        }
        if (p.hessian && p.dim <= 2) {
          const H = p.hessian(x);
          const v = x.map(() => rand() - 0.5);
          const hv = new Float64Array(p.dim);
          p.hvp!(x, v, hv);
          for (let i = 0; i < p.dim; i++) {
            let s = 0;
            for (let j = 0; j < p.dim; j++) s += H[i * p.dim + j]! * v[j]!;
            expect(Math.abs(s - hv[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(s)));
          }
        }
      }
    }
  });

  it('known minima: zero gradient and the stated value; the quartic has its local minimum near −3.25 and the global near 3.27', () => {
    for (const p of [bowl, quartic, rosenbrock2d, beale, quadraticProblem({ A: [[4, 1], [1, 3]], b: [1, 2] })]) {
      for (const k of p.known.filter((k) => k.kind !== 'saddle point')) {
        const g = gradAt(p, [...k.x]);
        expect(Math.max(...g.map(Math.abs)), `${p.name} ∇f at ${k.x}`).toBeLessThan(1e-9);
        expect(Math.abs(p.evaluate(k.x) - k.f)).toBeLessThan(1e-12);
      }
    }
    expect(quartic.known.map((k) => [k.kind, Math.round(k.x[0]! * 100) / 100])).toEqual([['global minimum', 3.27], ['local minimum', -3.25]]);
    expect(quartic.evaluate(quartic.known[0]!.x)).toBeLessThan(quartic.evaluate(quartic.known[1]!.x));
  });

  it('least squares: ½‖r‖² = f, Jᵀr = ∇f, J·v matches differences of r, and uᵀ(J·v) = (Jᵀu)ᵀv', () => {
    const rand = rng();
    for (const p of [linearRegression(linearExampleData({ m: 33, seed: 2 })), tanhNetwork(curveExampleData({ m: 17, seed: 4 }), { hidden: 3, seed: 5 })]) {
      const ls = p.leastSquares!;
      const x = p.starts[0]!.map((s) => s + rand() - 0.5);
      const r = new Float64Array(ls.m);
      ls.residuals(x, r);
      const half = 0.5 * r.reduce((s, v) => s + v * v, 0);
      expect(Math.abs(half - p.evaluate(x))).toBeLessThan(1e-12 * Math.max(1, half));
      const jtr = new Float64Array(p.dim);
      ls.vjp(x, r, jtr);
      const g = gradAt(p, x);
      g.forEach((gi, i) => expect(Math.abs(gi - jtr[i]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(gi))));
      const v = x.map(() => rand() - 0.5);
      const u = Array.from({ length: ls.m }, () => rand() - 0.5);
      const jv = new Float64Array(ls.m);
      ls.jvp(x, v, jv);
      const h = 1e-6;
      const ra = new Float64Array(ls.m), rb = new Float64Array(ls.m);
      ls.residuals(x.map((xi, i) => xi + h * v[i]!), ra);
      ls.residuals(x.map((xi, i) => xi - h * v[i]!), rb);
      jv.forEach((jvi, i) => expect(Math.abs(jvi - (ra[i]! - rb[i]!) / (2 * h))).toBeLessThan(1e-6));
      const jtu = new Float64Array(p.dim);
      ls.vjp(x, u, jtu);
      const lhs = u.reduce((s, ui, i) => s + ui * jv[i]!, 0);
      const rhs = Array.from(jtu).reduce((s, w, i) => s + w * v[i]!, 0);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-12 * Math.max(1, Math.abs(lhs)));
    }
  });

  it('bad input: wrong dimension, unknown names, non-symmetric A, wrong fields — each named', () => {
    expect(() => rosenbrock2d.evaluate([1, 2, 3])).toThrow('rosenbrock2d is 2-dimensional: x has 3 numbers, expected 2');
    expect(() => rosenbrock2d.evaluate([1, 2], new Float64Array(3))).toThrow('g has 3 numbers, expected 2');
    expect(() => problemFromSpec({ name: 'rosenbrock3d' })).toThrow(/unknown problem "rosenbrock3d"; expected one of bowl, quartic, rosenbrock2d/);
    expect(() => problemFromSpec({ name: 'rosenbrock2d', dim: 3 })).toThrow('problem.dim: rosenbrock2d is 2-dimensional, but dim is 3');
    expect(() => problemFromSpec({ name: 'quadratic', A: [[1, 2], [3, 4]], b: [1, 1] })).toThrow(/A must be symmetric .*A\[1\]\[0\] = 3 but A\[0\]\[1\] = 2/);
    expect(() => problemFromSpec({ name: 'quadratic', A: [1, 0, 0, 1], b: [1, 1, 1] })).toThrow(/A has 4 numbers; with b of length 3 it must be 3×3/);
    expect(() => problemFromSpec({ name: 'bowl', A: [1] })).toThrow('problem.A: bowl takes no "A"');
    expect(problemFromSpec({ name: 'quadratic', dim: 10 }).dim).toBe(10);
    expect(problemFromSpec('rosenbrock').name).toBe('rosenbrock2d');
  });
});

interface Magnitudes {
  f: number;
  g: number[];
  hv: number[];
  r: number[];
  jv: number[];
  jtu: (u: number[]) => number[];
}

/**
 * Σ|terms| scales of every output of the regression problems at θ = x (direction v): each output's rounding error is
 * at most k ulps of its scale. E_i bounds |e_i| and the scale of its computation; the tanh network's hidden units are
 * bounded by 1 and their derivative by 1, with the pre-activation's scale A_ij.
 */
function regressionMagnitudes(kind: 'linear' | 'logistic' | 'tanh', data: { X: Float32Array; y: Float32Array; m: number; d: number }, x: number[], v: number[]): Magnitudes {
  const { X, y, m, d } = data;
  const a = Math.abs;
  const c = 1 / m, s = 1 / Math.sqrt(m);
  const zabs = (p: number[], i: number) => X.subarray(i * d, i * d + d).reduce((acc, xk, k) => acc + a(xk * p[k]!), 0) + a(p[d]!);
  const rowsum = (f: (i: number) => number) => Array.from({ length: m }, (_, i) => f(i)).reduce((acc, t) => acc + t, 0);
  if (kind !== 'tanh') {
    const Z = Array.from({ length: m }, (_, i) => zabs(x, i));
    const Zv = Array.from({ length: m }, (_, i) => zabs(v, i));
    const E = kind === 'linear' ? Z.map((z, i) => z + a(y[i]!)) : Z.map((z) => 1 + z);
    const cols = (w: number[], scale: number) => [
      ...Array.from({ length: d }, (_, k) => scale * rowsum((i) => w[i]! * a(X[i * d + k]!))),
      scale * rowsum((i) => w[i]!),
    ];
    return {
      f: kind === 'linear' ? 0.5 * c * rowsum((i) => E[i]! * E[i]!) : c * rowsum((i) => 2 * Z[i]! + 1),
      g: cols(E, c),
      hv: cols(kind === 'linear' ? Zv : Zv.map((zv, i) => zv * (1 + Z[i]!)), c),
      r: E.map((e) => s * e),
      jv: Zv.map((zv) => s * zv),
      jtu: (u) => cols(u.map(a), s),
    };
  }
  const H = (x.length - 1) / (d + 2);
  const W2 = H * d + H;
  const A = (p: number[], i: number, j: number) => X.subarray(i * d, i * d + d).reduce((acc, xk, k) => acc + a(p[j * d + k]! * xk), 0) + a(p[H * d + j]!);
  const E = Array.from({ length: m }, (_, i) => {
    let t = a(x[W2 + H]!) + a(y[i]!);
    for (let j = 0; j < H; j++) t += a(x[W2 + j]!) * (1 + A(x, i, j));
    return t;
  });
  const colsT = (w: number[], scale: number) => {
    const out: number[] = [];
    for (let q = 0; q < x.length; q++) {
      let term: (i: number) => number;
      if (q === W2 + H) term = (i) => w[i]!;
      else if (q >= W2) term = (i) => w[i]! * (1 + A(x, i, q - W2));
      else if (q >= H * d) term = (i) => w[i]! * a(x[W2 + q - H * d]!) * (1 + A(x, i, q - H * d));
      else {
        const j = Math.floor(q / d), k = q % d;
        term = (i) => w[i]! * a(x[W2 + j]!) * (1 + A(x, i, j)) * a(X[i * d + k]!);
      }
      out.push(scale * rowsum(term));
    }
    return out;
  };
  const jv = Array.from({ length: m }, (_, i) => {
    let t = a(v[W2 + H]!);
    for (let j = 0; j < H; j++) t += a(v[W2 + j]!) + a(x[W2 + j]!) * (1 + A(x, i, j)) * A(v, i, j);
    return s * t;
  });
  return { f: 0.5 * c * rowsum((i) => E[i]! * E[i]!), g: colsT(E, c), hv: [], r: E.map((e) => s * e), jv, jtu: (u) => colsT(u.map(a), s) };
}

// ---- GPU vs CPU --------------------------------------------------------------------------------------------------

/** Magnitudes (Σ|terms|) of f and each gradient component of the closed-form functions, for GPU tolerances. */
function closedFormMagnitudes(name: string, x: number[]): { f: number; g: number[]; hv: (v: number[]) => number[] } {
  const a = Math.abs;
  const [p, q] = [a(x[0]!), a(x[1] ?? 0)];
  switch (name) {
    case 'bowl':
      return { f: p * p + p * q + q * q, g: [2 * p + q, p + 2 * q], hv: (v) => [2 * a(v[0]!) + a(v[1]!), a(v[0]!) + 2 * a(v[1]!)] };
    case 'saddle':
      return { f: p * p + q * q, g: [2 * p, 2 * q], hv: (v) => [2 * a(v[0]!), 2 * a(v[1]!)] };
    case 'quartic': {
      const poly = (c: number[]) => c.reduce((s, ck) => s * p + a(ck), 0);
      return {
        f: poly([319 / 8400, 43 / 4200, 6799 / 8400, 299 / 840, 6]),
        g: [poly([319 / 2100, 43 / 1400, 6799 / 4200, 299 / 840])],
        hv: (v) => [poly([319 / 700, 43 / 700, 6799 / 4200]) * a(v[0]!)],
      };
    }
    case 'rosenbrock2d': {
      const A = 1 + p, R = q + p * p;
      const h = [1200 * p * p + 400 * q + 2, 400 * p, 200];
      return { f: A * A + 100 * R * R, g: [2 * A + 400 * p * R, 200 * R], hv: (v) => [h[0]! * a(v[0]!) + h[1]! * a(v[1]!), h[1]! * a(v[0]!) + h[2]! * a(v[1]!)] };
    }
    case 'beale': {
      const T = [1.5 + p + p * q, 2.25 + p + p * q * q, 2.625 + p + p * q ** 3];
      const Uu = [q + 1, q * q + 1, q ** 3 + 1];
      const W = [p, 2 * p * q, 3 * p * q * q];
      const dot = (s: number[], t: number[]) => s.reduce((acc, si, i) => acc + si * t[i]!, 0);
      const hxx = 2 * dot(Uu, Uu), hxy = 2 * (dot(W, Uu) + dot(T, [1, 2 * q, 3 * q * q])), hyy = 2 * (dot(W, W) + dot(T, [0, 2 * p, 6 * p * q]));
      return { f: dot(T, T), g: [2 * dot(T, Uu), 2 * dot(T, W)], hv: (v) => [hxx * a(v[0]!) + hxy * a(v[1]!), hxy * a(v[0]!) + hyy * a(v[1]!)] };
    }
  }
  throw new Error(name);
}

describe(`problems on the GPU vs the CPU reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  /** Runs the GPU objective of `p` at x (and H·v when it has one) on poisoned outputs. */
  async function onGpu(p: Problem, x: number[], v?: number[]) {
    const e = await gpu();
    const obj = p.gpu(e);
    const m = await GpuMachine.create(e, obj, { x0: Float32Array.from(x) });
    try {
      const g = m.vector('g_test');
      await m.writeVector(g, new Float32Array(p.dim).fill(NaN));
      const f = m.scalars(1);
      await m.evaluate(g, f);
      const [fv] = await m.read([f]);
      const gv = await m.readVector(g);
      let hv: Float64Array | undefined;
      if (v && m.hasHvp) {
        const vv = m.vector('v_test'), out = m.vector('hv_test');
        await m.writeVector(vv, v);
        await m.writeVector(out, new Float32Array(p.dim).fill(NaN));
        await m.hvp(vv, out);
        hv = await m.readVector(out);
      }
      return { f: fv!, g: gv, hv };
    } finally {
      m.destroy();
      obj.destroy?.();
    }
  }

  it('closed-form functions: f, ∇f and H·v within γ_16 of their magnitudes', async () => {
    const rand = rng();
    for (const p of [bowl, quartic, rosenbrock2d, beale, saddle]) {
      for (let t = 0; t < 4; t++) {
        const x = Array.from({ length: p.dim }, () => Math.fround(8 * rand() - 4));
        const v = Array.from({ length: p.dim }, () => Math.fround(2 * rand() - 1));
        const got = await onGpu(p, x, v);
        const ref = new Float64Array(p.dim);
        const f = p.evaluate(x, ref);
        const href = new Float64Array(p.dim);
        p.hvp!(x, v, href);
        const M = closedFormMagnitudes(p.name, x);
        const bad: string[] = [];
        if (!(Math.abs(got.f - f) <= sumBound(16, M.f))) bad.push(`f gpu ${got.f} ref ${f}`);
        ref.forEach((gi, i) => {
          if (!(Math.abs(got.g[i]! - gi) <= sumBound(16, M.g[i]!))) bad.push(`g[${i}] gpu ${got.g[i]} ref ${gi}`);
        });
        const Mh = M.hv(v);
        href.forEach((hi, i) => {
          if (!(Math.abs(got.hv![i]! - hi) <= sumBound(16, Mh[i]!))) bad.push(`Hv[${i}] gpu ${got.hv![i]} ref ${hi}`);
        });
        expect(bad, `${p.name} at ${x}`).toEqual([]);
      }
    }
  });

  it('n-D quadratic at awkward n: g and H·v per row within γ_(n+2)·Σ_j|A_ij·x_j|, f within the sum bound', async () => {
    const rand = rng();
    for (const n of [1, 7, 33, 130]) {
      const p = conditionedQuadratic({ dim: n, condition: 1e3, seed: Math.floor(rand() * 1e6) });
      const x = Array.from({ length: n }, () => Math.fround(2 * rand() - 1));
      const v = Array.from({ length: n }, () => Math.fround(2 * rand() - 1));
      const got = await onGpu(p, x, v);
      const ref = new Float64Array(n);
      const f = p.evaluate(x, ref);
      const hv = new Float64Array(n);
      p.hvp!(x, v, hv);
      let fMag = 0;
      const bad: string[] = [];
      for (let i = 0; i < n; i++) {
        let gm = Math.abs(p.b[i]!), hm = 0;
        for (let j = 0; j < n; j++) {
          gm += Math.abs(p.A[i * n + j]! * x[j]!);
          hm += Math.abs(p.A[i * n + j]! * v[j]!);
        }
        fMag += Math.abs(x[i]!) * (0.5 * gm + Math.abs(p.b[i]!));
        if (!(Math.abs(got.g[i]! - ref[i]!) <= sumBound(n + 2, gm))) bad.push(`g[${i}] gpu ${got.g[i]} ref ${ref[i]}`);
        if (!(Math.abs(got.hv![i]! - hv[i]!) <= sumBound(n + 2, hm))) bad.push(`Hv[${i}] gpu ${got.hv![i]} ref ${hv[i]}`);
      }
      if (!(Math.abs(got.f - f) <= sumBound(2 * n + 16, fMag))) bad.push(`f gpu ${got.f} ref ${f}`);
      expect(bad, `n=${n}`).toEqual([]);
    }
  });

  it('regression problems at awkward m: value, gradient, H·v and least-squares products', async () => {
    const rand = rng();
    for (const m of [1, 33, 130]) {
      const seed = Math.floor(rand() * 1e6);
      const sets = [
        { kind: 'linear', data: linearExampleData({ m, seed }) },
        { kind: 'logistic', data: logisticExampleData({ m, seed }) },
        { kind: 'tanh', data: curveExampleData({ m, seed }) },
      ] as const;
      for (const { kind, data } of sets) {
        const p = kind === 'linear' ? linearRegression(data) : kind === 'logistic' ? logisticRegression(data) : tanhNetwork(data, { hidden: 3, seed });
        const x = p.starts[0]!.map((s) => Math.fround(s + rand() - 0.5));
        const v = x.map(() => Math.fround(rand() - 0.5));
        const got = await onGpu(p, x, v);
        const ref = new Float64Array(p.dim);
        const f = p.evaluate(x, ref);
        const M = regressionMagnitudes(kind, data, x, v);
        // k roundings per term: the d (or d·H) products of a row, the m additions, the activations' few ulps.
        const k = data.d * 3 + m + 32;
        const bad: string[] = [];
        if (!(Math.abs(got.f - f) <= sumBound(k, M.f))) bad.push(`f gpu ${got.f} ref ${f} tol ${sumBound(k, M.f)}`);
        ref.forEach((gi, i) => {
          if (!(Math.abs(got.g[i]! - gi) <= sumBound(k, M.g[i]!))) bad.push(`g[${i}] gpu ${got.g[i]} ref ${gi} tol ${sumBound(k, M.g[i]!)}`);
        });
        if (got.hv) {
          const hv = new Float64Array(p.dim);
          p.hvp!(x, v, hv);
          hv.forEach((hi, i) => {
            if (!(Math.abs(got.hv![i]! - hi) <= sumBound(k, M.hv[i]!))) bad.push(`Hv[${i}] gpu ${got.hv![i]} ref ${hi}`);
          });
        }
        expect(bad, `${p.name} m=${m}`).toEqual([]);
        if (p.leastSquares) await checkLeastSquaresGpu(p, x, v, M, k);
      }
    }
  });

  async function checkLeastSquaresGpu(p: Problem, x: number[], v: number[], M: Magnitudes, k: number) {
    const e = await gpu();
    const ls = p.leastSquares!;
    const obj = p.gpu(e);
    const m = await GpuMachine.create(e, obj, { x0: Float32Array.from(x) });
    try {
      const r = m.vector('r_test', ls.m), jv = m.vector('jv_test', ls.m), jtu = m.vector('jtu_test');
      const vv = m.vector('v_test'), u = m.vector('u_test', ls.m);
      const us = Array.from({ length: ls.m }, (_, i) => Math.fround(Math.sin(i + 1)));
      await m.writeVector(vv, v);
      await m.writeVector(u, us);
      for (const [vec, len] of [[r, ls.m], [jv, ls.m], [jtu, p.dim]] as const) await m.writeVector(vec, new Float32Array(len).fill(NaN));
      await m.residuals(r);
      await m.jvp(vv, jv);
      await m.vjp(u, jtu);
      const [rg, jvg, jtug] = [await m.readVector(r), await m.readVector(jv), await m.readVector(jtu)];
      const rr = new Float64Array(ls.m), jvr = new Float64Array(ls.m), jtur = new Float64Array(p.dim);
      ls.residuals(x, rr);
      ls.jvp(x, v, jvr);
      ls.vjp(x, us, jtur);
      const bad: string[] = [];
      const tols = { r: M.r, Jv: M.jv, 'Jᵀu': M.jtu(us) };
      for (const [name, got, ref] of [['r', rg, rr], ['Jv', jvg, jvr], ['Jᵀu', jtug, jtur]] as const) {
        ref.forEach((want, i) => {
          if (!(Math.abs(got[i]! - want) <= sumBound(k, tols[name][i]!))) bad.push(`${name}[${i}] gpu ${got[i]} ref ${want}`);
        });
      }
      expect(bad, `${p.name} least squares`).toEqual([]);
    } finally {
      m.destroy();
      obj.destroy?.();
    }
  }

  it('a GPU objective of the wrong size is refused', async () => {
    const e = await gpu();
    await expect(GpuMachine.create(e, rosenbrock2d.gpu(e), { x0: [1, 2, 3] })).rejects.toThrow('x0 has 3 numbers but the objective has n = 2');
    expect(cpuObjective(rosenbrock2d, 'float32').n).toBe(2);
  });
});
