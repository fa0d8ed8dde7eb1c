/**
 * BatchNorm1d on the GPU: the TypeScript side of shaders/batchnorm.wgsl (see its header for the math and bindings).
 *
 * Three planned ops, each one dispatch:
 *   BatchNormOp.forwardTrain  y from batch statistics; saves (mean, invstd) [2F]; updates running (mean, var) [2F]
 *   BatchNormOp.forwardEval   y from the running statistics
 *   BatchNormOp.backward      dx, and dγ, dβ WRITTEN (not accumulated) into their ranges of the gradient buffer
 * γ, β, dγ, dβ, running and saved may be GPUBufferBindings (ranges with 256-byte-aligned offsets of flat buffers).
 * Training with B = 1 is rejected when the op is planned (torch errors at run time; see `batchnormRowsError`).
 */
import src from '../../shaders/batchnorm.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer } from '../gpu/index.js';
import { BATCHNORM_DEFAULTS, batchnormRowsError, type BatchNormOptions } from '../ref/batchnorm.js';
import { checkElements } from './sizes.js';

const files = [{ file: 'batchnorm.wgsl', text: src }];

export const batchnormForwardTrainKernel = defineKernel({
  label: 'batchnorm.forward_train',
  files,
  entry: 'forward_train',
  bindings: { p: 'uniform', x: 'read', y: 'read_write', gamma: 'read', beta: 'read', running: 'read_write', saved: 'read_write' },
});

export const batchnormForwardEvalKernel = defineKernel({
  label: 'batchnorm.forward_eval',
  files,
  entry: 'forward_eval',
  bindings: { p: 'uniform', x: 'read', y: 'read_write', gamma: 'read', beta: 'read', running_stats: 'read' },
});

export const batchnormBackwardKernel = defineKernel({
  label: 'batchnorm.backward',
  files,
  entry: 'backward',
  bindings: {
    p: 'uniform',
    x: 'read',
    dy: 'read',
    gamma: 'read',
    saved_stats: 'read',
    dx: 'read_write',
    dgamma: 'read_write',
    dbeta: 'read_write',
  },
});

export { BATCHNORM_DEFAULTS, type BatchNormOptions } from '../ref/batchnorm.js';

const WG = 64;

function checkSizes(what: string, rows: number, features: number, buffers: Record<string, [Resource, number]>): void {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${what}: rows ${rows} must be a positive integer`);
  if (!Number.isInteger(features) || features < 1) throw new RangeError(`${what}: features ${features} must be a positive integer`);
  if (rows * features >= 2 ** 32) throw new RangeError(`${what}: ${rows}×${features} exceeds u32 indexing`);
  checkElements(what, buffers);
}

interface Shape {
  /** B */
  rows: number;
  /** F */
  features: number;
}

/** One planned BatchNorm1d dispatch; bind group and uniforms built once, `encode` records it. */
export class BatchNormOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    private readonly minRows: number,
    /** B fixed at plan time; `setRows` may only lower it. */
    readonly capacity: number,
  ) {}

  /** Training forward: y [B,F] = x̂·γ + β from batch statistics; saved ← (mean, invstd); running ← updated. */
  static async forwardTrain(
    engine: Engine,
    o: Shape & BatchNormOptions & { x: Resource; y: Resource; gamma: Resource; beta: Resource; running: Resource; saved: Resource },
  ): Promise<BatchNormOp> {
    if (o.rows < 2) throw new RangeError(batchnormRowsError(o.rows));
    const n = o.rows * o.features;
    const F = o.features;
    checkSizes('BatchNormOp.forwardTrain', o.rows, F, { x: [o.x, n], y: [o.y, n], gamma: [o.gamma, F], beta: [o.beta, F], running: [o.running, 2 * F], saved: [o.saved, 2 * F] });
    const k = await engine.kernel(batchnormForwardTrainKernel, { WG });
    const u = uniforms(k.uniforms('p'), o);
    const bg = k.bind({ p: u.buffer, x: o.x, y: o.y, gamma: o.gamma, beta: o.beta, running: o.running, saved: o.saved });
    const groups = Math.ceil(F / WG);
    return new BatchNormOp((pass) => k.dispatch1d(pass, bg, groups), u, 2, o.rows);
  }

  /** Evaluation forward: y = (x − running_mean) / sqrt(running_var + eps) · γ + β. */
  static async forwardEval(
    engine: Engine,
    o: Shape & Pick<BatchNormOptions, 'eps'> & { x: Resource; y: Resource; gamma: Resource; beta: Resource; running: Resource },
  ): Promise<BatchNormOp> {
    const n = o.rows * o.features;
    const F = o.features;
    checkSizes('BatchNormOp.forwardEval', o.rows, F, { x: [o.x, n], y: [o.y, n], gamma: [o.gamma, F], beta: [o.beta, F], running: [o.running, 2 * F] });
    const k = await engine.kernel(batchnormForwardEvalKernel, { WG });
    const u = uniforms(k.uniforms('p'), o);
    const bg = k.bind({ p: u.buffer, x: o.x, y: o.y, gamma: o.gamma, beta: o.beta, running_stats: o.running });
    const groups = Math.ceil(n / WG);
    return new BatchNormOp((pass) => k.dispatch1d(pass, bg, groups), u, 1, o.rows);
  }

  /** Training backward from `saved` of the same step: dx [B,F]; dγ, dβ [F] written. */
  static async backward(
    engine: Engine,
    o: Shape & { x: Resource; dy: Resource; gamma: Resource; saved: Resource; dx: Resource; dgamma: Resource; dbeta: Resource },
  ): Promise<BatchNormOp> {
    if (o.rows < 2) throw new RangeError(batchnormRowsError(o.rows));
    const n = o.rows * o.features;
    const F = o.features;
    checkSizes('BatchNormOp.backward', o.rows, F, {
      x: [o.x, n], dy: [o.dy, n], gamma: [o.gamma, F], saved: [o.saved, 2 * F], dx: [o.dx, n], dgamma: [o.dgamma, F], dbeta: [o.dbeta, F],
    });
    const k = await engine.kernel(batchnormBackwardKernel, { WG });
    const u = uniforms(k.uniforms('p'), o);
    const bg = k.bind({ p: u.buffer, x: o.x, dy: o.dy, gamma: o.gamma, saved_stats: o.saved, dx: o.dx, dgamma: o.dgamma, dbeta: o.dbeta });
    const groups = Math.ceil(F / WG);
    return new BatchNormOp((pass) => k.dispatch1d(pass, bg, groups), u, 2, o.rows);
  }

  /**
   * Normalises over the first `rows` rows from now on (a last partial batch), rows ≤ the planned B; training needs ≥ 2.
   * The upload is ordered before the next submit, so it applies to the next command buffer.
   */
  setRows(rows: number): void {
    if (!Number.isInteger(rows) || rows > this.capacity || rows < this.minRows) {
      throw new RangeError(
        rows < 2 && this.minRows === 2 ? batchnormRowsError(rows) : `BatchNormOp.setRows: ${rows} must be an integer in [${this.minRows}, ${this.capacity}]`,
      );
    }
    this.uniforms.set({ rows }).write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

function uniforms(u: UniformBuffer, o: Shape & BatchNormOptions): UniformBuffer {
  const eps = o.eps ?? BATCHNORM_DEFAULTS.eps;
  const momentum = o.momentum ?? BATCHNORM_DEFAULTS.momentum;
  if (!(eps > 0)) throw new RangeError(`BatchNorm: eps ${eps} must be > 0`);
  if (!(momentum >= 0 && momentum <= 1)) throw new RangeError(`BatchNorm: momentum ${momentum} must be in [0, 1] (momentum = None is not supported)`);
  u.set({ rows: o.rows, features: o.features, eps, momentum });
  u.write();
  return u;
}
