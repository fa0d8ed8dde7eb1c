/**
 * Bounds for a convolution (shaders/conv2d.wgsl with the matmul products) against the float64 reference, inputs
 * known to within their own bounds: the GPU's im2col copies exactly, so the forward and the dW / dX̃ products are
 * matmuls whose bounds (bounds/matmul.ts: γ_(K+3)·Σ|terms| plus the inputs' spread) apply as they are, on the
 * im2col operand and the NCHW → rows transpose of dy; col2im then sums at most kh·kw of the dX̃ entries per input
 * element: Σ e_t + γ_T·Σ(|t| + e_t) on top.
 */
import { nchwToRowsRef, rowsToNchwRef } from '../../ref/batchnorm2d.js';
import { col2imRef, conv2dOutputSize, conv2dTaps, im2colRef, type Conv2dGeometry } from '../../ref/conv2d.js';
import { FTZ, gamma, type Bounded } from '../sums.js';
import { matmulBounded } from './matmul.js';

const nchw = (b: Bounded, rows: number, channels: number, plane: number): Bounded => {
  const s = { batch: rows, channels, plane };
  return { value: rowsToNchwRef(b.value, s, 'float64'), bound: rowsToNchwRef(b.bound, s, 'float64') };
};

/** y [rows, F, OH, OW] (before any fused activation), x known to within ex. */
export function conv2dForwardBounded(g: Conv2dGeometry, rows: number, x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | undefined, ex?: ArrayLike<number>): Bounded {
  const [OH, OW] = conv2dOutputSize(g);
  const P = OH * OW;
  const K = conv2dTaps(g);
  const z = matmulBounded(
    { M: rows * P, N: g.filters, K, a: im2colRef(g, rows, x), b: weight, bias },
    ex ? { a: im2colRef(g, rows, ex) } : {},
  ).z;
  return nchw(z, rows, g.filters, P);
}

/** dW [C·kh·kw, F], db [F] and dx [rows, C, H, W], with x and dy known to within ex and edy. */
export function conv2dBackwardBounded(
  g: Conv2dGeometry,
  rows: number,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  dy: ArrayLike<number>,
  err: { ex?: ArrayLike<number>; edy?: ArrayLike<number> } = {},
): { dw: Bounded; db: Bounded; dx: Bounded } {
  const [OH, OW] = conv2dOutputSize(g);
  const P = OH * OW;
  const K = conv2dTaps(g);
  const NP = rows * P;
  const F = g.filters;
  const s = { batch: rows, channels: F, plane: P };
  const dyRows = nchwToRowsRef(dy, s, 'float64');
  const edyRows = err.edy ? nchwToRowsRef(err.edy, s, 'float64') : undefined;
  const cols = im2colRef(g, rows, x);
  const ecols = err.ex ? im2colRef(g, rows, err.ex) : undefined;
  const dw = matmulBounded({ M: K, N: F, K: NP, transA: true, a: cols, b: dyRows }, { a: ecols, b: edyRows }).z;
  const db = matmulBounded({ M: 1, N: F, K: NP, a: new Float64Array(NP).fill(1), b: dyRows }, { b: edyRows }).z;
  const dcols = matmulBounded({ M: NP, N: K, K: F, transB: true, a: dyRows, b: weight }, { a: edyRows }).z;
  const T = g.kernel[0] * g.kernel[1];
  const value = col2imRef(g, rows, dcols.value);
  const carried = col2imRef(g, rows, dcols.bound);
  const wide = col2imRef(g, rows, Float64Array.from(dcols.value, (v, i) => Math.abs(v) + dcols.bound[i]!));
  const bound = Float64Array.from(carried, (c, i) => c + gamma(T) * wide[i]! + T * FTZ);
  return { dw, db, dx: { value, bound } };
}
