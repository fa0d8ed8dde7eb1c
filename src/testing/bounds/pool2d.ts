/**
 * Bounds for shaders/pool2d.wgsl against the float64 reference, inputs known to within their own bounds.
 *
 * Max: a maximum is 1-Lipschitz in the max norm, so y is within the largest input bound of its window. Its argmax
 * may differ where another element of the window lies within both bounds of the maximum; the backward then may route
 * dy to any such candidate, so each candidate's dx bound takes |dy| + e(dy); otherwise the chosen element takes
 * e(dy). A sum over the ≤ ⌈kh/sh⌉·⌈kw/sw⌉ windows holding an element adds γ_T·Σ(|terms| + e).
 * Average: linear; the inputs' bounds are averaged the same way, and the sum of ≤ kh·kw terms and the product with
 * the rounded 1/(kh·kw) add γ_(T+2)·Σ(|terms| + e)/(kh·kw).
 */
import { avgPoolBackwardRef, avgPoolForwardRef, forEachInWindow, forEachOutput, maxPoolBackwardRef, maxPoolForwardRef, pool2dOutputSize, type Pool2dGeometry } from '../../ref/pool2d.js';
import { FTZ, gamma, type Bounded } from '../sums.js';

/** Windows (of ⌈kh/sh⌉·⌈kw/sw⌉ at most) holding one input element: the length of a backward's sums. */
const covering = (g: Pool2dGeometry) => Math.ceil(g.kernel[0] / g.stride[0]) * Math.ceil(g.kernel[1] / g.stride[1]);

export interface MaxPoolBounded {
  y: Bounded;
  argmax: Uint32Array;
  /** Per output: the plane indices the GPU's argmax may be (the reference's first), more than one when ambiguous. */
  candidates: number[][];
}

export function maxPoolForwardBounded(g: Pool2dGeometry, rows: number, x: ArrayLike<number>, ex?: ArrayLike<number>): MaxPoolBounded {
  const ref = maxPoolForwardRef(g, rows, x, 'float64');
  const bound = new Float64Array(ref.y.length);
  const candidates: number[][] = [];
  forEachOutput(g, rows, (o, base, oy, ox) => {
    const a = ref.argmax[o]!;
    const top = x[base + a]!;
    const ea = ex ? ex[base + a]! : 0;
    const cand = [a];
    let e = 0;
    forEachInWindow(g, oy, ox, (j) => {
      const ej = ex ? ex[base + j]! : 0;
      e = Math.max(e, ej);
      if (j !== a && x[base + j]! + ej >= top - ea) cand.push(j);
    });
    bound[o] = e;
    candidates.push(cand);
  });
  return { y: { value: ref.y, bound }, argmax: ref.argmax, candidates };
}

export function maxPoolBackwardBounded(g: Pool2dGeometry, rows: number, dy: ArrayLike<number>, fwd: MaxPoolBounded, edy?: ArrayLike<number>): Bounded {
  const { dx, abs } = maxPoolBackwardRef(g, rows, dy, fwd.argmax, 'float64');
  const [OH, OW] = pool2dOutputSize(g);
  const inPlane = g.height * g.width;
  const carried = new Float64Array(dx.length);
  for (let o = 0; o < fwd.candidates.length; o++) {
    const base = Math.floor(o / (OH * OW)) * inPlane;
    const e = edy ? edy[o]! : 0;
    const cand = fwd.candidates[o]!;
    for (const j of cand) carried[base + j]! += cand.length > 1 ? Math.abs(dy[o]!) + e : e;
  }
  const T = covering(g);
  return { value: dx, bound: Float64Array.from(carried, (c, i) => c + gamma(T) * (abs[i]! + c) + T * FTZ) };
}

export function avgPoolForwardBounded(g: Pool2dGeometry, rows: number, x: ArrayLike<number>, ex?: ArrayLike<number>): Bounded {
  const ref = avgPoolForwardRef(g, rows, x, 'float64');
  const carried = ex ? avgPoolForwardRef(g, rows, ex, 'float64').y : new Float64Array(ref.y.length);
  const T = g.kernel[0] * g.kernel[1];
  return { value: ref.y, bound: Float64Array.from(carried, (c, i) => c + gamma(T + 2) * (ref.abs[i]! + c) + (T + 2) * FTZ) };
}

export function avgPoolBackwardBounded(g: Pool2dGeometry, rows: number, dy: ArrayLike<number>, edy?: ArrayLike<number>): Bounded {
  const ref = avgPoolBackwardRef(g, rows, dy, 'float64');
  const carried = edy ? avgPoolBackwardRef(g, rows, edy, 'float64').dx : new Float64Array(ref.dx.length);
  const T = covering(g);
  return { value: ref.dx, bound: Float64Array.from(carried, (c, i) => c + gamma(T + 2) * (ref.abs[i]! + c) + (T + 2) * FTZ) };
}
