/**
 * One training step (or an evaluation forward) of the CPU reference model in float64, with a bound on how far a
 * correct float32 GPU may lie from every value it produces: the layer outputs, the per-row losses, the metrics' loss
 * sum, every parameter gradient and BatchNorm's running statistics.
 *
 * Each layer's bound is its kernel family's (src/testing/bounds/*: the sums it forms, γ_n·Σ|terms|, and WGSL's
 * accuracy of exp, log, ÷, inverseSqrt), with the bound of the layer's input carried through it: a Dense layer adds
 * Σ_k[(|h| + e_h)·|W|] − Σ_k|h||W| to its own γ_(K+3)·Σ|terms|, an activation multiplies the input's bound by its
 * Lipschitz constant (backward: by |f'|, plus the jump of f' where the input may cross 0), BatchNorm carries it
 * through its mean, variance and normalisation, log-sum-exp is 1-Lipschitz in the max norm. Parameters, running
 * statistics and the batch's raw inputs are exact inputs (the GPU's own state, read back); byte inputs are
 * normalised on the GPU with float32 constants, x = v·scale + shift, within 3u of |v·scale| + |shift|.
 *
 * Discontinuities are accounted for, not assumed away: where a ReLU's input lies within its bound of 0 the backward
 * allows either side, and a prediction whose top two logits lie within their bounds of each other may be counted
 * correct or not (`ambiguous`).
 */
import { dropoutStream } from '../../src/kernels/dropout.js';
import { layoutModel, paramSlot, statSlot, type ParamLayout } from '../../src/model/layout.js';
import type { ModelSpec } from '../../src/model/spec.js';
import { outputSize } from '../../src/model/spec.js';
import { dropoutApplyRef, dropoutMaskRef } from '../../src/ref/dropout.js';
import { activationBackwardBounded, activationBounded } from '../../src/testing/bounds/activation.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBounded } from '../../src/testing/bounds/batchnorm.js';
import { lossBounded } from '../../src/testing/bounds/loss.js';
import { matmulBounded } from '../../src/testing/bounds/matmul.js';
import { crossEntropyBounded, metricsLossBound } from '../../src/testing/bounds/softmax.js';
import { U, type Bounded } from '../../src/testing/sums.js';

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

interface Cache {
  input: Tracked;
  mean?: Tracked;
  invstd?: Tracked;
}

export class BoundedModel {
  readonly layout: ParamLayout;
  readonly outputs: number;

  constructor(readonly spec: ModelSpec) {
    this.layout = layoutModel(spec);
    this.outputs = outputSize(spec);
  }

  private view(flat: ArrayLike<number>, layer: number, role: 'weight' | 'bias' | 'gamma' | 'beta'): Float64Array {
    const s = paramSlot(this.layout, layer, role)!;
    return Float64Array.from({ length: s.size }, (_, i) => flat[s.offset + i]!);
  }

  private statView(stats: ArrayLike<number>, layer: number, role: 'running_mean' | 'running_var'): Float64Array {
    const s = statSlot(this.layout, layer, role)!;
    return Float64Array.from({ length: s.size }, (_, i) => stats[s.offset + i]!);
  }

  /**
   * Forward, loss and (training) backward of one batch: x rows × inputs within ex of what the GPU holds; targets as
   * the loss needs them. Parameters and statistics are the GPU's (exact inputs).
   */
  step(params: ArrayLike<number>, stats: ArrayLike<number>, x: Tracked, rows: number, targets: StepTargets, ctx: StepContext): BoundedStep {
    const caches: Cache[] = [];
    const newStats = ctx.training ? { value: Float64Array.from(stats), bound: new Float64Array(stats.length) } : undefined;
    let h = x;
    let width = this.spec.inputs;
    this.spec.layers.forEach((l, i) => {
      const cache: Cache = { input: h };
      switch (l.type) {
        case 'dense': {
          const bias = l.bias ? this.view(params, i, 'bias') : undefined;
          h = track(matmulBounded({ M: rows, N: l.outputs, K: l.inputs, a: h.value, b: this.view(params, i, 'weight'), bias }, { a: h.bound }).z);
          width = l.outputs;
          break;
        }
        case 'activation':
          h = track(activationBounded(l.kind, h.value, h.bound, l.alpha));
          break;
        case 'batchnorm': {
          const gamma = this.view(params, i, 'gamma');
          const beta = this.view(params, i, 'beta');
          const rm = this.statView(stats, i, 'running_mean');
          const rv = this.statView(stats, i, 'running_var');
          if (ctx.training) {
            const t = batchnormTrainBounded(h.value, rows, width, gamma, beta, rm, rv, l, h.bound);
            for (const [role, b] of [['running_mean', t.runningMean], ['running_var', t.runningVar]] as const) {
              const s = statSlot(this.layout, i, role)!;
              newStats!.value.set(b.value, s.offset);
              newStats!.bound.set(b.bound, s.offset);
            }
            cache.mean = track(t.mean);
            cache.invstd = track(t.invstd);
            h = track(t.y);
          } else h = track(batchnormEvalBounded(h.value, rows, width, gamma, beta, rm, rv, l, h.bound));
          break;
        }
        case 'dropout':
          if (ctx.training && l.p > 0) h = dropout(h, dropoutMaskRef(ctx.seed, dropoutStream(i), ctx.step, rows * width, l.p), l.p);
          break;
      }
      caches.push(cache);
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

  private backward(params: ArrayLike<number>, caches: Cache[], dOut: Tracked, rows: number, ctx: StepContext): Tracked {
    const grads = { value: new Float64Array(this.layout.n), bound: new Float64Array(this.layout.n) };
    const put = (layer: number, role: 'weight' | 'bias' | 'gamma' | 'beta', b: Bounded) => {
      const s = paramSlot(this.layout, layer, role)!;
      grads.value.set(Float64Array.from(b.value), s.offset);
      grads.bound.set(Float64Array.from(b.bound), s.offset);
    };
    let g = dOut;
    for (let i = this.spec.layers.length - 1; i >= 0; i--) {
      const l = this.spec.layers[i]!;
      const { input, mean, invstd } = caches[i]!;
      switch (l.type) {
        case 'dense': {
          put(i, 'weight', matmulBounded({ M: l.inputs, N: l.outputs, K: rows, transA: true, a: input.value, b: g.value }, { a: input.bound, b: g.bound }).z);
          // db on the GPU: a product with a row of ones (a sum over the rows either way).
          if (l.bias) put(i, 'bias', matmulBounded({ M: 1, N: l.outputs, K: rows, a: new Float64Array(rows).fill(1), b: g.value }, { b: g.bound }).z);
          if (i > 0) g = track(matmulBounded({ M: rows, N: l.inputs, K: l.outputs, transB: true, a: g.value, b: this.view(params, i, 'weight') }, { a: g.bound }).z);
          break;
        }
        case 'activation':
          g = track(activationBackwardBounded(l.kind, input.value, g.value, input.bound, g.bound, l.alpha));
          break;
        case 'batchnorm': {
          const bw = batchnormBackwardBounded(input.value, g.value, rows, l.features, this.view(params, i, 'gamma'), mean!.value, invstd!.value, {
            ex: input.bound,
            edy: g.bound,
            emean: mean!.bound,
            einvstd: invstd!.bound,
          });
          put(i, 'gamma', bw.dgamma);
          put(i, 'beta', bw.dbeta);
          g = track(bw.dx);
          break;
        }
        case 'dropout':
          if (l.p > 0) g = dropout(g, dropoutMaskRef(ctx.seed, dropoutStream(i), ctx.step, g.value.length, l.p), l.p);
          break;
      }
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
