/**
 * The minimizers of src/minimize/ on the problems library: linear CG solves SPD systems to tolerance (CPU and GPU),
 * every method converges on the bowl and on Rosenbrock from the standard starts (CPU float64 and float32, and the
 * GPU), Levenberg-Marquardt and Gauss-Newton fit the regression problems, the course's quartic experiment (plain
 * gradient descent stays in the local minimum, momentum 0.9 crosses to the global one), and every kind of bad input
 * or failure ends with a message that names it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CpuMachine } from '../src/linalg/cpu-machine.js';
import { GpuMachine } from '../src/linalg/gpu-machine.js';
import type { VectorMachine } from '../src/linalg/machine.js';
import { CgSolver } from '../src/minimize/cg-solve.js';
import { DescentDirectionError } from '../src/minimize/errors.js';
import { strongWolfe } from '../src/minimize/line-search.js';
import { METHODS } from '../src/minimize/methods.js';
import { minimize } from '../src/minimize/minimize.js';
import {
  beale, bowl, choleskySolve, conditionedQuadratic, cpuObjective, curveExampleData, linearExampleData, linearRegression, quartic,
  rosenbrock2d, saddle, tanhNetwork, type Problem,
} from '../src/problems/index.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo } from './helpers/random.js';

const SECOND_ORDER: [string, Record<string, unknown>][] = [
  ['LBFGS', { line_search_fn: 'strong_wolfe' }],
  ['NonlinearCG', { variant: 'PR+' }],
  ['NonlinearCG', { variant: 'FR' }],
  ['Newton', {}],
  ['Newton', { hessian: 'fd' }],
];

function distanceToMinimum(p: Problem, x: number[]): number {
  return Math.min(...p.known.filter((k) => k.kind !== 'saddle point').map((k) => Math.max(...k.x.map((v, i) => Math.abs(v - x[i]!)))));
}

afterAll(async () => (await gpu()).destroy());

describe(`linear CG solves SPD systems (${seedInfo()})`, () => {
  async function solveOn(m: VectorMachine, n: number, A: Float64Array, b: number[], rtol: number) {
    const bv = m.vector('b_test'), xv = m.vector('x_test');
    await m.writeVector(bv, b);
    await m.writeVector(xv, new Array(n).fill(NaN)); // CG must start from zero, not from what x held
    const cg = new CgSolver(m);
    const res = await cg.solve((v, out) => m.hvp(v, out), bv, xv, { maxIter: 4 * n, rtol });
    const x = await m.readVector(xv);
    // The true residual in float64, independent of CG's recurrence.
    let rr = 0, bb = 0;
    for (let i = 0; i < n; i++) {
      let s = -b[i]!;
      for (let j = 0; j < n; j++) s += A[i * n + j]! * x[j]!;
      rr += s * s;
      bb += b[i]! * b[i]!;
    }
    return { res, rel: Math.sqrt(rr / bb), x };
  }

  it('CPU float64 and float32 at awkward n, κ = 100: ‖Ax − b‖ ≤ rtol·‖b‖ (true residual), x = A⁻¹b', async () => {
    const rand = rng();
    for (const n of [1, 7, 33, 130]) {
      const p = conditionedQuadratic({ dim: n, condition: 100, seed: Math.floor(rand() * 1e6) });
      const b = Array.from({ length: n }, () => Math.fround(rand() - 0.5));
      for (const [dtype, rtol, slack] of [['float64', 1e-10, 1.01], ['float32', 1e-4, 3]] as const) {
        const m = new CpuMachine(cpuObjective(p, dtype), dtype);
        const { res, rel, x } = await solveOn(m, n, p.A, b, rtol);
        expect(res.status, `n=${n} ${dtype}`).toBe('converged');
        expect(rel, `n=${n} ${dtype} true residual`).toBeLessThanOrEqual(slack * rtol);
        expect(res.iterations).toBeLessThanOrEqual(4 * n);
        if (dtype === 'float64') {
          const exact = choleskySolve(p.A, b, n)!;
          x.forEach((v, i) => expect(Math.abs(v - exact[i]!)).toBeLessThan(1e-8 * (1 + Math.abs(exact[i]!))));
        }
      }
    }
  });

  it('GPU at awkward n: the true residual within 1e-4 relative (float32, κ = 100), one readback per iteration', async () => {
    const e = await gpu();
    const rand = rng();
    for (const n of [7, 33, 130]) {
      const p = conditionedQuadratic({ dim: n, condition: 100, seed: Math.floor(rand() * 1e6) });
      const b = Array.from({ length: n }, () => Math.fround(rand() - 0.5));
      const obj = p.gpu(e);
      const m = await GpuMachine.create(e, obj);
      try {
        const before = m.readbacks;
        const { res, rel } = await solveOn(m, n, p.A, b, 1e-4);
        expect(res.status).toBe('converged');
        expect(rel).toBeLessThanOrEqual(3e-4);
        expect(m.readbacks - before).toBe(res.iterations);
      } finally {
        m.destroy();
        obj.destroy?.();
      }
    }
  });

  it('a trust region stops CG on its boundary; negative curvature is reported', async () => {
    const p = conditionedQuadratic({ dim: 10, condition: 10, seed: 3 });
    const m = new CpuMachine(cpuObjective(p, 'float64'), 'float64');
    const b = m.vector('b_test'), x = m.vector('x_test');
    await m.writeVector(b, p.b);
    const res = await new CgSolver(m).solve((v, out) => m.hvp(v, out), b, x, { maxIter: 50, rtol: 1e-12, radius: 0.01 });
    expect(res.status).toBe('boundary');
    expect(Math.hypot(...(await m.readVector(x)))).toBeCloseTo(0.01, 12);
    // A radius inside the solution's norm but past the first iterates: the boundary is met after a few iterations.
    const radius = 0.9 * Math.hypot(...choleskySolve(p.A, p.b, 10)!);
    const late = await new CgSolver(m).solve((v, out) => m.hvp(v, out), b, x, { maxIter: 50, rtol: 1e-12, radius });
    expect(late.status).toBe('boundary');
    expect(late.iterations).toBeGreaterThan(1);
    expect(Math.hypot(...(await m.readVector(x)))).toBeCloseTo(radius, 12);
    const sm = new CpuMachine(cpuObjective(saddle, 'float64'), 'float64');
    const sb = sm.vector('b_test'), sx = sm.vector('x_test');
    await sm.writeVector(sb, [0.1, 1]);
    expect((await new CgSolver(sm).solve((v, out) => sm.hvp(v, out), sb, sx, { maxIter: 5, rtol: 1e-12 })).status).toBe('negative curvature');
  });
});

describe('every method converges on the bowl and on Rosenbrock from the standard starts (CPU)', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    for (const p of [bowl, rosenbrock2d, beale]) {
      it(`${p.name} ${dtype}`, async () => {
        const bad: string[] = [];
        const methods: [string, Record<string, unknown>][] = [...SECOND_ORDER, ['LBFGS', {}]];
        for (const start of p.starts) {
          for (const [method, h] of methods) {
            // L-BFGS without a line search (lr 1) is not globally convergent: from (−1.5, 2.5) it wanders (as torch's does).
            if (method === 'LBFGS' && !h.line_search_fn && p === rosenbrock2d && start[0] === -1.5) continue;
            const r = await minimize(p, { method, hyperparams: h, start, dtype, steps: 3000, tolerance: dtype === 'float64' ? 1e-6 : 1e-3 });
            const dist = distanceToMinimum(p, r.x);
            const tol = dtype === 'float64' ? 1e-4 : 1e-2;
            if (!(dist <= tol)) bad.push(`${method} ${JSON.stringify(h)} from ${start}: ${r.stop}, x = ${r.x}, f = ${r.f}`);
          }
        }
        expect(bad).toEqual([]);
      });
    }
  }

  it('first-order optimizers on the bowl and Rosenbrock (float64)', async () => {
    for (const [method, h, steps] of [['SGD', { lr: 1e-3, momentum: 0.9 }, 6000], ['Adam', { lr: 0.02 }, 8000], ['RMSprop', { lr: 1e-3 }, 20000]] as const) {
      for (const p of [bowl, rosenbrock2d]) {
        const r = await minimize(p, { method, hyperparams: h, start: p.starts[0], steps });
        expect(distanceToMinimum(p, r.x), `${method} on ${p.name}: ${r.stop}`).toBeLessThan(2e-3);
      }
    }
  });
});

describe('every method on the GPU (float32)', () => {
  // Kept small for software adapters (a readback there costs ~5-10 ms): L-BFGS with history 10, Rosenbrock from its
  // standard start only with the methods that need few iterations there.
  it('bowl and Rosenbrock from (−1.2, 1): the second-order methods and SGD with momentum; one readback per evaluation', async () => {
    const engine = await gpu();
    const bad: string[] = [];
    const runs: [Problem, string, Record<string, unknown>][] = [
      ...SECOND_ORDER.map(([m, h]) => [bowl, m, { ...h, ...(m === 'LBFGS' ? { history_size: 10 } : {}) }] as [Problem, string, Record<string, unknown>]),
      [bowl, 'LBFGS', { history_size: 10 }],
      [bowl, 'SGD', { lr: 0.2, momentum: 0.5 }],
      [rosenbrock2d, 'LBFGS', { line_search_fn: 'strong_wolfe', history_size: 10 }],
      [rosenbrock2d, 'NonlinearCG', {}],
      [rosenbrock2d, 'Newton', {}],
      [rosenbrock2d, 'Newton', { hessian: 'fd' }],
    ];
    for (const [p, method, h] of runs) {
      const r = await minimize(p, { method, hyperparams: h, start: p.starts[0], device: 'gpu', engine, steps: 300, tolerance: 1e-3 });
      if (!(distanceToMinimum(p, r.x) <= 1e-2)) bad.push(`${method} ${JSON.stringify(h)} on ${p.name}: ${r.stop}, x = ${r.x}`);
      // Line-search methods read back once per evaluation (plus the final evaluation and the steps' speculative ones).
      if (method === 'LBFGS' || method === 'NonlinearCG') expect(r.readbacks, `${method} readbacks`).toBeLessThanOrEqual(r.evaluations + r.steps + 1);
    }
    expect(bad).toEqual([]);
  });
});

describe('least squares: Levenberg-Marquardt and Gauss-Newton fit the regressions', () => {
  /** The least-squares solution of the linear example by the normal equations (float64). */
  function normalEquations(p: ReturnType<typeof linearExampleData>): number[] {
    const { X, y, m } = p;
    let sx = 0, sxx = 0, sy = 0, sxy = 0;
    for (let i = 0; i < m; i++) (sx += X[i]!), (sxx += X[i]! * X[i]!), (sy += y[i]!), (sxy += X[i]! * y[i]!);
    const w = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    return [w, (sy - w * sx) / m];
  }

  it('the linear-regression example: LM and GN reach the normal-equations solution (CPU float64/float32, GPU)', async () => {
    const data = linearExampleData({ m: 50, seed: 11 });
    const p = linearRegression(data);
    const exact = normalEquations(data);
    expect(exact[0]).toBeCloseTo(2, 0);
    const engine = await gpu();
    for (const method of ['LevenbergMarquardt', 'GaussNewton']) {
      for (const [device, dtype, tol] of [['cpu', 'float64', 1e-8], ['cpu', 'float32', 1e-4], ['gpu', 'float32', 1e-3]] as const) {
        const r = await minimize(p, { method, device, dtype, engine, steps: 100, tolerance: dtype === 'float64' ? 1e-10 : 1e-4 });
        r.x.forEach((v, i) => expect(Math.abs(v - exact[i]!), `${method} ${device} ${dtype}: ${r.stop}`).toBeLessThan(tol * (1 + Math.abs(exact[i]!))));
      }
    }
  });

  it('a small tanh network (1 → 8 → 1) fits a noisy sine with LM (CPU float64; GPU for 15 steps): residual RMS near the noise', async () => {
    const data = curveExampleData({ m: 40, seed: 5, noise: 0.05 });
    const p = tanhNetwork(data, { hidden: 8, seed: 2 });
    const f0 = p.evaluate(p.starts[0]!);
    const engine = await gpu();
    const cpu = await minimize(p, { method: 'LevenbergMarquardt', steps: 300, tolerance: 1e-6, recordPoints: false });
    expect(cpu.f, cpu.stop).toBeLessThan(f0 / 100);
    expect(Math.sqrt(2 * cpu.f), 'RMS of the fit').toBeLessThan(0.1);
    // The GPU run is kept short for software adapters (each CG iteration is a readback): f falls by 10× in 15 steps.
    const gpuRun = await minimize(p, { method: 'LevenbergMarquardt', device: 'gpu', engine, steps: 15, tolerance: 1e-6, recordPoints: false });
    expect(gpuRun.f, gpuRun.stop).toBeLessThan(f0 / 10);
  });

  it('LM needs a least-squares problem; GN without damping reports a stall instead of looping', async () => {
    await expect(minimize(rosenbrock2d, { method: 'LevenbergMarquardt' })).rejects.toThrow('LevenbergMarquardt needs a least-squares problem');
    await expect(minimize(tanhNetwork(curveExampleData()), { method: 'LevenbergMarquardt', hyperparams: { lambda: -1 } })).rejects.toThrow('hyperparams.lambda must be a number > 0');
  });
});

describe(`the course's quartic experiment (${seedInfo()})`, () => {
  it('plain gradient descent from x₀ = −5 stays in the local minimum near −3.25; momentum 0.9 crosses to the global one near 3.27', async () => {
    const rand = rng();
    const starts = [-5, ...Array.from({ length: 4 }, () => -5 + 0.4 * (rand() - 0.5))];
    for (const x0 of starts) {
      for (const dtype of ['float64', 'float32'] as const) {
        const gd = await minimize(quartic, { method: 'SGD', hyperparams: { lr: 0.15 }, start: [x0], dtype, steps: 2000 });
        const mom = await minimize(quartic, { method: 'SGD', hyperparams: { lr: 0.15, momentum: 0.9 }, start: [x0], dtype, steps: 2000 });
        expect(gd.x[0], `GD from ${x0} (${dtype})`).toBeCloseTo(-3.255, 2);
        expect(mom.x[0], `momentum from ${x0} (${dtype})`).toBeCloseTo(3.2728, 2);
        // The momentum run passes the local maximum near −0.22 on its way.
        expect(mom.history.some((h) => h.x![0]! > -0.22)).toBe(true);
      }
    }
  });
});

describe('bad input and failures are named', () => {
  it('wrong dimension, unknown method, bad hyperparameters', async () => {
    await expect(minimize(rosenbrock2d, { method: 'LBFGS', start: [1, 2, 3] })).rejects.toThrow('start has 3 numbers but rosenbrock2d is 2-dimensional');
    await expect(minimize(bowl, { method: 'lbfgs' })).rejects.toThrow('unknown method "lbfgs" (did you mean "LBFGS"?');
    await expect(minimize(bowl, { method: 'LBFGS', hyperparams: { history_size: 0 } })).rejects.toThrow('history_size must be at least 1');
    await expect(minimize(bowl, { method: 'NonlinearCG', hyperparams: { variant: 'HS' } })).rejects.toThrow('variant must be "PR+" (Polak-Ribière+) or "FR"');
    await expect(minimize(bowl, { method: 'Newton', hyperparams: { hessian: 'exact' }, start: [1, 1] })).resolves.toMatchObject({ converged: true });
    await expect(minimize(tanhNetwork(curveExampleData()), { method: 'Newton', hyperparams: { hessian: 'exact' } })).rejects.toThrow('hessian "exact": this problem has no exact Hessian-vector product');
    expect(Object.keys(METHODS)).toEqual(expect.arrayContaining(['LBFGS', 'NonlinearCG', 'Newton', 'LevenbergMarquardt', 'GaussNewton', 'SGD', 'Adam']));
  });

  it('a non-descent direction is refused by the line search, and ends an L-BFGS run as a stall with the reason', async () => {
    const trial = async (t: number) => ({ t, f: 0, gtd: 0, g: null });
    await expect(strongWolfe(trial, { t: 0, f: 1, gtd: 0.5, g: null }, 1, 1)).rejects.toThrow(DescentDirectionError);
    await expect(strongWolfe(trial, { t: 0, f: 1, gtd: 0.5, g: null }, 1, 1)).rejects.toThrow('d is not a descent direction (gᵀd = 0.5 must be < 0)');
    // float32 L-BFGS without a line search from (−1.5, 2.5) reaches a point where its direction is not a descent one.
    const r = await minimize(rosenbrock2d, { method: 'LBFGS', start: [-1.5, 2.5], dtype: 'float32', steps: 3000 });
    expect(r.converged).toBe(false);
    expect(r.stop).toMatch(/^stalled: the LBFGS direction is not a descent direction .* max\|∇f\| = /);
  });

  it('a line search that fails (a gradient that does not match f) ends with the reason, not a silent stall', async () => {
    const wrong: Problem = { ...bowl, name: 'bowl with a wrong gradient', evaluate: (x, g, dtype) => {
      const f = bowl.evaluate(x, g, dtype);
      if (g) g[0] = -g[0]!; // a sign error
      return f;
    } };
    for (const method of ['NonlinearCG', 'LBFGS']) {
      const r = await minimize(wrong, { method, hyperparams: method === 'LBFGS' ? { line_search_fn: 'strong_wolfe' } : {}, start: [3, -2], steps: 200 });
      expect(r.converged, method).toBe(false);
      expect(r.stop, method).toMatch(/stalled: .*(line search found no point lower|not a descent direction)/);
    }
  });

  it('NaN value or gradient: NonFiniteError with the point named; an unbounded problem ends the same way', async () => {
    const nan: Problem = { ...bowl, name: 'nan bowl', evaluate: (x, g, dtype) => (x[0]! < 1 ? NaN : bowl.evaluate(x, g, dtype)) };
    for (const method of ['LBFGS', 'NonlinearCG', 'SGD']) {
      await expect(minimize(nan, { method, start: [3, -2], hyperparams: method === 'SGD' ? { lr: 0.5 } : {} }), method).rejects.toThrow(/returned NaN/);
    }
    // A trust region treats a NaN trial as a step too long and shrinks; if it cannot get past, the stall names it.
    const tr = await minimize(nan, { method: 'Newton', start: [1.01, 5], steps: 500 });
    if (!tr.converged) expect(tr.stop).toMatch(/trial point\(s\) gave a NaN or infinite f or gradient/);
    else expect(tr.x[0]).toBeGreaterThanOrEqual(1);
    await expect(minimize(saddle, { method: 'LBFGS', start: [1, 0.5], steps: 3000 })).rejects.toThrow(/returned -Infinity/);
  });
});
