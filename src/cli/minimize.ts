/**
 * `wgtrain minimize`: runs a method on a function of the problems library and prints the iterates.
 *
 *   wgtrain minimize --function rosenbrock2d --method LBFGS --start -1.2,1 --line-search-fn strong_wolfe [--json]
 *
 * Methods: LBFGS, NonlinearCG, Newton, LevenbergMarquardt, GaussNewton and every torch.optim first-order class
 * (case-insensitive here). Each method's hyperparameters are flags with dashes (--max-iter, --history-size, --lr,
 * --momentum, ...), or JSON with --hyperparams; a flag the method does not take is an error naming it.
 * Output: one line per step (step, f, max|∇f|, evaluations so far, the point), then the result; with --json one
 * object {method, problem, device, dtype, x, f, gradMax, converged, stop, steps, evaluations, readbacks, history}.
 * Exit status: 0 converged or ran its steps, 1 stalled or failed (the reason on stderr), 2 bad arguments, 130 stopped by
 * Ctrl-C (after printing the point reached).
 * The logic lives in src/minimize/minimize.ts; this module parses and prints.
 */
import type { Engine } from '../gpu/index.js';
import { createEngine } from '../gpu/node.js';
import { METHODS } from '../minimize/methods.js';
import { minimize, type IterateRecord } from '../minimize/minimize.js';
import { PROBLEM_NAMES, problemFromSpec } from '../problems/registry.js';
import { interruptOnSigint } from './interrupt.js';
import { ArgError, parseArgs, usage, type CliIO, type FlagSpecs } from './args.js';
import { flagSpecs, hyperparamFlags, hyperparamsFromFlags } from './method-flags.js';
import { adapterChoice } from './checks.js';
import { ADAPTER_FLAG } from './train.js';
import type { AdapterChoice } from '../gpu/acquire.js';
import { toJson } from '../json-numbers.js';

const HYPER_FLAGS = hyperparamFlags(Object.values(METHODS));

export const MINIMIZE_FLAGS = {
  function: { type: 'string', value: 'NAME', help: `the problem: ${PROBLEM_NAMES.join(', ')}` },
  method: { type: 'string', value: 'NAME', help: `the method: ${Object.keys(METHODS).join(', ')}` },
  start: { type: 'string', value: 'X,Y,...', help: "starting point (default: the problem's first standard start)" },
  dim: { type: 'int', value: 'N', help: 'quadratic: the dimension' },
  condition: { type: 'number', value: 'K', help: 'quadratic: condition number of A (default 1e4)' },
  m: { type: 'int', value: 'M', help: 'regression problems: examples' },
  hidden: { type: 'int', value: 'H', help: 'tanh_network: hidden units' },
  seed: { type: 'int', value: 'S', help: 'seed of generated problems' },
  steps: { type: 'int', value: 'N', help: 'most steps', default: 1000 },
  tolerance: { type: 'number', value: 'X', help: 'converged when max|∇f| ≤ X (default 1e-6 in float64, 1e-4 in float32 and on the GPU)' },
  hyperparams: { type: 'string', value: 'JSON', help: 'hyperparameters as JSON (torch names), e.g. {"betas": [0.9, 0.99]}' },
  device: { type: 'string', help: 'where it runs', choices: ['cpu', 'gpu'], default: 'cpu' },
  dtype: { type: 'string', help: 'CPU precision', choices: ['float32', 'float64'], default: 'float64' },
  adapter: ADAPTER_FLAG,
  every: { type: 'int', value: 'N', help: 'print every N-th step (text output)', default: 1 },
  json: { type: 'boolean', help: 'one JSON object on stdout' },
  ...flagSpecs(HYPER_FLAGS),
} as const satisfies FlagSpecs;

const USAGE_LINE = 'wgtrain minimize --function NAME --method NAME [--start X,Y,...] [hyperparameter flags] [--json]';

function methodName(name: string): string {
  const hit = Object.keys(METHODS).find((n) => n.toLowerCase() === name.toLowerCase());
  if (!hit) throw new ArgError(`wgtrain minimize: --method ${JSON.stringify(name)} is not one of ${Object.keys(METHODS).join(', ')}`);
  return hit;
}

function parseStart(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const xs = parts.map(Number);
  const bad = parts.findIndex((s, i) => s === '' || !Number.isFinite(xs[i]!));
  if (bad >= 0) throw new ArgError(`wgtrain minimize: --start ${JSON.stringify(text)}: coordinate ${bad + 1} (${JSON.stringify(parts[bad])}) is not a number; write comma-separated numbers, e.g. --start -1.2,1`);
  return xs;
}

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e5) || v === 0 ? v.toPrecision(7) : v.toExponential(4);

export async function minimizeMain(argv: string[], io: CliIO): Promise<number> {
  let v;
  let method: string;
  let hyperparams: Record<string, unknown> = {};
  let problem;
  let start: number[] | undefined;
  let adapter: AdapterChoice | undefined;
  try {
    const args = parseArgs(argv, MINIMIZE_FLAGS, 'wgtrain minimize');
    if (args.help) {
      io.stdout(usage(MINIMIZE_FLAGS, USAGE_LINE) + '\n');
      return 0;
    }
    v = args.values;
    if (!v.function) throw new ArgError(`wgtrain minimize: --function is required (one of ${PROBLEM_NAMES.join(', ')})`);
    if (!v.method) throw new ArgError(`wgtrain minimize: --method is required (one of ${Object.keys(METHODS).join(', ')})`);
    method = methodName(v.method);
    const def = METHODS[method]!;
    if (v.hyperparams !== undefined) {
      try {
        hyperparams = JSON.parse(v.hyperparams);
      } catch (e) {
        throw new ArgError(`wgtrain minimize: --hyperparams is not JSON: ${(e as Error).message}`);
      }
      if (hyperparams === null || typeof hyperparams !== 'object' || Array.isArray(hyperparams)) throw new ArgError('wgtrain minimize: --hyperparams must be a JSON object');
    }
    hyperparamsFromFlags(HYPER_FLAGS, def, args.given, v, 'wgtrain minimize', hyperparams);
    const spec: Record<string, unknown> = { name: v.function };
    for (const key of ['dim', 'condition', 'm', 'hidden', 'seed'] as const) if (args.given.has(key)) spec[key] = v[key];
    try {
      problem = problemFromSpec(spec);
    } catch (e) {
      throw new ArgError(`wgtrain minimize: --function: ${(e as Error).message}`);
    }
    if (v.start !== undefined) start = parseStart(v.start);
    if (start && start.length !== problem.dim) {
      throw new ArgError(`wgtrain minimize: --start has ${start.length} coordinates but ${problem.name} is ${problem.dim}-dimensional`);
    }
    if (v.every! < 1) throw new ArgError('wgtrain minimize: --every must be at least 1');
    if (v.device === 'gpu' && args.given.has('dtype') && v.dtype !== 'float32') throw new ArgError('wgtrain minimize: the GPU computes in float32 only (--dtype float32)');
    adapter = v.device === 'gpu' ? adapterChoice(v.adapter, 'wgtrain minimize') : undefined;
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n`);
    return 2;
  }
  let engine: Engine | undefined;
  // Ctrl-C: the run stops at the next iteration, prints the point reached and exits 130; a second one quits at once.
  const interrupt = interruptOnSigint(() => io.stderr('wgtrain minimize: interrupted: stopping after this iteration (Ctrl-C again to quit at once)\n'));
  try {
    const device = v.device as 'cpu' | 'gpu';
    if (device === 'gpu') engine = await createEngine({ ...(adapter ? { adapter } : {}), log: (line) => io.stderr(line + '\n') });
    const every = v.every!;
    if (!v.json) io.stdout(`${method} on ${problem.name} (${problem.formula}), ${device}${device === 'cpu' ? ` ${v.dtype}` : ''}\n${'step'.padStart(6)}  ${'f'.padEnd(12)}  ${'max|∇f|'.padEnd(11)}  ${'evals'.padStart(6)}  x\n`);
    const onStep = (r: IterateRecord) => {
      if (v.json || r.step % every !== 0) return;
      const x = r.x ? r.x.slice(0, 6).map(fmt).join(', ') + (r.x.length > 6 ? ', …' : '') : '';
      io.stdout(`${String(r.step).padStart(6)}  ${fmt(r.f).padEnd(12)}  ${fmt(r.gradMax).padEnd(11)}  ${String(r.evals).padStart(6)}  ${x}\n`);
    };
    const result = await minimize(problem, {
      method, hyperparams, ...(start ? { start } : {}), device, ...(device === 'cpu' ? { dtype: v.dtype as 'float32' | 'float64' } : {}),
      ...(engine ? { engine } : {}), steps: v.steps!, ...(v.tolerance !== undefined ? { tolerance: v.tolerance } : {}), onStep,
      signal: interrupt.signal,
    });
    if (v.json) io.stdout(toJson(result) + '\n');
    else {
      io.stdout(
        `${result.stop} after ${result.steps} steps, ${result.evaluations} evaluations${device === 'gpu' ? `, ${result.readbacks} readbacks` : ''}\n` +
          `x = [${result.x.slice(0, 10).map(fmt).join(', ')}${result.x.length > 10 ? ', …' : ''}]  f = ${fmt(result.f)}  max|∇f| = ${fmt(result.gradMax)}\n`,
      );
    }
    if (result.stop.startsWith('stalled')) {
      io.stderr(`wgtrain minimize: ${result.stop}\n`);
      return 1;
    }
    return result.stop === 'aborted' ? 130 : 0;
  } catch (e) {
    io.stderr(`wgtrain minimize: ${(e as Error).message}\n`);
    return 1;
  } finally {
    interrupt.release();
    engine?.destroy();
  }
}
