/**
 * BatchNorm1d on the GPU: the TypeScript side of shaders/batchnorm.wgsl (see its header for the math and bindings).
 *
 * Three planned ops:
 *   BatchNormOp.forwardTrain  y from batch statistics; saves (mean, invstd) [2F]; updates running (mean, var) [2F]
 *   BatchNormOp.forwardEval   y from the running statistics
 *   BatchNormOp.backward      dx, and dγ, dβ WRITTEN (not accumulated) into their ranges of the gradient buffer
 * γ, β, dγ, dβ, running and saved may be GPUBufferBindings (ranges with 256-byte-aligned offsets of flat buffers).
 * Training with B = 1 is rejected when the op is planned (torch errors at run time; see `batchnormRowsError`).
 *
 * The training ops reduce each feature's B values in one of two forms (`batchnormReduction`):
 *   single  one thread per feature over all B rows, one dispatch: right on software adapters (a few CPU cores run
 *           the threads), and on GPUs with many features or few rows.
 *   split   K chunks of ≈ √B rows per feature, a thread for each (feature, chunk), two dispatches (partial sums,
 *           then merge-and-apply): on GPUs with few features and many rows, where F threads of 4·B dependent loads
 *           and stores each leave most of the GPU idle (784-256-bn @ 1024: 256 threads on 4 workgroups).
 */
import src from '../../shaders/batchnorm.wgsl';
import { defineKernel, type Engine, type KernelDef, type Resource, type UniformBuffer } from '../gpu/index.js';
import { BATCHNORM_DEFAULTS, batchnormRowsError, type BatchNormOptions } from '../ref/batchnorm.js';
import { describeReduction, planReduction, type BatchNormForm, type BatchNormReductionPlan } from './batchnorm-reduction.js';
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

export const batchnormForwardPartialKernel = defineKernel({
  label: 'batchnorm.forward_partial',
  files,
  entry: 'forward_partial',
  bindings: { p: 'uniform', x: 'read', part_out: 'read_write' },
});

export const batchnormForwardApplyKernel = defineKernel({
  label: 'batchnorm.forward_apply',
  files,
  entry: 'forward_apply',
  bindings: { p: 'uniform', x: 'read', y: 'read_write', gamma: 'read', beta: 'read', running: 'read_write', saved: 'read_write', part_in: 'read' },
});

export const batchnormBackwardPartialKernel = defineKernel({
  label: 'batchnorm.backward_partial',
  files,
  entry: 'backward_partial',
  bindings: { p: 'uniform', x: 'read', dy: 'read', saved_stats: 'read', part_out: 'read_write' },
});

export const batchnormBackwardApplyKernel = defineKernel({
  label: 'batchnorm.backward_apply',
  files,
  entry: 'backward_apply',
  bindings: {
    p: 'uniform', x: 'read', dy: 'read', gamma: 'read', saved_stats: 'read', dx: 'read_write', dgamma: 'read_write', dbeta: 'read_write', part_in: 'read',
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

/**
 * `reduction`: how the training ops reduce a feature (module header): default 'split' on GPUs for B ≥
 * BN1D_MIN_SPLIT_ROWS rows and F < BN1D_SPLIT_INVOCATIONS features, else 'single' (always on software adapters);
 * `setBatchNormReduction` forces it per engine. `chunks`: of rows, default `batchnormSplitChunks`.
 */
interface Shape extends BatchNormForm {
  /** B */
  rows: number;
  /** F */
  features: number;
}

/** Threads the split form aims for: 512 workgroups of 64, ≈ 4 per multiprocessor of a 132-SM H200. */
export const BN1D_SPLIT_INVOCATIONS = 512 * WG;
/**
 * Fewest rows for the automatic split. A single-form thread runs 4·B dependent loads and stores; a split one runs
 * 4·L of its chunk plus 2·K of the merge, ≈ 6·√B. At B = 64 that is 256 against 48, a gap of about what the extra
 * dispatch costs (microseconds); below it the single form stays. An estimate: no GPU has run the split yet.
 */
export const BN1D_MIN_SPLIT_ROWS = 64;

/**
 * Chunks of rows for the split form unless the op asks: ⌊√B⌋ (chunks of ≈ √B rows balance the merge's 2·K loads
 * against the chunk's own), no more than BN1D_SPLIT_INVOCATIONS threads need, at least 2 (a forced split).
 */
export function batchnormSplitChunks(rows: number, features: number): number {
  const natural = Math.min(Math.floor(Math.sqrt(rows)), Math.ceil(BN1D_SPLIT_INVOCATIONS / features));
  return Math.min(rows, Math.max(2, natural));
}

/** The reduction the training ops of this shape use on `engine` (module header; `Shape.reduction`). */
export function batchnormReduction(engine: Engine, o: Shape): BatchNormReductionPlan {
  const splits = o.rows >= BN1D_MIN_SPLIT_ROWS && o.features < BN1D_SPLIT_INVOCATIONS;
  return planReduction('BatchNorm1d', engine, o, o.rows, splits, batchnormSplitChunks(o.rows, o.features));
}

/** One planned BatchNorm1d dispatch; bind group and uniforms built once, `encode` records it. */
export class BatchNormOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    private readonly minRows: number,
    /** B fixed at plan time; `setRows` may only lower it. */
    readonly capacity: number,
    /** How the op reduces each feature; null for forwardEval, which reduces nothing. */
    readonly reduction: BatchNormReductionPlan | null = null,
    private readonly owned: GPUBuffer[] = [],
  ) {}

  /** The reduction, for profiles: 'single' or 'split K×L' (K chunks of L rows, planned for `capacity` rows). */
  get detail(): string | undefined {
    return this.reduction ? describeReduction(this.reduction) : undefined;
  }

  /** The split form's dispatch pair over a ceil(F / WG) × K grid, and its partials [K·F] vec4 (owned by the op). */
  private static async split(
    engine: Engine, o: Shape & BatchNormOptions, plan: BatchNormReductionPlan,
    partialDef: KernelDef, applyDef: KernelDef, partialBindings: Record<string, Resource>, applyBindings: Record<string, Resource>,
  ): Promise<BatchNormOp> {
    const [kp, ka] = await Promise.all([engine.kernel(partialDef, { WG }), engine.kernel(applyDef, { WG })]);
    const u = uniforms(ka.uniforms('p'), o, plan);
    const part = engine.storage('batchnorm.partials', plan.chunks * o.features * 16);
    const bgp = kp.bind({ p: u.buffer, ...partialBindings, part_out: part });
    const bga = ka.bind({ p: u.buffer, ...applyBindings, part_in: part });
    const groups = Math.ceil(o.features / WG);
    const dispatch = (pass: GPUComputePassEncoder) => {
      kp.dispatch(pass, bgp, groups, plan.chunks);
      ka.dispatch(pass, bga, groups, plan.chunks);
    };
    return new BatchNormOp(dispatch, u, 2, o.rows, plan, [part]);
  }

  /** Training forward: y [B,F] = x̂·γ + β from batch statistics; saved ← (mean, invstd); running ← updated. */
  static async forwardTrain(
    engine: Engine,
    o: Shape & BatchNormOptions & { x: Resource; y: Resource; gamma: Resource; beta: Resource; running: Resource; saved: Resource },
  ): Promise<BatchNormOp> {
    if (o.rows < 2) throw new RangeError(batchnormRowsError(o.rows));
    const n = o.rows * o.features;
    const F = o.features;
    checkSizes('BatchNormOp.forwardTrain', o.rows, F, { x: [o.x, n], y: [o.y, n], gamma: [o.gamma, F], beta: [o.beta, F], running: [o.running, 2 * F], saved: [o.saved, 2 * F] });
    const plan = batchnormReduction(engine, o);
    const io = { x: o.x, y: o.y, gamma: o.gamma, beta: o.beta, running: o.running, saved: o.saved };
    if (plan.form === 'split') return BatchNormOp.split(engine, o, plan, batchnormForwardPartialKernel, batchnormForwardApplyKernel, { x: o.x }, io);
    const k = await engine.kernel(batchnormForwardTrainKernel, { WG });
    const u = uniforms(k.uniforms('p'), o, plan);
    const bg = k.bind({ p: u.buffer, ...io });
    const groups = Math.ceil(F / WG);
    return new BatchNormOp((pass) => k.dispatch1d(pass, bg, groups), u, 2, o.rows, plan);
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
    const u = uniforms(k.uniforms('p'), o, null);
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
    const plan = batchnormReduction(engine, o);
    const io = { x: o.x, dy: o.dy, gamma: o.gamma, saved_stats: o.saved, dx: o.dx, dgamma: o.dgamma, dbeta: o.dbeta };
    if (plan.form === 'split') {
      return BatchNormOp.split(engine, o, plan, batchnormBackwardPartialKernel, batchnormBackwardApplyKernel, { x: o.x, dy: o.dy, saved_stats: o.saved }, io);
    }
    const k = await engine.kernel(batchnormBackwardKernel, { WG });
    const u = uniforms(k.uniforms('p'), o, plan);
    const bg = k.bind({ p: u.buffer, ...io });
    const groups = Math.ceil(F / WG);
    return new BatchNormOp((pass) => k.dispatch1d(pass, bg, groups), u, 2, o.rows, plan);
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
    for (const b of this.owned) b.destroy();
  }
}

function uniforms(u: UniformBuffer, o: Shape & BatchNormOptions, plan: BatchNormReductionPlan | null): UniformBuffer {
  const eps = o.eps ?? BATCHNORM_DEFAULTS.eps;
  const momentum = o.momentum ?? BATCHNORM_DEFAULTS.momentum;
  if (!(eps > 0)) throw new RangeError(`BatchNorm: eps ${eps} must be > 0`);
  if (!(momentum >= 0 && momentum <= 1)) throw new RangeError(`BatchNorm: momentum ${momentum} must be in [0, 1] (momentum = None is not supported)`);
  u.set({ rows: o.rows, features: o.features, eps, momentum, chunk: plan?.chunk ?? 0 });
  u.write();
  return u;
}
