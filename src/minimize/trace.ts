/**
 * Function traces: a method run on a problem of the library for `num_steps` torch-style `step(closure)` calls, with
 * the parameters after each, the loss each step returned and the evaluations each counted — what
 * scripts/torch_traces.py records from torch.optim.LBFGS, so the two compare number for number.
 *
 * SPEC  { kind: "function", optimizer: method name (LBFGS, NonlinearCG, Newton, LevenbergMarquardt, GaussNewton or
 *         any torch.optim first-order class), hyperparams: {torch names}, dtype: "float32" | "float64" (GPU: float32),
 *         x0: [dim numbers] (default: the problem's first standard start), num_steps: integer ≥ 1,
 *         problem: a problem spec (src/problems/registry.ts), e.g. {"name": "rosenbrock2d"} or
 *         {"name": "quadratic", "dim": 10, "A": [[…]], "b": […]} }
 * OUT   { optimizer, dtype, device, params_after_each_step: [num_steps][dim], loss_returned_by_each_step: [num_steps],
 *         evals_per_step: [num_steps], final_state: { <state name>: [number] } (LBFGS: func_evals, n_iter),
 *         stops: [num_steps] (why each step ended) }
 */
import { createEngine } from '../gpu/engine.js';
import { GpuMachine } from '../linalg/gpu-machine.js';
import type { Engine } from '../gpu/index.js';
import { CpuMachine } from '../linalg/cpu-machine.js';
import type { VectorMachine } from '../linalg/machine.js';
import { cpuObjective, type Problem } from '../problems/problem.js';
import { problemFromSpec } from '../problems/registry.js';
import type { Dtype } from '../ref/dtype.js';
import { getMethod } from './methods.js';

export interface FunctionTraceSpec {
  kind: 'function';
  optimizer: string;
  hyperparams: Record<string, unknown>;
  dtype: Dtype;
  x0: number[];
  num_steps: number;
  problem: Problem;
}

export interface FunctionTraceResult {
  optimizer: string;
  dtype: Dtype;
  device: 'cpu' | 'gpu';
  params_after_each_step: number[][];
  loss_returned_by_each_step: number[];
  evals_per_step: number[];
  final_state: Record<string, number[]>;
  stops: string[];
}

/** Checks a function spec (parsed JSON); errors name the field. */
export function parseFunctionSpec(raw: unknown, device: 'cpu' | 'gpu' = 'cpu'): FunctionTraceSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('spec must be a JSON object');
  const s = raw as Record<string, unknown>;
  if (s.kind !== 'function') throw new Error(`kind must be "function" for a function trace, got ${JSON.stringify(s.kind)}`);
  const method = getMethod(s.optimizer, 'optimizer');
  const dtype = s.dtype === undefined ? 'float32' : s.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error(`dtype must be "float32" or "float64", got ${JSON.stringify(dtype)}`);
  if (device === 'gpu' && dtype !== 'float32') throw new Error('dtype: the GPU computes in float32 only; use "dtype": "float32" or --device cpu');
  const hyperparams = s.hyperparams ?? {};
  if (hyperparams === null || typeof hyperparams !== 'object' || Array.isArray(hyperparams)) throw new Error('hyperparams must be an object of torch keyword arguments');
  if (s.problem === undefined) throw new Error('problem is required, e.g. {"name": "rosenbrock2d"}');
  const problem = problemFromSpec(s.problem);
  const x0raw = s.x0 ?? problem.starts[0];
  if (!Array.isArray(x0raw)) throw new Error('x0 must be a list of numbers');
  x0raw.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`x0[${i}] must be a finite number, got ${JSON.stringify(v)}`);
  });
  if (x0raw.length !== problem.dim) throw new Error(`x0 has ${x0raw.length} numbers but ${problem.name} is ${problem.dim}-dimensional`);
  const steps = s.num_steps ?? 1;
  if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1) throw new Error(`num_steps must be an integer >= 1, got ${JSON.stringify(s.num_steps)}`);
  return { kind: 'function', optimizer: method.name, hyperparams: hyperparams as Record<string, unknown>, dtype, x0: x0raw as number[], num_steps: steps, problem };
}

/** Runs the method on `machine` (already holding x0) for spec.num_steps steps. */
export async function traceOnMachine(spec: FunctionTraceSpec, m: VectorMachine): Promise<Omit<FunctionTraceResult, 'device'>> {
  const method = getMethod(spec.optimizer, 'optimizer');
  const opt = await method.create(m, spec.hyperparams);
  try {
    const out: Omit<FunctionTraceResult, 'device'> = {
      optimizer: method.name, dtype: spec.dtype, params_after_each_step: [], loss_returned_by_each_step: [], evals_per_step: [], final_state: {}, stops: [],
    };
    for (let k = 0; k < spec.num_steps; k++) {
      const rep = await opt.step();
      out.params_after_each_step.push(Array.from(await m.readVector(m.x)));
      out.loss_returned_by_each_step.push(rep.loss);
      out.evals_per_step.push(rep.evals);
      out.stops.push(rep.stop);
    }
    out.final_state = Object.fromEntries(Object.entries(opt.state).map(([k, v]) => [k, [v]]));
    return out;
  } finally {
    opt.destroy?.();
  }
}

/** Runs a function trace on the CPU reference or the GPU (`engine` reused when given). */
export async function runFunctionTrace(raw: unknown, opts: { device?: 'cpu' | 'gpu'; engine?: Engine } = {}): Promise<FunctionTraceResult> {
  const device = opts.device ?? 'cpu';
  const spec = parseFunctionSpec(raw, device);
  if (device === 'cpu') {
    const m = new CpuMachine(cpuObjective(spec.problem, spec.dtype), spec.dtype, spec.x0);
    return { ...(await traceOnMachine(spec, m)), device };
  }
  const e = opts.engine ?? (await createEngine({ log: false }));
  const objective = spec.problem.gpu(e);
  const m = await GpuMachine.create(e, objective, { x0: spec.x0 });
  try {
    return { ...(await traceOnMachine(spec, m)), device };
  } finally {
    m.destroy();
    objective.destroy?.();
    if (!opts.engine) e.destroy();
  }
}
