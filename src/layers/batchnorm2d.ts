/**
 * BatchNorm2d over (N, C, H, W) activations, torch semantics: per channel, statistics over the batch and the plane
 * (math, shapes and bindings: shaders/batchnorm2d.wgsl; CPU reference: src/ref/batchnorm2d.ts, BatchNorm1d's on the
 * transposed tensor). Training normalises with the batch statistics and updates the running ones (momentum,
 * unbiased variance over N·H·W); evaluation uses the running statistics.
 * Parameters: `gamma` [C] (ones) and `beta` [C] (zeros), group no_decay. Statistics: `running_mean` [C] (zeros) and
 * `running_var` [C] (ones), adjacent. GPU scratch: `bn_saved` [2C] (batch mean, invstd) for the backward.
 * The forward absorbs the next layer's activation (`acceptsEpilogue`: conv → bn2d → relu is two passes, not three);
 * initialisers of the layer before look through it to that activation (`transparentToInit`).
 */
import { BatchNorm2dOp } from '../kernels/batchnorm2d.js';
import { batchnorm2dBackwardRef, batchnorm2dEvalRef, batchnorm2dTrainRef, type Nchw } from '../ref/batchnorm2d.js';
import type { FloatArray } from '../ref/dtype.js';
import { batchnorm2dChecks } from '../selftest/batchnorm2d.js';
import { batchNormOptions, batchNormParams, batchNormStats, formatBatchNorm, parseBatchNormArgs } from './batchnorm.js';
import { imageInput, showImage } from './image.js';
import type { LayerKind, Shape } from './layer.js';

export interface BatchNorm2dSpec {
  type: 'batchnorm2d';
  /** C (derived from the input shape). */
  channels: number;
  eps: number;
  momentum: number;
}

export interface BatchNorm2dInput {
  type: 'batchnorm2d';
  /** Checked against the input shape when given. */
  channels?: number;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1: running = (1 − momentum)·running + momentum·batch statistic. */
  momentum?: number;
}

/** Builder: `batchNorm2d()`, `batchNorm2d({ momentum: 0.01 })`. */
export function batchNorm2d(options: { eps?: number; momentum?: number } = {}): BatchNorm2dInput {
  return { type: 'batchnorm2d', ...options };
}

const nchw = (rows: number, input: Shape): Nchw => ({ batch: rows, channels: input[0]!, plane: input[1]! * input[2]! });

interface Saved {
  mean: FloatArray;
  invstd: FloatArray;
}

export const batchNorm2dLayer: LayerKind<BatchNorm2dSpec, BatchNorm2dInput> = {
  type: 'batchnorm2d',
  summary: 'BatchNorm2d over (N, C, H, W): per-channel batch normalisation with running statistics',
  syntax: {
    names: ['bn2d', 'batchnorm2d'],
    help: [['bn2d[(eps=1e-5,momentum=0.1)]', 'BatchNorm2d, per channel over (N, C, H, W) (also: batchnorm2d)']],
    parse: (name, args) => batchNorm2d(parseBatchNormArgs(name, args)),
    format: (s) => formatBatchNorm('bn2d', s),
  },
  resolve(l, site) {
    const [C, H, W] = imageInput(site);
    if (l.channels !== undefined && l.channels !== C) throw new Error(`has ${l.channels} channels but its input ${showImage(C, H, W)} has ${C}`);
    return { type: 'batchnorm2d', channels: C, ...batchNormOptions(l) };
  },
  outputShape: (_s, input) => input,
  label: () => 'batchnorm2d',
  tag: () => 'bn2d',
  transparentToInit: true,
  params: (s) => batchNormParams(s.channels),
  stats: (s) => batchNormStats(s.channels),
  cpu: {
    forward(s, c) {
      const shape = nchw(c.rows, c.input);
      const gamma = c.param('gamma');
      const beta = c.param('beta');
      const runningMean = c.stat('running_mean');
      const runningVar = c.stat('running_var');
      if (!c.training) return { y: batchnorm2dEvalRef(c.x, shape, gamma, beta, runningMean, runningVar, c.dtype, s) };
      const res = batchnorm2dTrainRef(c.x, shape, gamma, beta, runningMean, runningVar, c.dtype, s);
      runningMean.set(res.runningMean);
      runningVar.set(res.runningVar);
      const saved: Saved = { mean: res.mean, invstd: res.invstd };
      return { y: res.y, cache: saved };
    },
    backward(_s, c) {
      const saved = c.cache as Saved;
      const res = batchnorm2dBackwardRef(c.x, c.dy, nchw(c.rows, c.input), c.param('gamma'), saved.mean, saved.invstd, c.dtype);
      c.grad('gamma').set(res.dgamma);
      c.grad('beta').set(res.dbeta);
      return res.dx;
    },
  },
  gpu: {
    acceptsEpilogue: true,
    buffers: (s) => [{ name: 'bn_saved', bytes: 2 * s.channels * 4 }],
    async forward(s, c) {
      const epi = c.epilogue;
      // With an absorbed activation, y keeps this layer's output (the activation's input) and epilogue.y gets act(y).
      const io = {
        ...nchw(c.rows, c.input), x: c.x, y: c.y, gamma: c.param('gamma'), beta: c.param('beta'), running: c.stats(),
        ...(epi ? { epilogue: { activation: epi.activation, alpha: epi.alpha, out: epi.y } } : {}),
      };
      const op = c.training
        ? await BatchNorm2dOp.forwardTrain(c.engine, { ...io, eps: s.eps, momentum: s.momentum, saved: c.buffer('bn_saved') })
        : await BatchNorm2dOp.forwardEval(c.engine, { ...io, eps: s.eps });
      return [{ name: 'forward', op }];
    },
    async backward(_s, c) {
      // One kernel writes dx, dγ and dβ, so it runs even when nobody reads dx.
      const op = await BatchNorm2dOp.backward(c.engine, {
        ...nchw(c.rows, c.input), x: c.x, dy: c.dy, gamma: c.param('gamma'), saved: c.buffer('bn_saved'),
        dx: c.dx, dgamma: c.grad('gamma'), dbeta: c.grad('beta'),
      });
      return [{ name: 'backward', op }];
    },
  },
  selfChecks: batchnorm2dChecks,
};
