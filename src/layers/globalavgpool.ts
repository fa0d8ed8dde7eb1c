/**
 * Global average pooling: (N, C, H, W) → (N, C), the mean of each channel's H×W plane (torch:
 * AdaptiveAvgPool2d(1) then flatten; Keras: GlobalAveragePooling2D). On the GPU and the CPU it is average pooling
 * with the whole plane as its window (shaders/pool2d.wgsl, src/ref/pool2d.ts): (N, C, 1, 1) is (N, C) in memory.
 */
import { PoolOp } from '../kernels/pool2d.js';
import { avgPoolBackwardRef, avgPoolForwardRef, type Pool2dGeometry } from '../ref/pool2d.js';
import { bindArgs } from './args.js';
import { imageInput } from './image.js';
import { dxOpName, dxTarget, type LayerKind, type Shape } from './layer.js';

export interface GlobalAvgPoolSpec {
  type: 'globalavgpool';
}

export type GlobalAvgPoolInput = GlobalAvgPoolSpec;

/** Builder: `globalAvgPool()`. */
export function globalAvgPool(): GlobalAvgPoolInput {
  return { type: 'globalavgpool' };
}

function planeGeometry(input: Shape): Pool2dGeometry {
  return { channels: input[0]!, height: input[1]!, width: input[2]!, kernel: [input[1]!, input[2]!], stride: [1, 1], padding: [0, 0] };
}

export const globalAvgPoolLayer: LayerKind<GlobalAvgPoolSpec, GlobalAvgPoolInput> = {
  type: 'globalavgpool',
  summary: 'the mean of each channel: (N, C, H, W) → (N, C)',
  syntax: {
    names: ['gap', 'globalavgpool'],
    help: [['gap', 'global average pooling (N, C, H, W) → (N, C) (also: globalavgpool)']],
    parse(name, args) {
      bindArgs(name, args, []);
      return globalAvgPool();
    },
    format: () => 'gap',
  },
  resolve(_l, site) {
    imageInput(site);
    return globalAvgPool();
  },
  outputShape: (_s, input) => [input[0]!],
  label: () => 'globalavgpool',
  cpu: {
    forward: (_s, c) => ({ y: avgPoolForwardRef(planeGeometry(c.input), c.rows, c.x, c.dtype).y }),
    backward: (_s, c) => (c.needsDx ? avgPoolBackwardRef(planeGeometry(c.input), c.rows, c.dy, c.dtype).dx : undefined),
  },
  gpu: {
    acceptsGradEpilogue: true,
    async forward(_s, c) {
      return [{ name: 'forward', op: await PoolOp.avgForward(c.engine, { geometry: planeGeometry(c.input), rows: c.rows, x: c.x, y: c.y }) }];
    },
    async backward(_s, c) {
      const t = dxTarget(c);
      if (!t) return [];
      const op = await PoolOp.avgBackward(c.engine, {
        geometry: planeGeometry(c.input), rows: c.rows, dy: c.dy,
        ...t,
      });
      return [{ name: dxOpName(t), op }];
    },
  },
};
