/**
 * Conv2D over (N, C, H, W) activations, torch.nn.Conv2d semantics (cross-correlation, zero padding, stride,
 * dilation; groups = 1). Math, shapes and bindings: shaders/conv2d.wgsl; CPU reference: src/ref/conv2d.ts.
 *
 *   forward   y[n,f,oy,ox] = b[f] + Σ_{c,ky,kx} x[n, c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw] · W[c,ky,kx,f]
 *   output    (N, F, OH, OW),  OH = ⌊(H + 2ph − dh·(kh − 1) − 1) / sh⌋ + 1  (OW alike)
 * Parameters: `weight` [C, kh, kw, F] (group decay; the layout of a Dense weight, in × out, with in = (c, ky, kx);
 * torch stores [F, C, kh, kw]), initializer `init` with fan_in = C·kh·kw and fan_out = F·kh·kw (torch's fans; the
 * default is he_normal before a ReLU-like activation, else glorot_uniform — weights.ts); `bias` [F] (no_decay,
 * zeros) unless bias = false.
 * Padding: a number, a pair, 'valid' (0) or 'same' (stride 1 and an even dilated extent dh·(kh − 1): the output
 * keeps H×W; torch pads 'same' asymmetrically otherwise, which symmetric padding cannot express).
 * GPU: im2col then one matmul whose epilogue adds the bias and applies the next layer's activation when it absorbs
 * it (`acceptsEpilogue`), storing NCHW; backward: dy to rows, dW with db as its column sums, and — when a layer
 * before has parameters — dX̃ = rows·Wᵀ and col2im, which also applies the backward of an activation before the
 * convolution (`acceptsGradEpilogue`). Scratch: `cols` [chunk·P, K] and `rows` [chunk·P, F], chunk = the whole
 * batch when both fit one storage binding, else as many examples as fit (kernels/conv2d-chunk.ts): the forward and
 * backward then loop over chunks, dW and db summing over all of them; only a layer whose single example does not
 * fit is refused.
 */
import { conv2dBackwardOps, conv2dForwardOps } from '../kernels/conv2d.js';
import { conv2dChunk, conv2dScratchPerExample } from '../kernels/conv2d-chunk.js';
import { conv2dBackwardRef, conv2dForwardRef, conv2dOutputSize, conv2dTaps, type Conv2dGeometry } from '../ref/conv2d.js';
import { conv2dChecks } from '../selftest/conv2d.js';
import { bindArgs, formatCall } from './args.js';
import { imageInput, showImage, showPair, toPair, type Pair } from './image.js';
import { dxTarget, readColumn, type LayerKind } from './layer.js';
import { INITIALIZERS, defaultWeightInit, initWeights, isInitializer, type Initializer } from './weights.js';

export interface Conv2dSpec {
  type: 'conv2d';
  /** C (derived from the input shape). */
  inChannels: number;
  filters: number;
  kernel: Pair;
  stride: Pair;
  padding: Pair;
  dilation: Pair;
  bias: boolean;
  init: Initializer;
}

export interface Conv2dInput {
  type: 'conv2d';
  filters: number;
  /** kh = kw, or [kh, kw]. */
  kernel: number | Pair;
  /** Default 1. */
  stride?: number | Pair;
  /** Default 0 ('valid'). */
  padding?: number | Pair | 'same' | 'valid';
  /** Default 1. */
  dilation?: number | Pair;
  /** Default true. */
  bias?: boolean;
  init?: Initializer;
  /** Checked against the input shape when given. */
  inChannels?: number;
}

export type Conv2dOptions = Omit<Conv2dInput, 'type' | 'inChannels'>;

/** Builder: `conv2d({ filters: 32, kernel: 3, padding: 1 })`, or `conv2d(32, 3, { padding: 'same' })`. */
export function conv2d(options: Conv2dOptions): Conv2dInput;
export function conv2d(filters: number, kernel: number | Pair, options?: Omit<Conv2dOptions, 'filters' | 'kernel'>): Conv2dInput;
export function conv2d(a: number | Conv2dOptions, kernel?: number | Pair, options: Omit<Conv2dOptions, 'filters' | 'kernel'> = {}): Conv2dInput {
  return typeof a === 'number' ? { type: 'conv2d', filters: a, kernel: kernel!, ...options } : { type: 'conv2d', ...a };
}

const ARGS = [
  { key: 'filters', type: 'count', positional: true },
  { key: 'kernel', type: 'pair', positional: true },
  { key: 'stride', type: 'pair' },
  { key: 'pad', type: 'padding' },
  { key: 'dilation', type: 'pair' },
  { key: 'bias', type: 'bool' },
  { key: 'init', type: INITIALIZERS },
] as const;

/** The geometry the kernels and the reference take. */
export function conv2dGeometry(s: Conv2dSpec, input: readonly number[]): Conv2dGeometry {
  return { channels: s.inChannels, height: input[1]!, width: input[2]!, filters: s.filters, kernel: s.kernel, stride: s.stride, padding: s.padding, dilation: s.dilation };
}

function resolvePadding(p: Conv2dInput['padding'], kernel: Pair, stride: Pair, dilation: Pair): Pair {
  if (p === undefined || p === 'valid') return [0, 0];
  if (p !== 'same') return toPair('padding', p, 0);
  const extent = [dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)] as const;
  if (stride[0] !== 1 || stride[1] !== 1 || extent[0] % 2 || extent[1] % 2) {
    throw new Error(`padding 'same' needs stride 1 and an odd kernel (a dilated extent d·(k − 1) that is even); got kernel ${showPair(kernel)}, stride ${showPair(stride)}, dilation ${showPair(dilation)}: give the padding as a number`);
  }
  return [extent[0] / 2, extent[1] / 2];
}

const formatKiB = (bytes: number) => `${Math.ceil(bytes / 1024).toLocaleString('en-US')} KiB`;

export const conv2dLayer: LayerKind<Conv2dSpec, Conv2dInput> = {
  type: 'conv2d',
  summary: '2-D convolution over (N, C, H, W): F filters of C×kh×kw, stride, zero padding, dilation',
  syntax: {
    names: ['conv', 'conv2d'],
    help: [
      ['conv(F,K[,stride=S][,pad=P][,dilation=D])', 'Conv2D, F filters of K×K (or KHxKW) over (N, C, H, W); S, P, D: N or HxW;'],
      ['', 'pad=same keeps H×W (stride 1); also bias=false, init=NAME (also: conv2d)'],
    ],
    parse(name, args) {
      const a = bindArgs(name, args, ARGS);
      if (a.filters === undefined || a.kernel === undefined) throw new Error(`${name}: give the filters and the kernel size, e.g. conv(32,3)`);
      return {
        type: 'conv2d', filters: a.filters as number, kernel: a.kernel as Pair,
        ...(a.stride !== undefined ? { stride: a.stride as Pair } : {}),
        ...(a.pad !== undefined ? { padding: a.pad as Conv2dInput['padding'] } : {}),
        ...(a.dilation !== undefined ? { dilation: a.dilation as Pair } : {}),
        ...(a.bias !== undefined ? { bias: a.bias as boolean } : {}),
        ...(a.init !== undefined ? { init: a.init as Initializer } : {}),
      };
    },
    format(s, site) {
      const one = (p: Pair) => p[0] === 1 && p[1] === 1;
      return formatCall('conv', [s.filters, s.kernel], {
        stride: one(s.stride) ? undefined : s.stride,
        pad: s.padding[0] === 0 && s.padding[1] === 0 ? undefined : s.padding,
        dilation: one(s.dilation) ? undefined : s.dilation,
        bias: s.bias ? undefined : false,
        init: s.init === defaultWeightInit(site.nextActivation, site.init) ? undefined : s.init,
      });
    },
  },
  resolve(l, site) {
    const [C, H, W] = imageInput(site);
    if (l.inChannels !== undefined && l.inChannels !== C) throw new Error(`expects ${l.inChannels} input channels but its input ${showImage(C, H, W)} has ${C}`);
    if (!Number.isInteger(l.filters) || l.filters < 1) throw new Error(`filters must be a positive integer (got ${JSON.stringify(l.filters)})`);
    const kernel = toPair('kernel', l.kernel, 1);
    const stride = toPair('stride', l.stride ?? 1, 1);
    const dilation = toPair('dilation', l.dilation ?? 1, 1);
    const padding = resolvePadding(l.padding, kernel, stride, dilation);
    const init = l.init ?? defaultWeightInit(site.nextActivation, site.init);
    if (!isInitializer(init)) throw new Error(`unknown initializer '${init}' (known: ${INITIALIZERS.join(', ')})`);
    if (l.bias !== undefined && typeof l.bias !== 'boolean') throw new Error(`bias must be true or false (got ${JSON.stringify(l.bias)})`);
    const spec: Conv2dSpec = { type: 'conv2d', inChannels: C, filters: l.filters, kernel, stride, padding, dilation, bias: l.bias ?? true, init };
    const [OH, OW] = conv2dOutputSize(conv2dGeometry(spec, [C, H, W]));
    if (OH < 1 || OW < 1) {
      const extent = `${dilation[0] * (kernel[0] - 1) + 1}×${dilation[1] * (kernel[1] - 1) + 1}`;
      throw new Error(
        `its kernel ${showPair(kernel)}${dilation[0] > 1 || dilation[1] > 1 ? ` (dilated: ${extent})` : ''} is larger than its padded input ` +
          `${H + 2 * padding[0]}×${W + 2 * padding[1]} (input ${showImage(C, H, W)}, padding ${showPair(padding)}): pad more or use a smaller kernel`,
      );
    }
    return spec;
  },
  outputShape(s, input) {
    const [OH, OW] = conv2dOutputSize(conv2dGeometry(s, input));
    return [s.filters, OH, OW];
  },
  label: () => 'conv2d',
  params(s) {
    const K = s.inChannels * s.kernel[0] * s.kernel[1];
    const fans = { fanIn: K, fanOut: s.filters * s.kernel[0] * s.kernel[1] };
    const weight = {
      role: 'weight',
      shape: [s.inChannels, s.kernel[0], s.kernel[1], s.filters],
      group: 'decay' as const,
      init: (out: Float32Array, ctx: Parameters<typeof initWeights>[3]) => initWeights(out, s.init, fans, ctx),
    };
    return s.bias ? [weight, { role: 'bias', shape: [s.filters], group: 'no_decay' }] : [weight];
  },
  // Filter f is column f of the [C·kh·kw, F] weight, a C×kh×kw image.
  filters: (s) => ({
    count: s.filters,
    shape: [s.inChannels, s.kernel[0], s.kernel[1]],
    read: (weight, unit, out) => readColumn(weight, s.inChannels * s.kernel[0] * s.kernel[1], s.filters, unit, out),
  }),
  cpu: {
    forward(s, c) {
      const g = conv2dGeometry(s, c.input);
      return { y: conv2dForwardRef(g, c.rows, c.x, c.param('weight'), s.bias ? c.param('bias') : undefined, c.dtype).y };
    },
    backward(s, c) {
      const g = conv2dGeometry(s, c.input);
      const r = conv2dBackwardRef(g, c.rows, c.x, c.param('weight'), c.dy, c.needsDx, c.dtype);
      c.grad('weight').set(r.dw);
      if (s.bias) c.grad('bias').set(r.db);
      return r.dx;
    },
  },
  gpu: {
    acceptsEpilogue: true,
    acceptsGradEpilogue: true,
    buffers(s, io) {
      const g = conv2dGeometry(s, io.input);
      const P = io.output[1]! * io.output[2]!;
      const K = conv2dTaps(g);
      const chunk = conv2dChunk(g, io.batch, io.limits, io.engine);
      // The scratch holds one chunk of examples, so it only exceeds the limit when a single example does.
      const fix =
        `a smaller batch does not help (the batch runs in chunks of examples that fit): even one example's ` +
        `${formatKiB(conv2dScratchPerExample(g))} of im2col scratch (${P} output pixels × max(${K} taps, ${s.filters} filters) floats) ` +
        `does not fit; use fewer channels or filters, a smaller kernel or image, or a stride`;
      return [
        { name: 'cols', bytes: 4 * chunk * P * K, fix },
        { name: 'rows', bytes: 4 * chunk * P * s.filters, fix },
      ];
    },
    forward(s, c) {
      const epi = c.epilogue;
      const g = conv2dGeometry(s, c.input);
      return conv2dForwardOps(c.engine, {
        geometry: g, rows: c.rows, x: c.x, weight: c.param('weight'), bias: s.bias ? c.param('bias') : undefined,
        y: c.y, cols: c.buffer('cols'), chunk: conv2dChunk(g, c.rows, c.engine.limits, c.engine),
        ...(epi ? { epilogue: { activation: epi.activation, alpha: epi.alpha, y: epi.y } } : {}),
      });
    },
    backward(s, c) {
      const g = conv2dGeometry(s, c.input);
      return conv2dBackwardOps(c.engine, {
        geometry: g, rows: c.rows, weight: c.param('weight'), dy: c.dy,
        dweight: c.grad('weight'), dbias: s.bias ? c.grad('bias') : undefined,
        cols: c.buffer('cols'), rowsBuf: c.buffer('rows'), chunk: conv2dChunk(g, c.rows, c.engine.limits, c.engine), x: c.x,
        ...dxTarget(c),
      });
    },
  },
  selfChecks: conv2dChecks,
};
