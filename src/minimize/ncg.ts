/**
 * Nonlinear conjugate gradient (Fletcher & Reeves 1964; Polak & Ribière 1969 with Powell's β⁺ = max(β, 0), 1986)
 * with the strong-Wolfe line search of line-search.ts and restarts, on a vector machine.
 *
 *   d_0 = −g_0;   d_{k+1} = −g_{k+1} + β_{k+1}·d_k
 *   FR:  β = g_{k+1}ᵀg_{k+1} / g_kᵀg_k         PR+: β = max(0, g_{k+1}ᵀ(g_{k+1} − g_k) / g_kᵀg_k)
 *   restart (β = 0) every `restart` iterations (default n), when |g_{k+1}ᵀg_k| ≥ 0.1·g_{k+1}ᵀg_{k+1} (Powell), after a
 *   line search that did not meet the Wolfe conditions, and whenever d is not a descent direction (gᵀd ≥ 0)
 *   initial step: min(1, 1/‖g‖₁)·lr on the first iteration and after restarts, else t_k·(g_kᵀd_k)/(g_{k+1}ᵀd_{k+1})
 *   (Nocedal & Wright eq. 3.60: the previous step's first-order change)
 * The line search uses c2 = 0.1 (the strong Wolfe conditions with c2 < ½ keep Fletcher-Reeves directions descent).
 * One `step()` runs up to max_iter iterations, with LBFGS's termination tests (tolerance_grad on max|g|,
 * tolerance_change on max|t·d| and on |Δf|, max_iter, max_eval).
 * Defaults: lr 1, max_iter 20, max_eval = max_iter·5/4, tolerance_grad 1e-7, tolerance_change 1e-9, variant 'PR+',
 * restart = n, c1 1e-4, c2 0.1.
 * A line search that finds no lower point (t = 0) ends the step with `stalled` set and x unchanged: nonlinear CG
 * cannot go on from there (minimize() reports it; at f's precision floor this is how the method ends).
 * Readbacks: one per evaluation (the direction, g·d and the first trial are queued together; the first trial's t
 * for non-restart iterations is formed on the machine from g·d).
 * State (exportState / importState, state.ts): scalars n_iter, func_evals, restarts, t (the last step length),
 * gtd_prev (its g·d), since_restart, restart_next, gg_old (g_kᵀg_k) and gg_prev (g_{k+1}ᵀg_k; both null before the
 * first iteration), step_iter and step_evals (a step cut short by an abort, step-control.ts); the vector d (none before
 * the first iteration). Abort (StepOptions.signal): at the top of each iteration, never inside the line search.
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { rounder } from '../ref/dtype.js';
import { checkFinite, checkKeys, iterationHyperparams, MinimizeError, numberField, positiveInteger } from './errors.js';
import { strongWolfe, type Trial } from './line-search.js';
import type { MethodDef, Minimizer, StepReport } from './minimizer.js';
import { captureState, nullIfUnset, StateReader, type MethodState } from './state.js';
import { ABORTED, STEP_COUNTER_KEYS, StepCounters, type StepOptions } from './step-control.js';

export const NCG_KEYS = ['lr', 'max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'variant', 'restart', 'c1', 'c2'] as const;

interface GradRecord {
  vec: Vec;
  maxabs: number;
  sumabs: number;
  /** gᵀg and gᵀg_k (g_k: the gradient the iteration started from). */
  gg: number;
  ggPrev: number;
}

export class NonlinearCG implements Minimizer {
  readonly name = 'NonlinearCG';
  readonly state = { n_iter: 0, func_evals: 0, restarts: 0 };
  private readonly h;
  private readonly r: (v: number) => number;
  private readonly pool: Vec[];
  private readonly d: Vec;
  private readonly xInit: Vec;
  private readonly s: Record<'f' | 'g' | 'gg' | 'ggp' | 'd' | 't0', Slot>;
  private t = 0;
  private gtdPrev = 0;
  private sinceRestart = 0;
  private restartNext = true;
  /** g_kᵀg_k of the iteration's start gradient and g_{k+1}ᵀg_k, kept across steps. */
  private ggOld = NaN;
  private ggPrev = NaN;
  /** The step-local iteration and evaluation counts, kept when an abort cuts a step (step-control.ts). */
  private readonly counters = new StepCounters();

  constructor(readonly m: VectorMachine, hyperparams: Readonly<Record<string, unknown>> = {}) {
    checkKeys(hyperparams, NCG_KEYS, 'NonlinearCG');
    const variant = hyperparams.variant ?? 'PR+';
    if (variant !== 'PR+' && variant !== 'FR') throw new MinimizeError(`hyperparams.variant must be "PR+" (Polak-Ribière+) or "FR" (Fletcher-Reeves), got ${JSON.stringify(variant)}`);
    this.h = {
      lr: numberField(hyperparams, 'lr', 1, (v) => v > 0, 'a number > 0'),
      ...iterationHyperparams(hyperparams, 5 / 4),
      variant: variant as 'PR+' | 'FR',
      restart: numberField(hyperparams, 'restart', m.n, positiveInteger, 'an integer >= 1'),
      c1: numberField(hyperparams, 'c1', 1e-4, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
      c2: numberField(hyperparams, 'c2', 0.1, (v) => v > 0 && v < 1, 'a number in (0, 1)'),
    };
    if (this.h.c2 <= this.h.c1) throw new MinimizeError(`hyperparams.c2 (${this.h.c2}) must exceed c1 (${this.h.c1})`);
    this.r = rounder(m.dtype);
    this.pool = Array.from({ length: 5 }, (_, k) => m.vector(`ncg.g${k}`));
    this.d = m.vector('ncg.d');
    this.xInit = m.vector('ncg.x_init');
    const base = m.scalars(12);
    this.s = { f: base, g: base + 1, gg: base + 5, ggp: base + 6, d: base + 7, t0: base + 11 };
  }

  private alloc(live: readonly GradRecord[]): Vec {
    const v = this.pool.find((p) => !live.some((l) => l.vec.id === p.id));
    if (!v) throw new MinimizeError('NonlinearCG: gradient pool exhausted (internal error)');
    return v;
  }

  /** Queues f, ∇f → g at x and g's statistics against d, itself and `start`. */
  private async queueEvaluation(g: Vec, start: Vec): Promise<void> {
    const { m, s } = this;
    await m.evaluate(g, s.f);
    m.dot(s.g, g, this.d, { stats: true });
    m.dot(s.gg, g, g);
    m.dot(s.ggp, g, start);
  }

  private readonly evalSlots = () => [this.s.f, this.s.g, this.s.g + 1, this.s.g + 2, this.s.g + 3, this.s.gg, this.s.ggp];

  private record(vec: Vec, v: number[], where: string) {
    const [f, gd, maxabs, sumabs, bad, gg, ggPrev] = v as [number, number, number, number, number, number, number];
    checkFinite(f, bad, where);
    return { f, gd, rec: { vec, maxabs, sumabs, gg, ggPrev } satisfies GradRecord };
  }

  async step(opts: StepOptions = {}): Promise<StepReport> {
    const { m, h, s, state, r } = this;
    let lineSearchFailures = 0;
    const run = this.counters.begin(h.max_iter, opts);
    const g0 = this.alloc([]);
    await this.queueEvaluation(g0, g0);
    const first = this.record(g0, await m.read(this.evalSlots()), `NonlinearCG step (n_iter ${state.n_iter}): evaluation at the current point`);
    const f0 = first.f;
    let f = f0;
    let cur = first.rec;
    run.first();
    state.func_evals++;
    // The state carries over between steps (the closure is evaluated again at the same point): the first iteration
    // continues the conjugate directions with the previous g_{k+1}ᵀg_k and g_kᵀg_k.
    if (state.n_iter > 0) cur.ggPrev = this.ggPrev;
    let ggOld = this.ggOld;
    const report = (stop: string): StepReport => ({
      loss: f0, lossAfter: f, evals: run.evaluations, iterations: run.iterations, stop, gradMax: cur.maxabs, gradMaxStart: first.rec.maxabs, lineSearchFailures,
    });
    if (cur.maxabs <= h.tolerance_grad) return report('tolerance_grad');
    while (run.iter < h.max_iter) {
      if (run.cut()) return report(ABORTED);
      const it = ++run.iter;
      state.n_iter++;
      let restart = this.restartNext || this.sinceRestart >= h.restart;
      if (!restart) {
        const beta = h.variant === 'FR' ? cur.gg / ggOld : Math.max(0, (cur.gg - cur.ggPrev) / ggOld);
        if (Math.abs(cur.ggPrev) >= 0.1 * cur.gg) restart = true;
        else m.axpby(this.d, -1, cur.vec, r(beta), this.d);
      }
      let values: number[] = [];
      let t = 0;
      let trialVec: Vec | null = null;
      // Up to two tries: the CG direction, then steepest descent if that was not a descent direction.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (restart) {
          m.axpby(this.d, -1, cur.vec);
          this.sinceRestart = 0;
          state.restarts++;
        }
        m.dot(s.d, this.d, cur.vec, { stats: true });
        m.copy(this.xInit, m.x);
        trialVec = this.alloc([cur]);
        if (restart) {
          const inv = r(1 / cur.sumabs);
          t = inv < 1 ? r(inv * h.lr) : h.lr;
          m.axpby(m.x, 1, this.xInit, t, this.d);
        } else {
          // t0 = t_prev·(g_prevᵀd_prev)/(gᵀd), formed from gᵀd on the machine.
          m.scalar(s.t0, 'div', this.t * this.gtdPrev, { slot: s.d });
          m.axpby(m.x, 1, this.xInit, { slot: s.t0 }, this.d);
        }
        await this.queueEvaluation(trialVec, cur.vec);
        values = await m.read([s.d, s.d + 1, s.d + 3, s.t0, ...this.evalSlots()]);
        const gtd = values[0]!;
        if (!restart) t = values[3]!;
        if (gtd < 0 && Number.isFinite(gtd)) break;
        checkFinite(gtd, values[2]!, `NonlinearCG iteration ${state.n_iter}: the search direction`);
        m.copy(m.x, this.xInit);
        if (restart) {
          // −g is not a descent direction only when g = 0 (or underflows): nothing to do.
          return report('directional derivative');
        }
        restart = true; // the conjugate direction was not a descent direction: fall back to −g
      }
      const [gtd, dMax] = values as [number, number];
      const where = (tt: number) => `NonlinearCG iteration ${state.n_iter}: evaluation at t = ${tt} along the search direction`;
      const firstTrial = this.record(trialVec!, values.slice(4), where(t));
      const evalAt = async (tt: number, live: GradRecord[]): Promise<Trial<GradRecord>> => {
        const vec = this.alloc([...live, cur]);
        m.axpby(m.x, 1, this.xInit, tt, this.d);
        await this.queueEvaluation(vec, cur.vec);
        const rec = this.record(vec, await m.read(this.evalSlots()), where(tt));
        return { t: tt, f: rec.f, gtd: rec.gd, g: rec.rec };
      };
      const res = await strongWolfe(evalAt, { t: 0, f, gtd, g: cur }, t, dMax, { c1: h.c1, c2: h.c2 }, { t, f: firstTrial.f, gtd: firstTrial.gd, g: firstTrial.rec });
      run.add(res.evals);
      state.func_evals += res.evals;
      if (res.best.t === 0) {
        // No lower point: at the precision floor of f (or with a gradient that does not match f) nothing can follow.
        m.copy(m.x, this.xInit);
        this.restartNext = true;
        return {
          ...report('line search failed'),
          stalled: `the strong-Wolfe line search found no point lower than f = ${f} along the conjugate direction (gᵀd = ${gtd}, ${res.evals} evaluations, ${res.reason ?? 'no decrease'}): f cannot be decreased at this precision, or the gradient does not match f`,
        };
      }
      if (!res.converged) lineSearchFailures++;
      this.restartNext = !res.converged;
      const fPrev = f;
      ggOld = cur.gg;
      this.ggOld = ggOld;
      cur = res.best.g;
      this.ggPrev = cur.ggPrev;
      f = res.best.f;
      this.t = res.best.t;
      this.gtdPrev = gtd;
      this.sinceRestart++;
      m.axpby(m.x, 1, this.xInit, this.t, this.d);
      await run.completed(f, cur.maxabs);
      if (it === h.max_iter) return report('max_iter');
      if (run.evals >= h.max_eval) return report('max_eval');
      if (cur.maxabs <= h.tolerance_grad) return report('tolerance_grad');
      if (Math.abs(this.t) * dMax <= h.tolerance_change) return report('tolerance_change (step)');
      if (Math.abs(f - fPrev) < h.tolerance_change) return report('tolerance_change (loss)');
    }
    return report('max_iter');
  }

  async exportState(): Promise<MethodState> {
    const { state } = this;
    return captureState(this.m, this.name, {
      n_iter: state.n_iter, func_evals: state.func_evals, restarts: state.restarts, t: this.t, gtd_prev: this.gtdPrev,
      since_restart: this.sinceRestart, restart_next: this.restartNext, gg_old: nullIfUnset(this.ggOld), gg_prev: nullIfUnset(this.ggPrev),
      ...this.counters.scalars(),
    }, { d: state.n_iter > 0 ? [this.d] : [] });
  }

  async importState(saved: MethodState): Promise<void> {
    const r = new StateReader(saved, this.name, this.m);
    r.only(['n_iter', 'func_evals', 'restarts', 't', 'gtd_prev', 'since_restart', 'restart_next', 'gg_old', 'gg_prev', ...STEP_COUNTER_KEYS], ['d']);
    const nIter = r.count('n_iter');
    const values = {
      funcEvals: r.count('func_evals'), restarts: r.count('restarts'), t: r.number('t'), gtdPrev: r.number('gtd_prev'),
      sinceRestart: r.count('since_restart'), restartNext: r.boolean('restart_next'),
      ggOld: r.unset('gg_old'), ggPrev: r.unset('gg_prev'),
    };
    const d = r.vectors('d', nIter > 0 ? 1 : 0, nIter > 0 ? 1 : 0);
    const counters = StepCounters.read(r);
    await this.m.writeVector(this.d, d[0] ?? new Float64Array(this.m.n));
    Object.assign(this.state, { n_iter: nIter, func_evals: values.funcEvals, restarts: values.restarts });
    this.t = values.t;
    this.gtdPrev = values.gtdPrev;
    this.sinceRestart = values.sinceRestart;
    this.restartNext = values.restartNext;
    this.ggOld = values.ggOld;
    this.ggPrev = values.ggPrev;
    this.counters.restore(counters);
  }
}

export const nonlinearCgMethod: MethodDef = {
  name: 'NonlinearCG',
  summary: 'nonlinear conjugate gradient (Polak-Ribière+ or Fletcher-Reeves) with restarts and the strong-Wolfe line search',
  hyperparams: NCG_KEYS,
  create: (m, h) => new NonlinearCG(m, h),
};
