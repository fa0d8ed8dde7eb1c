/**
 * 2-D convolution on the GPU: the TypeScript side of shaders/conv2d.wgsl (whose header states the math, shapes and
 * bindings, and why im2col + matmul). Three planned data-movement ops, each one dispatch; the products are
 * MatmulOps (src/kernels/matmul.ts), planned by the Conv2D layer (src/layers/conv2d.ts):
 *   ConvDataOp.im2col      x [N, C, H, W] → cols [N·P, K]   (by element, or by row on software adapters)
 *   ConvDataOp.col2im      dcols [N·P, K] → dx [N, C, H, W] (written), optionally ⊙ act'(z)
 *   ConvDataOp.nchwToRows  dy [N, F, OH, OW] → rows [N·P, F]
 * Each may cover a chunk of examples (`first`, `rows`): `conv2dForwardOps` / `conv2dBackwardOps` take `chunk`, the
 * examples per im2col and products, so that the scratch holds chunk·P·K floats (sizing: conv2d-chunk.ts).
 */
import src from '../../shaders/conv2d.wgsl';
import { defineKernel, type Engine, type KernelDef, type Resource, type UniformBuffer } from '../gpu/index.js';
import { conv2dOutputSize, conv2dTaps, type Conv2dGeometry } from '../ref/conv2d.js';
import { activationCode, defaultAlpha, type Activation } from '../shared.js';
import { ACTIVATION_FNS_FILE, type ActivationGrad } from './activation.js';
import { plannedOps, type PlannedOp } from '../layers/layer.js';
import { MatmulOp } from './matmul.js';
import { checkElements } from './sizes.js';

const files = [ACTIVATION_FNS_FILE, { file: 'conv2d.wgsl', text: src }];

export const im2colKernel = defineKernel({ label: 'conv2d.im2col', files, entry: 'im2col', bindings: { p: 'uniform', x_in: 'read', cols: 'read_write' } });
export const im2colRowsKernel = defineKernel({ label: 'conv2d.im2col_rows', files, entry: 'im2col_rows', bindings: { p: 'uniform', x_in: 'read', cols: 'read_write' } });

/**
 * How im2col spreads its work: 'elements' (one invocation per value of `cols`: coalesced stores, for GPUs) or
 * 'rows' (one per output pixel, its K taps in a loop: software adapters, where the per-element index divisions cost
 * more than the copy). Default: 'rows' on software adapters, else 'elements'.
 */
export type Im2colForm = 'elements' | 'rows';

export function defaultIm2colForm(engine: Engine): Im2colForm {
  return engine.software ? 'rows' : 'elements';
}
export const col2imKernel = defineKernel({
  label: 'conv2d.col2im',
  files,
  entry: 'col2im',
  bindings: { p: 'uniform', dcols: 'read', dx: 'read_write', z: 'read' },
});
export const nchwToRowsKernel = defineKernel({
  label: 'conv2d.nchw_to_rows',
  files,
  entry: 'nchw_to_rows',
  bindings: { p: 'uniform', dy: 'read', rows: 'read_write' },
});

const WG = 256;

/** Elements of each tensor of a convolution over `rows` examples. */
export function conv2dSizes(g: Conv2dGeometry, rows: number): { x: number; y: number; cols: number; rowsF: number; P: number; K: number } {
  const [OH, OW] = conv2dOutputSize(g);
  const P = OH * OW;
  const K = conv2dTaps(g);
  return { x: rows * g.channels * g.height * g.width, y: rows * g.filters * P, cols: rows * P * K, rowsF: rows * P * g.filters, P, K };
}

/** One planned dispatch; bind group and uniforms built once, `encode` records it. */
export class ConvDataOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
  ) {}

  /** One invocation per element of the output (`total` of them), the geometry in the uniforms. */
  private static async plan(
    engine: Engine, def: KernelDef, g: Conv2dGeometry, rows: number, first: number, total: number, resources: Record<string, Resource>, grad?: ActivationGrad,
  ): Promise<ConvDataOp> {
    const k = await engine.kernel(def, { WG, ...(def === col2imKernel ? { ACT: grad ? activationCode(grad.kind) : 0, ACT_GRAD: grad ? 1 : 0 } : {}) });
    const [OH, OW] = conv2dOutputSize(g);
    const u = k.uniforms('p').set({
      batch: rows, channels: g.channels, height: g.height, width: g.width, filters: g.filters,
      kh: g.kernel[0], kw: g.kernel[1], sh: g.stride[0], sw: g.stride[1], ph: g.padding[0], pw: g.padding[1],
      dh: g.dilation[0], dw: g.dilation[1], out_h: OH, out_w: OW, total, act_alpha: grad ? (grad.alpha ?? defaultAlpha(grad.kind)) : 0, first,
    });
    u.write();
    const bg = k.bind({ p: u.buffer, ...resources });
    const groups = Math.ceil(total / WG);
    return new ConvDataOp((pass) => k.dispatch1d(pass, bg, groups), u);
  }

  /**
   * cols[(n, oy, ox), k] = the input value tap k of output pixel (oy, ox) reads (0 in the padding), for examples
   * first … first + rows − 1 of x (`first` default 0; cols holds only these `rows`).
   */
  static im2col(engine: Engine, o: { geometry: Conv2dGeometry; rows: number; first?: number; x: Resource; cols: Resource; form?: Im2colForm }): Promise<ConvDataOp> {
    const s = conv2dSizes(o.geometry, o.rows);
    const first = o.first ?? 0;
    checkElements('ConvDataOp.im2col', { x: [o.x, conv2dSizes(o.geometry, first + o.rows).x], cols: [o.cols, s.cols] });
    const rows = (o.form ?? defaultIm2colForm(engine)) === 'rows';
    return ConvDataOp.plan(engine, rows ? im2colRowsKernel : im2colKernel, o.geometry, o.rows, first, rows ? o.rows * s.P : s.cols, { x_in: o.x, cols: o.cols });
  }

  /**
   * dx[n, c, iy, ix] = Σ of dcols over the taps that read (iy, ix); with `activationGrad`, times act'(z) (the
   * backward of the activation whose output the convolution read, z its input). With `first`, dx and z are those of
   * examples first … first + rows − 1 (dcols holds only these).
   */
  static col2im(engine: Engine, o: { geometry: Conv2dGeometry; rows: number; first?: number; dcols: Resource; dx: Resource; activationGrad?: ActivationGrad }): Promise<ConvDataOp> {
    const s = conv2dSizes(o.geometry, o.rows);
    const first = o.first ?? 0;
    const x = conv2dSizes(o.geometry, first + o.rows).x;
    const g = o.activationGrad;
    checkElements('ConvDataOp.col2im', { dcols: [o.dcols, s.cols], dx: [o.dx, x], ...(g ? { z: [g.z, x] as [Resource, number] } : {}) });
    // Without ACT_GRAD, z is never read; any readable buffer fills the binding.
    return ConvDataOp.plan(engine, col2imKernel, o.geometry, o.rows, first, s.x, { dcols: o.dcols, dx: o.dx, z: g?.z ?? o.dcols }, g);
  }

  /** rows[(n, q), f] = dy[first + n, f, q]: the output gradient as the product's rows·P × F operand. */
  static nchwToRows(engine: Engine, o: { geometry: Conv2dGeometry; rows: number; first?: number; dy: Resource; out: Resource }): Promise<ConvDataOp> {
    const s = conv2dSizes(o.geometry, o.rows);
    const first = o.first ?? 0;
    checkElements('ConvDataOp.nchwToRows', { dy: [o.dy, conv2dSizes(o.geometry, first + o.rows).y], rows: [o.out, s.rowsF] });
    return ConvDataOp.plan(engine, nchwToRowsKernel, o.geometry, o.rows, first, s.rowsF, { dy: o.dy, rows: o.out });
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

/** One chunk of examples: first … first + rows − 1. */
export interface ExampleChunk {
  first: number;
  rows: number;
}

/** `rows` examples cut into chunks of `chunk` (the last one shorter), in order; one chunk when `chunk` ≥ rows. */
export function exampleChunks(rows: number, chunk = rows): ExampleChunk[] {
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`conv2d: chunk must be a positive integer number of examples, got ${chunk}`);
  const out: ExampleChunk[] = [];
  for (let first = 0; first < rows; first += chunk) out.push({ first, rows: Math.min(chunk, rows - first) });
  return out;
}

/** The op-name suffix of a chunk: '' when there is only one, else ` [first:end]`. */
function chunkTag(chunks: readonly ExampleChunk[], c: ExampleChunk): string {
  return chunks.length > 1 ? ` [${c.first}:${c.first + c.rows}]` : '';
}

export interface Conv2dForwardOptions {
  geometry: Conv2dGeometry;
  rows: number;
  x: Resource;
  /** [C, kh, kw, F] */
  weight: Resource;
  bias?: Resource;
  /** [rows, F, OH, OW]: the convolution's output, or its pre-activation when `epilogue` is given. */
  y: Resource;
  /** The next layer's activation, fused: its output goes to `epilogue.y`, and y keeps the pre-activation. */
  epilogue?: { activation: Activation; alpha?: number; y: Resource };
  /** Scratch [chunk·P, K] (im2col). */
  cols: Resource;
  /** Examples per im2col + product (default: all `rows` at once); `cols` holds one chunk. */
  chunk?: number;
  /** Default: defaultIm2colForm(engine). */
  im2col?: Im2colForm;
}

/**
 * Forward: per chunk of examples, im2col into `cols`, then one matmul (bias and the activation in its epilogue) that
 * stores that chunk's examples of y (NCHW, at an element offset). Cols ends holding the last chunk.
 */
export function conv2dForwardOps(engine: Engine, o: Conv2dForwardOptions): Promise<PlannedOp[]> {
  const s = conv2dSizes(o.geometry, 1);
  const F = o.geometry.filters;
  const chunks = exampleChunks(o.rows, o.chunk);
  checkElements('conv2dForwardOps', { y: [o.y, o.rows * s.y], ...(o.epilogue ? { 'epilogue.y': [o.epilogue.y, o.rows * s.y] as [Resource, number] } : {}) });
  return plannedOps(async (add) => {
    for (const ch of chunks) {
      const tag = chunkTag(chunks, ch);
      add(`im2col${tag}`, await ConvDataOp.im2col(engine, { geometry: o.geometry, rows: ch.rows, first: ch.first, x: o.x, cols: o.cols, form: o.im2col }));
      const epi = o.epilogue;
      add(`forward${tag}`, await MatmulOp.create(engine, {
        M: ch.rows * s.P, N: F, K: s.K, a: o.cols, b: o.weight, bias: o.bias,
        c: epi ? epi.y : o.y, z: epi ? o.y : undefined, activation: epi?.activation ?? 'identity', activationAlpha: epi?.alpha,
        nchwPlane: s.P, cOffset: ch.first * F * s.P,
      }));
    }
  });
}

export interface Conv2dBackwardOptions {
  geometry: Conv2dGeometry;
  rows: number;
  weight: Resource;
  /** ∂loss/∂y [rows, F, OH, OW] (read). */
  dy: Resource;
  /** Gradients, written. */
  dweight: Resource;
  dbias?: Resource;
  /** ∂loss/∂x [rows, C, H, W], written when given. */
  dx?: Resource;
  /** With dx: multiply by act'(z), the backward of the activation before the convolution (z: its input). */
  activationGrad?: ActivationGrad;
  /**
   * The forward's im2col of x — with chunks, of the last chunk (read, then overwritten with dX̃ when dx is asked for,
   * and with the im2col of the other chunks).
   */
  cols: Resource;
  /** Scratch [chunk·P, F]. */
  rowsBuf: Resource;
  /** Examples per chunk, as in the forward (default: all). */
  chunk?: number;
  /** The forward's input [rows, C, H, W]: needed with more than one chunk, to redo im2col of the chunks before the last. */
  x?: Resource;
  /** Default: defaultIm2colForm(engine). */
  im2col?: Im2colForm;
}

/**
 * Backward, per chunk of examples from the last (whose im2col the forward left in cols) to the first: dy to rows,
 * dW (+ db as its column sums; β = 1 after the first chunk, so both sum over all chunks), and when asked
 * dX̃ = rows·Wᵀ into cols, then col2im into that chunk's examples of dx; chunks before the last redo im2col first.
 */
export function conv2dBackwardOps(engine: Engine, o: Conv2dBackwardOptions): Promise<PlannedOp[]> {
  const s = conv2dSizes(o.geometry, 1);
  const F = o.geometry.filters;
  const chunks = exampleChunks(o.rows, o.chunk).reverse();
  const x = o.x;
  if (chunks.length > 1 && !x) throw new Error(`conv2dBackwardOps: ${chunks.length} chunks of ${o.chunk} examples need x (the forward's input) to redo im2col per chunk`);
  return plannedOps(async (add) => {
    for (const [i, ch] of chunks.entries()) {
      const tag = chunkTag(chunks, ch);
      const NP = ch.rows * s.P;
      if (i > 0) add(`im2col${tag}`, await ConvDataOp.im2col(engine, { geometry: o.geometry, rows: ch.rows, first: ch.first, x: x!, cols: o.cols, form: o.im2col }));
      add(`dy rows${tag}`, await ConvDataOp.nchwToRows(engine, { geometry: o.geometry, rows: ch.rows, first: ch.first, dy: o.dy, out: o.rowsBuf }));
      add(`dW${tag}`, await MatmulOp.create(engine, {
        M: s.K, N: F, K: NP, transA: true, a: o.cols, b: o.rowsBuf, c: o.dweight, columnSums: o.dbias, beta: i > 0 ? 1 : 0,
      }));
      if (!o.dx) continue;
      // After dW has read cols (ops of a pass run in order), cols takes dX̃.
      add(`dcols${tag}`, await MatmulOp.create(engine, { M: NP, N: s.K, K: F, transB: true, a: o.rowsBuf, b: o.weight, c: o.cols }));
      add(`${o.activationGrad ? `dX+${o.activationGrad.kind}′` : 'dX'}${tag}`, await ConvDataOp.col2im(engine, {
        geometry: o.geometry, rows: ch.rows, first: ch.first, dcols: o.cols, dx: o.dx, activationGrad: o.activationGrad,
      }));
    }
  });
}
