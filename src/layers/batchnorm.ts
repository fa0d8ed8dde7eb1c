/**
 * BatchNorm1d over (N, F) activations, torch semantics (math, shapes and bindings: shaders/batchnorm.wgsl; CPU
 * reference: src/ref/batchnorm.ts). Training normalises with the batch statistics and updates the running ones
 * (momentum, unbiased variance); evaluation uses the running statistics.
 * Parameters: `gamma` [F] (ones) and `beta` [F] (zeros), group no_decay. Statistics: `running_mean` [F] (zeros)
 * and `running_var` [F] (ones), adjacent: the kernels bind them as one [2F] range.
 * GPU scratch: `bn_saved` [2F], the batch mean and 1/sqrt(var + eps) the training forward saves for the backward.
 * Initialisers of the layer before look through it to the activation after it (`transparentToInit`).
 */
import { BatchNormOp } from '../kernels/batchnorm.js';
import { BATCHNORM_DEFAULTS, batchnormBackwardRef, batchnormEvalRef, batchnormTrainRef } from '../ref/batchnorm.js';
import type { FloatArray } from '../ref/dtype.js';
import { batchnormChecks } from '../selftest/batchnorm.js';
import { bindArgs, formatCall } from './args.js';
import { showShape, type LayerArgs, type LayerKind, type ParamDecl, type StatDecl } from './layer.js';

export interface BatchNormSpec {
  type: 'batchnorm';
  /** F (derived from the input shape). */
  features: number;
  eps: number;
  momentum: number;
}

export interface BatchNormInput {
  type: 'batchnorm';
  /** Checked against the input shape when given. */
  features?: number;
  /** Default 1e-5. */
  eps?: number;
  /** Default 0.1: running = (1 − momentum)·running + momentum·batch statistic. */
  momentum?: number;
}

/** Builder: `batchNorm()`, `batchNorm({ momentum: 0.01 })`. */
export function batchNorm(options: { eps?: number; momentum?: number } = {}): BatchNormInput {
  return { type: 'batchnorm', ...options };
}

/** The text arguments of the BatchNorm kinds (bn, bn2d). */
const ARGS = [
  { key: 'eps', type: 'number' },
  { key: 'momentum', type: 'number' },
] as const;

/** eps and momentum from a BatchNorm kind's text arguments (those given). */
export function parseBatchNormArgs(name: string, args: LayerArgs): { eps?: number; momentum?: number } {
  const a = bindArgs(name, args, ARGS);
  return { ...(a.eps !== undefined ? { eps: a.eps as number } : {}), ...(a.momentum !== undefined ? { momentum: a.momentum as number } : {}) };
}

/** `bn`, `bn2d(eps=0.001)`: the options at their defaults left out. */
export function formatBatchNorm(name: string, s: { eps: number; momentum: number }): string {
  return formatCall(name, [], {
    eps: s.eps === BATCHNORM_DEFAULTS.eps ? undefined : s.eps,
    momentum: s.momentum === BATCHNORM_DEFAULTS.momentum ? undefined : s.momentum,
  });
}

/** eps and momentum with torch's defaults, checked. */
export function batchNormOptions(l: { eps?: number; momentum?: number }): { eps: number; momentum: number } {
  const eps = l.eps ?? BATCHNORM_DEFAULTS.eps;
  const momentum = l.momentum ?? BATCHNORM_DEFAULTS.momentum;
  if (!(typeof eps === 'number' && eps > 0) || !(typeof momentum === 'number' && momentum >= 0 && momentum <= 1)) {
    throw new Error(`needs eps > 0 and momentum in [0, 1] (got eps ${eps}, momentum ${momentum})`);
  }
  return { eps, momentum };
}

/** γ (ones) and β (zeros) over n features or channels: no weight decay. */
export function batchNormParams(n: number): ParamDecl[] {
  return [
    { role: 'gamma', shape: [n], group: 'no_decay', init: (out) => out.fill(1) },
    { role: 'beta', shape: [n], group: 'no_decay' },
  ];
}

/** The running mean (zeros) and variance (ones), adjacent: kernels bind them as one [2n] range. */
export function batchNormStats(n: number): StatDecl[] {
  return [
    { role: 'running_mean', shape: [n] },
    { role: 'running_var', shape: [n], init: (out) => out.fill(1) },
  ];
}

interface Saved {
  mean: FloatArray;
  invstd: FloatArray;
}

export const batchNormLayer: LayerKind<BatchNormSpec, BatchNormInput> = {
  type: 'batchnorm',
  summary: 'BatchNorm1d over (N, F): per-feature batch normalisation with running statistics',
  syntax: {
    names: ['bn', 'batchnorm'],
    help: [['bn[(eps=1e-5,momentum=0.1)]', 'BatchNorm1d over (N, F) (also: batchnorm)']],
    parse: (name, args) => batchNorm(parseBatchNormArgs(name, args)),
    format: (s) => formatBatchNorm('bn', s),
  },
  resolve(l, site) {
    if (site.input.length !== 1) throw new Error(`is BatchNorm1d over (N, F) but its input is ${showShape(site.input)}${site.input.length === 3 ? ': for per-channel BatchNorm2d write bn2d' : ''}`);
    const width = site.input[0]!;
    if (l.features !== undefined && l.features !== width) throw new Error(`has ${l.features} features but its input has ${width} (${showShape(site.input)})`);
    return { type: 'batchnorm', features: width, ...batchNormOptions(l) };
  },
  outputShape: (_s, input) => input,
  label: () => 'batchnorm',
  tag: () => 'bn',
  transparentToInit: true,
  params: (s) => batchNormParams(s.features),
  stats: (s) => batchNormStats(s.features),
  cpu: {
    forward(s, c) {
      const gamma = c.param('gamma');
      const beta = c.param('beta');
      const runningMean = c.stat('running_mean');
      const runningVar = c.stat('running_var');
      if (!c.training) return { y: batchnormEvalRef(c.x, c.rows, s.features, gamma, beta, runningMean, runningVar, c.dtype, s) };
      const res = batchnormTrainRef(c.x, c.rows, s.features, gamma, beta, runningMean, runningVar, c.dtype, s);
      runningMean.set(res.runningMean);
      runningVar.set(res.runningVar);
      const saved: Saved = { mean: res.mean, invstd: res.invstd };
      return { y: res.y, cache: saved };
    },
    backward(s, c) {
      const saved = c.cache as Saved;
      const res = batchnormBackwardRef(c.x, c.dy, c.rows, s.features, c.param('gamma'), saved.mean, saved.invstd, c.dtype);
      c.grad('gamma').set(res.dgamma);
      c.grad('beta').set(res.dbeta);
      return res.dx;
    },
  },
  gpu: {
    buffers: (s) => [{ name: 'bn_saved', bytes: 2 * s.features * 4 }],
    async forward(s, c) {
      const io = { rows: c.rows, features: s.features, x: c.x, y: c.y, gamma: c.param('gamma'), beta: c.param('beta'), running: c.stats() };
      const op = c.training
        ? await BatchNormOp.forwardTrain(c.engine, { ...io, eps: s.eps, momentum: s.momentum, saved: c.buffer('bn_saved') })
        : await BatchNormOp.forwardEval(c.engine, { ...io, eps: s.eps });
      return [{ name: 'forward', op }];
    },
    async backward(s, c) {
      // One kernel writes dx, dγ and dβ, so it runs even when nobody reads dx.
      const op = await BatchNormOp.backward(c.engine, {
        rows: c.rows, features: s.features, x: c.x, dy: c.dy, gamma: c.param('gamma'), saved: c.buffer('bn_saved'),
        dx: c.dx, dgamma: c.grad('gamma'), dbeta: c.grad('beta'),
      });
      return [{ name: 'backward', op }];
    },
  },
  selfChecks: batchnormChecks,
};
