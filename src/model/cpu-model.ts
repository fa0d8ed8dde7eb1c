/**
 * The CPU reference model: forward and backward of a ModelSpec over the flat parameter layout, each layer by its
 * kind's CPU reference (src/layers: `cpu.forward`, `cpu.backward`, built on the plain loops of src/ref). It is the
 * readable specification of what the GPU step plan computes, used by the CPU runner, the gradient checks and the
 * GPU-vs-CPU trainer test.
 *
 * Shapes: rows = examples in the batch (N); a layer's activations are (N, ...shape) row-major.
 * Loss (mean over the batch): softmax_ce with integer labels, mse, bce with logits; dOut = ∂(mean loss)/∂out.
 * Gradients are written (not accumulated) into the flat gradient array; padding stays untouched (zero). A layer
 * before which no layer has parameters computes no gradient w.r.t. its input.
 */
import type { Dtype, FloatArray } from '../ref/dtype.js';
import { lossRef } from '../ref/loss-select.js';
import { inputGradientNeeded, type ResolvedLayer } from './graph.js';
import { layoutModel, paramSlot, statSlot, type ParamLayout } from './layout.js';
import { modelLayers, outputSize, validateModelSpec, type ModelSpec } from './spec.js';

export interface ForwardContext {
  training: boolean;
  /** Seed and global step: dropout masks are a function of (seed, layer, step, element). */
  seed: number;
  step: number;
}

interface LayerCache {
  input: FloatArray;
  /** What the layer's forward kept for its backward (BatchNorm: the batch mean and 1/sqrt(var + eps)). */
  state?: unknown;
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
  readonly spec: ModelSpec;
  readonly layout: ParamLayout;
  readonly outputs: number;
  readonly layers: ResolvedLayer[];
  private readonly needsDx: boolean[];
  private readonly inputs: number;

  constructor(
    spec: ModelSpec,
    readonly dtype: Dtype,
  ) {
    this.spec = validateModelSpec(spec);
    this.layers = modelLayers(this.spec);
    this.layout = layoutModel(this.spec);
    this.outputs = outputSize(this.spec);
    this.inputs = this.spec.inputs;
    this.needsDx = inputGradientNeeded(this.layers);
  }

  private view(flat: FloatArray, layer: ResolvedLayer, role: string): FloatArray {
    const s = paramSlot(this.layout, layer.index, role);
    if (!s) throw new Error(`layers[${layer.index}] (${layer.spec.type}) has no parameter '${role}'`);
    return flat.subarray(s.offset, s.offset + s.size);
  }

  private statView(stats: FloatArray, layer: ResolvedLayer, role: string): FloatArray {
    const s = statSlot(this.layout, layer.index, role);
    if (!s) throw new Error(`layers[${layer.index}] (${layer.spec.type}) has no statistic '${role}'`);
    return stats.subarray(s.offset, s.offset + s.size);
  }

  /** Forward pass; in training mode BatchNorm running stats in `stats` are updated in place. */
  forward(params: FloatArray, stats: FloatArray, x: FloatArray, rows: number, ctx: ForwardContext): ForwardResult {
    if (x.length < rows * this.inputs) throw new Error(`forward: input holds ${x.length} values, needs ${rows}×${this.inputs}`);
    let h: FloatArray = x.subarray(0, rows * this.inputs);
    const caches: LayerCache[] = [];
    for (const l of this.layers) {
      const res = l.kind.cpu.forward(l.spec, {
        index: l.index, rows, input: l.input, output: l.output, dtype: this.dtype, seed: ctx.seed, step: ctx.step,
        training: ctx.training, x: h,
        param: (role) => this.view(params, l, role),
        stat: (role) => this.statView(stats, l, role),
      });
      caches.push({ input: h, state: res.cache });
      h = res.y;
    }
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
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i]!;
      const cache = f.caches[i]!;
      const needsDx = this.needsDx[i]!;
      const dx = l.kind.cpu.backward(l.spec, {
        index: l.index, rows, input: l.input, output: l.output, dtype: this.dtype, seed: ctx.seed, step: ctx.step,
        x: cache.input, dy: g, cache: cache.state, needsDx,
        param: (role) => this.view(params, l, role),
        grad: (role) => this.view(grads, l, role),
      });
      // No layer before this one has parameters: nothing further down needs a gradient.
      if (!needsDx) break;
      if (!dx) throw new Error(`layers[${i}] (${l.spec.type}): its backward gave no gradient w.r.t. its input`);
      g = dx;
    }
  }
}
