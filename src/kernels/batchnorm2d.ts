/**
 * BatchNorm2d on the GPU: the TypeScript side of shaders/batchnorm2d.wgsl (header: math, shapes, bindings).
 * Three planned ops:
 *   BatchNorm2dOp.forwardTrain  y from the batch statistics of each channel; saves (mean, invstd); updates running
 *   BatchNorm2dOp.forwardEval   y from the running statistics
 *   BatchNorm2dOp.backward      dx, and dγ, dβ WRITTEN
 * Both forwards may apply the next layer's activation (`epilogue`: out = act(y), y kept for that activation's
 * backward). γ, β, dγ, dβ, running may be ranges of the flat buffers. Training with N·H·W = 1 is rejected.
 *
 * The training ops reduce each channel's m = N·H·W values in one of two forms (`batchnorm2dReduction`):
 *   single  one workgroup per channel, one dispatch. Right where C workgroups fill the adapter: software adapters
 *           (their "multiprocessors" are the few CPU cores), and GPUs with many channels or few values per channel.
 *   split   K chunks per channel, a K × C grid, two dispatches (partial sums, then merge-and-apply): on GPUs with
 *           few channels and many values (the CNN preset: C = 32, m = 100,352 at batch 128, i.e. 32 workgroups on a
 *           132-multiprocessor H200, each streaming 100K values three times in a row).
 */
import src from '../../shaders/batchnorm2d.wgsl';
import { defineKernel, type Engine, type KernelDef, type Resource, type UniformBuffer } from '../gpu/index.js';
import { BATCHNORM_DEFAULTS } from '../ref/batchnorm.js';
import { activationCode, defaultAlpha, type Activation } from '../shared.js';
import { ACTIVATION_FNS_FILE } from './activation.js';
import { describeReduction, planReduction, type BatchNormForm, type BatchNormReductionPlan } from './batchnorm-reduction.js';
import { checkElements } from './sizes.js';

const files = [ACTIVATION_FNS_FILE, { file: 'batchnorm2d.wgsl', text: src }];

export const batchnorm2dForwardTrainKernel = defineKernel({
  label: 'batchnorm2d.forward_train',
  files,
  entry: 'forward_train',
  bindings: { p: 'uniform', x_in: 'read', y: 'read_write', out: 'read_write', gamma: 'read', beta: 'read', running: 'read_write', saved: 'read_write' },
});
export const batchnorm2dForwardPartialKernel = defineKernel({
  label: 'batchnorm2d.forward_partial',
  files,
  entry: 'forward_partial',
  bindings: { p: 'uniform', x_in: 'read', part_out: 'read_write' },
});
export const batchnorm2dForwardApplyKernel = defineKernel({
  label: 'batchnorm2d.forward_apply',
  files,
  entry: 'forward_apply',
  bindings: { p: 'uniform', x_in: 'read', y: 'read_write', out: 'read_write', gamma: 'read', beta: 'read', running: 'read_write', saved: 'read_write', part_in: 'read' },
});
export const batchnorm2dForwardEvalKernel = defineKernel({
  label: 'batchnorm2d.forward_eval',
  files,
  entry: 'forward_eval',
  bindings: { p: 'uniform', x_in: 'read', y: 'read_write', out: 'read_write', gamma: 'read', beta: 'read', running_stats: 'read' },
});
export const batchnorm2dBackwardKernel = defineKernel({
  label: 'batchnorm2d.backward',
  files,
  entry: 'backward',
  bindings: { p: 'uniform', x_in: 'read', dy: 'read', gamma: 'read', saved_stats: 'read', dx: 'read_write', dgamma: 'read_write', dbeta: 'read_write' },
});
export const batchnorm2dBackwardPartialKernel = defineKernel({
  label: 'batchnorm2d.backward_partial',
  files,
  entry: 'backward_partial',
  bindings: { p: 'uniform', x_in: 'read', dy: 'read', saved_stats: 'read', part_out: 'read_write' },
});
export const batchnorm2dBackwardApplyKernel = defineKernel({
  label: 'batchnorm2d.backward_apply',
  files,
  entry: 'backward_apply',
  bindings: { p: 'uniform', x_in: 'read', dy: 'read', gamma: 'read', saved_stats: 'read', dx: 'read_write', dgamma: 'read_write', dbeta: 'read_write', part_in: 'read' },
});

/**
 * Invocations per channel's workgroup. Software adapters run a workgroup's invocations as coroutines switched at
 * every barrier, so there the reduction tree's 2·log2(WG) barriers dominate: 64 made SwiftShader's forward and
 * backward 2.5–3× faster than 256 (N 16, C 32, 28×28).
 */
function workgroupSize(engine: Engine, o: BatchNorm2dShape): number {
  const wg = o.workgroupSize ?? (engine.software ? 64 : 256);
  if (!(Number.isInteger(wg) && wg >= 1 && wg <= 256 && (wg & (wg - 1)) === 0)) throw new RangeError(`BatchNorm2d: workgroupSize ${wg} must be a power of 2 ≤ 256`);
  return wg;
}

/**
 * `reduction`: how the training ops reduce a channel (module header): default 'split' on GPUs where ≥ 2 chunks of
 * BN2D_MIN_CHUNK values serve, else 'single' (always on software adapters); `setBatchNormReduction` forces it per
 * engine. `chunks`: per channel, default `batchnorm2dSplitChunks`.
 */
export interface BatchNorm2dShape extends BatchNormForm {
  /** N */
  batch: number;
  /** C */
  channels: number;
  /** H·W */
  plane: number;
  /** Invocations per channel's workgroup (a power of 2 ≤ 256); default 64 on software adapters, 256 on GPUs. */
  workgroupSize?: number;
}

/**
 * Workgroups the split form aims for in all: ≈ 4 per multiprocessor of a 132-SM H200 (WebGPU does not say how many a
 * GPU has; more costs one partial sum each, and a GPU of fewer multiprocessors runs them in turn).
 */
export const BN2D_SPLIT_WORKGROUPS = 512;
/**
 * Fewest values a chunk gets from the automatic rule: 8 per invocation of a 256-wide workgroup. Below that a chunk's
 * fixed cost (four workgroup trees of 8 barriers each, its partial's store and the merge's loads) is as large as its
 * streaming, so more chunks stop paying. With ≥ 2 such chunks as the condition for splitting at all, the split starts
 * at m = 4096 values per channel: there the single form's invocation runs 3 passes of 16 dependent loads, about what
 * the extra dispatch and its barrier cost (microseconds on Vulkan); above it the single form's run grows with m while
 * the split's stays at ~m·C / 512 per workgroup. Estimates, not measurements: no GPU has run the split yet.
 */
export const BN2D_MIN_CHUNK = 2048;

/**
 * Chunks per channel of the split form, unless the op asks for some: enough for BN2D_SPLIT_WORKGROUPS workgroups over
 * the C channels, no chunk under BN2D_MIN_CHUNK values, at least 2 (a forced split) and at most m.
 */
export function batchnorm2dSplitChunks(channels: number, m: number): number {
  return Math.min(m, Math.max(2, naturalChunks(channels, m)));
}

/** The rule's chunk count before its floor of 2: the automatic split happens where it is ≥ 2. */
function naturalChunks(channels: number, m: number): number {
  return Math.min(Math.ceil(BN2D_SPLIT_WORKGROUPS / channels), Math.floor(m / BN2D_MIN_CHUNK));
}

/** The reduction the training ops of this shape use on `engine` (module header; `BatchNorm2dShape.reduction`). */
export function batchnorm2dReduction(engine: Engine, o: BatchNorm2dShape): BatchNormReductionPlan {
  const m = o.batch * o.plane;
  return planReduction('BatchNorm2d', engine, o, m, naturalChunks(o.channels, m) >= 2, batchnorm2dSplitChunks(o.channels, m));
}

export function batchnorm2dCountError(batch: number, plane: number): string {
  return (
    `BatchNorm2d in training needs more than 1 value per channel, got ${batch} example${batch === 1 ? '' : 's'} of ${plane} value${plane === 1 ? '' : 's'}: the ` +
    `unbiased running variance divides by N·H·W − 1 (torch raises "Expected more than 1 value per channel when training"). Use a batch of ≥ 2.`
  );
}

/** The next layer's activation, applied in the forward: out = act(y). */
export interface BatchNorm2dEpilogue {
  activation: Activation;
  alpha?: number;
  out: Resource;
}

function check(what: string, o: BatchNorm2dShape, buffers: Record<string, [Resource, number]>): void {
  for (const [name, v] of [['batch', o.batch], ['channels', o.channels], ['plane', o.plane]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${name} ${v} must be a positive integer`);
  }
  if (o.batch * o.channels * o.plane >= 2 ** 32) throw new RangeError(`${what}: ${o.batch}×${o.channels}×${o.plane} exceeds u32 indexing`);
  checkElements(what, buffers);
}

/** The `out` binding: the epilogue's buffer, or (never written without EPILOGUE) a 4-byte placeholder, owned by the op. */
function outBinding(engine: Engine, epi?: BatchNorm2dEpilogue): [Resource, GPUBuffer[]] {
  if (epi) return [epi.out, []];
  const b = engine.storage('batchnorm2d.out-unused', 4);
  return [b, [b]];
}

export class BatchNorm2dOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    private readonly owned: GPUBuffer[] = [],
    /** How the op reduces each channel; null for forwardEval, which reduces nothing. */
    readonly reduction: BatchNormReductionPlan | null = null,
  ) {}

  /** The reduction, for profiles: 'single' or 'split K×L' (K chunks of L values per channel). */
  get detail(): string | undefined {
    return this.reduction ? describeReduction(this.reduction) : undefined;
  }

  private static uniforms(
    u: UniformBuffer, o: BatchNorm2dShape & { eps?: number; momentum?: number }, plan: BatchNormReductionPlan | null, epi?: BatchNorm2dEpilogue,
  ): UniformBuffer {
    const eps = o.eps ?? BATCHNORM_DEFAULTS.eps;
    const momentum = o.momentum ?? BATCHNORM_DEFAULTS.momentum;
    if (!(eps > 0)) throw new RangeError(`BatchNorm2d: eps ${eps} must be > 0`);
    if (!(momentum >= 0 && momentum <= 1)) throw new RangeError(`BatchNorm2d: momentum ${momentum} must be in [0, 1]`);
    u.set({
      batch: o.batch, channels: o.channels, plane: o.plane, eps, momentum, act_alpha: epi ? (epi.alpha ?? defaultAlpha(epi.activation)) : 0,
      chunk: plan?.chunk ?? 0, chunks: plan?.chunks ?? 0,
    });
    u.write();
    return u;
  }

  private static overrides(engine: Engine, o: BatchNorm2dShape, epi?: BatchNorm2dEpilogue): Record<string, number> {
    return { WG: workgroupSize(engine, o), ACT: epi ? activationCode(epi.activation) : 0, EPILOGUE: epi ? 1 : 0 };
  }

  /**
   * The split form's dispatch pair over a K × C grid (partial sums, then merge-and-apply), sharing one uniform buffer,
   * and its partials [C·K] vec4 (owned by the op, with `owned`). `applyOverrides`: the apply kernel's (the forward's
   * carry the epilogue's activation); `epi` sets the uniforms' act_alpha.
   */
  private static async split(
    engine: Engine, o: BatchNorm2dShape & { eps?: number; momentum?: number }, plan: BatchNormReductionPlan,
    epi: BatchNorm2dEpilogue | undefined, owned: GPUBuffer[], applyOverrides: Record<string, number>,
    partialDef: KernelDef, applyDef: KernelDef, partialBindings: Record<string, Resource>, applyBindings: Record<string, Resource>,
  ): Promise<BatchNorm2dOp> {
    const [kp, ka] = await Promise.all([
      engine.kernel(partialDef, { WG: workgroupSize(engine, o) }),
      engine.kernel(applyDef, applyOverrides),
    ]);
    const u = BatchNorm2dOp.uniforms(ka.uniforms('p'), o, plan, epi);
    const part = engine.storage('batchnorm2d.partials', o.channels * plan.chunks * 16);
    const bgp = kp.bind({ p: u.buffer, ...partialBindings, part_out: part });
    const bga = ka.bind({ p: u.buffer, ...applyBindings, part_in: part });
    const K = plan.chunks;
    const C = o.channels;
    return new BatchNorm2dOp((pass) => {
      kp.dispatch(pass, bgp, K, C);
      ka.dispatch(pass, bga, K, C);
    }, u, [...owned, part], plan);
  }

  /** Training forward; `saved` ← (mean, invstd), `running` ← updated; with `epilogue`, out = act(y). */
  static async forwardTrain(
    engine: Engine,
    o: BatchNorm2dShape & { eps?: number; momentum?: number; x: Resource; y: Resource; gamma: Resource; beta: Resource; running: Resource; saved: Resource; epilogue?: BatchNorm2dEpilogue },
  ): Promise<BatchNorm2dOp> {
    if (o.batch * o.plane < 2) throw new RangeError(batchnorm2dCountError(o.batch, o.plane));
    const n = o.batch * o.channels * o.plane;
    const C = o.channels;
    check('BatchNorm2dOp.forwardTrain', o, {
      x: [o.x, n], y: [o.y, n], gamma: [o.gamma, C], beta: [o.beta, C], running: [o.running, 2 * C], saved: [o.saved, 2 * C],
      ...(o.epilogue ? { out: [o.epilogue.out, n] as [Resource, number] } : {}),
    });
    const plan = batchnorm2dReduction(engine, o);
    const io = (out: Resource) => ({ x_in: o.x, y: o.y, out, gamma: o.gamma, beta: o.beta, running: o.running, saved: o.saved });
    if (plan.form === 'single') {
      const k = await engine.kernel(batchnorm2dForwardTrainKernel, BatchNorm2dOp.overrides(engine, o, o.epilogue));
      const [out, owned] = outBinding(engine, o.epilogue);
      const u = BatchNorm2dOp.uniforms(k.uniforms('p'), o, null, o.epilogue);
      const bg = k.bind({ p: u.buffer, ...io(out) });
      return new BatchNorm2dOp((pass) => k.dispatch(pass, bg, C), u, owned, plan);
    }
    const [out, owned] = outBinding(engine, o.epilogue);
    return BatchNorm2dOp.split(
      engine, o, plan, o.epilogue, owned, BatchNorm2dOp.overrides(engine, o, o.epilogue),
      batchnorm2dForwardPartialKernel, batchnorm2dForwardApplyKernel, { x_in: o.x }, io(out),
    );
  }

  /** Evaluation forward from the running statistics; with `epilogue`, out = act(y). */
  static async forwardEval(
    engine: Engine,
    o: BatchNorm2dShape & { eps?: number; x: Resource; y: Resource; gamma: Resource; beta: Resource; running: Resource; epilogue?: BatchNorm2dEpilogue },
  ): Promise<BatchNorm2dOp> {
    const n = o.batch * o.channels * o.plane;
    const C = o.channels;
    check('BatchNorm2dOp.forwardEval', o, {
      x: [o.x, n], y: [o.y, n], gamma: [o.gamma, C], beta: [o.beta, C], running: [o.running, 2 * C],
      ...(o.epilogue ? { out: [o.epilogue.out, n] as [Resource, number] } : {}),
    });
    const k = await engine.kernel(batchnorm2dForwardEvalKernel, BatchNorm2dOp.overrides(engine, o, o.epilogue));
    const u = BatchNorm2dOp.uniforms(k.uniforms('p'), o, null, o.epilogue);
    const groups = Math.ceil(n / workgroupSize(engine, o));
    const [out, owned] = outBinding(engine, o.epilogue);
    const bg = k.bind({ p: u.buffer, x_in: o.x, y: o.y, out, gamma: o.gamma, beta: o.beta, running_stats: o.running });
    return new BatchNorm2dOp((pass) => k.dispatch1d(pass, bg, groups), u, owned);
  }

  /** Training backward from `saved` of the same step: dx; dγ, dβ written. */
  static async backward(
    engine: Engine,
    o: BatchNorm2dShape & { x: Resource; dy: Resource; gamma: Resource; saved: Resource; dx: Resource; dgamma: Resource; dbeta: Resource },
  ): Promise<BatchNorm2dOp> {
    if (o.batch * o.plane < 2) throw new RangeError(batchnorm2dCountError(o.batch, o.plane));
    const n = o.batch * o.channels * o.plane;
    const C = o.channels;
    check('BatchNorm2dOp.backward', o, {
      x: [o.x, n], dy: [o.dy, n], gamma: [o.gamma, C], saved: [o.saved, 2 * C], dx: [o.dx, n], dgamma: [o.dgamma, C], dbeta: [o.dbeta, C],
    });
    const plan = batchnorm2dReduction(engine, o);
    const WG = workgroupSize(engine, o);
    const io = { x_in: o.x, dy: o.dy, gamma: o.gamma, saved_stats: o.saved, dx: o.dx, dgamma: o.dgamma, dbeta: o.dbeta };
    if (plan.form === 'single') {
      const k = await engine.kernel(batchnorm2dBackwardKernel, { WG });
      const u = BatchNorm2dOp.uniforms(k.uniforms('p'), o, null);
      const bg = k.bind({ p: u.buffer, ...io });
      return new BatchNorm2dOp((pass) => k.dispatch(pass, bg, C), u, [], plan);
    }
    return BatchNorm2dOp.split(
      engine, o, plan, undefined, [], { WG },
      batchnorm2dBackwardPartialKernel, batchnorm2dBackwardApplyKernel, { x_in: o.x, dy: o.dy, saved_stats: o.saved }, io,
    );
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
    for (const b of this.owned) b.destroy();
  }
}
