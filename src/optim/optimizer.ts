/**
 * CPU optimizer over one flat parameter buffer: parameter groups, the step count, state slots, and state
 * export/import. The update math lives in the rule modules (sgd.ts, adam.ts, ...); this module does the bookkeeping.
 *
 * Layout: the whole model's parameters are one flat array of n elements, laid out group by group, so a parameter
 * group is a contiguous range [start, end); groups tile [0, n) in order. A group may override `lr` and
 * `weight_decay` (e.g. no decay on biases); every other hyperparameter is shared.
 *
 * Saved state (`OptimizerState`, format 'wgtrain.optim/1'), torch-like and JSON-safe:
 *   { format, optimizer: torch class name, dtype, n, step: steps taken,
 *     hyperparams: the shared hyperparameters (torch names, defaults filled in),
 *     groups: [{start, end, lr, weight_decay?}],
 *     state: { <torch state name>: number[] } }
 * where per-element slots (exp_avg, exp_avg_sq, max_exp_avg_sq, momentum_buffer, sum, square_avg, grad_avg,
 * acc_delta, exp_inf, ax, prev, step_size) have n numbers and per-group scalars (eta, mu, mu_product) have one number
 * per group. float32 values are exact in JSON (every float32 is a double), so a round trip is bit-exact.
 */
import { getRule } from './registry.js';
import {
  resolveHyperparams, rounder,
  type Dtype, type FloatArray, type Hyperparams, type OptimizerName, type OptimizerRule,
} from './rule.js';

export interface ParamGroup {
  readonly start: number;
  readonly end: number;
  readonly lr?: number;
  readonly weight_decay?: number;
}

export interface OptimizerOptions {
  /** Number of parameters (length of the flat buffer). */
  readonly n: number;
  readonly dtype?: Dtype;
  /** Contiguous groups tiling [0, n); default one group. */
  readonly groups?: readonly ParamGroup[];
}

export interface ResolvedGroup {
  readonly start: number;
  readonly end: number;
  /** This group's hyperparameters: the shared ones with the group's lr / weight_decay. */
  h: Hyperparams;
}

export interface OptimizerState {
  format: 'wgtrain.optim/1';
  optimizer: OptimizerName;
  dtype: Dtype;
  n: number;
  step: number;
  hyperparams: Record<string, number | boolean | number[]>;
  groups: { start: number; end: number; lr: number; weight_decay?: number }[];
  state: Record<string, number[]>;
}

const GROUP_KEYS = new Set(['start', 'end', 'lr', 'weight_decay']);

/** Validates a group layout against n; errors name the group and the fix. */
export function checkGroups(groups: readonly ParamGroup[], n: number, where = 'groups'): void {
  if (!Array.isArray(groups) || groups.length === 0) throw new Error(`${where} must be a non-empty list of {start, end}`);
  let expect = 0;
  groups.forEach((gr, k) => {
    for (const key of Object.keys(gr)) {
      if (!GROUP_KEYS.has(key)) {
        throw new Error(`${where}[${k}].${key}: a group may only set start, end, lr and weight_decay`);
      }
    }
    if (!Number.isInteger(gr.start) || !Number.isInteger(gr.end) || gr.end < gr.start) {
      throw new Error(`${where}[${k}]: start and end must be integers with start <= end, got [${gr.start}, ${gr.end})`);
    }
    if (gr.start !== expect) {
      throw new Error(
        `${where}[${k}] starts at ${gr.start} but the previous group ends at ${expect}: ` +
          'groups must tile the flat parameter buffer contiguously, in order',
      );
    }
    expect = gr.end;
  });
  if (expect !== n) throw new Error(`${where}: the groups cover [0, ${expect}) but there are n = ${n} parameters`);
}

export class Optimizer {
  readonly rule: OptimizerRule;
  readonly dtype: Dtype;
  readonly n: number;
  /** Shared hyperparameters (torch names, defaults filled in). */
  readonly hyperparams: Hyperparams;
  readonly groups: ResolvedGroup[];
  /** Per-element state by torch name, each of length n. */
  readonly slots: Record<string, FloatArray>;
  /** Per-group scalar state (ASGD eta/mu, NAdam mu_product). */
  readonly scalars: Record<string, number>[];
  /** Steps taken so far (torch's state['step']). */
  stepCount = 0;

  constructor(optimizer: OptimizerName | string, hyperparams: Readonly<Record<string, unknown>> = {}, opts: OptimizerOptions) {
    this.rule = getRule(optimizer);
    const { n } = opts;
    if (!Number.isInteger(n) || n < 0) throw new Error(`n must be a non-negative integer (the parameter count), got ${n}`);
    this.n = n;
    this.dtype = opts.dtype ?? 'float32';
    if (this.dtype !== 'float32' && this.dtype !== 'float64') {
      throw new Error(`dtype must be "float32" or "float64", got ${JSON.stringify(this.dtype)}`);
    }
    this.hyperparams = resolveHyperparams(this.rule, hyperparams);
    const groups = opts.groups ?? [{ start: 0, end: n }];
    checkGroups(groups, n);
    this.groups = groups.map((gr, k) => ({
      start: gr.start,
      end: gr.end,
      h: this.groupHyperparams(gr, k),
    }));
    const Arr = this.dtype === 'float32' ? Float32Array : Float64Array;
    this.slots = {};
    for (const name of this.rule.slots(this.hyperparams)) {
      const a = new Arr(n);
      for (const gr of this.groups) a.fill(this.rule.slotInit?.(name, gr.h) ?? 0, gr.start, gr.end);
      this.slots[name] = a;
    }
    const r = rounder(this.dtype);
    this.scalars = this.groups.map((gr) => {
      const init = this.rule.scalars?.(gr.h) ?? {};
      return Object.fromEntries(Object.entries(init).map(([k, v]) => [k, r(v)]));
    });
  }

  private groupHyperparams(gr: ParamGroup, k: number): Hyperparams {
    const over: Record<string, unknown> = { ...this.hyperparams };
    if (gr.lr !== undefined) over.lr = gr.lr;
    if (gr.weight_decay !== undefined) {
      if (!('weight_decay' in this.hyperparams)) {
        throw new Error(`groups[${k}].weight_decay: ${this.rule.name} has no weight_decay hyperparameter`);
      }
      over.weight_decay = gr.weight_decay;
    }
    return resolveHyperparams(this.rule, over, `groups[${k}]`);
  }

  /** Sets the learning rate of every group (a number) or of each group (a list), as a schedule would. */
  setLr(lr: number | readonly number[]): void {
    const lrs = typeof lr === 'number' ? this.groups.map(() => lr) : lr;
    if (lrs.length !== this.groups.length) {
      throw new Error(`setLr: got ${lrs.length} learning rates for ${this.groups.length} parameter groups`);
    }
    this.groups.forEach((gr, k) => {
      gr.h = resolveHyperparams(this.rule, { ...gr.h, lr: lrs[k] }, `lr[${k}]`);
    });
  }

  /** One optimizer step: updates params (length n, this optimizer's dtype) in place from grads. */
  step(params: FloatArray, grads: FloatArray): void {
    const Arr = this.dtype === 'float32' ? Float32Array : Float64Array;
    for (const [name, a] of [['params', params], ['grads', grads]] as const) {
      if (!(a instanceof Arr)) throw new Error(`${name} must be a ${Arr.name} (optimizer dtype ${this.dtype})`);
      if (a.length !== this.n) throw new Error(`${name} has ${a.length} elements but the optimizer has n = ${this.n}`);
    }
    const t = ++this.stepCount;
    const r = rounder(this.dtype);
    this.groups.forEach((gr, k) => {
      this.rule.step({ p: params, g: grads, slots: this.slots, scalars: this.scalars[k]!, start: gr.start, end: gr.end, h: gr.h, t, r });
    });
  }

  exportState(): OptimizerState {
    const state: Record<string, number[]> = {};
    for (const [name, a] of Object.entries(this.slots)) state[name] = Array.from(a);
    for (const name of Object.keys(this.scalars[0] ?? {})) state[name] = this.scalars.map((s) => s[name]!);
    const hyperparams: OptimizerState['hyperparams'] = {};
    for (const [k, v] of Object.entries(this.hyperparams)) hyperparams[k] = Array.isArray(v) ? [...v] : (v as number | boolean);
    return {
      format: 'wgtrain.optim/1',
      optimizer: this.rule.name,
      dtype: this.dtype,
      n: this.n,
      step: this.stepCount,
      hyperparams,
      groups: this.groups.map((gr) => ({
        start: gr.start,
        end: gr.end,
        lr: gr.h.lr as number,
        ...('weight_decay' in gr.h ? { weight_decay: gr.h.weight_decay as number } : {}),
      })),
      state,
    };
  }

  /**
   * Restores step count, group lr / weight_decay and state from `exportState()` output (or its JSON). The optimizer
   * must have the same rule, dtype, n, group ranges and state names (e.g. the same amsgrad setting).
   */
  importState(saved: OptimizerState): void {
    const where = 'optimizer state';
    if (saved?.format !== 'wgtrain.optim/1') throw new Error(`${where}: format must be "wgtrain.optim/1", got ${JSON.stringify(saved?.format)}`);
    if (saved.optimizer !== this.rule.name) throw new Error(`${where}: saved by ${saved.optimizer}, cannot load into ${this.rule.name}`);
    if (saved.dtype !== this.dtype) throw new Error(`${where}: dtype is ${saved.dtype}, this optimizer is ${this.dtype}`);
    if (saved.n !== this.n) throw new Error(`${where}: n is ${saved.n}, this optimizer has n = ${this.n}`);
    if (!Number.isInteger(saved.step) || saved.step < 0) throw new Error(`${where}.step must be a non-negative integer, got ${saved.step}`);
    checkGroups(saved.groups, this.n, `${where}.groups`);
    if (saved.groups.length !== this.groups.length || saved.groups.some((g, k) => g.end !== this.groups[k]!.end)) {
      throw new Error(`${where}.groups: ranges differ from this optimizer's groups`);
    }
    const expected = [...Object.keys(this.slots), ...Object.keys(this.scalars[0] ?? {})].sort();
    const got = Object.keys(saved.state ?? {}).sort();
    if (expected.join() !== got.join()) {
      throw new Error(`${where}.state holds [${got.join(', ')}] but this ${this.rule.name} needs [${expected.join(', ')}] (different amsgrad / momentum / centered setting?)`);
    }
    const check = (name: string, a: unknown, len: number) => {
      if (!Array.isArray(a) && !ArrayBuffer.isView(a)) throw new Error(`${where}.state.${name} must be a list of numbers`);
      const arr = a as ArrayLike<unknown>;
      if (arr.length !== len) throw new Error(`${where}.state.${name} has ${arr.length} numbers, expected ${len}`);
      for (let i = 0; i < len; i++) {
        if (typeof arr[i] !== 'number' || !Number.isFinite(arr[i])) {
          throw new Error(`${where}.state.${name}[${i}] must be a finite number, got ${JSON.stringify(arr[i])}`);
        }
      }
    };
    for (const name of Object.keys(this.slots)) check(name, saved.state[name], this.n);
    for (const name of Object.keys(this.scalars[0] ?? {})) check(name, saved.state[name], this.groups.length);
    // Validate everything before changing anything.
    const newH = saved.groups.map((g, k) => this.groupHyperparams(g, k));
    for (const name of Object.keys(this.slots)) this.slots[name]!.set(saved.state[name]!);
    for (const name of Object.keys(this.scalars[0] ?? {})) this.scalars.forEach((s, k) => (s[name] = saved.state[name]![k]!));
    this.groups.forEach((g, k) => (g.h = newH[k]!));
    this.stepCount = saved.step;
  }
}
