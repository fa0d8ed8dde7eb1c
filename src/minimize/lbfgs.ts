/**
 * L-BFGS with torch.optim.LBFGS semantics (torch 1.13; Nocedal 1980, Liu & Nocedal 1989), on a vector machine, so
 * the same logic runs on the CPU reference (float64 / float32) and on the GPU with every vector operation there.
 *
 * One `step()` is torch's `step(closure)`; the machine's objective is the closure:
 *   f, g ← closure(); stop if max|g| ≤ tolerance_grad
 *   repeat up to max_iter times:
 *     first iteration ever: d = −g, H_diag = 1, empty history
 *     else: y = g − g_prev, s = t·d; if yᵀs > 1e-10: push (y, s, ρ = 1/yᵀs) (dropping the oldest beyond
 *           history_size), H_diag = yᵀs / yᵀy; two-loop recursion:
 *             q = −g;  for i newest→oldest: α_i = ρ_i·s_iᵀq,  q −= α_i·y_i
 *             d = H_diag·q;  for i oldest→newest: β_i = ρ_i·y_iᵀd,  d += (α_i − β_i)·s_i
 *     g_prev = g;  t = min(1, 1/‖g‖₁)·lr on the very first iteration, else lr;  stop if gᵀd > −tolerance_change
 *     line_search_fn 'strong_wolfe': t, f, g from the strong-Wolfe search (line-search.ts), x += t·d
 *     none: x += t·d, and f, g ← closure() unless this is the last iteration
 *     stop if: n_iter = max_iter; evaluations ≥ max_eval; max|g| ≤ tolerance_grad; max|t·d| ≤ tolerance_change;
 *              |f − f_prev| < tolerance_change      (torch's order)
 * Defaults (torch): lr 1, max_iter 20, max_eval = max_iter·5/4 (floor), tolerance_grad 1e-7, tolerance_change 1e-9,
 * history_size 100, line_search_fn None. State persists across steps (n_iter, func_evals, d, t, history).
 *
 * Readbacks: one per objective evaluation. The direction (two-loop recursion, gᵀd, max|d|) and the first trial point
 * of each iteration are queued together and read once; y and s of a trial are formed and their dot products taken
 * while the trial is queued, so the curvature test and H_diag need no readback of their own. When the iteration then
 * stops on gᵀd, the trial is discarded (x restored; it is not counted, as torch never evaluated it).
 * Float32: vectors and their dot products in float32 (scalars such as ρ, H_diag, α_i rounded to float32 as torch's
 * 0-d tensors are); the line search's arithmetic in double.
 * Differences from torch: a NaN or infinite f or gradient raises NonFiniteError (torch carries on with NaN);
 * history_size < 1 is refused (torch fails popping an empty list). Each step reports why it stopped.
 * State (exportState / importState, state.ts): torch's `state` dict — scalars n_iter, func_evals, t, H_diag, ro,
 * prev_loss (null before the first iteration); vectors d, prev_flat_grad (none before the first iteration), old_dirs
 * and old_stps (the history, oldest first, at most history_size each); and step_iter, step_evals: the step-local
 * counters of a step an abort cut short (step-control.ts; 0 between steps), which the next step() finishes.
 * Abort (StepOptions.signal): checked at the top of each iteration, never inside the line search.
 */
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { rounder } from '../ref/dtype.js';
import { checkFinite, checkKeys, iterationHyperparams, MinimizeError, numberField } from './errors.js';
import { strongWolfe, type Trial } from './line-search.js';
import type { MethodDef, Minimizer, StepReport } from './minimizer.js';
import { captureState, nullIfUnset, StateReader, type MethodState } from './state.js';
import { ABORTED, STEP_COUNTER_KEYS, StepCounters, type StepOptions } from './step-control.js';

export interface LbfgsHyperparams {
  lr?: number;
  max_iter?: number;
  max_eval?: number | null;
  tolerance_grad?: number;
  tolerance_change?: number;
  history_size?: number;
  line_search_fn?: 'strong_wolfe' | null;
}

export type ResolvedLbfgs = Required<Omit<LbfgsHyperparams, 'max_eval' | 'line_search_fn'>> & { max_eval: number; line_search_fn: 'strong_wolfe' | null };

export const LBFGS_KEYS = ['lr', 'max_iter', 'max_eval', 'tolerance_grad', 'tolerance_change', 'history_size', 'line_search_fn'] as const;

/** torch's defaults filled in; errors name the field. */
export function resolveLbfgs(h: Readonly<Record<string, unknown>> = {}): ResolvedLbfgs {
  checkKeys(h, LBFGS_KEYS, 'LBFGS');
  const historySize = numberField(h, 'history_size', 100, (v) => Number.isInteger(v), 'an integer >= 1');
  if (historySize < 1) throw new MinimizeError(`hyperparams.history_size must be at least 1 (L-BFGS keeps that many (s, y) pairs), got ${historySize}`);
  const ls = h.line_search_fn ?? null;
  if (ls !== null && ls !== 'strong_wolfe') throw new MinimizeError(`hyperparams.line_search_fn must be "strong_wolfe" or null (torch supports only these), got ${JSON.stringify(ls)}`);
  return {
    lr: numberField(h, 'lr', 1, (v) => v > 0, 'a number > 0'),
    ...iterationHyperparams(h, 5 / 4),
    history_size: historySize,
    line_search_fn: ls,
  };
}

export type LbfgsStop =
  | 'tolerance_grad'
  | 'directional derivative'
  | 'max_iter'
  | 'max_eval'
  | 'tolerance_change (step)'
  | 'tolerance_change (loss)'
  | typeof ABORTED;

/** A gradient stored in the pool, with what the machine read about it. */
interface GradRecord {
  vec: Vec;
  maxabs: number;
  sumabs: number;
  /** yᵀy and yᵀs with y = this gradient − g_prev, s = t·d (for the curvature test if it is accepted). */
  ys: number;
  yy: number;
}

export class LBFGS implements Minimizer {
  readonly name = 'LBFGS';
  readonly h: ResolvedLbfgs;
  /** torch's state['func_evals'] and state['n_iter']. */
  readonly state = { func_evals: 0, n_iter: 0 };
  private readonly r: (v: number) => number;
  private readonly pool: Vec[];
  private readonly d: Vec;
  private readonly q: Vec;
  private readonly xInit: Vec;
  private readonly gPrev: Vec;
  private readonly yTmp: Vec;
  private readonly sTmp: Vec;
  private readonly dirs: Vec[] = [];
  private readonly stps: Vec[] = [];
  private readonly spare: Vec[] = [];
  private ro: number[] = [];
  private hDiag = 1;
  private t = 0;
  private hasPrev = false;
  private prevLoss = NaN;
  /** torch's step-local n_iter and current_evals, kept when an abort cuts a step (step-control.ts). */
  private readonly counters = new StepCounters();
  // Scalar slots: f, g statistics (g·d or g·g, max|g|, Σ|g|, non-finite), yᵀs, yᵀy, d statistics, α_i, β.
  private readonly F: Slot;
  private readonly GS: Slot;
  private readonly YS: Slot;
  private readonly YY: Slot;
  private readonly DS: Slot;
  private readonly AL: Slot;
  private readonly BE: Slot;

  constructor(readonly m: VectorMachine, hyperparams: Readonly<Record<string, unknown>> = {}) {
    this.h = resolveLbfgs(hyperparams);
    this.r = rounder(m.dtype);
    this.pool = Array.from({ length: 5 }, (_, k) => m.vector(`lbfgs.g${k}`));
    this.d = m.vector('lbfgs.d');
    this.q = m.vector('lbfgs.q');
    this.xInit = m.vector('lbfgs.x_init');
    this.gPrev = m.vector('lbfgs.prev_flat_grad');
    this.yTmp = m.vector('lbfgs.y_trial');
    this.sTmp = m.vector('lbfgs.s_trial');
    this.F = m.scalars(1);
    this.GS = m.scalars(4);
    this.YS = m.scalars(1);
    this.YY = m.scalars(1);
    this.DS = m.scalars(4);
    this.AL = m.scalars(this.h.history_size);
    this.BE = m.scalars(1);
  }

  /** A pool vector not holding any of `live`. */
  private alloc(live: readonly GradRecord[]): Vec {
    const v = this.pool.find((p) => !live.some((l) => l.vec.id === p.id));
    if (!v) throw new MinimizeError('LBFGS: gradient pool exhausted (internal error)');
    return v;
  }

  /** Queues f(x), ∇f(x) → g, and the statistics of g (against d, or g itself), y·s and y·y. */
  private async queueEvaluation(g: Vec, against: Vec, t: number): Promise<void> {
    const m = this.m;
    await m.evaluate(g, this.F);
    m.dot(this.GS, g, against, { stats: true });
    if (this.hasPrev) {
      m.axpby(this.yTmp, 1, g, -1, this.gPrev);
      m.axpby(this.sTmp, t, this.d);
      m.dot(this.YS, this.yTmp, this.sTmp);
      m.dot(this.YY, this.yTmp, this.yTmp);
    }
  }

  private readonly evalSlots = () => [this.F, this.GS, this.GS + 1, this.GS + 2, this.GS + 3, this.YS, this.YY];

  private record(vec: Vec, v: number[], where: string): { f: number; gd: number; rec: GradRecord } {
    const [f, gd, maxabs, sumabs, bad, ys, yy] = v as [number, number, number, number, number, number, number];
    checkFinite(f, bad, where);
    return { f, gd, rec: { vec, maxabs, sumabs, ys, yy } };
  }

  /** One torch `step(closure)` (`opts`: an abort signal and a per-iteration callback, step-control.ts). */
  async step(opts: StepOptions = {}): Promise<StepReport & { stop: LbfgsStop }> {
    const { m, h, r } = this;
    const state = this.state;
    let lineSearchFailures = 0;
    let stalled: string | undefined;
    // torch's local n_iter and current_evals (run.iter, run.evals): a step resumed after an abort counts on.
    const run = this.counters.begin(h.max_iter, opts);
    const g0 = this.alloc([]);
    await this.queueEvaluation(g0, g0, this.t);
    const first = this.record(g0, await m.read(this.evalSlots()), `LBFGS step (n_iter ${state.n_iter}): evaluation at the current point`);
    const origLoss = first.f;
    let loss = first.f;
    let cur = first.rec;
    run.first();
    state.func_evals++;
    const done = (stop: LbfgsStop): StepReport & { stop: LbfgsStop } => ({
      loss: origLoss, lossAfter: loss, evals: run.evaluations, iterations: run.iterations, stop, lineSearchFailures, gradMax: cur.maxabs, gradMaxStart: first.rec.maxabs,
      ...(stalled ? { stalled } : {}),
    });
    // torch compares float32 tensors with Python floats converted to float32.
    const tolGrad = r(h.tolerance_grad), tolChange = r(h.tolerance_change);
    if (cur.maxabs <= tolGrad) return done('tolerance_grad');

    let optCond = false;
    while (run.iter < h.max_iter) {
      if (run.cut()) return done(ABORTED);
      const nIter = ++run.iter;
      state.n_iter++;
      // ---- direction (queued) ----
      if (state.n_iter === 1) {
        m.axpby(this.d, -1, cur.vec);
        this.spare.push(...this.dirs.splice(0), ...this.stps.splice(0));
        this.ro = [];
        this.hDiag = 1;
      } else {
        if (cur.ys > r(1e-10)) {
          if (this.dirs.length === h.history_size) {
            this.spare.push(this.dirs.shift()!, this.stps.shift()!);
            this.ro.shift();
          }
          const y = this.spare.pop() ?? m.vector(`lbfgs.y${this.dirs.length}`);
          const s = this.spare.pop() ?? m.vector(`lbfgs.s${this.stps.length}`);
          // The same operations as for the trial's y·s, so the vectors equal what was tested.
          m.axpby(y, 1, cur.vec, -1, this.gPrev);
          m.axpby(s, this.t, this.d);
          this.dirs.push(y);
          this.stps.push(s);
          this.ro.push(r(1 / cur.ys));
          this.hDiag = r(cur.ys / cur.yy);
        }
        const k = this.dirs.length;
        m.axpby(this.q, -1, cur.vec);
        for (let i = k - 1; i >= 0; i--) {
          m.dot(this.AL + i, this.stps[i]!, this.q, { scale: this.ro[i]! });
          m.axpby(this.q, { c: -1, slot: this.AL + i }, this.dirs[i]!, 1, this.q);
        }
        m.axpby(this.d, this.hDiag, this.q);
        for (let i = 0; i < k; i++) {
          m.dot(this.BE, this.dirs[i]!, this.d, { scale: this.ro[i]! });
          m.axpby(this.d, { slot: this.AL + i, sub: this.BE }, this.stps[i]!, 1, this.d);
        }
      }
      m.copy(this.gPrev, cur.vec);
      this.hasPrev = true;
      this.prevLoss = loss;
      if (state.n_iter === 1) {
        const inv = r(1 / cur.sumabs);
        this.t = inv < 1 ? r(inv * h.lr) : h.lr;
      } else this.t = h.lr;
      const t = this.t;
      m.dot(this.DS, this.d, cur.vec, { stats: true });
      m.copy(this.xInit, m.x);
      // ---- the first trial point (line search) or the step, queued with the direction: one readback ----
      const evaluate = h.line_search_fn !== null || nIter !== h.max_iter;
      const trialVec = this.alloc([cur]);
      m.axpby(m.x, 1, this.xInit, t, this.d);
      if (evaluate) await this.queueEvaluation(trialVec, this.d, t);
      const values = await m.read([this.DS, this.DS + 1, this.DS + 3, ...(evaluate ? this.evalSlots() : [])]);
      const [gtd, dMax, dBad] = values as [number, number, number];
      if (gtd > -tolChange) {
        m.copy(m.x, this.xInit); // torch never took this step
        return done('directional derivative');
      }
      checkFinite(gtd, dBad, `LBFGS iteration ${state.n_iter}: the search direction`);
      const where = (tt: number) => `LBFGS iteration ${state.n_iter}: evaluation at t = ${tt} along the search direction`;
      let lsEvals = 0;
      if (h.line_search_fn !== null) {
        const firstTrial = this.record(trialVec, values.slice(3), where(t));
        const evalAt = async (tt: number, live: GradRecord[]): Promise<Trial<GradRecord>> => {
          const vec = this.alloc([...live, cur]);
          m.axpby(m.x, 1, this.xInit, tt, this.d);
          await this.queueEvaluation(vec, this.d, tt);
          const rec = this.record(vec, await m.read(this.evalSlots()), where(tt));
          return { t: tt, f: rec.f, gtd: rec.gd, g: rec.rec };
        };
        const res = await strongWolfe(evalAt, { t: 0, f: loss, gtd, g: cur }, t, dMax, {}, { t, f: firstTrial.f, gtd: firstTrial.gd, g: firstTrial.rec });
        if (!res.converged) lineSearchFailures++;
        if (res.best.t === 0) stalled = `the strong-Wolfe line search found no point lower than f = ${loss} along the L-BFGS direction (${res.reason ?? 'no decrease'})`;
        loss = res.best.f;
        cur = res.best.g;
        this.t = res.best.t;
        lsEvals = res.evals;
        m.axpby(m.x, 1, this.xInit, this.t, this.d);
        optCond = cur.maxabs <= tolGrad;
      } else if (evaluate) {
        const rec = this.record(trialVec, values.slice(3), where(t));
        loss = rec.f;
        cur = rec.rec;
        optCond = cur.maxabs <= tolGrad;
        lsEvals = 1;
      }
      run.add(lsEvals);
      state.func_evals += lsEvals;
      await run.completed(loss, cur.maxabs);
      if (nIter === h.max_iter) return done('max_iter');
      if (run.evals >= h.max_eval) return done('max_eval');
      if (optCond) return done('tolerance_grad');
      if (r(Math.abs(r(this.t)) * dMax) <= tolChange) return done('tolerance_change (step)');
      if (Math.abs(loss - this.prevLoss) < h.tolerance_change) return done('tolerance_change (loss)');
    }
    return done('max_iter');
  }

  async exportState(): Promise<MethodState> {
    const started = this.state.n_iter > 0;
    return captureState(this.m, this.name, {
      n_iter: this.state.n_iter, func_evals: this.state.func_evals, t: this.t, H_diag: this.hDiag, ro: [...this.ro],
      prev_loss: nullIfUnset(this.prevLoss), ...this.counters.scalars(),
    }, {
      d: started ? [this.d] : [], old_dirs: this.dirs, old_stps: this.stps, prev_flat_grad: this.hasPrev ? [this.gPrev] : [],
    });
  }

  async importState(saved: MethodState): Promise<void> {
    const { m, h } = this;
    const r = new StateReader(saved, this.name, m);
    r.only(['n_iter', 'func_evals', 't', 'H_diag', 'ro', 'prev_loss', ...STEP_COUNTER_KEYS], ['d', 'old_dirs', 'old_stps', 'prev_flat_grad']);
    const nIter = r.count('n_iter');
    const funcEvals = r.count('func_evals');
    const started = nIter > 0;
    const t = r.number('t');
    const hDiag = r.number('H_diag');
    const prevLoss = r.unset('prev_loss');
    const k = saved.vectors.old_dirs?.length ?? 0;
    if (k > h.history_size) {
      throw new MinimizeError(`LBFGS state: vectors.old_dirs holds ${k} (s, y) pairs but history_size is ${h.history_size}; use the history_size the state was saved with (at least ${k})`);
    }
    const dirs = r.vectors('old_dirs', 0, started ? h.history_size : 0);
    const stps = r.vectors('old_stps', dirs.length, dirs.length);
    const ro = r.numbers('ro', dirs.length);
    const d = r.vectors('d', started ? 1 : 0, started ? 1 : 0);
    const gPrev = r.vectors('prev_flat_grad', started ? 1 : 0, started ? 1 : 0);
    const counters = StepCounters.read(r);
    this.spare.push(...this.dirs.splice(0), ...this.stps.splice(0));
    for (let i = 0; i < dirs.length; i++) {
      const y = this.spare.pop() ?? m.vector(`lbfgs.y${i}`);
      const s = this.spare.pop() ?? m.vector(`lbfgs.s${i}`);
      await m.writeVector(y, dirs[i]!);
      await m.writeVector(s, stps[i]!);
      this.dirs.push(y);
      this.stps.push(s);
    }
    await m.writeVector(this.d, d[0] ?? new Float64Array(m.n));
    await m.writeVector(this.gPrev, gPrev[0] ?? new Float64Array(m.n));
    this.ro = [...ro];
    this.hDiag = hDiag;
    this.t = t;
    this.hasPrev = gPrev.length > 0;
    this.prevLoss = prevLoss;
    this.state.n_iter = nIter;
    this.state.func_evals = funcEvals;
    this.counters.restore(counters);
  }
}

export const lbfgsMethod: MethodDef = {
  name: 'LBFGS',
  summary: 'L-BFGS with torch.optim.LBFGS semantics (line_search_fn none or strong_wolfe)',
  hyperparams: LBFGS_KEYS,
  validate: (h) => void resolveLbfgs(h),
  create: (m, h) => new LBFGS(m, h),
};
