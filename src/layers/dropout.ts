/**
 * Inverted dropout over any shape (math: shaders/dropout.wgsl; CPU reference: src/ref/dropout.ts). In training each
 * element is kept with probability 1 − p and scaled by 1/(1 − p); in evaluation, and with p = 0, it is the identity.
 * The mask is never stored: it is word e of the Philox stream (seed, dropoutStream(layer index), global step), so
 * forward and backward — and the CPU and the GPU — draw the same mask, and a layer added elsewhere never changes it.
 * GPU: the identity is planned as a copy (an identity activation), so y and dx stay distinct buffers.
 */
import { ActivationOp } from '../kernels/activation.js';
import { DropoutOp } from '../kernels/dropout.js';
import { dropoutApplyRef, dropoutMaskRef } from '../ref/dropout.js';
import { dropoutChecks } from '../selftest/dropout.js';
import { dropoutStream } from '../shared.js';
import { bindArgs, formatCall } from './args.js';
import { shapeSize, type LayerKind } from './layer.js';

export interface DropoutSpec {
  type: 'dropout';
  /** Drop probability in [0, 1). */
  p: number;
}

export interface DropoutInput {
  type: 'dropout';
  /** Default 0.5 (torch). */
  p?: number;
}

/** Builder: `dropout(0.1)`. */
export function dropout(p = 0.5): DropoutInput {
  return { type: 'dropout', p };
}

export const dropoutLayer: LayerKind<DropoutSpec, DropoutInput> = {
  type: 'dropout',
  summary: 'inverted dropout with probability p, any shape',
  syntax: {
    names: ['dropout'],
    help: [['dropout(P)', 'inverted dropout, drop probability P in [0, 1) (default 0.5)']],
    parse(name, args) {
      const a = bindArgs(name, args, [{ key: 'p', type: 'number', positional: true }]);
      return a.p === undefined ? { type: 'dropout' } : dropout(a.p as number);
    },
    format: (s) => formatCall('dropout', [s.p]),
  },
  resolve(l) {
    const p = l.p ?? 0.5;
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new Error(`p must be in [0, 1) (got ${JSON.stringify(p)})`);
    return { type: 'dropout', p };
  },
  outputShape: (_s, input) => input,
  label: () => 'dropout',
  tag: (s) => `dropout=${s.p}`,
  cpu: {
    forward(s, c) {
      if (!c.training || s.p === 0) return { y: c.x };
      const mask = dropoutMaskRef(c.seed, dropoutStream(c.index), c.step, c.rows * shapeSize(c.input), s.p);
      return { y: dropoutApplyRef(c.x, mask, s.p, c.dtype) };
    },
    backward(s, c) {
      if (!c.needsDx) return undefined;
      if (s.p === 0) return c.dy;
      return dropoutApplyRef(c.dy, dropoutMaskRef(c.seed, dropoutStream(c.index), c.step, c.dy.length, s.p), s.p, c.dtype);
    },
  },
  gpu: {
    async forward(s, c) {
      const n = c.rows * shapeSize(c.input);
      const op =
        c.training && s.p > 0
          ? await DropoutOp.forward(c.engine, { n, p: s.p, seed: c.seed, stream: dropoutStream(c.index), stepinfo: c.stepinfo, x: c.x, y: c.y })
          : await ActivationOp.forward(c.engine, { kind: 'identity', n, x: c.x, y: c.y });
      return [{ name: 'forward', op }];
    },
    async backward(s, c) {
      if (!c.needsDx) return [];
      const n = c.rows * shapeSize(c.input);
      const op =
        s.p > 0
          ? await DropoutOp.backward(c.engine, { n, p: s.p, seed: c.seed, stream: dropoutStream(c.index), stepinfo: c.stepinfo, dy: c.dy, dx: c.dx })
          : await ActivationOp.backward(c.engine, { kind: 'identity', n, x: c.x, dy: c.dy, dx: c.dx });
      return [{ name: 'backward', op }];
    },
  },
  selfChecks: dropoutChecks,
};
