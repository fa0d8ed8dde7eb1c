/**
 * The serialisable state of a method of this folder between two `step()` calls — what a training checkpoint stores
 * for a full-batch method (train/checkpoint.ts), as `OptimizerState` ('wgtrain.optim/1') is for a first-order one.
 *
 *   { format: 'wgtrain.method/1', method: 'LBFGS', dtype: the machine's precision, n: parameters,
 *     scalars: { <name>: number | boolean | number[] | null },      torch's names where torch has them; null = unset
 *                                                                     (torch's None, e.g. prev_loss before any step)
 *     vectors: { <name>: [k vectors of n numbers] } }               a list per name: one vector (d), a history
 *                                                                     (old_dirs), or none while unset (torch's None)
 * L-BFGS holds torch's `state` dict: d, t, old_dirs, old_stps, ro, H_diag, prev_flat_grad, prev_loss, n_iter,
 * func_evals; each method's module lists its own. A state is a pure value (numbers copied off the machine), so it
 * outlives the machine and loads into a new one of another device or precision (values rounded on a float32 one).
 * Loading checks everything and names the field: the format, the method, n, each scalar's type and range, each
 * vector's count, length and finiteness.
 */
import type { Dtype } from '../ref/dtype.js';
import type { Vec, VectorMachine } from '../linalg/machine.js';
import { MinimizeError } from './errors.js';
import { STEP_COUNTER_KEYS, StepCounters } from './step-control.js';

export const METHOD_STATE_FORMAT = 'wgtrain.method/1';

export type StateScalar = number | boolean | number[] | null;

export interface MethodState {
  format: typeof METHOD_STATE_FORMAT;
  /** The method that wrote it, e.g. 'LBFGS'. */
  method: string;
  /** Precision of the machine that wrote it (of its vectors). */
  dtype: Dtype;
  /** Parameters (the length of every vector). */
  n: number;
  scalars: Record<string, StateScalar>;
  vectors: Record<string, Float64Array[]>;
}

/** A method whose state can be saved and restored (every full-batch method of this folder). */
export interface Stateful {
  /** The state now (reads the method's vectors off the machine). */
  exportState(): Promise<MethodState>;
  /** Continues from a saved state: the next step() is the one the saved run would have taken next. */
  importState(s: MethodState): Promise<void>;
}

/** A scalar a method keeps as NaN while unset, as the state writes it: null (torch's None). StateReader.unset reads it back. */
export function nullIfUnset(v: number): number | null {
  return Number.isNaN(v) ? null : v;
}

/** A state from the method's scalars and the machine's vectors (each list copied off the machine). */
export async function captureState(m: VectorMachine, method: string, scalars: Record<string, StateScalar>, vectors: Record<string, readonly Vec[]>): Promise<MethodState> {
  const out: Record<string, Float64Array[]> = {};
  for (const [name, list] of Object.entries(vectors)) {
    out[name] = [];
    for (const v of list) out[name].push(await m.readVector(v));
  }
  return { format: METHOD_STATE_FORMAT, method, dtype: m.dtype, n: m.n, scalars: { ...scalars }, vectors: out };
}

/** Reads a saved state for `method` on machine `m`; every accessor checks its field and names it in errors. */
export class StateReader {
  private readonly where: string;

  constructor(readonly s: MethodState, method: string, readonly m: VectorMachine) {
    this.where = `${method} state`;
    const fail = (why: string): never => {
      throw new MinimizeError(`${this.where}: ${why}`);
    };
    if (s === null || typeof s !== 'object') fail(`expected a method state object, got ${JSON.stringify(s)}`);
    if (s.format !== METHOD_STATE_FORMAT) fail(`format must be "${METHOD_STATE_FORMAT}", got ${JSON.stringify(s.format)}`);
    if (s.method !== method) fail(`saved by ${s.method}, cannot load into ${method}`);
    if (s.n !== m.n) fail(`n is ${s.n}, this model has n = ${m.n} parameters`);
    if (s.scalars === null || typeof s.scalars !== 'object' || s.vectors === null || typeof s.vectors !== 'object') fail('needs scalars and vectors');
  }

  private fail(field: string, why: string): never {
    throw new MinimizeError(`${this.where}: ${field} ${why}`);
  }

  /** A finite number passing `check` (`want` says what it must be). With `nullable`, null (unset) reads as NaN. */
  number(key: string, check: (v: number) => boolean = () => true, want = 'a finite number', nullable = false): number {
    const v = this.s.scalars[key];
    if (v === null && nullable) return NaN;
    if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) this.fail(`scalars.${key}`, `must be ${want}${nullable ? ' or null' : ''}, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A finite number, or null (unset) read as NaN: the inverse of nullIfUnset. */
  unset(key: string): number {
    return this.number(key, undefined, 'a finite number', true);
  }

  /** An integer ≥ 0. */
  count(key: string): number {
    return this.number(key, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
  }

  boolean(key: string): boolean {
    const v = this.s.scalars[key];
    if (typeof v !== 'boolean') this.fail(`scalars.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A list of `length` finite numbers. */
  numbers(key: string, length: number): number[] {
    const v = this.s.scalars[key];
    if (!Array.isArray(v) || v.length !== length || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      this.fail(`scalars.${key}`, `must be a list of ${length} finite numbers, got ${JSON.stringify(v)}`);
    }
    return v;
  }

  /** The list of vectors `key`, with a count in [min, max], each of n finite numbers. */
  vectors(key: string, min: number, max: number): ArrayLike<number>[] {
    const list = this.s.vectors[key];
    if (!Array.isArray(list)) return this.fail(`vectors.${key}`, 'is missing');
    if (list.length < min || list.length > max) {
      this.fail(`vectors.${key}`, `holds ${list.length} vectors, expected ${min === max ? min : `${min} to ${max}`}`);
    }
    list.forEach((v, k) => {
      if (!(ArrayBuffer.isView(v) || Array.isArray(v)) || (v as ArrayLike<number>).length !== this.m.n) {
        this.fail(`vectors.${key}[${k}]`, `must hold n = ${this.m.n} numbers`);
      }
      const a = v as ArrayLike<number>;
      for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) this.fail(`vectors.${key}[${k}]`, `element ${i} is ${a[i]}: values must be finite`);
    });
    return list;
  }

  /** Checks that the state holds no scalar or vector beyond `scalars` and `vectors` (a different method version). */
  only(scalars: readonly string[], vectors: readonly string[]): void {
    for (const k of Object.keys(this.s.scalars)) if (!scalars.includes(k)) this.fail(`scalars.${k}`, `is not part of ${this.where} (it holds ${scalars.join(', ')})`);
    for (const k of Object.keys(this.s.vectors)) if (!vectors.includes(k)) this.fail(`vectors.${k}`, `is not part of ${this.where} (it holds ${vectors.join(', ')})`);
  }
}

/**
 * exportState of a method whose whole state is a record of numbers beside the step counters (Newton, LM: no vectors,
 * each step starts from f and ∇f at the current point).
 */
export function captureScalarState(m: VectorMachine, method: string, state: Readonly<Record<string, number>>, counters: StepCounters): Promise<MethodState> {
  return captureState(m, method, { ...state, ...counters.scalars() }, {});
}

/**
 * importState of such a method: `saved` must hold exactly the keys of `state` and the step counters; each key is an
 * integer >= 0 unless `read` names its own check. `state` and `counters` change only once everything has been read.
 */
export function restoreScalarState<S extends Record<string, number>>(
  saved: MethodState, method: string, m: VectorMachine, state: S, counters: StepCounters,
  read: { [K in keyof S]?: (r: StateReader) => number },
): void {
  const r = new StateReader(saved, method, m);
  r.only([...Object.keys(state), ...STEP_COUNTER_KEYS], []);
  const carried = StepCounters.read(r);
  const values: Record<string, number> = {};
  for (const k of Object.keys(state)) values[k] = read[k]?.(r) ?? r.count(k);
  Object.assign(state, values);
  counters.restore(carried);
}
