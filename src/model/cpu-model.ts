/**
 * The CPU reference model: forward and backward of a ModelSpec over the flat parameter layout, composed of the
 * CPU reference kernels (src/ref). It is the readable specification of what the GPU step plan computes, used by
 * the CPU runner, the gradient checks and the GPU-vs-CPU trainer test.
 *
 * Shapes: rows = examples in the batch (B), activations are rows×width row-major.
 *   Dense:       Z = X·W + b            W: in×out, b: out
 *                dW = Xᵀ·dZ, db = Σ_rows dZ, dX = dZ·Wᵀ
 *   Activation:  Y = f(X),  dX = dY·f'(X)
 *   BatchNorm1d: see shaders/batchnorm.wgsl;  Dropout: see shaders/dropout.wgsl
 *   Loss (mean over the batch): softmax_ce with integer labels, mse, bce with logits; dOut = ∂(mean loss)/∂out.
 * Gradients are written (not accumulated) into the flat gradient array; padding stays untouched (zero).
 */
import { activationBackwardRef, activationForwardRef } from '../ref/activation.js';
import { batchnormBackwardRef, batchnormEvalRef, batchnormTrainRef } from '../ref/batchnorm.js';
import { dropoutApplyRef, dropoutMaskRef } from '../ref/dropout.js';
import { dropoutStream } from '../kernels/dropout.js';
import { allocate, rounder, type Dtype, type FloatArray } from '../ref/dtype.js';
import { lossRef } from '../ref/loss-select.js';
import { matmulRef } from '../ref/matmul.js';
import { layoutModel, paramSlot, statSlot, type ParamLayout } from './layout.js';
import type { ModelSpec } from './spec.js';
import { outputSize } from './spec.js';

export interface ForwardContext {
  training: boolean;
  /** Seed and global step: dropout masks are a function of (seed, layer, step, element). */
  seed: number;
  step: number;
}

interface LayerCache {
  input: FloatArray;
  /** BatchNorm: per-feature batch mean and 1/sqrt(var + eps) of the training forward. */
  mean?: FloatArray;
  invstd?: FloatArray;
}

export interface ForwardResult {
  out: FloatArray;
  caches: LayerCache[];
  rows: number;
}

export interface LossResult {
  /** Σ over rows of the per-row loss. */
  lossSum: number;
  /** Correct predictions (softmax_ce: argmax == label; bce: elements on the right side of 0.5); NaN for mse. */
  correct: number;
  /** ∂(mean loss)/∂out, rows×outputs. */
  dOut: FloatArray;
}

/** Targets of a batch: integer labels (softmax_ce) or float targets rows×outputs (mse, bce). */
export type Targets = { labels: ArrayLike<number> } | { values: ArrayLike<number> };

export class CpuModel {
  readonly layout: ParamLayout;
  readonly outputs: number;
  private readonly r: (x: number) => number;

  constructor(
    readonly spec: ModelSpec,
    readonly dtype: Dtype,
  ) {
    this.layout = layoutModel(spec);
    this.outputs = outputSize(spec);
    this.r = rounder(dtype);
  }

  private view(flat: FloatArray, layer: number, role: 'weight' | 'bias' | 'gamma' | 'beta'): FloatArray {
    const s = paramSlot(this.layout, layer, role)!;
    return flat.subarray(s.offset, s.offset + s.size);
  }

  private statView(stats: FloatArray, layer: number, role: 'running_mean' | 'running_var'): FloatArray {
    const s = statSlot(this.layout, layer, role)!;
    return stats.subarray(s.offset, s.offset + s.size);
  }

  /** Forward pass; in training mode BatchNorm running stats in `stats` are updated in place. */
  forward(params: FloatArray, stats: FloatArray, x: FloatArray, rows: number, ctx: ForwardContext): ForwardResult {
    if (x.length < rows * this.spec.inputs) throw new Error(`forward: input holds ${x.length} values, needs ${rows}×${this.spec.inputs}`);
    let h: FloatArray = x.subarray(0, rows * this.spec.inputs);
    let width = this.spec.inputs;
    const caches: LayerCache[] = [];
    this.spec.layers.forEach((l, i) => {
      const cache: LayerCache = { input: h };
      switch (l.type) {
        case 'dense': {
          const bias = l.bias ? this.view(params, i, 'bias') : undefined;
          h = matmulRef({ M: rows, N: l.outputs, K: l.inputs, a: h, b: this.view(params, i, 'weight'), bias }, this.dtype).y;
          width = l.outputs;
          break;
        }
        case 'activation':
          h = activationForwardRef(l.kind, h, this.dtype, l.alpha);
          break;
        case 'batchnorm': {
          const gamma = this.view(params, i, 'gamma');
          const beta = this.view(params, i, 'beta');
          const runningMean = this.statView(stats, i, 'running_mean');
          const runningVar = this.statView(stats, i, 'running_var');
          if (ctx.training) {
            const res = batchnormTrainRef(h, rows, width, gamma, beta, runningMean, runningVar, this.dtype, l);
            runningMean.set(res.runningMean);
            runningVar.set(res.runningVar);
            h = res.y;
            cache.mean = res.mean;
            cache.invstd = res.invstd;
          } else {
            h = batchnormEvalRef(h, rows, width, gamma, beta, runningMean, runningVar, this.dtype, l);
          }
          break;
        }
        case 'dropout':
          if (ctx.training && l.p > 0) h = dropoutApplyRef(h, dropoutMaskRef(ctx.seed, dropoutStream(i), ctx.step, rows * width, l.p), l.p, this.dtype);
          break;
      }
      caches.push(cache);
    });
    return { out: h, caches, rows };
  }

  /** Mean loss over the batch and its gradient with respect to the model output. */
  loss(f: ForwardResult, targets: Targets): LossResult {
    return lossRef(this.spec.loss, f.out, targets, f.rows, this.outputs, this.dtype);
  }

  /** Writes every parameter's gradient into `grads` (flat layout) given ∂loss/∂out. */
  backward(params: FloatArray, f: ForwardResult, dOut: FloatArray, grads: FloatArray, ctx: ForwardContext): void {
    const { rows } = f;
    let g = dOut;
    for (let i = this.spec.layers.length - 1; i >= 0; i--) {
      const l = this.spec.layers[i]!;
      const cache = f.caches[i]!;
      switch (l.type) {
        case 'dense': {
          const dW = matmulRef({ M: l.inputs, N: l.outputs, K: rows, transA: true, a: cache.input, b: g }, this.dtype).y;
          this.view(grads, i, 'weight').set(dW);
          if (l.bias) this.view(grads, i, 'bias').set(columnSums(g, rows, l.outputs, this.r, this.dtype));
          if (i > 0) g = matmulRef({ M: rows, N: l.inputs, K: l.outputs, transB: true, a: g, b: this.view(params, i, 'weight') }, this.dtype).y;
          break;
        }
        case 'activation':
          g = activationBackwardRef(l.kind, cache.input, g, this.dtype, l.alpha);
          break;
        case 'batchnorm': {
          const res = batchnormBackwardRef(cache.input, g, rows, l.features, this.view(params, i, 'gamma'), cache.mean!, cache.invstd!, this.dtype);
          this.view(grads, i, 'gamma').set(res.dgamma);
          this.view(grads, i, 'beta').set(res.dbeta);
          g = res.dx;
          break;
        }
        case 'dropout':
          if (l.p > 0) g = dropoutApplyRef(g, dropoutMaskRef(ctx.seed, dropoutStream(i), ctx.step, g.length, l.p), l.p, this.dtype);
          break;
      }
    }
  }
}

/** db[j] = Σ_i g[i, j], summed in row order. */
function columnSums(g: FloatArray, rows: number, cols: number, r: (x: number) => number, dtype: Dtype): FloatArray {
  const out = allocate(dtype, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j] = r(out[j]! + g[i * cols + j]!);
  return out;
}
