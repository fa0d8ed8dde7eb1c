/**
 * torch.optim.lbfgs's strong-Wolfe line search (`_strong_wolfe` and `_cubic_interpolate`, torch 1.13, themselves
 * ported from minFunc via torch7's lswolfe.lua), as host logic over trial evaluations that run wherever the
 * minimizer's vector machine runs. Shared by L-BFGS and nonlinear CG.
 *
 * Along a descent direction d from x with slope g·d < 0, find t with
 *   f(x + t·d) ≤ f(x) + c1·t·g·d                      (sufficient decrease, Armijo)
 *   |∇f(x + t·d)·d| ≤ −c2·g·d                         (strong curvature)
 * Bracketing: start at t, extrapolate by cubic interpolation inside [t + 0.01·(t − t_prev), 10·t] until a bracket
 * [t_prev, t] contains such a point (or t satisfies both). Zoom: cubic interpolation inside the bracket, moved 10% of
 * the bracket away from an end when it lands too close twice in a row (or outside), until the conditions hold, the
 * bracket is shorter than tolerance_change / max|d|, or max_ls evaluations were made. Returns the lowest point
 * seen in the final bracket (torch's `bracket[low_pos]`).
 *
 * Defaults as torch calls it from LBFGS: c1 = 1e-4, c2 = 0.9, tolerance_change = 1e-9 (the line search's own,
 * not the optimizer's), max_ls = 25. Scalar arithmetic runs in double on the values the machine read back (in
 * float32 torch mixes Python floats with float32 0-d tensors here; that rounding is not reproduced).
 *
 * Differences from torch: none in the search. In addition, the result says whether the conditions were met
 * (`converged`) and why not; callers decide whether that is an error (nonlinear CG) or not (L-BFGS, as torch).
 */

import { DescentDirectionError } from './errors.js';

/** One evaluation along the line: x + t·d. `g` identifies the gradient stored there (a vector handle). */
export interface Trial<G> {
  t: number;
  f: number;
  /** ∇f(x + t·d)·d */
  gtd: number;
  g: G;
}

export interface StrongWolfeOptions {
  c1?: number;
  c2?: number;
  toleranceChange?: number;
  maxLs?: number;
}

export interface LineSearchResult<G> {
  /** The accepted trial (t = 0 means the start point: no evaluated point was lower). */
  best: Trial<G>;
  /** Evaluations made (including a `first` trial given by the caller). */
  evals: number;
  /** Whether the strong Wolfe conditions hold at `best`. */
  converged: boolean;
  /** Why the search stopped when not converged. */
  reason?: 'max_ls' | 'bracket too small';
}

/**
 * torch's _cubic_interpolate: the minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to `bounds`
 * (default the interval between x1 and x2); the bounds' midpoint when the cubic has no real minimiser.
 */
export function cubicInterpolate(x1: number, f1: number, g1: number, x2: number, f2: number, g2: number, bounds?: readonly [number, number]): number {
  const [xminBound, xmaxBound] = bounds ?? (x1 <= x2 ? [x1, x2] : [x2, x1]);
  const d1 = g1 + g2 - (3 * (f1 - f2)) / (x1 - x2);
  const d2Square = d1 * d1 - g1 * g2;
  if (d2Square >= 0) {
    const d2 = Math.sqrt(d2Square);
    const minPos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)) : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    // Python's min(max(a, lo), hi): max/min return the first argument on ties and compare with NaN as false.
    const lo = xminBound > minPos ? xminBound : minPos;
    return xmaxBound < lo ? xmaxBound : lo;
  }
  return (xminBound + xmaxBound) / 2;
}

/** Python's min/max of two numbers (the first one when neither compares smaller/greater, NaN included). */
const pmax = (a: number, b: number) => (b > a ? b : a);
const pmin = (a: number, b: number) => (b < a ? b : a);

/**
 * The search. `evaluate(t, live)` evaluates at x + t·d and returns its trial; `live` lists the gradients the search
 * still holds (the evaluation must not overwrite them). `start` is the point t = 0 (f, g·d and its gradient);
 * `dNorm` = max|d|. `first`, when given, is the already-evaluated trial at `t` (a caller may evaluate it together
 * with the direction to save a readback).
 */
export async function strongWolfe<G>(
  evaluate: (t: number, live: G[]) => Promise<Trial<G>>,
  start: Trial<G>,
  t: number,
  dNorm: number,
  opts: StrongWolfeOptions = {},
  first?: Trial<G>,
): Promise<LineSearchResult<G>> {
  const c1 = opts.c1 ?? 1e-4, c2 = opts.c2 ?? 0.9, toleranceChange = opts.toleranceChange ?? 1e-9, maxLs = opts.maxLs ?? 25;
  const { f, gtd } = start;
  if (!(gtd < 0)) {
    throw new DescentDirectionError(`strong-Wolfe line search: d is not a descent direction (gᵀd = ${gtd} must be < 0); search along −g or fix the direction`);
  }
  if (!(t > 0) || !Number.isFinite(t)) throw new DescentDirectionError(`strong-Wolfe line search: the initial step must be a positive finite number, got ${t}`);
  let neu = first ?? (await evaluate(t, [start.g]));
  let evals = 1;
  let prev: Trial<G> = { ...start, t: 0 };
  let done = false;
  let lsIter = 0;
  let bracket: Trial<G>[] = [];
  while (lsIter < maxLs) {
    if (neu.f > f + c1 * t * gtd || (lsIter > 1 && neu.f >= prev.f)) {
      bracket = [prev, neu];
      break;
    }
    if (Math.abs(neu.gtd) <= -c2 * gtd) {
      bracket = [neu];
      done = true;
      break;
    }
    if (neu.gtd >= 0) {
      bracket = [prev, neu];
      break;
    }
    const minStep = t + 0.01 * (t - prev.t);
    const maxStep = t * 10;
    const tmp = t;
    t = cubicInterpolate(prev.t, prev.f, prev.gtd, t, neu.f, neu.gtd, [minStep, maxStep]);
    prev = { ...neu, t: tmp };
    neu = await evaluate(t, [start.g, prev.g]);
    evals++;
    lsIter++;
  }
  if (lsIter === maxLs) bracket = [{ ...start, t: 0 }, { ...neu, t }];
  // torch keeps t, f, g and g·d of the bracket in parallel lists; a Trial carries all four.
  let insufProgress = false;
  let [low, high] = bracket[0]!.f <= bracket[bracket.length - 1]!.f ? [0, 1] : [1, 0];
  let reason: LineSearchResult<G>['reason'];
  while (!done && lsIter < maxLs) {
    const [b0, b1] = [bracket[0]!, bracket[1]!];
    if (Math.abs(b1.t - b0.t) * dNorm < toleranceChange) {
      reason = 'bracket too small';
      break;
    }
    t = cubicInterpolate(b0.t, b0.f, b0.gtd, b1.t, b1.f, b1.gtd);
    const bmax = pmax(b0.t, b1.t), bmin = pmin(b0.t, b1.t);
    const eps = 0.1 * (bmax - bmin);
    if (pmin(bmax - t, t - bmin) < eps) {
      if (insufProgress || t >= bmax || t <= bmin) {
        t = Math.abs(t - bmax) < Math.abs(t - bmin) ? bmax - eps : bmin + eps;
        insufProgress = false;
      } else insufProgress = true;
    } else insufProgress = false;
    neu = { ...(await evaluate(t, [start.g, b0.g, b1.g])), t };
    evals++;
    lsIter++;
    if (neu.f > f + c1 * t * gtd || neu.f >= bracket[low]!.f) {
      bracket[high] = neu;
      [low, high] = bracket[0]!.f <= bracket[1]!.f ? [0, 1] : [1, 0];
    } else {
      if (Math.abs(neu.gtd) <= -c2 * gtd) done = true;
      else if (neu.gtd * (bracket[high]!.t - bracket[low]!.t) >= 0) bracket[high] = bracket[low]!;
      bracket[low] = neu;
    }
  }
  if (!done && reason === undefined) reason = 'max_ls';
  return { best: bracket[low]!, evals, converged: done, ...(done ? {} : { reason }) };
}
