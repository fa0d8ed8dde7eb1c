/**
 * Newton's method with a trust region, the step solved by conjugate gradient (Steihaug-Toint truncated CG), for
 * small problems; Hessian-vector products exact where the problem has them, else by finite differences of gradients
 * (hvp.ts). Nocedal & Wright, Numerical Optimization (2006), Algorithms 4.1 and 7.2.
 *
 * One `step()` runs up to max_iter iterations:
 *   stop if max|g| ≤ tolerance_grad
 *   p ≈ argmin_{‖p‖ ≤ Δ} gᵀp + ½pᵀHp        (CG on H·p = −g, relative tolerance min(0.5, √‖g‖), at most cg_max_iter)
 *   ρ = (f(x) − f(x + p)) / (−gᵀp − ½pᵀHp)   (actual over predicted decrease)
 *   ρ < 1/4: Δ = ‖p‖/4;   ρ > 3/4 and ‖p‖ = Δ: Δ = min(2Δ, max_radius)
 *   accept x + p when ρ > eta; a NaN or infinite f or gradient at x + p counts as ρ = −∞ (the step was too long);
 *   when Δ shrinks to tolerance_change the step ends with `stalled` set, naming any non-finite trials
 *   stop after max_iter iterations, max_eval evaluations, |Δf| < tolerance_change, or Δ < tolerance_change
 * Negative curvature (a saddle, a non-convex region) stops CG on the trust-region boundary along that direction, so
 * the method moves away from saddle points instead of jumping to them, as an undamped Newton step would.
 * Defaults: max_iter 20, max_eval 5·max_iter, tolerance_grad 1e-7, tolerance_change 1e-9, radius 1 (initial Δ),
 * max_radius 1e3, eta 0.1, cg_max_iter = max(n, 10) capped at 250, hessian 'auto' (exact when available).
 * Evaluations counted: the trial points and, with finite differences, one gradient per Hessian-vector product.
 * Readbacks: one per CG iteration and one per trial point.
 * State (exportState / importState, state.ts): the scalars n_iter, func_evals, cg_iters, radius (Δ),
 * non_finite_trials, step_iter and step_evals (a step cut short by an abort, step-control.ts); no vectors (each step
 * starts from f and ∇f at the current point). Abort (StepOptions.signal): at the top of each iteration, and inside
 * the CG solve before each Hessian-vector product, dropping the unfinished iteration (x has not moved yet).
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { CgSolver } from './cg-solve.js';
import { checkFinite, checkKeys, iterationHyperparams, MinimizeError, NonFiniteError, numberField, positiveInteger } from './errors.js';
import { HessianVector, type HessianMode } from './hvp.js';
import type { MethodDef, Minimizer, StepReport } from './minimizer.js';
import { captureScalarState, restoreScalarState, type MethodState } from './state.js';
import { ABORTED, StepCounters, type StepOptions } from './step-control.js';

export const NEWTON_KEYS = ['max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'radius', 'max_radius', 'eta', 'cg_max_iter', 'hessian'] as const;

export class NewtonTrustRegion implements Minimizer {
  readonly name = 'Newton';
  readonly state = { n_iter: 0, func_evals: 0, cg_iters: 0, radius: 1, non_finite_trials: 0 };
  private readonly h;
  private readonly hv: HessianVector;
  private readonly cg: CgSolver;
  private readonly g: Vec;
  private readonly gNew: Vec;
  private readonly b: Vec;
  private readonly p: Vec;
  private readonly hp: Vec;
  private readonly xSave: Vec;
  private readonly s: Record<'f' | 'g' | 'x' | 'fNew' | 'gNew' | 'xNew' | 'gp' | 'php' | 'pp', Slot>;
  /** The step-local iteration and evaluation counts, kept when an abort cuts a step (step-control.ts). */
  private readonly counters = new StepCounters();

  constructor(readonly m: VectorMachine, hyperparams: Readonly<Record<string, unknown>> = {}) {
    checkKeys(hyperparams, NEWTON_KEYS, 'Newton');
    this.h = {
      ...iterationHyperparams(hyperparams, 5),
      radius: numberField(hyperparams, 'radius', 1, (v) => v > 0, 'a number > 0'),
      max_radius: numberField(hyperparams, 'max_radius', 1e3, (v) => v > 0, 'a number > 0'),
      eta: numberField(hyperparams, 'eta', 0.1, (v) => v >= 0 && v < 0.25, 'a number in [0, 0.25)'),
      cg_max_iter: numberField(hyperparams, 'cg_max_iter', Math.min(250, Math.max(10, m.n)), positiveInteger, 'an integer >= 1'),
    };
    if (this.h.radius > this.h.max_radius) throw new MinimizeError(`hyperparams.radius (${this.h.radius}) must not exceed max_radius (${this.h.max_radius})`);
    this.state.radius = this.h.radius;
    this.hv = new HessianVector(m, (hyperparams.hessian as HessianMode | 'auto' | undefined) ?? 'auto');
    this.cg = new CgSolver(m, m.n, 'newton.cg');
    this.g = m.vector('newton.g');
    this.gNew = m.vector('newton.g_new');
    this.b = m.vector('newton.b');
    this.p = m.vector('newton.p');
    this.hp = m.vector('newton.Hp');
    this.xSave = m.vector('newton.x_save');
    const base = m.scalars(21);
    this.s = { f: base, g: base + 1, x: base + 5, fNew: base + 9, gNew: base + 10, xNew: base + 14, gp: base + 18, php: base + 19, pp: base + 20 };
  }

  async step(opts: StepOptions = {}): Promise<StepReport> {
    const { m, h, s, state } = this;
    const run = this.counters.begin(h.max_iter, opts);
    // max|x| sets the finite-difference step (hvp.ts); exact products need no scale, and its slot stays 0.
    const fd = this.hv.mode === 'fd';
    await m.evaluate(this.g, s.f);
    m.dot(s.g, this.g, this.g, { stats: true });
    if (fd) m.dot(s.x, m.x, m.x, { stats: true });
    const [f0, gg0, gMax0, gBad, xMax0] = await m.read([s.f, s.g, s.g + 1, s.g + 3, s.x + 1]) as [number, number, number, number, number];
    checkFinite(f0, gBad, `Newton step (n_iter ${state.n_iter}): evaluation at the current point`);
    let f = f0, gg = gg0, gMax = gMax0, xMax = xMax0;
    run.first();
    state.func_evals++;
    const report = (stop: string): StepReport => ({ loss: f0, lossAfter: f, evals: run.evaluations, iterations: run.iterations, stop, gradMax: gMax, gradMaxStart: gMax0 });
    const collapsed = (): StepReport => ({
      ...report('tolerance_change (radius)'),
      stalled: `the trust region shrank to Δ = ${state.radius} ≤ tolerance_change without a decrease of f (f = ${f})` +
        (state.non_finite_trials ? `; ${state.non_finite_trials} trial point(s) gave a NaN or infinite f or gradient` : ': f cannot be decreased at this precision, or the Hessian does not match f'),
    });
    while (run.iter < h.max_iter) {
      if (gMax <= h.tolerance_grad) return report('tolerance_grad');
      if (state.radius <= h.tolerance_change) return collapsed();
      if (run.cut()) return report(ABORTED);
      const it = ++run.iter;
      state.n_iter++;
      const hvBefore = this.hv.evaluations;
      this.hv.at(xMax);
      m.axpby(this.b, -1, this.g);
      const gNorm = Math.sqrt(gg);
      const cg = await this.cg.solve((v, out) => this.hv.apply(v, out, this.g), this.b, this.p, {
        maxIter: h.cg_max_iter, rtol: Math.min(0.5, Math.sqrt(gNorm)), radius: state.radius, signal: opts.signal,
      });
      if (cg.status === 'aborted') {
        // x has not moved: drop the iteration, so the state is the last boundary's (its products count as work only).
        run.dropIteration(this.hv.evaluations - hvBefore);
        state.n_iter--;
        return report(ABORTED);
      }
      state.cg_iters += cg.iterations;
      // Predicted decrease of the quadratic model, and the trial point, in one readback.
      await this.hv.apply(this.p, this.hp, this.g);
      m.dot(s.gp, this.g, this.p);
      m.dot(s.php, this.p, this.hp);
      m.dot(s.pp, this.p, this.p);
      m.copy(this.xSave, m.x);
      m.axpby(m.x, 1, this.p, 1, m.x);
      await m.evaluate(this.gNew, s.fNew);
      m.dot(s.gNew, this.gNew, this.gNew, { stats: true });
      if (fd) m.dot(s.xNew, m.x, m.x, { stats: true });
      const [gp, php, pp, fNew, ggNew, gNewMax, gNewBad, xNewMax] = await m.read([s.gp, s.php, s.pp, s.fNew, s.gNew, s.gNew + 1, s.gNew + 3, s.xNew + 1]) as number[];
      run.add(1 + this.hv.evaluations - hvBefore);
      state.func_evals++;
      const pNorm = Math.sqrt(pp!);
      const pred = -(gp! + 0.5 * php!);
      const finite = Number.isFinite(fNew!) && gNewBad === 0;
      if (!finite) state.non_finite_trials++;
      const rho = finite ? (f - fNew!) / pred : -Infinity;
      if (rho < 0.25) state.radius = 0.25 * pNorm;
      else if (rho > 0.75 && pNorm >= 0.99 * state.radius) state.radius = Math.min(2 * state.radius, h.max_radius);
      const fPrev = f;
      if (rho > h.eta) {
        m.copy(this.g, this.gNew);
        f = fNew!;
        gg = ggNew!;
        gMax = gNewMax!;
        xMax = xNewMax!;
      } else m.copy(m.x, this.xSave);
      if (Number.isNaN(state.radius)) {
        throw new NonFiniteError(`Newton iteration ${state.n_iter}: the trust region radius became NaN (‖p‖ = ${pNorm}); the Hessian-vector products hold NaN or infinite values`);
      }
      await run.completed(f, gMax);
      if (state.radius <= h.tolerance_change) return collapsed();
      if (it === h.max_iter) return report('max_iter');
      if (run.evals >= h.max_eval) return report('max_eval');
      if (rho > h.eta && Math.abs(f - fPrev) < h.tolerance_change) return report('tolerance_change (loss)');
    }
    return report('max_iter');
  }

  async exportState(): Promise<MethodState> {
    return captureScalarState(this.m, this.name, this.state, this.counters);
  }

  async importState(saved: MethodState): Promise<void> {
    restoreScalarState(saved, this.name, this.m, this.state, this.counters, { radius: (r) => r.number('radius', (v) => v > 0, 'a number > 0') });
  }
}

export const newtonMethod: MethodDef = {
  name: 'Newton',
  summary: 'Newton trust-region method, steps by Steihaug-Toint CG (exact or finite-difference Hessian-vector products)',
  hyperparams: NEWTON_KEYS,
  create: (m, h) => new NewtonTrustRegion(m, h),
};
