/**
 * CPU reference of a 2-D convolution (shaders/conv2d.wgsl with the matmul products; torch.nn.functional.conv2d
 * semantics: cross-correlation, zero padding, stride, dilation): direct loops over the definition, the readable
 * specification. Shapes as in the shader header: x [N, C, H, W], weight [C, kh, kw, F] (K × F with
 * k = (c·kh + ky)·kw + kx), bias [F], y [N, F, OH, OW].
 *
 *   y[n,f,oy,ox] = b[f] + Σ_{c,ky,kx} x[n, c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] · W[c,ky,kx,f]   (0 outside)
 *   dW[c,ky,kx,f] = Σ_{n,oy,ox} dy[n,f,oy,ox] · x[n, c, iy, ix]        db[f] = Σ_{n,oy,ox} dy[n,f,oy,ox]
 *   dx[n,c,iy,ix] = Σ_{ky,kx,f} dy[n,f,oy,ox] · W[c,ky,kx,f]   over the taps with iy = oy·sh − ph + ky·dh (ix alike)
 *
 * float32 rounds every product and sum (sums in the loop order written); float64 rounds nothing. Each result also
 * comes with Σ|terms| of its sum (`*Abs`), from which tests derive their tolerance (γ_n·Σ|terms|).
 */
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

/** Sizes of a convolution: per-example input (C, H, W), F filters, and the window. Pairs are (rows, columns). */
export interface Conv2dGeometry {
  channels: number;
  height: number;
  width: number;
  filters: number;
  kernel: readonly [number, number];
  stride: readonly [number, number];
  padding: readonly [number, number];
  dilation: readonly [number, number];
}

/** Output length along one axis: ⌊(size + 2·pad − dil·(k − 1) − 1) / stride⌋ + 1 (may be ≤ 0: no output). */
export function convOutputLength(size: number, kernel: number, stride: number, pad: number, dilation: number): number {
  return Math.floor((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** (OH, OW). */
export function conv2dOutputSize(g: Conv2dGeometry): [number, number] {
  return [
    convOutputLength(g.height, g.kernel[0], g.stride[0], g.padding[0], g.dilation[0]),
    convOutputLength(g.width, g.kernel[1], g.stride[1], g.padding[1], g.dilation[1]),
  ];
}

/** Taps per output: C·kh·kw. */
export function conv2dTaps(g: Conv2dGeometry): number {
  return g.channels * g.kernel[0] * g.kernel[1];
}

/** Visits every tap (k, input index within the example) of output pixel (oy, ox) that falls inside the image. */
function forEachTap(g: Conv2dGeometry, oy: number, ox: number, visit: (k: number, at: number) => void): void {
  const [kh, kw] = g.kernel;
  for (let c = 0; c < g.channels; c++) {
    for (let ky = 0; ky < kh; ky++) {
      const iy = oy * g.stride[0] - g.padding[0] + ky * g.dilation[0];
      if (iy < 0 || iy >= g.height) continue;
      for (let kx = 0; kx < kw; kx++) {
        const ix = ox * g.stride[1] - g.padding[1] + kx * g.dilation[1];
        if (ix < 0 || ix >= g.width) continue;
        visit((c * kh + ky) * kw + kx, (c * g.height + iy) * g.width + ix);
      }
    }
  }
}

/** Forward over `rows` examples; y [rows, F, OH, OW] and Σ|terms| of each output (products and the bias). */
export function conv2dForwardRef(
  g: Conv2dGeometry,
  rows: number,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  dtype: Dtype,
): { y: FloatArray; abs: Float64Array } {
  const r = rounder(dtype);
  const [OH, OW] = conv2dOutputSize(g);
  const F = g.filters;
  const P = OH * OW;
  const inSize = g.channels * g.height * g.width;
  const y = allocate(dtype, rows * F * P);
  const abs = new Float64Array(rows * F * P);
  const acc = new Float64Array(F);
  const mag = new Float64Array(F);
  for (let n = 0; n < rows; n++) {
    const xn = n * inSize;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        acc.fill(0);
        mag.fill(0);
        forEachTap(g, oy, ox, (k, at) => {
          const v = x[xn + at]!;
          for (let f = 0; f < F; f++) {
            const t = r(v * weight[k * F + f]!);
            acc[f] = r(acc[f]! + t);
            mag[f]! += Math.abs(t);
          }
        });
        for (let f = 0; f < F; f++) {
          const o = (n * F + f) * P + oy * OW + ox;
          y[o] = bias ? r(acc[f]! + bias[f]!) : acc[f]!;
          abs[o] = mag[f]! + (bias ? Math.abs(bias[f]!) : 0);
        }
      }
    }
  }
  return { y, abs };
}

export interface Conv2dGrads {
  /** [C, kh, kw, F] */
  dw: FloatArray;
  dwAbs: Float64Array;
  /** [F] */
  db: FloatArray;
  dbAbs: Float64Array;
  /** [rows, C, H, W], when asked for. */
  dx?: FloatArray;
  dxAbs?: Float64Array;
}

/** Backward over `rows` examples from x and dy; dx only when `needsDx`. */
export function conv2dBackwardRef(
  g: Conv2dGeometry,
  rows: number,
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  dy: ArrayLike<number>,
  needsDx: boolean,
  dtype: Dtype,
): Conv2dGrads {
  const r = rounder(dtype);
  const [OH, OW] = conv2dOutputSize(g);
  const F = g.filters;
  const P = OH * OW;
  const K = conv2dTaps(g);
  const inSize = g.channels * g.height * g.width;
  const dw = allocate(dtype, K * F);
  const dwAbs = new Float64Array(K * F);
  const db = allocate(dtype, F);
  const dbAbs = new Float64Array(F);
  const dx = needsDx ? allocate(dtype, rows * inSize) : undefined;
  const dxAbs = needsDx ? new Float64Array(rows * inSize) : undefined;
  for (let n = 0; n < rows; n++) {
    const xn = n * inSize;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const q = oy * OW + ox;
        for (let f = 0; f < F; f++) {
          const d = dy[(n * F + f) * P + q]!;
          db[f] = r(db[f]! + d);
          dbAbs[f]! += Math.abs(d);
        }
        forEachTap(g, oy, ox, (k, at) => {
          const v = x[xn + at]!;
          for (let f = 0; f < F; f++) {
            const d = dy[(n * F + f) * P + q]!;
            const t = r(d * v);
            dw[k * F + f] = r(dw[k * F + f]! + t);
            dwAbs[k * F + f]! += Math.abs(t);
            if (dx) {
              const u = r(d * weight[k * F + f]!);
              dx[xn + at] = r(dx[xn + at]! + u);
              dxAbs![xn + at]! += Math.abs(u);
            }
          }
        });
      }
    }
  }
  return { dw, dwAbs, db, dbAbs, ...(dx ? { dx, dxAbs } : {}) };
}

/**
 * cols [rows·P, K] in float64: the input value each tap reads, 0 in the padding — what shaders/conv2d.wgsl's im2col
 * writes (the operand of the forward and dW products).
 */
export function im2colRef(g: Conv2dGeometry, rows: number, x: ArrayLike<number>): Float64Array {
  const [OH, OW] = conv2dOutputSize(g);
  const K = conv2dTaps(g);
  const inSize = g.channels * g.height * g.width;
  const cols = new Float64Array(rows * OH * OW * K);
  for (let n = 0; n < rows; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const r = (n * OH + oy) * OW + ox;
        forEachTap(g, oy, ox, (k, at) => (cols[r * K + k] = x[n * inSize + at]!));
      }
    }
  }
  return cols;
}

/** dx [rows, C, H, W] in float64: each input element's sum of the cols entries of the taps that read it (col2im). */
export function col2imRef(g: Conv2dGeometry, rows: number, cols: ArrayLike<number>): Float64Array {
  const [OH, OW] = conv2dOutputSize(g);
  const K = conv2dTaps(g);
  const inSize = g.channels * g.height * g.width;
  const dx = new Float64Array(rows * inSize);
  for (let n = 0; n < rows; n++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const r = (n * OH + oy) * OW + ox;
        forEachTap(g, oy, ox, (k, at) => (dx[n * inSize + at]! += cols[r * K + k]!));
      }
    }
  }
  return dx;
}
