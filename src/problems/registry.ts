/**
 * Problems by name, and problem specs (what `wgtrain minimize --function` and function-spec traces accept):
 *
 *   { "name": "rosenbrock2d" | "bowl" | "quartic" | "beale" | "saddle" }
 *   { "name": "quadratic", "A": n×n (rows or flat), "b": [n] }                 ½xᵀAx − bᵀx with the given A, b
 *   { "name": "quadratic", "dim": n, "condition"?: 1e4, "seed"?: 0 }          a seeded SPD quadratic of that condition
 *   { "name": "linear_regression" | "logistic_regression", "m"?, "seed"? }     the examples' synthetic data sets
 *   { "name": "tanh_network", "hidden"?: 8, "m"?: 40, "seed"? }               a small regression network (least squares)
 * `dim`, when given, must equal the problem's dimension (a clear error otherwise).
 */
import { beale } from './beale.js';
import { bowl } from './bowl.js';
import type { Problem } from './problem.js';
import { conditionedQuadratic, quadraticProblem } from './quadratic.js';
import { quartic } from './quartic.js';
import { curveExampleData, linearExampleData, linearRegression, logisticExampleData, logisticRegression, tanhNetwork } from './regression.js';
import { rosenbrock2d } from './rosenbrock.js';
import { saddle } from './saddle.js';

/** The fixed test functions, by name (for a playground: all of them are 1-D or 2-D with value and gradient). */
export const TEST_FUNCTIONS: Readonly<Record<string, Problem>> = { bowl, quartic, rosenbrock2d, beale, saddle };

export const PROBLEM_NAMES = [...Object.keys(TEST_FUNCTIONS), 'quadratic', 'linear_regression', 'logistic_regression', 'tanh_network'] as const;

export interface ProblemSpec {
  name: string;
  dim?: number;
  A?: number[] | number[][];
  b?: number[];
  condition?: number;
  seed?: number;
  m?: number;
  hidden?: number;
  noise?: number;
}

const KEYS: Record<string, readonly string[]> = {
  quadratic: ['A', 'b', 'condition', 'seed'],
  linear_regression: ['m', 'seed', 'noise'],
  logistic_regression: ['m', 'seed'],
  tanh_network: ['m', 'seed', 'hidden', 'noise'],
};

function intField(s: Record<string, unknown>, key: string, min: number): number | undefined {
  const v = s[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) throw new RangeError(`problem.${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v;
}

/** A problem from its name (a string) or a spec object; errors name the field and list the valid names. */
export function problemFromSpec(spec: string | ProblemSpec | unknown): Problem {
  const s = (typeof spec === 'string' ? { name: spec } : spec) as Record<string, unknown>;
  if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new TypeError('problem must be a name or an object {"name": ...}');
  const name = s.name === 'rosenbrock' ? 'rosenbrock2d' : s.name;
  if (typeof name !== 'string' || !(PROBLEM_NAMES as readonly string[]).includes(name)) {
    throw new RangeError(`problem.name: unknown problem ${JSON.stringify(s.name)}; expected one of ${PROBLEM_NAMES.join(', ')}`);
  }
  const allowed = new Set(['name', 'dim', ...(KEYS[name] ?? [])]);
  for (const key of Object.keys(s)) {
    if (!allowed.has(key)) throw new RangeError(`problem.${key}: ${name} takes no "${key}" (it takes ${[...allowed].join(', ')})`);
  }
  const dim = intField(s, 'dim', 1);
  let problem: Problem;
  if (name in TEST_FUNCTIONS) problem = TEST_FUNCTIONS[name]!;
  else if (name === 'quadratic') {
    if (s.A !== undefined || s.b !== undefined) {
      if (s.A === undefined || s.b === undefined) throw new RangeError('problem: a quadratic needs both A and b (or neither, with dim and condition)');
      if (!Array.isArray(s.b)) throw new TypeError('problem.b must be a list of numbers');
      if (!Array.isArray(s.A)) throw new TypeError('problem.A must be a list of rows (or n² numbers)');
      problem = quadraticProblem({ A: s.A as number[] | number[][], b: s.b as number[] });
    } else {
      if (dim === undefined) throw new RangeError('problem: a quadratic needs A and b, or dim (with optional condition and seed)');
      const condition = s.condition === undefined ? 1e4 : s.condition;
      if (typeof condition !== 'number' || !(condition >= 1)) throw new RangeError(`problem.condition must be a number >= 1, got ${JSON.stringify(condition)}`);
      problem = conditionedQuadratic({ dim, condition, seed: intField(s, 'seed', 0) ?? 0 });
    }
  } else {
    const m = intField(s, 'm', 1);
    const seed = intField(s, 'seed', 0) ?? 0;
    const noise = s.noise === undefined ? undefined : Number(s.noise);
    if (noise !== undefined && !(noise >= 0)) throw new RangeError(`problem.noise must be a number >= 0, got ${JSON.stringify(s.noise)}`);
    const opts = { seed, ...(m !== undefined ? { m } : {}), ...(noise !== undefined ? { noise } : {}) };
    if (name === 'linear_regression') problem = linearRegression(linearExampleData(opts));
    else if (name === 'logistic_regression') problem = logisticRegression(logisticExampleData(opts));
    else problem = tanhNetwork(curveExampleData(opts), { seed, ...(s.hidden !== undefined ? { hidden: intField(s, 'hidden', 1)! } : {}) });
  }
  if (dim !== undefined && dim !== problem.dim) {
    throw new RangeError(`problem.dim: ${problem.name} is ${problem.dim}-dimensional, but dim is ${dim}`);
  }
  return problem;
}
