/**
 * The state of the full-batch methods between steps (src/minimize/state.ts): k steps, export, a new machine and a new
 * method at the same point, import, then the remaining steps, equals the uninterrupted run exactly — for L-BFGS
 * (with and without the line search), nonlinear CG, Newton and Levenberg-Marquardt, on the CPU machine in float64
 * and float32 and on the GPU machine (the same engine runs the same kernels, so the GPU is deterministic too). A state
 * that does not fit (another method, another n, a history longer than history_size, a non-finite vector, a missing
 * field) is refused naming the field.
 *
 * A step cut by an abort (StepOptions.signal, src/minimize/step-control.ts) — before its first iteration, or after its
 * second — then finished by the next step(), in the same method or through an exported state in a new machine, takes
 * the same iterates as the uninterrupted step, exactly; the method's state then differs only by the one repeated
 * evaluation. Newton's method cut inside its CG solve drops the unfinished iteration. The per-iteration callback
 * reports each iteration; minimize() stops on its signal.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/index.js';
import { createEngine } from '../src/gpu/node.js';
import { CpuMachine } from '../src/linalg/cpu-machine.js';
import { GpuMachine } from '../src/linalg/gpu-machine.js';
import type { VectorMachine } from '../src/linalg/machine.js';
import { minimize } from '../src/minimize/minimize.js';
import { getMethod } from '../src/minimize/methods.js';
import type { Minimizer } from '../src/minimize/minimizer.js';
import type { MethodState } from '../src/minimize/state.js';
import type { IterationProgress } from '../src/minimize/step-control.js';
import { cpuObjective, problemFromSpec, rosenbrock2d, type Problem } from '../src/problems/index.js';
import type { Dtype } from '../src/ref/dtype.js';

let engine: Engine | undefined;
afterAll(() => engine?.destroy());

type Device = 'cpu64' | 'cpu32' | 'gpu';

async function machine(problem: Problem, device: Device, x0: readonly number[]): Promise<{ m: VectorMachine; done: () => void }> {
  if (device !== 'gpu') {
    const dtype: Dtype = device === 'cpu64' ? 'float64' : 'float32';
    return { m: new CpuMachine(cpuObjective(problem, dtype), dtype, x0), done: () => {} };
  }
  engine ??= await createEngine({ log: false });
  const objective = problem.gpu(engine);
  const m = await GpuMachine.create(engine, objective, { x0 });
  return { m, done: () => (m.destroy(), objective.destroy?.()) };
}

/** `steps` steps of the method; returns x after each. */
async function run(opt: Minimizer, m: VectorMachine, steps: number): Promise<Float64Array[]> {
  const xs: Float64Array[] = [];
  for (let k = 0; k < steps; k++) {
    await opt.step();
    xs.push(await m.readVector(m.x));
  }
  return xs;
}

/** The whole run, and the run split after `split` steps through a (JSON-free) exported state. */
async function splitRun(problem: Problem, method: string, hyperparams: Record<string, unknown>, device: Device, x0: readonly number[], steps: number, split: number) {
  const def = getMethod(method);
  const a = await machine(problem, device, x0);
  const whole = await def.create(a.m, hyperparams);
  const wholeXs = await run(whole, a.m, steps);
  const wholeState = await whole.exportState!();

  const b = await machine(problem, device, x0);
  const first = await def.create(b.m, hyperparams);
  await run(first, b.m, split);
  const saved = await first.exportState!();
  const xSaved = await b.m.readVector(b.m.x);
  b.done();
  const c = await machine(problem, device, Array.from(xSaved));
  const second = await def.create(c.m, hyperparams);
  await second.importState!(saved);
  const restXs = await run(second, c.m, steps - split);
  const restState = await second.exportState!();
  a.done();
  c.done();
  return { wholeXs, restXs, wholeState, restState, saved };
}

const CASES: [string, Record<string, unknown>, Problem, number[], number][] = [
  ['LBFGS', { max_iter: 3, history_size: 4 }, rosenbrock2d, [-1.2, 1], 6],
  ['LBFGS', { max_iter: 4, history_size: 3, line_search_fn: 'strong_wolfe' }, problemFromSpec({ name: 'quadratic', dim: 10, condition: 1e3, seed: 2 }), new Array(10).fill(1), 5],
  ['NonlinearCG', { max_iter: 3 }, rosenbrock2d, [-1.2, 1], 6],
  ['Newton', { max_iter: 2 }, rosenbrock2d, [-1.2, 1], 5],
  ['LevenbergMarquardt', { max_iter: 2 }, problemFromSpec({ name: 'tanh_network', m: 12, hidden: 3, seed: 1 }), [], 4],
];

describe('method state: k steps + export + import into a new machine + the rest = the whole run, exactly', () => {
  for (const device of ['cpu64', 'cpu32', 'gpu'] as const) {
    it(`${device}: L-BFGS (with and without the line search), nonlinear CG, Newton, Levenberg-Marquardt`, async () => {
      for (const [method, hyperparams, problem, start, steps] of CASES) {
        const x0 = start.length ? start : problem.starts[0]!;
        const r = await splitRun(problem, method, hyperparams, device, x0, steps, 2);
        const label = `${method} ${JSON.stringify(hyperparams)} on ${problem.name} (${device})`;
        expect(r.restXs, label).toEqual(r.wholeXs.slice(2));
        expect(r.restState, label).toEqual(r.wholeState);
        // The run moved, and the saved state carries what the next step needs.
        expect(r.wholeXs.at(-1), label).not.toEqual(r.wholeXs[1]);
        if (method === 'LBFGS') {
          expect(r.saved.vectors.old_dirs!.length, label).toBeGreaterThan(0);
          expect(r.saved.vectors.old_dirs!.length, label).toBeLessThanOrEqual(hyperparams.history_size as number);
          expect(r.saved.scalars.ro, label).toHaveLength(r.saved.vectors.old_dirs!.length);
        }
      }
    });
  }
});

describe('method state: what does not fit is refused, naming the field', () => {
  it('another method, another n, a longer history, a non-finite or missing vector, a bad scalar, an unknown field', async () => {
    const { m } = await machine(rosenbrock2d, 'cpu64', [-1.2, 1]);
    const lbfgs = await getMethod('LBFGS').create(m, { history_size: 5, max_iter: 8 });
    await lbfgs.step();
    const s = await lbfgs.exportState!();
    expect(s.vectors.old_dirs!.length).toBe(5);
    const copy = (): MethodState => structuredClone(s);
    const fresh = async (h: Record<string, unknown> = { history_size: 5 }, method = 'LBFGS') => getMethod(method).create(new CpuMachine(cpuObjective(rosenbrock2d, 'float64'), 'float64', [0, 0]), h);
    await expect((await fresh({}, 'NonlinearCG')).importState!(copy())).rejects.toThrow('NonlinearCG state: saved by LBFGS, cannot load into NonlinearCG');
    await expect((await fresh({ history_size: 3 })).importState!(copy())).rejects.toThrow('vectors.old_dirs holds 5 (s, y) pairs but history_size is 3');
    const q = problemFromSpec({ name: 'quadratic', dim: 3, condition: 10, seed: 1 });
    await expect((await getMethod('LBFGS').create(new CpuMachine(cpuObjective(q, 'float64'), 'float64', [0, 0, 0]), {})).importState!(copy())).rejects.toThrow('LBFGS state: n is 2, this model has n = 3 parameters');
    const nan = copy();
    nan.vectors.d![0]![1] = NaN;
    await expect((await fresh()).importState!(nan)).rejects.toThrow('LBFGS state: vectors.d[0] element 1 is NaN: values must be finite');
    const missing = copy();
    delete (missing.vectors as Record<string, unknown>).prev_flat_grad;
    await expect((await fresh()).importState!(missing)).rejects.toThrow('LBFGS state: vectors.prev_flat_grad is missing');
    const ro = copy();
    ro.scalars.ro = [1, 2];
    await expect((await fresh()).importState!(ro)).rejects.toThrow('LBFGS state: scalars.ro must be a list of 5 finite numbers');
    const extra = copy();
    extra.scalars.momentum = 0.9;
    await expect((await fresh()).importState!(extra)).rejects.toThrow('LBFGS state: scalars.momentum is not part of LBFGS state');
    const format = { ...copy(), format: 'wgtrain.optim/1' } as unknown as MethodState;
    await expect((await fresh()).importState!(format)).rejects.toThrow('format must be "wgtrain.method/1"');
    // Newton's trust radius must stay positive.
    const newton = await getMethod('Newton').create(m, {});
    const ns = await newton.exportState!();
    await expect((await fresh({}, 'Newton')).importState!({ ...ns, scalars: { ...ns.scalars, radius: 0 } })).rejects.toThrow('Newton state: scalars.radius must be a number > 0, got 0');
  });
});

/** The state's scalars with func_evals lowered by `repeated` (the evaluations a resumed step repeats). */
const lessEvals = (s: MethodState, repeated: number): MethodState => ({ ...s, scalars: { ...s.scalars, func_evals: (s.scalars.func_evals as number) - repeated } });

/**
 * One uninterrupted step, and the same step cut by an abort after `cutAfter` iterations (0: the signal is already
 * aborted) and finished by step() in place and, through its exported state, in a new machine at the point reached.
 */
async function cutStep(problem: Problem, method: string, hyperparams: Record<string, unknown>, device: Device, x0: readonly number[], cutAfter: number) {
  const label = `${method} ${JSON.stringify(hyperparams)} on ${problem.name} (${device}), cut after ${cutAfter}`;
  const def = getMethod(method);
  const a = await machine(problem, device, x0);
  const whole = await def.create(a.m, hyperparams);
  const wholeReport = await whole.step();
  const wholeX = await a.m.readVector(a.m.x);
  const wholeState = await whole.exportState!();
  a.done();
  expect(wholeReport.iterations, `${label}: the whole step goes past the cut`).toBeGreaterThan(cutAfter);

  const b = await machine(problem, device, x0);
  const cut = await def.create(b.m, hyperparams);
  const controller = new AbortController();
  if (cutAfter === 0) controller.abort();
  const seen: IterationProgress[] = [];
  const r1 = await cut.step({
    signal: controller.signal,
    onIteration: async (p) => {
      seen.push(p);
      if (p.iteration === cutAfter) controller.abort();
    },
  });
  expect(r1, label).toMatchObject({ stop: 'aborted', iterations: cutAfter });
  expect(seen.map((p) => p.iteration), label).toEqual(Array.from({ length: cutAfter }, (_, i) => i + 1));
  if (cutAfter > 0) expect(seen.at(-1), label).toMatchObject({ loss: r1.lossAfter, gradMax: r1.gradMax, evals: r1.evals, maxIter: hyperparams.max_iter });
  const saved = await cut.exportState!();
  expect(saved.scalars, label).toMatchObject({ step_iter: cutAfter, step_evals: r1.evals });
  const xCut = await b.m.readVector(b.m.x);

  // Through the saved state, in a new machine at the point reached (what a checkpoint does).
  const c = await machine(problem, device, Array.from(xCut));
  const fresh = await def.create(c.m, hyperparams);
  await fresh.importState!(structuredClone(saved));
  const r2 = await fresh.step();
  expect(await c.m.readVector(c.m.x), `${label}: x after the resumed step`).toEqual(wholeX);
  expect(r2.stop, label).toBe(wholeReport.stop);
  expect(r1.iterations + r2.iterations, label).toBe(wholeReport.iterations);
  expect(r1.evals + r2.evals, label).toBe(wholeReport.evals + 1);
  expect(lessEvals(await fresh.exportState!(), 1), label).toEqual(wholeState);
  c.done();

  // In place: the next step() of the same method finishes it.
  await cut.step();
  expect(await b.m.readVector(b.m.x), `${label}: x after step() in place`).toEqual(wholeX);
  expect(lessEvals(await cut.exportState!(), 1), label).toEqual(wholeState);
  b.done();
}

const CUT_CASES: [string, Record<string, unknown>, Problem, number[]][] = [
  ['LBFGS', { max_iter: 6, history_size: 3 }, rosenbrock2d, [-1.2, 1]],
  ['LBFGS', { max_iter: 5, history_size: 3, line_search_fn: 'strong_wolfe' }, problemFromSpec({ name: 'quadratic', dim: 10, condition: 1e3, seed: 2 }), new Array(10).fill(1)],
  ['NonlinearCG', { max_iter: 5 }, rosenbrock2d, [-1.2, 1]],
  ['Newton', { max_iter: 4 }, rosenbrock2d, [-1.2, 1]],
  ['LevenbergMarquardt', { max_iter: 4 }, problemFromSpec({ name: 'tanh_network', m: 12, hidden: 3, seed: 1 }), []],
];

describe('a step cut by an abort, then finished by the next step(), equals the uninterrupted step exactly', () => {
  for (const device of ['cpu64', 'cpu32', 'gpu'] as const) {
    it(`${device}: L-BFGS (with and without the line search), nonlinear CG, Newton, Levenberg-Marquardt; cut before the first iteration and after the second`, async () => {
      for (const [method, hyperparams, problem, start] of CUT_CASES) {
        for (const cutAfter of device === 'gpu' ? [2] : [0, 2]) {
          await cutStep(problem, method, hyperparams, device, start.length ? start : problem.starts[0]!, cutAfter);
        }
      }
    });
  }

  it("Newton cut inside its CG solve drops the unfinished iteration (its Hessian-vector products count as work only)", async () => {
    const q = problemFromSpec({ name: 'quadratic', dim: 10, condition: 1e4, seed: 3 });
    const x0 = Array.from({ length: 10 }, (_, i) => (i % 3) - 1.5);
    const h = { max_iter: 3, hessian: 'fd', radius: 1e3, max_radius: 1e3 };
    const whole = new CpuMachine(cpuObjective(q, 'float64'), 'float64', x0);
    const wholeStep = await getMethod('Newton').create(whole, h);
    const wholeReport = await wholeStep.step();
    // Aborted during the second evaluation: the first finite-difference product of iteration 1's CG solve.
    const controller = new AbortController();
    const objective = cpuObjective(q, 'float64');
    let calls = 0;
    const counting = { ...objective, evaluate: (x: Float64Array, g: Float64Array) => (++calls === 2 && controller.abort(), objective.evaluate(x, g)) };
    const m = new CpuMachine(counting, 'float64', x0);
    const newton = await getMethod('Newton').create(m, h);
    const r1 = await newton.step({ signal: controller.signal });
    expect(r1).toMatchObject({ stop: 'aborted', iterations: 0, evals: 2 });
    expect(Array.from(await m.readVector(m.x))).toEqual(x0);
    expect((await newton.exportState!()).scalars).toMatchObject({ n_iter: 0, cg_iters: 0, step_iter: 0, step_evals: 1 });
    const r2 = await newton.step();
    expect(r2.iterations).toBe(wholeReport.iterations);
    expect(await m.readVector(m.x)).toEqual(await whole.readVector(whole.x));
    expect(lessEvals(await newton.exportState!(), 1)).toEqual(await wholeStep.exportState!());
  });

  it('a cut state whose counters do not fit is refused; minimize() stops on its signal with the point reached', async () => {
    const { m } = await machine(rosenbrock2d, 'cpu64', [-1.2, 1]);
    const lbfgs = await getMethod('LBFGS').create(m, { max_iter: 4 });
    await lbfgs.step();
    const s = await lbfgs.exportState!();
    const fresh = await getMethod('LBFGS').create(new CpuMachine(cpuObjective(rosenbrock2d, 'float64'), 'float64', [0, 0]), { max_iter: 4 });
    await expect(fresh.importState!({ ...s, scalars: { ...s.scalars, step_iter: 2, step_evals: 0 } })).rejects.toThrow(
      'LBFGS state: scalars.step_evals is 0 but step_iter is 2: a cut step has made at least its first evaluation',
    );
    await expect(fresh.importState!({ ...s, scalars: { ...s.scalars, step_iter: -1 } })).rejects.toThrow('LBFGS state: scalars.step_iter must be an integer >= 0, got -1');
    // A state saved before the counters existed loads as one saved between steps.
    const { step_iter: _i, step_evals: _e, ...older } = s.scalars;
    await fresh.importState!({ ...s, scalars: older });
    expect((await fresh.exportState!()).scalars).toMatchObject({ step_iter: 0, step_evals: 0 });

    const controller = new AbortController();
    const r = await minimize(rosenbrock2d, {
      method: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe' }, signal: controller.signal, onStep: (rec) => void (rec.step === 2 && controller.abort()),
    });
    expect(r).toMatchObject({ stop: 'aborted', converged: false, steps: 3 });
    expect(r.f).toBeLessThan(r.history[0]!.f);
  });
});
