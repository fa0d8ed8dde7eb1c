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
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Optimizer } from '../optim/optimizer.js';
import { getRule } from '../optim/registry.js';
import type { Dtype, OptimizerName } from '../optim/rule.js';
import type { Engine } from '../gpu/engine.js';

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

const finiteList = (v: unknown, field: string, n?: number): number[] => {
  if (!Array.isArray(v)) throw new Error(`${field} must be a list of numbers, got ${typeof v}`);
  if (n !== undefined && v.length !== n) throw new Error(`${field} has ${v.length} numbers but x0 has n = ${n}`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new Error(`${field}[${i}] must be a finite number, got ${JSON.stringify(x)}`);
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
  const x0 = finiteList(s.x0, 'x0');
  if (x0.length === 0) throw new Error('x0 must hold at least one number');
  if (!Array.isArray(s.grads)) throw new Error('grads must be a list of K gradient lists (one per step)');
  const grads = s.grads.map((g, k) => finiteList(g, `grads[${k}]`, x0.length));
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
  const device = opts.device ?? 'cpu';
  if (device !== 'cpu' && device !== 'gpu') throw new Error(`device must be "cpu" or "gpu", got ${JSON.stringify(device)}`);
  const parsed = parseTraceSpec(spec, device);
  if (device === 'cpu') return { ...runCpu(parsed), device };
  // Loaded on demand so the CPU path never touches WebGPU.
  const { runGpuTrace } = await import('../optim/gpu-trace.js');
  return { ...(await runGpuTrace(parsed, opts.engine)), device };
}

const USAGE = 'usage: wgtrain trace --spec SPEC.json [--device cpu|gpu] [--out OUT.json]';

/** CLI entry: returns the process exit code (0 ok, 1 bad spec or run error, 2 bad arguments). */
export async function traceMain(argv: string[]): Promise<number> {
  const args: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(USAGE + '\n');
      return 0;
    }
    const [key, inline] = a.startsWith('--') ? a.slice(2).split(/=(.*)/s, 2) : [undefined, undefined];
    if (key === undefined || !['spec', 'device', 'out'].includes(key)) {
      process.stderr.write(`wgtrain trace: unknown argument ${JSON.stringify(a)}\n${USAGE}\n`);
      return 2;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) {
      process.stderr.write(`wgtrain trace: --${key} needs a value\n${USAGE}\n`);
      return 2;
    }
    args[key] = value;
  }
  if (!args.spec) {
    process.stderr.write(`wgtrain trace: --spec is required\n${USAGE}\n`);
    return 2;
  }
  try {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(args.spec, 'utf8'));
    } catch (e) {
      throw new Error(`cannot read spec ${args.spec}: ${(e as Error).message}`);
    }
    const result = await runTrace(raw, { device: (args.device ?? 'cpu') as TraceDevice });
    const text = JSON.stringify(result) + '\n';
    if (args.out) writeFileSync(args.out, text);
    else process.stdout.write(text);
    return 0;
  } catch (e) {
    process.stderr.write(`wgtrain trace: ${(e as Error).message}\n`);
    return 1;
  }
}
