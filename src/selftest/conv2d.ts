import type { Engine } from '../gpu/index.js';
import { conv2dBackwardOps, conv2dForwardOps, conv2dSizes, type Im2colForm } from '../kernels/conv2d.js';
import type { PlannedOp } from '../layers/layer.js';
import { conv2dBackwardRef, conv2dForwardRef, type Conv2dGeometry } from '../ref/conv2d.js';
import { expectWithin, sumBounds } from '../testing/sums.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

export interface Conv2dCase {
  geometry: Conv2dGeometry;
  rows: number;
  bias: boolean;
  /** Fuse a ReLU into the forward's epilogue (y = relu(z), z stored), and relu′ of a previous layer into col2im. */
  relu: boolean;
  /** im2col's form; default: the adapter's. */
  im2col?: Im2colForm;
  /** Examples per chunk (scratch sized for one chunk); default: all `rows` at once. */
  chunk?: number;
}

/**
 * Runs the GPU forward (im2col + matmul, NCHW store) and backward (dy to rows, dW and db, dX̃, col2im) of one
 * convolution on random inputs, every output first filled with NaN, against the float64 reference. Bounds:
 * y and z: γ_(K+3)·Σ|terms| (K taps, the bias, the product's α and epilogue); ReLU changes no error bound.
 * dW and db: γ_(N·P+3)·Σ|terms| — also with chunks: each chunk's product and its β = 1 addition onto the chunks
 * before are one summation of the same N·P products in another order, each term through at most N·P − 1 additions. dx: the product over F then the gather over ≤ kh·kw taps, γ_(F+kh·kw+3)·Σ|terms|;
 * relu′(z) multiplies by exactly 0 or 1.
 */
export async function checkConv2dCase(e: Engine, rand: () => number, cs: Conv2dCase): Promise<void> {
  const g = cs.geometry;
  const s = conv2dSizes(g, cs.rows);
  const F = g.filters;
  const x = uniformArray(s.x, -1, 1, rand);
  const w = uniformArray(s.K * F, -1, 1, rand);
  const b = uniformArray(F, -1, 1, rand);
  const dy = uniformArray(s.y, -1, 1, rand);
  // The input of a ReLU before the convolution (x = relu(zPrev) is not needed: the backward only reads zPrev).
  const zPrev = uniformArray(s.x, -1, 1, rand);
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const bufs = {
    x: e.storage('x', x),
    w: e.storage('w', w),
    b: e.storage('b', b),
    dy: e.storage('dy', dy),
    zPrev: e.storage('z_prev', zPrev),
    y: e.storage('y', nan(s.y)),
    act: e.storage('act', nan(s.y)),
    dw: e.storage('dw', nan(s.K * F)),
    db: e.storage('db', nan(F)),
    dx: e.storage('dx', nan(s.x)),
    cols: e.storage('cols', nan((s.cols / cs.rows) * Math.min(cs.chunk ?? cs.rows, cs.rows))),
    rows: e.storage('rows', nan((s.rowsF / cs.rows) * Math.min(cs.chunk ?? cs.rows, cs.rows))),
  };
  const ops: PlannedOp[] = [];
  try {
    ops.push(...(await conv2dForwardOps(e, {
      geometry: g, rows: cs.rows, x: bufs.x, weight: bufs.w, bias: cs.bias ? bufs.b : undefined, y: bufs.y, cols: bufs.cols, im2col: cs.im2col, chunk: cs.chunk,
      ...(cs.relu ? { epilogue: { activation: 'relu' as const, y: bufs.act } } : {}),
    })));
    ops.push(...(await conv2dBackwardOps(e, {
      geometry: g, rows: cs.rows, weight: bufs.w, dy: bufs.dy, dweight: bufs.dw, dbias: cs.bias ? bufs.db : undefined, dx: bufs.dx,
      cols: bufs.cols, rowsBuf: bufs.rows, chunk: cs.chunk, x: bufs.x, im2col: cs.im2col, ...(cs.relu ? { activationGrad: { kind: 'relu' as const, z: bufs.zPrev } } : {}),
    })));
    e.run('conv2d check', (pass) => ops.forEach((o) => o.op.encode(pass)));
    const what = `conv2d N=${cs.rows} C=${g.channels} ${g.height}×${g.width} F=${F} k=${g.kernel} s=${g.stride} p=${g.padding} d=${g.dilation}${cs.bias ? ' +bias' : ''}${cs.relu ? ' +relu' : ''}${cs.im2col ? ` im2col by ${cs.im2col}` : ''}${cs.chunk ? ` in chunks of ${cs.chunk}` : ''}`;
    const fw = conv2dForwardRef(g, cs.rows, x, w, cs.bias ? b : undefined, 'float64');
    const yBound = sumBounds({ value: fw.y, abs: fw.abs, n: s.K + 3 });
    expectWithin(await e.readF32(bufs.y), yBound, `${what}: y`, 'γ_(K+3)·Σ|terms|');
    if (cs.relu) expectWithin(await e.readF32(bufs.act), { value: Array.from(fw.y, (v) => Math.max(v, 0)), bound: yBound.bound }, `${what}: relu(y)`);
    const bw = conv2dBackwardRef(g, cs.rows, x, w, dy, true, 'float64');
    const n = cs.rows * s.P;
    expectWithin(await e.readF32(bufs.dw), sumBounds({ value: bw.dw, abs: bw.dwAbs, n: n + 3 }), `${what}: dW`, 'γ_(N·P+3)·Σ|terms|');
    if (cs.bias) expectWithin(await e.readF32(bufs.db), sumBounds({ value: bw.db, abs: bw.dbAbs, n: n + 3 }), `${what}: db`, 'γ_(N·P+3)·Σ|terms|');
    const gate = (i: number) => (cs.relu ? (zPrev[i]! > 0 ? 1 : 0) : 1);
    const dxBound = sumBounds({ value: bw.dx!.map((v, i) => v * gate(i)), abs: bw.dxAbs!, n: F + g.kernel[0] * g.kernel[1] + 3 });
    expectWithin(await e.readF32(bufs.dx), dxBound, `${what}: dx`, 'γ_(F+kh·kw+3)·Σ|terms|');
  } finally {
    for (const o of ops) o.op.destroy();
    for (const buf of Object.values(bufs)) buf.destroy();
  }
}

const geometry = (o: Partial<Conv2dGeometry> & Pick<Conv2dGeometry, 'channels' | 'height' | 'width' | 'filters'>): Conv2dGeometry => ({
  kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1], ...o,
});

/**
 * Awkward geometries: 7×8 with stride 2 and padding 1, where (W + 2p − k) = 7 is odd (stride 2 does not divide it: the
 * last padded column is never read); a 2×3 kernel with stride (1, 2), padding (0, 1) and dilation (2, 1) on 6×5 (one
 * stride 1, the other not: col2im's division-free path for stride 1 is taken per axis).
 */
export const CONV2D_CASES: Conv2dCase[] = [
  { geometry: geometry({ channels: 3, height: 7, width: 8, filters: 5, stride: [2, 2], padding: [1, 1] }), rows: 2, bias: true, relu: true },
  { geometry: geometry({ channels: 2, height: 6, width: 5, filters: 4, kernel: [2, 3], stride: [1, 2], padding: [0, 1], dilation: [2, 1] }), rows: 3, bias: false, relu: false },
];

/** The CNN preset's kind of layer (3×3, stride 1, padding 1) at an odd size, run with im2col in each form. */
export const CONV2D_FORM_CASES: Conv2dCase[] = (['elements', 'rows'] as const).map((im2col) => ({
  geometry: geometry({ channels: 3, height: 5, width: 7, filters: 6, padding: [1, 1] }), rows: 3, bias: true, relu: true, im2col,
}));

/**
 * Chunked plans (kernels/conv2d-chunk.ts) at awkward sizes: 5 examples in chunks of 2 (the last one shorter) on both
 * awkward geometries (stride 2 and padding; dilation and mixed strides), with the fused ReLU and relu′; 3 in chunks
 * of 1 on the padded 3×3 layer.
 */
export const CONV2D_CHUNK_CASES: Conv2dCase[] = [
  ...CONV2D_CASES.map((cs) => ({ ...cs, rows: 5, chunk: 2 })),
  { ...CONV2D_FORM_CASES[0]!, im2col: undefined, chunk: 1 },
];

export const conv2dChecks: SelfCheck[] = [
  {
    name: 'conv2d.forward_backward',
    async run(e, rand) {
      for (const cs of [...CONV2D_CASES, ...CONV2D_FORM_CASES, ...CONV2D_CHUNK_CASES]) await checkConv2dCase(e, rand, cs);
    },
  },
];
