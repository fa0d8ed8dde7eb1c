/**
 * Hessian-vector products at the machine's iterate for Newton's method: the objective's exact product where it
 * has one, else a forward difference of gradients
 *   H·v ≈ (∇f(x + ε·v) − ∇f(x)) / ε,   ε = h / ‖v‖,   h = √u·(1 + max|x|)
 * (u the unit roundoff of the working precision: the truncation error O(ε‖H'‖) and the rounding error
 * O(u‖∇f‖/ε) balance near ε ~ √u). ε and 1/ε are formed on the machine; one gradient evaluation per product.
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { MinimizeError } from './errors.js';

export type HessianMode = 'exact' | 'fd';

export class HessianVector {
  readonly mode: HessianMode;
  /** Gradient evaluations made for products (finite differences). */
  evaluations = 0;
  private readonly xSave: Vec;
  private readonly gEps: Vec;
  private readonly s: Record<'vv' | 'eps' | 'inv' | 'f', Slot>;
  private h = NaN;

  constructor(readonly m: VectorMachine, mode: HessianMode | 'auto' = 'auto') {
    if (mode === 'exact' && !m.hasHvp) throw new MinimizeError('hessian "exact": this problem has no exact Hessian-vector product; use "fd" (finite differences of gradients) or "auto"');
    if (mode !== 'exact' && mode !== 'fd' && mode !== 'auto') throw new MinimizeError(`hessian must be "auto", "exact" or "fd", got ${JSON.stringify(mode)}`);
    this.mode = mode === 'auto' ? (m.hasHvp ? 'exact' : 'fd') : mode;
    this.xSave = m.vector('hvp.x');
    this.gEps = m.vector('hvp.g_eps');
    const base = m.scalars(4);
    this.s = { vv: base, eps: base + 1, inv: base + 2, f: base + 3 };
  }

  /** Sets the iterate's scale for the next products: max|x| at the current iterate. */
  at(maxAbsX: number): void {
    const u = this.m.dtype === 'float32' ? 2 ** -24 : 2 ** -53;
    this.h = Math.sqrt(u) * (1 + maxAbsX);
  }

  /** out = H(x)·v, with g = ∇f(x) already on the machine. */
  async apply(v: Vec, out: Vec, g: Vec): Promise<void> {
    const { m, s } = this;
    if (this.mode === 'exact') return m.hvp(v, out);
    if (!(this.h > 0)) throw new MinimizeError('HessianVector: call at(max|x|) before finite-difference products');
    m.dot(s.vv, v, v);
    m.scalar(s.eps, 'div_sqrt', this.h, { slot: s.vv });
    m.scalar(s.inv, 'mul_sqrt', 1 / this.h, { slot: s.vv });
    m.copy(this.xSave, m.x);
    m.axpby(m.x, { slot: s.eps }, v, 1, m.x);
    await m.evaluate(this.gEps, s.f);
    this.evaluations++;
    m.copy(m.x, this.xSave);
    m.axpby(out, { slot: s.inv }, this.gEps, { c: -1, slot: s.inv }, g);
  }
}
