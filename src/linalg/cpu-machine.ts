/**
 * The CPU vector machine: the readable reference of every operation the minimizers use, as plain loops in float64 or
 * in float32 (Math.fround after every operation).
 *
 *   axpby     z_i = α·x_i + β·y_i: with β = 1 (or α = 1) a fused multiply-add, rounded once, exactly as torch's
 *             CPU `y.add(x, alpha=α)` computes it (in both precisions); otherwise the two products rounded, then
 *             their sum
 *   dot       Σ x_i·y_i in ascending i, each product rounded, then each addition (torch's CPU dot for small n)
 *   coef      c·(sc[slot] − sc[sub]) rounded like the GPU: (A − B) then ×c
 * Scalars are stored in the dtype's precision. Evaluations call the problem's CPU objective on the iterate.
 */
import type { CpuObjective } from './objective.js';
import { checkCoef, MachineError, type Slot, type Vec, type VectorMachine } from './machine.js';
import { allocate, rounder, type Dtype, type FloatArray } from '../ref/dtype.js';
import { fma32, fma64 } from '../ref/fma.js';
import type { Coef, ScalarMode } from './vector.js';

export class CpuMachine implements VectorMachine {
  readonly device = 'cpu' as const;
  readonly n: number;
  readonly x: Vec;
  readbacks = 0;
  evaluations = 0;
  private readonly r: (v: number) => number;
  private readonly data = new Map<number, FloatArray>();
  private sc: Float64Array = new Float64Array(64);
  private slotCount = 0;
  private nextId = 0;

  /**
   * `x0` starts x (default zeros); `xArray`, when given, becomes x itself (the machine then iterates on the caller's
   * array in place, e.g. a runner's parameters; its type must match dtype).
   */
  constructor(
    readonly objective: CpuObjective,
    readonly dtype: Dtype = 'float64',
    x0?: ArrayLike<number>,
    xArray?: FloatArray,
  ) {
    if (dtype !== 'float32' && dtype !== 'float64') throw new MachineError(`dtype must be "float32" or "float64", got ${JSON.stringify(dtype)}`);
    this.n = objective.n;
    this.r = rounder(dtype);
    this.x = this.vector('x');
    if (xArray) {
      if (xArray.length !== this.n || !(xArray instanceof (dtype === 'float32' ? Float32Array : Float64Array))) {
        throw new MachineError(`xArray must be a ${dtype === 'float32' ? 'Float32Array' : 'Float64Array'} of n = ${this.n} elements`);
      }
      this.data.set(this.x.id, xArray);
    }
    if (x0) {
      if (x0.length !== this.n) throw new MachineError(`x0 has ${x0.length} numbers but the objective has n = ${this.n}`);
      this.get(this.x).set(Array.from(x0, this.r));
    }
  }

  get hasHvp(): boolean {
    return !!this.objective.hvp;
  }

  get residualCount(): number | null {
    return this.objective.leastSquares?.m ?? null;
  }

  vector(label: string, length = this.n): Vec {
    const v: Vec = { id: this.nextId++, length, label };
    this.data.set(v.id, allocate(this.dtype, length));
    return v;
  }

  scalars(count = 1): Slot {
    const first = this.slotCount;
    this.slotCount += count;
    if (this.slotCount > this.sc.length) {
      const grown = new Float64Array(Math.max(this.slotCount, 2 * this.sc.length));
      grown.set(this.sc);
      this.sc = grown;
    }
    return first;
  }

  /** The array behind a vector (for the reference's own use and tests). */
  get(v: Vec): FloatArray {
    const a = this.data.get(v.id);
    if (!a) throw new MachineError(`vector '${v.label}' does not belong to this machine`);
    return a;
  }

  private coef(k: Coef | undefined, what: string): number {
    checkCoef(k, this.slotCount, what);
    if (k === undefined) return 0;
    if (typeof k === 'number') return this.r(k);
    const a = k.slot === undefined || k.slot === 0xffffffff ? 1 : this.sc[k.slot]!;
    const b = k.sub === undefined || k.sub === 0xffffffff ? 0 : this.sc[k.sub]!;
    return this.r(this.r(k.c ?? 1) * this.r(a - b));
  }

  axpby(z: Vec, alpha: Coef, x: Vec, beta?: Coef, y?: Vec): void {
    const zs = this.get(z), xs = this.get(x), ys = y ? this.get(y) : null;
    if (xs.length !== zs.length || (ys && ys.length !== zs.length)) {
      throw new MachineError(`axpby: lengths differ (${z.label} ${zs.length}, ${x.label} ${xs.length}${y ? `, ${y.label} ${ys!.length}` : ''})`);
    }
    const a = this.coef(alpha, 'axpby α');
    const b = ys ? this.coef(beta, 'axpby β') : 0;
    const r = this.r;
    const fma = this.dtype === 'float32' ? fma32 : fma64;
    if (!ys) for (let i = 0; i < zs.length; i++) zs[i] = r(a * xs[i]!);
    else if (b === 1) for (let i = 0; i < zs.length; i++) zs[i] = fma(a, xs[i]!, ys[i]!);
    else if (a === 1) for (let i = 0; i < zs.length; i++) zs[i] = fma(b, ys[i]!, xs[i]!);
    else for (let i = 0; i < zs.length; i++) zs[i] = r(r(a * xs[i]!) + r(b * ys[i]!));
  }

  copy(dst: Vec, src: Vec): void {
    const d = this.get(dst), s = this.get(src);
    if (d.length !== s.length) throw new MachineError(`copy: ${src.label} has ${s.length} elements, ${dst.label} ${d.length}`);
    d.set(s);
  }

  dot(out: Slot, x: Vec, y: Vec, opts: { scale?: number; stats?: boolean } = {}): void {
    const xs = this.get(x), ys = this.get(y);
    if (xs.length !== ys.length) throw new MachineError(`dot: ${x.label} has ${xs.length} elements, ${y.label} ${ys.length}`);
    const width = opts.stats ? 4 : 1;
    if (!(Number.isInteger(out) && out >= 0 && out + width <= this.slotCount)) throw new MachineError(`dot: scalar slots ${out}..${out + width - 1} do not exist`);
    const r = this.r;
    let s = 0, mx = 0, sa = 0, bad = 0;
    for (let i = 0; i < xs.length; i++) {
      const a = xs[i]!, b = ys[i]!;
      if (!Number.isFinite(a) || !Number.isFinite(b)) {
        bad++;
        continue;
      }
      s = r(s + r(a * b));
      mx = Math.max(mx, Math.abs(a));
      sa = r(sa + Math.abs(a));
    }
    this.sc[out] = r(r(opts.scale ?? 1) * s);
    if (opts.stats) {
      this.sc[out + 1] = mx;
      this.sc[out + 2] = sa;
      this.sc[out + 3] = bad;
    }
  }

  scalar(out: Slot, mode: ScalarMode, a: Coef, b: Coef): void {
    if (!(Number.isInteger(out) && out >= 0 && out < this.slotCount)) throw new MachineError(`scalar: slot ${out} does not exist`);
    const A = this.coef(a, 'scalar A'), B = this.coef(b, 'scalar B'), r = this.r;
    this.sc[out] = mode === 'div' ? r(A / B) : mode === 'mul_sqrt' ? r(A * r(Math.sqrt(B))) : B === 0 ? 0 : r(A / r(Math.sqrt(B)));
  }

  async evaluate(g: Vec, f: Slot): Promise<void> {
    this.evaluations++;
    this.sc[f] = this.r(await this.objective.evaluate(this.get(this.x), this.get(g)));
  }

  async hvp(v: Vec, out: Vec): Promise<void> {
    if (!this.objective.hvp) throw new MachineError('hvp: this objective has no exact Hessian-vector product');
    this.objective.hvp(this.get(this.x), this.get(v), this.get(out));
  }

  private ls() {
    const ls = this.objective.leastSquares;
    if (!ls) throw new MachineError('this objective is not a least-squares problem (no residuals)');
    return ls;
  }

  async residuals(r: Vec): Promise<void> {
    this.ls().residuals(this.get(this.x), this.get(r));
  }

  async jvp(v: Vec, out: Vec): Promise<void> {
    this.ls().jvp(this.get(this.x), this.get(v), this.get(out));
  }

  async vjp(u: Vec, out: Vec): Promise<void> {
    this.ls().vjp(this.get(this.x), this.get(u), this.get(out));
  }

  flush(): void {}

  async read(slots: readonly Slot[]): Promise<number[]> {
    this.readbacks++;
    return slots.map((s) => {
      if (!(Number.isInteger(s) && s >= 0 && s < this.slotCount)) throw new MachineError(`read: scalar slot ${s} does not exist`);
      return this.sc[s]!;
    });
  }

  async readVector(v: Vec): Promise<Float64Array> {
    return Float64Array.from(this.get(v));
  }

  async writeVector(v: Vec, values: ArrayLike<number>): Promise<void> {
    const a = this.get(v);
    if (values.length !== a.length) throw new MachineError(`writeVector: ${v.label} has ${a.length} elements, got ${values.length}`);
    a.set(Array.from(values, this.r));
  }

  destroy(): void {
    this.data.clear();
  }
}
