/**
 * CPU reference of shaders/pool2d.wgsl (torch's F.max_pool2d and F.avg_pool2d with ceil_mode = False,
 * count_include_pad = True, dilation 1): plain loops over planes = rows·C of H×W. See the shader header for the math.
 * float32 rounds every sum and product; float64 none. Sums come with Σ|terms| for the tests' bounds.
 */
import { convOutputLength } from './conv2d.js';
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

/** Sizes of a pooling: per-example input (C, H, W) and the window. Pairs are (rows, columns). */
export interface Pool2dGeometry {
  channels: number;
  height: number;
  width: number;
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
}

/** (OH, OW) = ⌊(H + 2p − k) / s⌋ + 1 each: the convolution's output length at dilation 1. */
export function pool2dOutputSize(g: Pool2dGeometry): [number, number] {
  return [convOutputLength(g.height, g.kernel[0], g.stride[0], g.padding[0], 1), convOutputLength(g.width, g.kernel[1], g.stride[1], g.padding[1], 1)];
}

/** Visits the in-image elements (plane index iy·W + ix) of output (oy, ox)'s window in (ky, kx) order. */
export function forEachInWindow(g: Pool2dGeometry, oy: number, ox: number, visit: (at: number) => void): void {
  for (let ky = 0; ky < g.kernel[0]; ky++) {
    const iy = oy * g.stride[0] - g.padding[0] + ky;
    if (iy < 0 || iy >= g.height) continue;
    for (let kx = 0; kx < g.kernel[1]; kx++) {
      const ix = ox * g.stride[1] - g.padding[1] + kx;
      if (ix >= 0 && ix < g.width) visit(iy * g.width + ix);
    }
  }
}

/** Visits every output: its index o in [planes, OH, OW], its plane's first input index, and its (oy, ox). */
export function forEachOutput(g: Pool2dGeometry, rows: number, visit: (o: number, base: number, oy: number, ox: number) => void): void {
  const [OH, OW] = pool2dOutputSize(g);
  const inPlane = g.height * g.width;
  for (let pl = 0; pl < rows * g.channels; pl++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) visit((pl * OH + oy) * OW + ox, pl * inPlane, oy, ox);
    }
  }
}

/** y [planes, OH, OW] and the argmax (plane index of the first maximum; NaN wins, the last one, as torch). */
export function maxPoolForwardRef(g: Pool2dGeometry, rows: number, x: ArrayLike<number>, dtype: Dtype): { y: FloatArray; argmax: Uint32Array } {
  const [OH, OW] = pool2dOutputSize(g);
  const y = allocate(dtype, rows * g.channels * OH * OW);
  const argmax = new Uint32Array(y.length);
  forEachOutput(g, rows, (o, base, oy, ox) => {
    let best = NaN;
    let at = -1;
    forEachInWindow(g, oy, ox, (j) => {
      const v = x[base + j]!;
      if (at < 0 || v > best || Number.isNaN(v)) {
        best = v;
        at = j;
      }
    });
    y[o] = best;
    argmax[o] = at;
  });
  return { y, argmax };
}

/** dx [planes, H, W]: each dy routed to its window's argmax (summed where windows overlap). */
export function maxPoolBackwardRef(g: Pool2dGeometry, rows: number, dy: ArrayLike<number>, argmax: ArrayLike<number>, dtype: Dtype): { dx: FloatArray; abs: Float64Array } {
  const r = rounder(dtype);
  const [OH, OW] = pool2dOutputSize(g);
  const inPlane = g.height * g.width;
  const planes = rows * g.channels;
  const dx = allocate(dtype, planes * inPlane);
  const abs = new Float64Array(planes * inPlane);
  for (let pl = 0; pl < planes; pl++) {
    for (let o = 0; o < OH * OW; o++) {
      const i = pl * inPlane + argmax[pl * OH * OW + o]!;
      const d = dy[pl * OH * OW + o]!;
      dx[i] = r(dx[i]! + d);
      abs[i]! += Math.abs(d);
    }
  }
  return { dx, abs };
}

/** y = (Σ window) / (kh·kw), the padding's zeros counted. */
export function avgPoolForwardRef(g: Pool2dGeometry, rows: number, x: ArrayLike<number>, dtype: Dtype): { y: FloatArray; abs: Float64Array } {
  const r = rounder(dtype);
  const [OH, OW] = pool2dOutputSize(g);
  const count = g.kernel[0] * g.kernel[1];
  const y = allocate(dtype, rows * g.channels * OH * OW);
  const abs = new Float64Array(y.length);
  forEachOutput(g, rows, (o, base, oy, ox) => {
    let s = 0;
    let a = 0;
    forEachInWindow(g, oy, ox, (j) => {
      s = r(s + x[base + j]!);
      a += Math.abs(x[base + j]!);
    });
    y[o] = r(s / count);
    abs[o] = a / count;
  });
  return { y, abs };
}

/** dx = Σ over the windows holding the element of dy / (kh·kw). */
export function avgPoolBackwardRef(g: Pool2dGeometry, rows: number, dy: ArrayLike<number>, dtype: Dtype): { dx: FloatArray; abs: Float64Array } {
  const r = rounder(dtype);
  const count = g.kernel[0] * g.kernel[1];
  const dx = allocate(dtype, rows * g.channels * g.height * g.width);
  const abs = new Float64Array(dx.length);
  forEachOutput(g, rows, (o, base, oy, ox) => {
    const d = dy[o]!;
    forEachInWindow(g, oy, ox, (j) => {
      dx[base + j] = r(dx[base + j]! + d);
      abs[base + j]! += Math.abs(d);
    });
  });
  for (let i = 0; i < dx.length; i++) {
    dx[i] = r(dx[i]! / count);
    abs[i] = abs[i]! / count;
  }
  return { dx, abs };
}
