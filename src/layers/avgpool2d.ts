/**
 * AvgPool2D over (N, C, H, W), torch.nn.AvgPool2d semantics with its defaults ceil_mode = False and
 * count_include_pad = True: each output is the sum of its kh×kw window divided by kh·kw, the zeros of the padding
 * (at most half the kernel) counted. Stride default: the kernel. Math and bindings: shaders/pool2d.wgsl; CPU
 * reference: src/ref/pool2d.ts. Its backward spreads dy / (kh·kw) over each window (gathered per input element) and
 * applies the backward of an activation before it when it absorbs one (`acceptsGradEpilogue`).
 */
import { PoolOp } from '../kernels/pool2d.js';
import { avgPoolBackwardRef, avgPoolForwardRef } from '../ref/pool2d.js';
import { poolGeometry, poolWindowKind, type Pair, type PoolWindow, type PoolWindowInput } from './image.js';
import { dxOpName, dxTarget, type LayerKind } from './layer.js';

export interface AvgPool2dSpec extends PoolWindow {
  type: 'avgpool2d';
}

export interface AvgPool2dInput extends PoolWindowInput {
  type: 'avgpool2d';
}

/** Builder: `avgPool2d(2)`, `avgPool2d(3, { stride: 2, padding: 1 })`. */
export function avgPool2d(kernel: number | Pair, options: { stride?: number | Pair; padding?: number | Pair } = {}): AvgPool2dInput {
  return { type: 'avgpool2d', kernel, ...options };
}

const base = poolWindowKind('avgpool2d', 'avgpool');

export const avgPool2dLayer: LayerKind<AvgPool2dSpec, AvgPool2dInput> = {
  type: 'avgpool2d',
  summary: 'average pooling over (N, C, H, W) windows (kernel, stride, padding counted as zeros)',
  syntax: {
    names: ['avgpool', 'avgpool2d'],
    help: [['avgpool(K[,S][,pad=P])', 'AvgPool2D, K×K windows, stride S (default K), padding P ≤ K/2 counted as zeros (also: avgpool2d)']],
    parse: base.parse,
    format: base.format,
  },
  resolve: base.resolve,
  outputShape: base.outputShape,
  label: () => 'avgpool2d',
  cpu: {
    forward: (s, c) => ({ y: avgPoolForwardRef(poolGeometry(s, c.input), c.rows, c.x, c.dtype).y }),
    backward: (s, c) => (c.needsDx ? avgPoolBackwardRef(poolGeometry(s, c.input), c.rows, c.dy, c.dtype).dx : undefined),
  },
  gpu: {
    acceptsGradEpilogue: true,
    async forward(s, c) {
      return [{ name: 'forward', op: await PoolOp.avgForward(c.engine, { geometry: poolGeometry(s, c.input), rows: c.rows, x: c.x, y: c.y }) }];
    },
    async backward(s, c) {
      const t = dxTarget(c);
      if (!t) return [];
      const op = await PoolOp.avgBackward(c.engine, {
        geometry: poolGeometry(s, c.input), rows: c.rows, dy: c.dy,
        ...t,
      });
      return [{ name: dxOpName(t), op }];
    },
  },
};
