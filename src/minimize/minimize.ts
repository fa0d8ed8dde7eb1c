/**
 * minimize(): runs a method on a problem of the library, on the CPU reference or the GPU, and records the
 * trajectory — what `wgtrain minimize` prints and what a 2-D optimizer playground draws.
 *
 * The run is a sequence of the method's `step()` calls (torch's step(closure)); second-order and line-search
 * methods get max_iter = 1 and tolerance_grad = `tolerance` unless the caller sets them, so every recorded point is
 * one iteration and a converged run ends at the point that met the tolerance (first-order steps then do not update). Each record holds
 * the point a step started from, with f and max|g| from that step's own first evaluation; a final evaluation gives
 * f and ∇f at the last point. The run stops when max|g| ≤ `tolerance` (converged), when the method stops on one of
 * its convergence tests (tolerance_grad, tolerance_change, a non-negative directional derivative), after `steps`
 * steps, or — converged false, with the reason in `stop` — when the method stalls: a line search finds no lower point,
 * a trust region collapses, or the search direction is not a descent direction (gᵀd ≥ −tolerance_change) while
 * max|g| > 1000·tolerance (L-BFGS would then repeat the same direction forever); or — stop 'aborted' — when `signal`
 * is aborted: before the next step, or inside a step of several iterations at its next iteration boundary
 * (step-control.ts). The result then holds the point reached, evaluated as at any end.
 */
import { createEngine } from '../gpu/engine.js';
import { GpuMachine } from '../linalg/gpu-machine.js';
import type { Engine } from '../gpu/index.js';
import { CpuMachine } from '../linalg/cpu-machine.js';
import type { Slot, VectorMachine } from '../linalg/machine.js';
import { cpuObjective, type Problem } from '../problems/problem.js';
import type { Dtype } from '../ref/dtype.js';
import { checkFinite, MinimizeError } from './errors.js';
import { FirstOrder } from './first-order.js';
import { getMethod } from './methods.js';
import { ABORTED } from './step-control.js';
import { yielder } from '../train/event-loop.js';
import { getRule } from '../optim/registry.js';
import type { Schedule, ScheduleConfig } from '../schedule/schedule.js';
import { scheduleFromSpec } from '../schedule/spec.js';

const isSchedule = (s: Schedule | string | ScheduleConfig): s is Schedule => typeof s === 'object' && typeof (s as Schedule).lrAt === 'function';

export interface MinimizeOptions {
  /** Method name (see METHODS): LBFGS, NonlinearCG, Newton, LevenbergMarquardt, GaussNewton, SGD, Adam, ... */
  method: string;
  /** torch-style hyperparameters of the method. */
  hyperparams?: Record<string, unknown>;
  /** Starting point (default: the problem's first standard start). */
  start?: readonly number[];
  device?: 'cpu' | 'gpu';
  /** CPU precision (the GPU is float32). */
  dtype?: Dtype;
  /** GPU engine to use (default: a new one, destroyed at the end). */
  engine?: Engine;
  /** Most steps (default 1000). */
  steps?: number;
  /** Converged when max|∇f| ≤ this at a step's start (default 1e-6 in float64, 1e-4 in float32 and on the GPU). */
  tolerance?: number;
  /** Record x at every step (default: when the dimension is at most 100). */
  recordPoints?: boolean;
  /** Called after each step with its record (e.g. to print it); with the default max_iter 1 a step is an iteration. */
  onStep?: (r: IterateRecord) => void;
  /** Stops the run at the next step (or iteration) boundary, with stop 'aborted' and the point reached. */
  signal?: AbortSignal;
  /**
   * A learning-rate schedule for a first-order method (a Schedule, or a spec such as 'exp:gamma=0.99' or
   * 'cosine:T=200' whose base rate is the method's lr), stepped once per step; the record holds each step's lr.
   */
  schedule?: Schedule | string | ScheduleConfig;
}

export interface IterateRecord {
  /** 0-based step index. */
  step: number;
  /** The point the step started from (when recorded). */
  x?: number[];
  f: number;
  gradMax: number;
  /** Evaluations so far, this step's included. */
  evals: number;
  /** Why the step ended. */
  stop: string;
  /** The learning rate the step used, under a `schedule`. */
  lr?: number;
}

export interface MinimizeResult {
  method: string;
  problem: string;
  device: 'cpu' | 'gpu';
  dtype: Dtype;
  x: number[];
  f: number;
  gradMax: number;
  converged: boolean;
  /** Why the run ended: 'converged (...)', 'steps', 'stalled: ...', or 'aborted' (the signal). */
  stop: string;
  steps: number;
  evaluations: number;
  /** Scalar readbacks of the run (GPU: each is one wait for the device). */
  readbacks: number;
  history: IterateRecord[];
}

const CONVERGED_STOPS = new Set(['tolerance_grad', 'tolerance_change (step)', 'tolerance_change (loss)', 'directional derivative']);

/** Runs `opts.method` on `problem` on a machine the caller made (x already at the start). */
export async function minimizeOnMachine(problem: Problem, m: VectorMachine, opts: MinimizeOptions): Promise<Omit<MinimizeResult, 'device' | 'dtype'>> {
  const def = getMethod(opts.method, 'method');
  const steps = opts.steps ?? 1000;
  if (!Number.isInteger(steps) || steps < 1) throw new MinimizeError(`steps must be an integer >= 1, got ${steps}`);
  const tolerance = opts.tolerance ?? (m.dtype === 'float64' ? 1e-6 : 1e-4);
  if (!(tolerance >= 0)) throw new MinimizeError(`tolerance must be a number >= 0, got ${tolerance}`);
  const hyperparams: Record<string, unknown> = { ...(opts.hyperparams ?? {}) };
  if (def.hyperparams.includes('max_iter') && hyperparams.max_iter === undefined) hyperparams.max_iter = 1;
  if (def.hyperparams.includes('tolerance_grad') && hyperparams.tolerance_grad === undefined) hyperparams.tolerance_grad = tolerance;
  if (def.leastSquares && m.residualCount === null) {
    throw new MinimizeError(`${def.name} needs a least-squares problem (residuals r(x), f = ½‖r‖²); ${problem.name} is not one — try linear_regression or tanh_network`);
  }
  const record = opts.recordPoints ?? problem.dim <= 100;
  const opt = await def.create(m, hyperparams);
  if (opt instanceof FirstOrder) opt.stopBelow = tolerance;
  let schedule: Schedule | null = null;
  if (opts.schedule !== undefined) {
    if (!(opt instanceof FirstOrder)) {
      opt.destroy?.();
      throw new MinimizeError(`schedule: learning-rate schedules apply to the first-order optimizers; ${def.name} chooses its own steps`);
    }
    const base = typeof hyperparams.lr === 'number' ? hyperparams.lr : (getRule(def.name).hyperparams.find((h) => h.name === 'lr')?.default as number);
    schedule = isSchedule(opts.schedule) ? opts.schedule : scheduleFromSpec(opts.schedule, { lr: base });
    if (schedule.needs !== 'nothing') {
      opt.destroy?.();
      throw new MinimizeError(`schedule: '${schedule.name}' needs a ${schedule.needs === 'metric' ? 'validation metric' : 'gradient norm'} each step; minimize takes closed-form schedules`);
    }
  }
  const history: IterateRecord[] = [];
  let evaluations = 0;
  let stop = 'steps';
  let converged = false;
  try {
    // With `record`, the iterate each step starts from (read once: the previous step's end).
    let start: Float64Array | null = record ? await m.readVector(m.x) : null;
    // The CPU machine's steps resolve as microtasks only: without a yield, a signal handler (Ctrl-C) would never run.
    const maybeYield = yielder();
    for (let k = 0; k < steps; k++) {
      if (opts.signal) await maybeYield();
      if (opts.signal?.aborted) {
        stop = ABORTED;
        break;
      }
      const lr = schedule?.lr;
      if (schedule) (opt as FirstOrder).lr = lr;
      const rep = await opt.step({ signal: opts.signal });
      schedule?.step();
      evaluations += rep.evals;
      // The step's first evaluation is at its starting point: f and max|g| there.
      const rec: IterateRecord = {
        step: k, ...(start ? { x: Array.from(start) } : {}), f: rep.loss, gradMax: rep.gradMaxStart, evals: evaluations, stop: rep.stop, ...(lr !== undefined ? { lr } : {}),
      };
      history.push(rec);
      const after = record ? await m.readVector(m.x) : null;
      opts.onStep?.(rec);
      if (rep.gradMaxStart <= tolerance) {
        converged = true;
        stop = 'converged (tolerance)';
        break;
      }
      if (rep.stop === ABORTED) {
        stop = ABORTED;
        break;
      }
      if (rep.stalled) {
        stop = `stalled: ${rep.stalled}`;
        break;
      }
      if (rep.stop === 'directional derivative' && rep.gradMax > 1e3 * tolerance) {
        stop = `stalled: the ${def.name} direction is not a descent direction (gᵀd ≥ −tolerance_change) at a point with max|∇f| = ${rep.gradMax}; try a line search (line_search_fn: "strong_wolfe"), a smaller lr or float64`;
        break;
      }
      if (CONVERGED_STOPS.has(rep.stop)) {
        converged = true;
        stop = `converged (${rep.stop})`;
        break;
      }
      start = after;
    }
    // A final evaluation at the last point: f, ∇f there, and the gradient test.
    const F: Slot = m.scalars(1), GS: Slot = m.scalars(4);
    const g = m.vector('minimize.g');
    await m.evaluate(g, F);
    m.dot(GS, g, g, { stats: true });
    const [f, gMax, bad] = (await m.read([F, GS + 1, GS + 3])) as [number, number, number];
    checkFinite(f, bad, `${def.name} on ${problem.name}: evaluation at the last point`);
    if (!converged && gMax <= tolerance) {
      converged = true;
      stop = 'converged (tolerance)';
    }
    const x = Array.from(await m.readVector(m.x));
    return { method: def.name, problem: problem.name, x, f, gradMax: gMax, converged, stop, steps: history.length, evaluations, readbacks: m.readbacks, history };
  } finally {
    opt.destroy?.();
  }
}

/** Minimises `problem` with `opts.method` on the CPU reference or the GPU. */
export async function minimize(problem: Problem, opts: MinimizeOptions): Promise<MinimizeResult> {
  const device = opts.device ?? 'cpu';
  const start = opts.start ?? problem.starts[0];
  if (!start) throw new MinimizeError(`${problem.name} has no standard start; give start`);
  if (start.length !== problem.dim) {
    throw new MinimizeError(`start has ${start.length} numbers but ${problem.name} is ${problem.dim}-dimensional (give ${problem.dim} comma-separated coordinates)`);
  }
  start.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new MinimizeError(`start[${i}] must be a finite number, got ${v}`);
  });
  if (device === 'cpu') {
    const dtype = opts.dtype ?? 'float64';
    const m = new CpuMachine(cpuObjective(problem, dtype), dtype, start);
    return { ...(await minimizeOnMachine(problem, m, opts)), device, dtype };
  }
  if (device !== 'gpu') throw new MinimizeError(`device must be "cpu" or "gpu", got ${JSON.stringify(device)}`);
  if (opts.dtype && opts.dtype !== 'float32') throw new MinimizeError('dtype: the GPU computes in float32 only');
  const e = opts.engine ?? (await createEngine({ log: false }));
  const objective = problem.gpu(e);
  const m = await GpuMachine.create(e, objective, { x0: start });
  try {
    return { ...(await minimizeOnMachine(problem, m, opts)), device, dtype: 'float32' };
  } finally {
    m.destroy();
    objective.destroy?.();
    if (!opts.engine) e.destroy();
  }
}
