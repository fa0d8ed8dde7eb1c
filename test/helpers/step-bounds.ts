/**
 * One training step (or an evaluation forward) of the CPU reference model in float64, with a bound on how far a
 * correct float32 GPU may lie from every value it produces: the layer outputs, the per-row losses, the metrics' loss
 * sum, every parameter gradient and BatchNorm's running statistics.
 *
 * Each layer's bound is its kernel family's (src/testing/bounds/*: the sums it forms, γ_n·Σ|terms|, and WGSL's
 * accuracy of exp, log, ÷, inverseSqrt), with the bound of the layer's input carried through it: a Dense layer adds
 * Σ_k[(|h| + e_h)·|W|] − Σ_k|h||W| to its own γ_(K+3)·Σ|terms| (a convolution likewise, over its im2col operand),
 * max pooling takes its window's largest input bound (and routes dy to any element that may be the maximum), an
 * activation multiplies the input's bound by its
 * Lipschitz constant (backward: by |f'|, plus the jump of f' where the input may cross 0), BatchNorm carries it
 * through its mean, variance and normalisation, log-sum-exp is 1-Lipschitz in the max norm. Parameters, running
 * statistics and the batch's raw inputs are exact inputs (the GPU's own state, read back); byte inputs are
 * normalised on the GPU with float32 constants, x = v·scale + shift, within 3u of |v·scale| + |shift|.
 *
 * One bounded forward/backward per layer kind, looked up by type like the layer registry's: the built-in kinds here, a
 * kind registered from outside through registerLayerBound; a model with a kind that has none is refused, saying so.
 *
 * Discontinuities are accounted for, not assumed away: where a ReLU's input lies within its bound of 0 the backward
 * allows either side, and a prediction whose top two logits lie within their bounds of each other may be counted
 * correct or not (`ambiguous`).
 */
import { shapeSize } from '../../src/layers/layer.js';
import type { ResolvedLayer } from '../../src/model/graph.js';
import { layoutModel, paramSlot, statSlot, type ParamLayout } from '../../src/model/layout.js';
import { modelLayers, outputSize, type ModelSpec } from '../../src/model/spec.js';
import { dropoutStream } from '../../src/shared.js';
import { dropoutApplyRef, dropoutMaskRef } from '../../src/ref/dropout.js';
import { activationBackwardBounded, activationBounded } from '../../src/testing/bounds/activation.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBoundedEitherForm } from '../../src/testing/bounds/batchnorm.js';
import { batchnormSplitChunks } from '../../src/kernels/batchnorm.js';
import { batchnorm2dSplitChunks } from '../../src/kernels/batchnorm2d.js';
import { splitPlan } from '../../src/kernels/batchnorm-reduction.js';
import { lossBounded } from '../../src/testing/bounds/loss.js';
import { matmulBounded } from '../../src/testing/bounds/matmul.js';
import { crossEntropyBounded, metricsLossBound } from '../../src/testing/bounds/softmax.js';
import { U, type Bounded } from '../../src/testing/sums.js';
import { conv2dGeometry, type Conv2dSpec } from '../../src/layers/conv2d.js';
import { poolGeometry, type PoolWindow } from '../../src/layers/image.js';
import { nchwToRowsRef, rowsToNchwRef } from '../../src/ref/batchnorm2d.js';
import { conv2dBackwardBounded, conv2dForwardBounded } from '../../src/testing/bounds/conv2d.js';
import {
  avgPoolBackwardBounded, avgPoolForwardBounded, maxPoolBackwardBounded, maxPoolForwardBounded, type MaxPoolBounded,
} from '../../src/testing/bounds/pool2d.js';
import type { Activation } from '../../src/shared.js';

/** A value array and its bound array (a Bounded whose arrays are concrete). */
export interface Tracked {
  value: Float64Array;
  bound: Float64Array;
}

export type StepTargets = { labels: ArrayLike<number> } | { values: ArrayLike<number> };

export interface StepContext {
  training: boolean;
  seed: number;
  step: number;
}

export interface BoundedStep {
  /** The model output (logits), rows × outputs. */
  out: Tracked;
  /** Σ over rows of the per-row loss, as the GPU's metrics accumulate it. */
  lossSum: { value: number; bound: number };
  /** Correct predictions (softmax_ce rows, bce elements; NaN for mse) and how many could go either way. */
  correct: { value: number; ambiguous: number };
  /** Gradients in the flat parameter layout (training only; padding 0). */
  grads?: Tracked;
  /** BatchNorm running statistics after the step, flat (training only). */
  stats?: Tracked;
}

const track = (b: Bounded): Tracked => ({ value: Float64Array.from(b.value), bound: Float64Array.from(b.bound) });

/** What a layer's bounded forward sees (parameters and running statistics are exact float64 copies). */
export interface BoundForward {
  index: number;
  rows: number;
  /** Per-example input shape. */
  input: readonly number[];
  x: Tracked;
  training: boolean;
  seed: number;
  step: number;
  param(role: string): Float64Array;
  stat(role: string): Float64Array;
  /** Training: the running statistics the step writes, with their bounds. */
  setStat(role: string, b: Bounded): void;
}

export interface BoundBackward extends Omit<BoundForward, 'training' | 'setStat' | 'stat'> {
  dy: Tracked;
  cache: unknown;
  setGrad(role: string, b: Bounded): void;
}

/** One layer kind's forward and backward with bounds (the kernels' bounds with the input's carried through). */
export interface LayerBound<S = any> {
  forward(s: S, c: BoundForward): { y: Tracked; cache?: unknown };
  backward(s: S, c: BoundBackward): Tracked;
}

const denseBound: LayerBound<{ inputs: number; outputs: number; bias: boolean }> = {
  forward: (l, c) => ({
    y: track(matmulBounded({ M: c.rows, N: l.outputs, K: l.inputs, a: c.x.value, b: c.param('weight'), bias: l.bias ? c.param('bias') : undefined }, { a: c.x.bound }).z),
  }),
  backward(l, c) {
    const { rows, x, dy } = c;
    c.setGrad('weight', matmulBounded({ M: l.inputs, N: l.outputs, K: rows, transA: true, a: x.value, b: dy.value }, { a: x.bound, b: dy.bound }).z);
    // db: a product with a row of ones on the GPU (a sum over the rows either way).
    if (l.bias) c.setGrad('bias', matmulBounded({ M: 1, N: l.outputs, K: rows, a: new Float64Array(rows).fill(1), b: dy.value }, { b: dy.bound }).z);
    return track(matmulBounded({ M: rows, N: l.inputs, K: l.outputs, transB: true, a: dy.value, b: c.param('weight') }, { a: dy.bound }).z);
  },
};

const activationBoundKind: LayerBound<{ kind: Activation; alpha?: number }> = {
  forward: (l, c) => ({ y: track(activationBounded(l.kind, c.x.value, c.x.bound, l.alpha)) }),
  backward: (l, c) => track(activationBackwardBounded(l.kind, c.x.value, c.dy.value, c.x.bound, c.dy.bound, l.alpha)),
};

/** The runner reduces in either form (kernels/batchnorm.ts), so the training forward's bound holds for both. */
const batchnormBound: LayerBound<{ features: number; eps: number; momentum: number }> = {
  forward(l, c) {
    const args = [c.x.value, c.rows, l.features, c.param('gamma'), c.param('beta'), c.stat('running_mean'), c.stat('running_var'), l] as const;
    if (!c.training) return { y: track(batchnormEvalBounded(...args, c.x.bound)) };
    const chunk = splitPlan('batchnorm bound', c.rows, batchnormSplitChunks(c.rows, l.features), Infinity).chunk;
    const t = batchnormTrainBoundedEitherForm(...args, c.x.bound, chunk);
    c.setStat('running_mean', t.runningMean);
    c.setStat('running_var', t.runningVar);
    return { y: track(t.y), cache: { mean: track(t.mean), invstd: track(t.invstd) } };
  },
  backward(l, c) {
    const { mean, invstd } = c.cache as { mean: Tracked; invstd: Tracked };
    const bw = batchnormBackwardBounded(c.x.value, c.dy.value, c.rows, l.features, c.param('gamma'), mean.value, invstd.value, {
      ex: c.x.bound,
      edy: c.dy.bound,
      emean: mean.bound,
      einvstd: invstd.bound,
    });
    c.setGrad('gamma', bw.dgamma);
    c.setGrad('beta', bw.dbeta);
    return track(bw.dx);
  },
};

const dropoutBound: LayerBound<{ p: number }> = {
  forward: (l, c) => ({
    y: c.training && l.p > 0 ? dropout(c.x, dropoutMaskRef(c.seed, dropoutStream(c.index), c.step, c.rows * shapeSize(c.input), l.p), l.p) : c.x,
  }),
  backward: (l, c) => (l.p > 0 ? dropout(c.dy, dropoutMaskRef(c.seed, dropoutStream(c.index), c.step, c.dy.value.length, l.p), l.p) : c.dy),
};

/** A view: values and bounds pass through. */
const reshapeBound: LayerBound = { forward: (_l, c) => ({ y: c.x }), backward: (_l, c) => c.dy };

const convBound: LayerBound<Conv2dSpec> = {
  forward: (l, c) => ({ y: track(conv2dForwardBounded(conv2dGeometry(l, c.input), c.rows, c.x.value, c.param('weight'), l.bias ? c.param('bias') : undefined, c.x.bound)) }),
  backward(l, c) {
    const r = conv2dBackwardBounded(conv2dGeometry(l, c.input), c.rows, c.x.value, c.param('weight'), c.dy.value, { ex: c.x.bound, edy: c.dy.bound });
    c.setGrad('weight', r.dw);
    if (l.bias) c.setGrad('bias', r.db);
    return track(r.dx);
  },
};

/**
 * BatchNorm2d is BatchNorm1d over the transposed tensor [N·H·W, C]: its bounds there, moved back to NCHW. The runner
 * reduces in either form (kernels/batchnorm2d.ts: per adapter and size, or forced), so the training forward's bound
 * holds for both: the single form's and the split form's at the chunking a split would use.
 */
const batchnorm2dBound: LayerBound<{ channels: number; eps: number; momentum: number }> = {
  forward(l, c) {
    const s = { batch: c.rows, channels: l.channels, plane: c.input[1]! * c.input[2]! };
    const rows = (a: ArrayLike<number>) => nchwToRowsRef(a, s, 'float64');
    const back = (b: Bounded): Tracked => ({ value: Float64Array.from(rowsToNchwRef(b.value, s, 'float64')), bound: Float64Array.from(rowsToNchwRef(b.bound, s, 'float64')) });
    const args = [rows(c.x.value), s.batch * s.plane, l.channels, c.param('gamma'), c.param('beta'), c.stat('running_mean'), c.stat('running_var'), l] as const;
    if (!c.training) return { y: back(batchnormEvalBounded(...args, rows(c.x.bound))) };
    const m = s.batch * s.plane;
    const chunk = splitPlan('batchnorm2d bound', m, batchnorm2dSplitChunks(l.channels, m), Infinity).chunk;
    const t = batchnormTrainBoundedEitherForm(...args, rows(c.x.bound), chunk);
    c.setStat('running_mean', t.runningMean);
    c.setStat('running_var', t.runningVar);
    return { y: back(t.y), cache: { mean: track(t.mean), invstd: track(t.invstd) } };
  },
  backward(l, c) {
    const s = { batch: c.rows, channels: l.channels, plane: c.input[1]! * c.input[2]! };
    const rows = (a: ArrayLike<number>) => nchwToRowsRef(a, s, 'float64');
    const { mean, invstd } = c.cache as { mean: Tracked; invstd: Tracked };
    const bw = batchnormBackwardBounded(rows(c.x.value), rows(c.dy.value), s.batch * s.plane, l.channels, c.param('gamma'), mean.value, invstd.value, {
      ex: rows(c.x.bound),
      edy: rows(c.dy.bound),
      emean: mean.bound,
      einvstd: invstd.bound,
    });
    c.setGrad('gamma', bw.dgamma);
    c.setGrad('beta', bw.dbeta);
    return { value: Float64Array.from(rowsToNchwRef(bw.dx.value, s, 'float64')), bound: Float64Array.from(rowsToNchwRef(bw.dx.bound, s, 'float64')) };
  },
};

const maxPoolBound: LayerBound<PoolWindow> = {
  forward(l, c) {
    const f = maxPoolForwardBounded(poolGeometry(l, c.input), c.rows, c.x.value, c.x.bound);
    return { y: track(f.y), cache: f };
  },
  backward: (l, c) => track(maxPoolBackwardBounded(poolGeometry(l, c.input), c.rows, c.dy.value, c.cache as MaxPoolBounded, c.dy.bound)),
};

const avgPoolBound: LayerBound<PoolWindow> = {
  forward: (l, c) => ({ y: track(avgPoolForwardBounded(poolGeometry(l, c.input), c.rows, c.x.value, c.x.bound)) }),
  backward: (l, c) => track(avgPoolBackwardBounded(poolGeometry(l, c.input), c.rows, c.dy.value, c.dy.bound)),
};

/** Global average pooling: average pooling with the whole plane as its window. */
const planeWindow = (input: readonly number[]): PoolWindow => ({ kernel: [input[1]!, input[2]!], stride: [1, 1], padding: [0, 0] });
const globalAvgPoolBound: LayerBound = {
  forward: (_l, c) => avgPoolBound.forward(planeWindow(c.input), c),
  backward: (_l, c) => avgPoolBound.backward(planeWindow(c.input), c),
};

const BOUNDS = new Map<string, LayerBound>([
  ['dense', denseBound],
  ['activation', activationBoundKind],
  ['batchnorm', batchnormBound],
  ['dropout', dropoutBound],
  ['reshape', reshapeBound],
  ['conv2d', convBound],
  ['batchnorm2d', batchnorm2dBound],
  ['maxpool2d', maxPoolBound],
  ['avgpool2d', avgPoolBound],
  ['globalavgpool', globalAvgPoolBound],
  ['flatten', reshapeBound],
]);

/**
 * Adds the bound of a layer kind registered from outside the library (registerLayerKind); `like: 'dense'` reuses a
 * built-in kind's bound for a kind with the same math.
 */
export function registerLayerBound(type: string, bound: LayerBound | { like: string }): void {
  const b = 'like' in bound ? BOUNDS.get(bound.like) : bound;
  if (!b) throw new Error(`registerLayerBound: no bound for '${(bound as { like: string }).like}'`);
  BOUNDS.set(type, b);
}

export class BoundedModel {
  readonly layout: ParamLayout;
  readonly outputs: number;
  readonly layers: ResolvedLayer[];
  private readonly bounds: LayerBound[];

  constructor(readonly spec: ModelSpec) {
    this.layout = layoutModel(spec);
    this.outputs = outputSize(spec);
    this.layers = modelLayers(spec);
    this.bounds = this.layers.map((l) => {
      const b = BOUNDS.get(l.spec.type);
      if (!b) throw new Error(`BoundedModel: no error bound for layer kind '${l.spec.type}' (layers[${l.index}]); add one with registerLayerBound`);
      return b;
    });
  }

  private slice(flat: ArrayLike<number>, slot: { offset: number; size: number } | undefined, what: string): Float64Array {
    if (!slot) throw new Error(`BoundedModel: no ${what}`);
    const out = new Float64Array(slot.size);
    for (let i = 0; i < slot.size; i++) out[i] = flat[slot.offset + i]!;
    return out;
  }

  /**
   * Forward, loss and (training) backward of one batch: x rows × inputs within its bound of what the GPU holds;
   * targets as the loss needs them. Parameters and statistics are the GPU's (exact inputs).
   */
  step(params: ArrayLike<number>, stats: ArrayLike<number>, x: Tracked, rows: number, targets: StepTargets, ctx: StepContext): BoundedStep {
    const caches: { input: Tracked; cache: unknown }[] = [];
    const newStats = ctx.training ? { value: Float64Array.from(stats), bound: new Float64Array(stats.length) } : undefined;
    let h = x;
    this.layers.forEach((l, k) => {
      const { index } = l;
      const res = this.bounds[k]!.forward(l.spec, {
        index, rows, input: l.input, x: h, training: ctx.training, seed: ctx.seed, step: ctx.step,
        param: (role) => this.slice(params, paramSlot(this.layout, index, role), `parameter ${role} of layers[${index}]`),
        stat: (role) => this.slice(stats, statSlot(this.layout, index, role), `statistic ${role} of layers[${index}]`),
        setStat: (role, b) => {
          const s = statSlot(this.layout, index, role)!;
          newStats!.value.set(Float64Array.from(b.value), s.offset);
          newStats!.bound.set(Float64Array.from(b.bound), s.offset);
        },
      });
      caches.push({ input: h, cache: res.cache });
      h = res.y;
    });
    const { lossSum, correct, dOut } = this.loss(h, targets, rows);
    const result: BoundedStep = { out: h, lossSum, correct };
    if (!ctx.training) return result;
    result.stats = newStats;
    result.grads = this.backward(params, caches, dOut, rows, ctx);
    return result;
  }

  private loss(out: Tracked, targets: StepTargets, rows: number): { lossSum: BoundedStep['lossSum']; correct: BoundedStep['correct']; dOut: Tracked } {
    const C = this.outputs;
    let value = 0;
    let bound = 0;
    let correct = 0;
    let ambiguous = 0;
    let dOut: Tracked;
    if (this.spec.loss === 'softmax_ce') {
      if (!('labels' in targets)) throw new Error('softmax_ce needs labels');
      const ce = crossEntropyBounded(out.value, targets.labels, rows, C, 1 / rows, out.bound);
      for (let i = 0; i < rows; i++) {
        value += ce.loss.value[i]!;
        bound += ce.loss.bound[i]!;
        correct += ce.flags[i]!;
        if (argmaxAmbiguous(out, i * C, C)) ambiguous++;
      }
      dOut = track(ce.dz);
    } else {
      if (!('values' in targets)) throw new Error(`${this.spec.loss} needs float targets`);
      const l = lossBounded(this.spec.loss, out.value, targets.values, rows, C, 1 / rows, out.bound);
      for (let i = 0; i < rows; i++) {
        value += l.loss.value[i]!;
        bound += l.loss.bound[i]!;
        correct += l.flags[i]!;
      }
      for (let k = 0; k < rows * C; k++) if (Math.abs(out.value[k]!) <= out.bound[k]!) ambiguous++;
      if (this.spec.loss === 'mse') correct = NaN;
      dOut = track(l.grad);
    }
    // The metrics kernel sums the rows' losses (each within its bound) in any order.
    bound += metricsLossBound(value + bound, rows);
    return { lossSum: { value, bound }, correct: { value: correct, ambiguous }, dOut };
  }

  private backward(params: ArrayLike<number>, caches: { input: Tracked; cache: unknown }[], dOut: Tracked, rows: number, ctx: StepContext): Tracked {
    const grads = { value: new Float64Array(this.layout.n), bound: new Float64Array(this.layout.n) };
    let g = dOut;
    for (let k = this.layers.length - 1; k >= 0; k--) {
      const l = this.layers[k]!;
      const { index } = l;
      g = this.bounds[k]!.backward(l.spec, {
        index, rows, input: l.input, x: caches[k]!.input, dy: g, cache: caches[k]!.cache, seed: ctx.seed, step: ctx.step,
        param: (role) => this.slice(params, paramSlot(this.layout, index, role), `parameter ${role} of layers[${index}]`),
        setGrad: (role, b) => {
          const s = paramSlot(this.layout, index, role)!;
          grads.value.set(Float64Array.from(b.value), s.offset);
          grads.bound.set(Float64Array.from(b.bound), s.offset);
        },
      });
    }
    return grads;
  }
}

/** Inverted dropout: v·scale with scale = f32(1/(1 − p)): 2u of |y| (the constant and the product), scale·e(v). */
function dropout(v: Tracked, mask: Uint8Array, p: number): Tracked {
  const value = Float64Array.from(dropoutApplyRef(v.value, mask, p, 'float64'));
  const scale = 1 / (1 - p);
  return { value, bound: value.map((y, k) => (mask[k] ? scale * v.bound[k]! * (1 + 2 * U) : 0) + 2 * U * Math.abs(y)) };
}

/** Could the argmax of this row differ within the bounds (another logit within both bounds of the maximum)? */
function argmaxAmbiguous(out: Tracked, base: number, C: number): boolean {
  let a = 0;
  for (let j = 1; j < C; j++) if (out.value[base + j]! > out.value[base + a]!) a = j;
  for (let j = 0; j < C; j++) {
    if (j !== a && out.value[base + a]! - out.value[base + j]! <= out.bound[base + a]! + out.bound[base + j]!) return true;
  }
  return false;
}

/** Bounds of the GPU's normalisation of bytes v, x = v·scale + shift with float32 constants (fused or not). */
export function byteInputBound(raw: ArrayLike<number>, scale: number, shift: number): Float64Array {
  return Float64Array.from(raw, (v) => 3 * U * (Math.abs(v * scale) + Math.abs(shift)));
}
