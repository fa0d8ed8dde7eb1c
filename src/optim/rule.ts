/**
 * What every optimizer module provides, and the generic work they share: hyperparameter declaration with torch's
 * names and defaults, validation with errors that name the bad field, and float32 rounding.
 *
 * An optimizer module (sgd.ts, adam.ts, ...) exports one `OptimizerRule`: its hyperparameters, the names of its
 * state (torch's names), and a CPU reference `step` that updates one contiguous range [start, end) of the flat
 * parameter buffer — one parameter group — in plain loops. `Optimizer` (optimizer.ts) drives the rules.
 *
 * Precision: the CPU reference runs in float64 or float32. In float32 every intermediate goes through `ctx.r`
 * (Math.fround), so each operation rounds like f32 hardware; host scalars (bias corrections, step sizes) are computed
 * in double and rounded once, as torch does when it passes a Python float to a float32 kernel. A scaled add
 * a + s·b (torch's `add(b, alpha=s)`, `mul_(β).add_(g, alpha=1−β)`, and addcmul's a + s·b·c) rounds once: torch's CPU
 * kernels evaluate it with a fused multiply-add, and the product of two float32 numbers is exact in a double, so
 * `r(a + s * b)` is that fma. Rounding the product separately instead makes float32 traces differ from torch's by
 * more than 1e-5 of the distance moved on elements whose steps cancel (checked against the torch fixtures).
 */

export type Dtype = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

/** torch.optim class names, the names the CLI and state files use. */
export const OPTIMIZER_NAMES = [
  'SGD', 'Adagrad', 'RMSprop', 'Adadelta', 'Adam', 'AdamW', 'Adamax', 'NAdam', 'RAdam', 'ASGD', 'Rprop',
] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

export type Pair = readonly [number, number];
export type HyperValue = number | boolean | Pair;
/** Resolved hyperparameters: every declared name present, torch's keyword names. */
export type Hyperparams = Readonly<Record<string, HyperValue>>;

export interface HyperparamSpec {
  readonly name: string;
  readonly kind: 'number' | 'boolean' | 'pair';
  readonly default: HyperValue;
  /** Returns why a (type-correct) value is out of range, or undefined when it is fine. */
  readonly check?: (v: never) => string | undefined;
}

/** Everything a rule's CPU step sees for one parameter group at one step. */
export interface StepContext {
  /** Parameters, whole flat buffer; the rule writes [start, end). */
  readonly p: FloatArray;
  /** Gradients, same layout as p; read only. */
  readonly g: FloatArray;
  /** Per-element state slots by torch name, same layout as p. */
  readonly slots: Readonly<Record<string, FloatArray>>;
  /** Per-group scalar state by torch name (ASGD eta/mu, NAdam mu_product); the rule updates it in place. */
  readonly scalars: Record<string, number>;
  readonly start: number;
  readonly end: number;
  /** Hyperparameters of this group (group lr / weight_decay already applied). */
  readonly h: Hyperparams;
  /** Step number of this update, 1 for the first step (torch's `state['step']` after its increment). */
  readonly t: number;
  /** Rounds to the working precision: Math.fround for float32, identity for float64. */
  readonly r: (x: number) => number;
}

export interface OptimizerRule {
  readonly name: OptimizerName;
  readonly hyperparams: readonly HyperparamSpec[];
  /** Per-element state slots in use for these hyperparameters, torch's names, in torch's order. */
  slots(h: Hyperparams): string[];
  /** Initial value of a slot (0 unless the rule says otherwise: Adagrad `sum`, Rprop `step_size`). */
  slotInit?(name: string, h: Hyperparams): number;
  /** Per-group scalar state and its initial values. */
  scalars?(h: Hyperparams): Record<string, number>;
  /** Checks that involve several hyperparameters (e.g. nesterov needs momentum); returns the error text. */
  crossCheck?(h: Hyperparams): string | undefined;
  /** The CPU reference: one update of the group [ctx.start, ctx.end). */
  step(ctx: StepContext): void;
}

/**
 * Declares a rule. The `const` type parameter keeps the literal names and kinds of its hyperparameters, from which
 * `HyperparamsOf` derives the typed keyword arguments of that optimizer (registry.ts: `OptimizerHyperparams`).
 */
export function defineRule<const R extends OptimizerRule>(rule: R): R {
  return rule;
}

type HyperValueOf<K> = K extends 'number' ? number : K extends 'boolean' ? boolean : readonly [number, number];

/** The keyword arguments a rule takes, each optional (absent ones take torch's default), e.g. Adam's `{ lr?, betas?, ... }`. */
export type HyperparamsOf<R extends { readonly hyperparams: readonly HyperparamSpec[] }> = {
  [S in R['hyperparams'][number] as S['name']]?: HyperValueOf<S['kind']>;
};

export const identity = (x: number): number => x;
export const rounder = (dtype: Dtype): ((x: number) => number) => (dtype === 'float32' ? Math.fround : identity);

// Range checks with torch's wording, shared by the modules.
export const nonNegative = (name: string) => (v: number) =>
  v >= 0 ? undefined : `${name} must be >= 0 (torch: "Invalid ${name} value"), got ${v}`;
export const unitInterval = (name: string) => (v: number) =>
  v >= 0 && v < 1 ? undefined : `${name} must be in [0, 1), got ${v}`;
export const betaPair = (v: Pair) =>
  v[0] >= 0 && v[0] < 1 && v[1] >= 0 && v[1] < 1
    ? undefined
    : `betas must both be in [0, 1), got [${v[0]}, ${v[1]}]`;

export const num = (h: Hyperparams, name: string): number => h[name] as number;
export const flag = (h: Hyperparams, name: string): boolean => h[name] as boolean;
export const pair = (h: Hyperparams, name: string): Pair => h[name] as Pair;

/**
 * Resolves user hyperparameters against a rule's declaration: unknown names, wrong types, non-finite numbers and
 * out-of-range values throw an error naming the field; absent names take torch's default.
 * `where` prefixes messages (e.g. 'hyperparams' or 'groups[1]').
 */
export function resolveHyperparams(
  rule: OptimizerRule,
  given: Readonly<Record<string, unknown>> = {},
  where = 'hyperparams',
): Hyperparams {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new Error(`${where} must be an object of torch keyword arguments, e.g. {"lr": 0.001}`);
  }
  const known = new Map(rule.hyperparams.map((s) => [s.name, s]));
  for (const key of Object.keys(given)) {
    if (!known.has(key)) {
      throw new Error(
        `${where}.${key}: ${rule.name} has no hyperparameter "${key}"; ` +
          `its hyperparameters are ${[...known.keys()].join(', ')}`,
      );
    }
  }
  const out: Record<string, HyperValue> = {};
  for (const spec of rule.hyperparams) {
    const v = given[spec.name] === undefined ? spec.default : given[spec.name];
    const field = `${where}.${spec.name}`;
    if (spec.kind === 'boolean') {
      if (typeof v !== 'boolean') throw new Error(`${field} must be true or false, got ${JSON.stringify(v)}`);
    } else if (spec.kind === 'number') {
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new Error(`${field} must be a finite number, got ${JSON.stringify(v)}`);
      }
    } else {
      if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
        throw new Error(`${field} must be a list of two finite numbers, e.g. [0.9, 0.999], got ${JSON.stringify(v)}`);
      }
    }
    const why = spec.check?.(v as never);
    if (why !== undefined) throw new Error(`${field}: ${why}`);
    out[spec.name] = spec.kind === 'pair' ? ([(v as number[])[0], (v as number[])[1]] as const) : (v as HyperValue);
  }
  const cross = rule.crossCheck?.(out);
  if (cross !== undefined) throw new Error(`${where}: ${cross}`);
  return out;
}
