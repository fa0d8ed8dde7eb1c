/**
 * MaxPool2D over (N, C, H, W), torch.nn.MaxPool2d semantics (ceil_mode = False, dilation 1): each output is the
 * maximum of its kh×kw window (stride default: the kernel; padding, at most half the kernel, is −∞). Math and
 * bindings: shaders/pool2d.wgsl; CPU reference: src/ref/pool2d.ts.
 *   output (N, C, OH, OW),  OH = ⌊(H + 2ph − kh) / sh⌋ + 1
 * The forward remembers which element won (its argmax, a u32 per output, in the scratch buffer `argmax`); the
 * backward routes each dy there, gathering per input element (no atomics), and applies the backward of an
 * activation before it when it absorbs one (`acceptsGradEpilogue`: conv → relu → maxpool costs no relu dispatch).
 */
import { PoolOp } from '../kernels/pool2d.js';
import { maxPoolBackwardRef, maxPoolForwardRef } from '../ref/pool2d.js';
import { pool2dChecks } from '../selftest/pool2d.js';
import { poolGeometry, poolWindowKind, type Pair, type PoolWindow, type PoolWindowInput } from './image.js';
import { dxOpName, dxTarget, type LayerKind } from './layer.js';

export interface MaxPool2dSpec extends PoolWindow {
  type: 'maxpool2d';
}

export interface MaxPool2dInput extends PoolWindowInput {
  type: 'maxpool2d';
}

/** Builder: `maxPool2d(2)`, `maxPool2d(3, { stride: 2, padding: 1 })`. */
export function maxPool2d(kernel: number | Pair, options: { stride?: number | Pair; padding?: number | Pair } = {}): MaxPool2dInput {
  return { type: 'maxpool2d', kernel, ...options };
}

const base = poolWindowKind('maxpool2d', 'maxpool');

export const maxPool2dLayer: LayerKind<MaxPool2dSpec, MaxPool2dInput> = {
  type: 'maxpool2d',
  summary: 'max pooling over (N, C, H, W) windows (kernel, stride, padding)',
  syntax: {
    names: ['maxpool', 'maxpool2d'],
    help: [['maxpool(K[,S][,pad=P])', 'MaxPool2D, K×K windows (or KHxKW), stride S (default K), padding P ≤ K/2 (also: maxpool2d)']],
    parse: base.parse,
    format: base.format,
  },
  resolve: base.resolve,
  outputShape: base.outputShape,
  label: () => 'maxpool2d',
  cpu: {
    forward(s, c) {
      const r = maxPoolForwardRef(poolGeometry(s, c.input), c.rows, c.x, c.dtype);
      return { y: r.y, cache: r.argmax };
    },
    backward(s, c) {
      if (!c.needsDx) return undefined;
      return maxPoolBackwardRef(poolGeometry(s, c.input), c.rows, c.dy, c.cache as Uint32Array, c.dtype).dx;
    },
  },
  gpu: {
    acceptsGradEpilogue: true,
    buffers: (_s, io) => [{ name: 'argmax', bytes: 4 * io.batch * io.output.reduce((a, b) => a * b, 1) }],
    async forward(s, c) {
      const op = await PoolOp.maxForward(c.engine, { geometry: poolGeometry(s, c.input), rows: c.rows, x: c.x, y: c.y, argmax: c.buffer('argmax') });
      return [{ name: 'forward', op }];
    },
    async backward(s, c) {
      const t = dxTarget(c);
      if (!t) return [];
      const op = await PoolOp.maxBackward(c.engine, {
        geometry: poolGeometry(s, c.input), rows: c.rows, dy: c.dy, argmax: c.buffer('argmax'),
        ...t,
      });
      return [{ name: dxOpName(t), op }];
    },
  },
  selfChecks: pool2dChecks,
};
