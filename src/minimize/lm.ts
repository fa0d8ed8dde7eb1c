/**
 * Gauss-Newton and Levenberg-Marquardt for least-squares objectives f(x) = ½‖r(x)‖² (r: m residuals), with the
 * step solved by conjugate gradient on Jacobian-vector products, never forming J:
 *   (JᵀJ + λI)·δ = −Jᵀr          v ↦ Jᵀ(J·v) + λ·v  (one J·v and one Jᵀ·u per CG iteration)
 * Levenberg (1944), Marquardt (1963); λ adapted by the gain ratio (Nielsen 1999, as in Madsen, Nielsen & Tingleff,
 * "Methods for non-linear least squares problems", 2004):
 *   ρ = (f(x) − f(x + δ)) / (L(0) − L(δ)),  L(0) − L(δ) = −gᵀδ − ½‖Jδ‖²   (g = Jᵀr)
 *   ρ > 0: accept, λ ← λ·max(1/3, 1 − (2ρ − 1)³), ν ← 2;   else: reject, λ ← λ·ν, ν ← 2ν
 * Gauss-Newton is λ = 0: the step is accepted when f decreases, else halved (up to 40 times, within the iteration
 * whatever max_eval says; then the step ends with `stalled` set).
 *
 * One `step()` runs up to max_iter iterations; it stops when max|g| ≤ tolerance_grad, |Δf| < tolerance_change,
 * the step max|δ| ≤ tolerance_change, or max_iter / max_eval is reached.
 * Defaults: max_iter 20, max_eval 5·max_iter, tolerance_grad 1e-7, tolerance_change 1e-9, lambda 1e-3 (LM's
 * initial λ, relative to nothing: set it to the scale of JᵀJ's diagonal if known), cg_max_iter = max(n, 10) capped
 * at 250, cg_rtol 1e-6.
 * Evaluations counted: residuals and gradient at each trial point. Readbacks: one per CG iteration and one per trial.
 * State (exportState / importState, state.ts): the scalars n_iter, func_evals, cg_iters, lambda (λ), nu (ν),
 * non_finite_trials, step_iter and step_evals (a step cut short by an abort, step-control.ts); no vectors (each step
 * starts from r, f and ∇f at the current point). Abort (StepOptions.signal): at the top of each iteration, and inside
 * the CG solve before each product, dropping the unfinished iteration (x has not moved yet).
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { CgSolver } from './cg-solve.js';
import { checkFinite, checkKeys, iterationHyperparams, MinimizeError, numberField, positiveInteger } from './errors.js';
import type { MethodDef, Minimizer, StepReport } from './minimizer.js';
import { captureScalarState, restoreScalarState, type MethodState } from './state.js';
import { ABORTED, StepCounters, type StepOptions } from './step-control.js';

export const LM_KEYS = ['max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'lambda', 'cg_max_iter', 'cg_rtol'] as const;
export const GN_KEYS = ['max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'cg_max_iter', 'cg_rtol'] as const;

export class LevenbergMarquardt implements Minimizer {
  readonly state = { n_iter: 0, func_evals: 0, cg_iters: 0, lambda: 0, nu: 2, non_finite_trials: 0 };
  private readonly h;
  private readonly cg: CgSolver;
  /** Residuals of the last evaluation: only f and g = Jᵀr are kept, so the trial points reuse it. */
  private readonly r: Vec;
  private readonly jv: Vec;
  private readonly g: Vec;
  private readonly gNew: Vec;
  private readonly b: Vec;
  private readonly delta: Vec;
  private readonly xSave: Vec;
  private readonly s: Record<'f' | 'g' | 'fNew' | 'gNew' | 'gd' | 'jj' | 'dd', Slot>;
  /** The step-local iteration and evaluation counts, kept when an abort cuts a step (step-control.ts). */
  private readonly counters = new StepCounters();

  constructor(readonly m: VectorMachine, hyperparams: Readonly<Record<string, unknown>>, readonly gaussNewton: boolean) {
    const name = gaussNewton ? 'GaussNewton' : 'LevenbergMarquardt';
    checkKeys(hyperparams, gaussNewton ? GN_KEYS : LM_KEYS, name);
    const mRes = m.residualCount;
    if (mRes === null) throw new MinimizeError(`${name} needs a least-squares problem (residuals r(x), f = ½‖r‖²), e.g. linear_regression or tanh_network`);
    this.h = {
      ...iterationHyperparams(hyperparams, 5),
      lambda: gaussNewton ? 0 : numberField(hyperparams, 'lambda', 1e-3, (v) => v > 0, 'a number > 0'),
      cg_max_iter: numberField(hyperparams, 'cg_max_iter', Math.min(250, Math.max(10, m.n)), positiveInteger, 'an integer >= 1'),
      cg_rtol: numberField(hyperparams, 'cg_rtol', 1e-6, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    };
    this.state.lambda = this.h.lambda;
    this.cg = new CgSolver(m, m.n, 'lm.cg');
    this.r = m.vector('lm.r', mRes);
    this.jv = m.vector('lm.Jv', mRes);
    this.g = m.vector('lm.g');
    this.gNew = m.vector('lm.g_new');
    this.b = m.vector('lm.b');
    this.delta = m.vector('lm.delta');
    this.xSave = m.vector('lm.x_save');
    const base = m.scalars(16);
    this.s = { f: base, g: base + 1, fNew: base + 5, gNew: base + 6, gd: base + 10, jj: base + 11, dd: base + 12 };
  }

  get name(): string {
    return this.gaussNewton ? 'GaussNewton' : 'LevenbergMarquardt';
  }

  /** r(x) → r, f = ½ rᵀr, g = Jᵀr with its statistics (queued). */
  private async queueEvaluation(r: Vec, g: Vec, f: Slot, gs: Slot): Promise<void> {
    const m = this.m;
    await m.residuals(r);
    m.dot(f, r, r, { scale: 0.5 });
    await m.vjp(r, g);
    m.dot(gs, g, g, { stats: true });
  }

  /** v ↦ Jᵀ(J·v) + λ·v */
  private async apply(v: Vec, out: Vec): Promise<void> {
    await this.m.jvp(v, this.jv);
    await this.m.vjp(this.jv, out);
    if (this.state.lambda !== 0) this.m.axpby(out, this.state.lambda, v, 1, out);
  }

  async step(opts: StepOptions = {}): Promise<StepReport> {
    const { m, h, s, state } = this;
    const run = this.counters.begin(h.max_iter, opts);
    await this.queueEvaluation(this.r, this.g, s.f, s.g);
    const [f0, gMax0, gBad] = await m.read([s.f, s.g + 1, s.g + 3]) as [number, number, number];
    checkFinite(f0, gBad, `${this.name} step (n_iter ${state.n_iter}): residuals at the current point`);
    let f = f0, gMax = gMax0;
    run.first();
    state.func_evals++;
    const report = (stop: string): StepReport => ({ loss: f0, lossAfter: f, evals: run.evaluations, iterations: run.iterations, stop, gradMax: gMax, gradMaxStart: gMax0 });
    while (run.iter < h.max_iter) {
      if (gMax <= h.tolerance_grad) return report('tolerance_grad');
      if (run.cut()) return report(ABORTED);
      const it = ++run.iter;
      state.n_iter++;
      m.axpby(this.b, -1, this.g);
      const cg = await this.cg.solve((v, out) => this.apply(v, out), this.b, this.delta, { maxIter: h.cg_max_iter, rtol: h.cg_rtol, signal: opts.signal });
      if (cg.status === 'aborted') {
        // x has not moved: drop the iteration, so the state is the last boundary's.
        run.dropIteration();
        state.n_iter--;
        return report(ABORTED);
      }
      state.cg_iters += cg.iterations;
      if (cg.status === 'negative curvature') {
        // JᵀJ + λI is positive semi-definite; with λ = 0 a rank-deficient J can give pᵀAp = 0.
        if (this.gaussNewton) throw new MinimizeError(`GaussNewton iteration ${state.n_iter}: JᵀJ is singular along the CG direction (rank-deficient Jacobian); use LevenbergMarquardt, whose damping λ makes the system definite`);
      }
      m.copy(this.xSave, m.x);
      let scale = 1;
      let accepted = false;
      const fPrev = f;
      let stepMax = 0;
      // ‖Jδ‖², gᵀδ and max|δ| of the unscaled step (halving scales them on the host), read with the first trial.
      await m.jvp(this.delta, this.jv);
      m.dot(s.jj, this.jv, this.jv);
      m.dot(s.gd, this.g, this.delta);
      m.dot(s.dd, this.delta, this.delta, { stats: true });
      for (let halvings = 0; halvings <= (this.gaussNewton ? 40 : 0); halvings++) {
        m.axpby(m.x, 1, this.xSave, scale, this.delta);
        await this.queueEvaluation(this.r, this.gNew, s.fNew, s.gNew);
        const [jj, gd, dMax, fNew, gNewMax, gNewBad] = await m.read([s.jj, s.gd, s.dd + 1, s.fNew, s.gNew + 1, s.gNew + 3]) as number[];
        run.add(1);
        state.func_evals++;
        stepMax = scale * dMax!;
        const pred = -(scale * gd! + 0.5 * scale * scale * jj!);
        const finite = Number.isFinite(fNew!) && gNewBad === 0;
        if (!finite) state.non_finite_trials++;
        const rho = finite ? (f - fNew!) / pred : -Infinity;
        if (this.gaussNewton) {
          if (finite && fNew! < f) accepted = true;
          else scale *= 0.5;
        } else if (rho > 0) {
          accepted = true;
          state.lambda *= Math.max(1 / 3, 1 - (2 * rho - 1) ** 3);
          state.nu = 2;
        } else {
          state.lambda *= state.nu;
          state.nu *= 2;
        }
        if (accepted) {
          m.copy(this.g, this.gNew);
          f = fNew!;
          gMax = gNewMax!;
          break;
        }
      }
      if (!accepted) m.copy(m.x, this.xSave);
      await run.completed(f, gMax);
      if (this.gaussNewton && !accepted) {
        return {
          ...report('no decrease'),
          stalled: `GaussNewton found no decrease of f = ${f} along the Gauss-Newton step after 40 halvings: f cannot be decreased at this precision, or JᵀJ is too ill-conditioned here without damping (use LevenbergMarquardt)`,
        };
      }
      if (!accepted && stepMax <= h.tolerance_change) {
        return {
          ...report('tolerance_change (step)'),
          stalled: `${this.name}: the damped step shrank to max|δ| = ${stepMax} ≤ tolerance_change without a decrease of f = ${f} (λ = ${state.lambda})` +
            (state.non_finite_trials ? `; ${state.non_finite_trials} trial point(s) gave NaN or infinite residuals` : ': f cannot be decreased at this precision'),
        };
      }
      if (!Number.isFinite(state.lambda) || state.lambda > 1e30) {
        throw new MinimizeError(`${this.name} iteration ${state.n_iter}: λ grew to ${state.lambda} without a decrease of f while the step stayed at max|δ| = ${stepMax}; the Jacobian products may not match the residuals`);
      }
      if (it === h.max_iter) return report('max_iter');
      if (run.evals >= h.max_eval) return report('max_eval');
      if (accepted && Math.abs(f - fPrev) < h.tolerance_change) return report('tolerance_change (loss)');
      if (stepMax <= h.tolerance_change) return report('tolerance_change (step)');
    }
    return report('max_iter');
  }

  async exportState(): Promise<MethodState> {
    return captureScalarState(this.m, this.name, this.state, this.counters);
  }

  async importState(saved: MethodState): Promise<void> {
    restoreScalarState(saved, this.name, this.m, this.state, this.counters, {
      lambda: (r) => r.number('lambda', (v) => (this.gaussNewton ? v === 0 : v > 0), this.gaussNewton ? '0 (Gauss-Newton)' : 'a number > 0'),
      nu: (r) => r.number('nu', (v) => v >= 2, 'a number >= 2'),
    });
  }
}

export const levenbergMarquardtMethod: MethodDef = {
  name: 'LevenbergMarquardt',
  summary: 'Levenberg-Marquardt for least squares: (JᵀJ + λI)δ = −Jᵀr by CG on Jacobian-vector products, λ adapted',
  hyperparams: LM_KEYS,
  leastSquares: true,
  create: (m, h) => new LevenbergMarquardt(m, h, false),
};

export const gaussNewtonMethod: MethodDef = {
  name: 'GaussNewton',
  summary: 'Gauss-Newton for least squares: JᵀJ·δ = −Jᵀr by CG, step halving until f decreases',
  hyperparams: GN_KEYS,
  leastSquares: true,
  create: (m, h) => new LevenbergMarquardt(m, h, true),
};
