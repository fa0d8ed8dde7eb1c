/**
 * Linear conjugate gradient (Hestenes & Stiefel 1952) for A·x = b with A symmetric positive definite, given only
 * as an operator v ↦ A·v on the vector machine — the inner solver of Newton's method (A = H, or H by finite
 * differences of gradients) and of Levenberg-Marquardt (A = JᵀJ + λI).
 *
 *   x = 0, r = b, p = r
 *   repeat: α = rᵀr / pᵀAp;  x += α·p;  r −= α·Ap;  β = r'ᵀr' / rᵀr;  p = r' + β·p
 *   until ‖r‖ ≤ rtol·‖b‖ or max_iter iterations
 * With a trust region of radius Δ (Steihaug 1983, Toint 1981): when pᵀAp ≤ 0 (negative curvature) or the iterate
 * leaves the ball, stop on its boundary: x = x_prev + τ·p_prev with ‖x_prev + τ·p_prev‖ = Δ, τ ≥ 0. Without a trust
 * region, negative curvature stops with the last iterate and status 'negative curvature'.
 *
 * α and β are formed on the machine (scalar ops), so an iteration needs one readback, for the tests that end it.
 * An aborted `signal` stops before the next operator product with status 'aborted' (x: the last iterate; Newton and
 * Levenberg-Marquardt drop the iteration that was solving).
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { MinimizeError } from './errors.js';

export type CgStatus = 'converged' | 'max_iter' | 'negative curvature' | 'boundary' | 'aborted';

export interface CgResult {
  status: CgStatus;
  iterations: number;
  /** ‖r‖ / ‖b‖ at the end (NaN when stopped on the boundary or by negative curvature). */
  relativeResidual: number;
  /** ‖b‖ */
  bNorm: number;
}

export interface CgOptions {
  maxIter: number;
  /** Stop when ‖r‖ ≤ rtol·‖b‖. */
  rtol: number;
  /** Trust-region radius Δ (Steihaug-Toint). */
  radius?: number;
  /** Checked before each operator product (each may be a full gradient evaluation). */
  signal?: AbortSignal;
}

export class CgSolver {
  private readonly r: Vec;
  private readonly p: Vec;
  private readonly ap: Vec;
  private readonly xPrev: Vec;
  private readonly pPrev: Vec;
  // rᵀr, r'ᵀr', pᵀAp, α, β, bᵀb, xᵀx, x_prevᵀp_prev, p_prevᵀp_prev
  private readonly s: Record<'rr' | 'rrNew' | 'pap' | 'alpha' | 'beta' | 'bb' | 'xx' | 'xp' | 'pp', Slot>;

  constructor(readonly m: VectorMachine, length = m.n, label = 'cg') {
    this.r = m.vector(`${label}.r`, length);
    this.p = m.vector(`${label}.p`, length);
    this.ap = m.vector(`${label}.Ap`, length);
    this.xPrev = m.vector(`${label}.x_prev`, length);
    this.pPrev = m.vector(`${label}.p_prev`, length);
    const base = m.scalars(9);
    this.s = { rr: base, rrNew: base + 1, pap: base + 2, alpha: base + 3, beta: base + 4, bb: base + 5, xx: base + 6, xp: base + 7, pp: base + 8 };
  }

  /** Solves apply(x) = b into x (overwritten; starts at 0). */
  async solve(apply: (v: Vec, out: Vec) => Promise<void>, b: Vec, x: Vec, o: CgOptions): Promise<CgResult> {
    const { m, s } = this;
    if (!(Number.isInteger(o.maxIter) && o.maxIter >= 1)) throw new MinimizeError(`CG: maxIter must be an integer >= 1, got ${o.maxIter}`);
    if (o.radius !== undefined && !(o.radius > 0)) throw new MinimizeError(`CG: the trust-region radius must be > 0, got ${o.radius}`);
    m.axpby(x, 0, b);
    m.copy(this.r, b);
    m.copy(this.p, b);
    m.dot(s.bb, b, b);
    m.scalar(s.rr, 'div', { slot: s.bb }, 1); // r = b
    const trust = o.radius !== undefined;
    let bNorm = NaN;
    // ‖x_prev‖²: x_prev is the iterate whose ‖x‖² the previous iteration read (0 at the start).
    let xxPrev = 0;
    const boundary = (xp: number, pp: number, xx: number) => {
      const R = o.radius!;
      const disc = Math.max(0, (2 * xp) ** 2 - 4 * pp * (xx - R * R));
      return (-2 * xp + Math.sqrt(disc)) / (2 * pp);
    };
    for (let k = 0; k < o.maxIter; k++) {
      if (o.signal?.aborted) return { status: 'aborted', iterations: k, relativeResidual: NaN, bNorm };
      m.copy(this.xPrev, x);
      if (trust) m.copy(this.pPrev, this.p);
      await apply(this.p, this.ap);
      m.dot(s.pap, this.p, this.ap);
      m.scalar(s.alpha, 'div', { slot: s.rr }, { slot: s.pap });
      m.axpby(x, { slot: s.alpha }, this.p, 1, x);
      m.axpby(this.r, { c: -1, slot: s.alpha }, this.ap, 1, this.r);
      m.dot(s.rrNew, this.r, this.r);
      m.scalar(s.beta, 'div', { slot: s.rrNew }, { slot: s.rr });
      m.axpby(this.p, 1, this.r, { slot: s.beta }, this.p);
      m.scalar(s.rr, 'div', { slot: s.rrNew }, 1);
      if (trust) {
        m.dot(s.xx, x, x);
        m.dot(s.xp, this.xPrev, this.pPrev);
        m.dot(s.pp, this.pPrev, this.pPrev);
      }
      const [pap, rrNew, bb, xx, xp, pp] = await m.read([s.pap, s.rrNew, s.bb, ...(trust ? [s.xx, s.xp, s.pp] : [])]) as number[];
      if (k === 0) {
        bNorm = Math.sqrt(bb!);
        if (!Number.isFinite(bNorm)) throw new MinimizeError(`CG: the right-hand side holds NaN or infinite values (‖b‖² = ${bb})`);
        if (bNorm === 0) {
          m.axpby(x, 0, b);
          return { status: 'converged', iterations: 0, relativeResidual: 0, bNorm };
        }
      }
      if (!(pap! > 0)) {
        if (!Number.isFinite(pap!)) throw new MinimizeError(`CG iteration ${k + 1}: pᵀAp is ${pap}; the operator returned NaN or infinite values`);
        if (trust) m.axpby(x, 1, this.xPrev, boundary(xp!, pp!, xxPrev), this.pPrev);
        else m.copy(x, this.xPrev);
        return { status: 'negative curvature', iterations: k + 1, relativeResidual: NaN, bNorm };
      }
      if (trust && xx! >= o.radius! ** 2) {
        m.axpby(x, 1, this.xPrev, boundary(xp!, pp!, xxPrev), this.pPrev);
        return { status: 'boundary', iterations: k + 1, relativeResidual: NaN, bNorm };
      }
      xxPrev = xx!;
      const rel = Math.sqrt(rrNew!) / bNorm;
      if (rel <= o.rtol) return { status: 'converged', iterations: k + 1, relativeResidual: rel, bNorm };
      if (k === o.maxIter - 1) return { status: 'max_iter', iterations: k + 1, relativeResidual: rel, bNorm };
    }
    throw new MinimizeError('CG: unreachable');
  }
}
