/**
 * L-BFGS against real torch.optim.LBFGS (fixtures from scripts/torch_traces.py, torch 1.13): Rosenbrock from four
 * starts and a 10-D quadratic with condition number 10⁴, with and without the strong-Wolfe line search.
 *
 * float64 (CPU): parameters, returned losses, evaluations per step and final state as torch's, to 1e-12 relative
 * (today they agree bit for bit: the CPU machine rounds like torch's kernels, fused multiply-add included).
 * float32 (CPU and GPU): L-BFGS amplifies round-off, so the tolerance of step k comes from torch's own float32 vs
 * float64 difference D_j = max_i |x32_ji − x64_ji| over the steps so far: |x_ki − torch32_ki| ≤ C·max_{j≤k} D_j plus
 * 8 ulps of |x|. Where D stays tiny (converging runs) the comparison is tight; where torch's two precisions part ways
 * (a chaotic stretch of Rosenbrock with lr 1 and no line search) it is as loose as torch itself is.
 * C = 10 on the CPU, whose float32 rounds like torch's kernels (without a line search it agrees bit for bit; the line
 * search's scalars are double here, 0-d float32 tensors there). C = 100 on the GPU: it rounds a·x + y twice where
 * torch fuses it, and a one-ulp difference in a different place is amplified by the same dynamics as torch's own
 * float32 error but not by the same factor: up to ~60× in the chaotic stretch of lbfgs_rosenbrock_1 (SwiftShader).
 * Every run must also end where torch's float32 run ends (all converge to Rosenbrock's minimum or the same quadratic
 * iterate) within the same tolerance.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/index.js';
import { createEngine } from '../src/gpu/node.js';
import { CpuMachine } from '../src/linalg/cpu-machine.js';
import { GpuMachine } from '../src/linalg/gpu-machine.js';
import { NonFiniteError } from '../src/minimize/errors.js';
import { LBFGS, resolveLbfgs } from '../src/minimize/lbfgs.js';
import { parseFunctionSpec, runFunctionTrace, traceOnMachine } from '../src/minimize/trace.js';
import { cpuObjective, rosenbrock2d } from '../src/problems/index.js';

const DIR = join(import.meta.dirname, 'fixtures', 'torch_functions');
const files = readdirSync(DIR).filter((f) => f.startsWith('lbfgs_')).sort();
interface TorchRun { params_after_each_step: number[][]; loss_returned_by_each_step: number[]; evals_per_step: number[]; final_state: Record<string, number[]> }
interface Fixture { name: string; problem: unknown; x0: number[]; torch: Record<'float32' | 'float64', TorchRun> }
const load = (f: string) => JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture;

/** Mismatches of a float32 run against torch's float32 trace, with the per-step tolerance described above. */
function compareFloat32(got: number[][], fx: Fixture, C: number): string[] {
  const t32 = fx.torch.float32.params_after_each_step.map((row) => row.map(Math.fround));
  const t64 = fx.torch.float64.params_after_each_step;
  const bad: string[] = [];
  let D = 0;
  t32.forEach((row, k) => {
    D = Math.max(D, ...row.map((v, i) => Math.abs(v - t64[k]![i]!)));
    row.forEach((want, i) => {
      const g = got[k]![i]!;
      const tol = C * D + 8 * 2 ** -24 * (1 + Math.abs(want));
      if (!(Math.abs(g - want) <= tol) && bad.length < 6) bad.push(`step ${k + 1} [${i}]: got ${g}, torch ${want}, tol ${tol.toExponential(2)} (torch f32−f64 so far ${D.toExponential(2)})`);
    });
  });
  return bad;
}

describe('LBFGS on the CPU matches torch.optim.LBFGS', () => {
  it('has fixtures with and without the line search, on Rosenbrock and the 10-D quadratic', () => {
    const names = files.map((f) => f.replace('.json', ''));
    expect(names.filter((n) => n.includes('wolfe')).length).toBeGreaterThanOrEqual(5);
    expect(names.filter((n) => n.includes('quadratic')).length).toBe(2);
  });

  for (const file of files) {
    it(`${file.replace('.json', '')} float64: parameters, losses, evaluations and state`, async () => {
      const fx = load(file);
      const out = await runFunctionTrace({ ...fx, dtype: 'float64' }, { device: 'cpu' });
      const ref = fx.torch.float64;
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-12 * (1 + Math.abs(b));
      out.params_after_each_step.forEach((row, k) => row.forEach((v, i) => expect(close(v, ref.params_after_each_step[k]![i]!), `step ${k + 1} [${i}]: ${v} vs torch ${ref.params_after_each_step[k]![i]}`).toBe(true)));
      out.loss_returned_by_each_step.forEach((v, k) => expect(close(v, ref.loss_returned_by_each_step[k]!), `loss ${k + 1}`).toBe(true));
      expect(out.evals_per_step).toEqual(ref.evals_per_step);
      expect(out.final_state).toEqual(ref.final_state);
    });

    it(`${file.replace('.json', '')} float32 (CPU) within torch's own float32 error`, async () => {
      const fx = load(file);
      const out = await runFunctionTrace({ ...fx, dtype: 'float32' }, { device: 'cpu' });
      const bad = compareFloat32(out.params_after_each_step, fx, 10);
      expect(bad, bad.join('\n')).toEqual([]);
    });
  }
});

describe('LBFGS on the GPU (float32) matches torch.optim.LBFGS', () => {
  let engine: Engine | undefined;
  afterAll(() => engine?.destroy());

  for (const file of files) {
    it(`${file.replace('.json', '')} gpu: within torch's own float32 error, one readback per evaluation (+1 per step at most)`, async () => {
      engine ??= await createEngine({ log: false });
      const fx = load(file);
      const spec = parseFunctionSpec({ ...fx, dtype: 'float32' }, 'gpu');
      const before = engine.memory().buffers;
      const objective = spec.problem.gpu(engine);
      const m = await GpuMachine.create(engine, objective, { x0: spec.x0 });
      try {
        const out = await traceOnMachine(spec, m);
        const bad = compareFloat32(out.params_after_each_step, fx, 100);
        expect(bad, bad.join('\n')).toEqual([]);
        // Readbacks: one per evaluation torch counts, plus at most one per step (a discarded speculative trial).
        const evals = out.final_state.func_evals![0]!;
        expect(m.readbacks).toBeLessThanOrEqual(evals + spec.num_steps);
        expect(m.readbacks).toBeGreaterThanOrEqual(evals);
      } finally {
        m.destroy();
        objective.destroy?.();
      }
      expect(engine.memory().buffers).toBe(before);
    });
  }
});

describe('LBFGS input errors', () => {
  it('refuses bad hyperparameters with the field named', () => {
    expect(() => resolveLbfgs({ history_size: 0 })).toThrow('hyperparams.history_size must be at least 1');
    expect(() => resolveLbfgs({ line_search_fn: 'backtracking' })).toThrow('line_search_fn must be "strong_wolfe" or null');
    expect(() => resolveLbfgs({ lr: -1 })).toThrow('hyperparams.lr must be a number > 0');
    expect(() => resolveLbfgs({ max_iter: 2.5 })).toThrow('hyperparams.max_iter must be an integer >= 1');
    expect(() => resolveLbfgs({ momentum: 0.9 })).toThrow('hyperparams.momentum: LBFGS has no hyperparameter "momentum"');
    expect(resolveLbfgs({ max_iter: 7 }).max_eval).toBe(8);
  });

  it('a NaN value or gradient stops with NonFiniteError naming the evaluation', async () => {
    const nanAt = (bad: 'f' | 'g') => ({
      n: 2,
      evaluate(x: Float64Array, g: Float64Array) {
        const f = rosenbrock2d.evaluate(x, g);
        if (x[0]! > 0.5) {
          if (bad === 'f') return NaN;
          g[1] = NaN;
        }
        return f;
      },
    });
    for (const bad of ['f', 'g'] as const) {
      const m = new CpuMachine(nanAt(bad), 'float64', [0, 0]);
      const opt = new LBFGS(m, { max_iter: 50, line_search_fn: 'strong_wolfe' });
      const err = await opt.step().then(() => null, (e: Error) => e);
      expect(err).toBeInstanceOf(NonFiniteError);
      expect(err!.message).toMatch(bad === 'f' ? /LBFGS iteration \d+: evaluation at t = .* the objective returned NaN/ : /the gradient holds 1 NaN or infinite value/);
    }
  });

  it('a wrong dimension or spec field is named', async () => {
    await expect(runFunctionTrace({ kind: 'function', optimizer: 'LBFGS', x0: [1, 2, 3], problem: { name: 'rosenbrock2d' } })).rejects.toThrow('x0 has 3 numbers but rosenbrock2d is 2-dimensional');
    await expect(runFunctionTrace({ kind: 'function', optimizer: 'lbfgs', problem: { name: 'bowl' } })).rejects.toThrow('unknown method "lbfgs" (did you mean "LBFGS"?');
    await expect(runFunctionTrace({ kind: 'function', optimizer: 'LBFGS', num_steps: 0, problem: { name: 'bowl' } })).rejects.toThrow('num_steps must be an integer >= 1');
    expect(() => new CpuMachine(cpuObjective(rosenbrock2d, 'float64'), 'float64', [1])).toThrow('x0 has 1 numbers but the objective has n = 2');
  });
});
