/**
 * `wgtrain trace`: runs an optimizer on given gradients and reports the parameters after every step and the final
 * state, so our rules can be compared number by number with torch.optim (scripts/torch_traces.py writes such specs).
 *
 *   wgtrain trace --spec SPEC.json [--device cpu|gpu] [--out OUT.json]      (stdout without --out)
 *
 * SPEC: { optimizer: torch class name, hyperparams: torch keyword arguments (absent = torch defaults; `betas`,
 *         `etas`, `step_sizes` as 2-element lists), dtype: "float32" | "float64" (default "float32"; the GPU is
 *         float32 only), x0: n numbers, grads: K lists of n numbers (before step k the gradient is grads[k-1]) }.
 *         Other fields are ignored, so a torch fixture file is itself a spec.
 * OUT:  { optimizer, dtype, device, params_after_each_step: K lists of n numbers,
 *         final_state: { torch state name: list } }   (`step` as a one-element list, per-group scalars such as
 *         ASGD's eta as one number per group).
 * A spec with "kind": "function" runs a method on a test function instead (src/minimize/trace.ts: LBFGS and the
 * other methods of src/minimize/, num_steps step(closure) calls; the output adds loss_returned_by_each_step,
 * evals_per_step and each step's stop reason).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './args.js';
import { Optimizer } from '../optim/optimizer.js';
import { getRule } from '../optim/registry.js';
import type { Dtype, OptimizerName } from '../optim/rule.js';
import type { Engine } from '../gpu/engine.js';
import { runFunctionTrace, type FunctionTraceResult } from '../minimize/trace.js';
import { toJson } from '../json-numbers.js';

export type TraceDevice = 'cpu' | 'gpu';

export interface TraceSpec {
  optimizer: OptimizerName;
  hyperparams: Record<string, unknown>;
  dtype: Dtype;
  x0: number[];
  grads: number[][];
}

export interface TraceResult {
  optimizer: OptimizerName;
  dtype: Dtype;
  device: TraceDevice;
  params_after_each_step: number[][];
  final_state: Record<string, number[]>;
}

/** Largest finite float32. A float32 trace stores its inputs as float32, so larger ones would become Infinity. */
const F32_MAX = 3.4028234663852886e38;

const finiteList = (v: unknown, field: string, n: number | undefined, dtype: Dtype): number[] => {
  if (!Array.isArray(v)) throw new Error(`${field} must be a list of numbers, got ${typeof v}`);
  if (n !== undefined && v.length !== n) throw new Error(`${field} has ${v.length} numbers but x0 has n = ${n}`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new Error(`${field}[${i}] must be a finite number, got ${JSON.stringify(x)}`);
    }
    if (dtype === 'float32' && Math.abs(x) > F32_MAX) {
      throw new Error(`${field}[${i}] = ${x} does not fit in float32 (largest ${F32_MAX.toPrecision(8)}); use "dtype": "float64" on the CPU`);
    }
  });
  return v as number[];
};

/** Checks a spec (parsed JSON) and fills defaults; every error names the field. */
export function parseTraceSpec(raw: unknown, device: TraceDevice = 'cpu'): TraceSpec {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('spec must be a JSON object');
  const s = raw as Record<string, unknown>;
  const rule = getRule(s.optimizer, 'optimizer');
  const dtype = s.dtype === undefined ? 'float32' : s.dtype;
  if (dtype !== 'float32' && dtype !== 'float64') {
    throw new Error(`dtype must be "float32" or "float64", got ${JSON.stringify(dtype)}`);
  }
  if (device === 'gpu' && dtype !== 'float32') {
    throw new Error('dtype: the GPU computes in float32 only; use "dtype": "float32" or --device cpu');
  }
  const hyperparams = s.hyperparams === undefined ? {} : s.hyperparams;
  if (hyperparams === null || typeof hyperparams !== 'object' || Array.isArray(hyperparams)) {
    throw new Error('hyperparams must be an object of torch keyword arguments, e.g. {"lr": 0.001}');
  }
  const x0 = finiteList(s.x0, 'x0', undefined, dtype);
  if (x0.length === 0) throw new Error('x0 must hold at least one number');
  if (!Array.isArray(s.grads)) throw new Error('grads must be a list of K gradient lists (one per step)');
  const grads = s.grads.map((g, k) => finiteList(g, `grads[${k}]`, x0.length, dtype));
  return { optimizer: rule.name, hyperparams: hyperparams as Record<string, unknown>, dtype, x0, grads };
}

function runCpu(spec: TraceSpec): Omit<TraceResult, 'device'> {
  const opt = new Optimizer(spec.optimizer, spec.hyperparams, { n: spec.x0.length, dtype: spec.dtype });
  const Arr = spec.dtype === 'float32' ? Float32Array : Float64Array;
  const p = Arr.from(spec.x0);
  const g = new Arr(p.length);
  const after: number[][] = [];
  for (const grad of spec.grads) {
    g.set(grad);
    opt.step(p, g);
    after.push(Array.from(p));
  }
  const saved = opt.exportState();
  return {
    optimizer: spec.optimizer,
    dtype: spec.dtype,
    params_after_each_step: after,
    final_state: { step: [saved.step], ...saved.state },
  };
}

/**
 * Runs a trace; `spec` is parsed JSON (validated here). On the GPU every step is the fused update kernel, with all K
 * steps encoded into as few command buffers as the record ring allows; `engine` reuses a WebGPU engine (else one is
 * created and destroyed).
 */
export async function runTrace(spec: unknown, opts: { device?: TraceDevice; engine?: Engine } = {}): Promise<TraceResult> {
  if (isFunctionSpec(spec)) throw new Error('this is a function spec ("kind": "function"): run it with runAnyTrace or wgtrain trace');
  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'gpu') throw new Error(`device must be "cpu" or "gpu", got ${JSON.stringify(device)}`);
  const parsed = parseTraceSpec(spec, device);
  if (device === 'cpu') return { ...runCpu(parsed), device };
  // Loaded on demand so the CPU path never touches WebGPU.
  const { runGpuTrace } = await import('../optim/gpu-trace.js');
  return { ...(await runGpuTrace(parsed, opts.engine)), device };
}

export const TRACE_FLAGS = {
  spec: { type: 'string', value: 'SPEC.json', help: 'optimizer, hyperparams, dtype, x0 and grads (required)' },
  device: { type: 'string', help: 'where the steps run', choices: ['cpu', 'gpu'], default: 'cpu' },
  out: { type: 'string', value: 'OUT.json', help: 'where the trace goes (default: stdout)' },
} as const satisfies FlagSpecs;

/** CLI entry: returns the process exit code (0 ok, 1 bad spec or run error, 2 bad arguments). */
function isFunctionSpec(spec: unknown): boolean {
  return spec !== null && typeof spec === 'object' && (spec as { kind?: unknown }).kind === 'function';
}

/** A gradient trace or, for "kind": "function", a function trace. */
export async function runAnyTrace(spec: unknown, opts: { device?: TraceDevice; engine?: Engine } = {}): Promise<TraceResult | FunctionTraceResult> {
  return isFunctionSpec(spec) ? runFunctionTrace(spec, opts) : runTrace(spec, opts);
}

export async function traceMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  try {
    args = parseArgs(argv, TRACE_FLAGS, 'wgtrain trace');
    if (!args.help && args.values.spec === undefined) throw new ArgError('wgtrain trace: --spec SPEC.json is required');
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n(wgtrain trace --help lists the flags)\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(usage(TRACE_FLAGS, 'wgtrain trace --spec SPEC.json [--device cpu|gpu] [--out OUT.json]') + '\n');
    return 0;
  }
  const v = args.values;
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(v.spec!, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read spec ${v.spec}: ${(e as Error).message}`);
    }
    const result = await runAnyTrace(raw, { device: v.device as TraceDevice });
    const text = toJson(result) + '\n';
    if (v.out) writeFileSync(v.out, text);
    else io.stdout(text);
    return 0;
  } catch (e) {
    io.stderr(`wgtrain trace: ${(e as Error).message}\n`);
    return 1;
  }
}
