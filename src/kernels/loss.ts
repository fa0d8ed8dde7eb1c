/**
 * Mean squared error and binary cross-entropy with logits on the GPU: the TypeScript side of shaders/loss.wgsl (math,
 * shapes and caveats in its header). Per-row losses and flags have the layout `MetricsOp` (kernels/softmax.ts)
 * accumulates, so a training step is LossOp + MetricsOp: two dispatches, no readback.
 */
import src from '../../shaders/loss.wgsl';
import { defineKernel, type Engine, type Kernel, type UniformBuffer } from '../gpu/index.js';
import type { LossKind } from '../shared.js';

export type { LossKind } from '../shared.js';

const files = [{ file: 'loss.wgsl', text: src }];
const fwdBindings = { p: 'uniform', pred: 'read', targets: 'read', loss: 'read_write', flags: 'read_write' } as const;
const trainBindings = { ...fwdBindings, grad: 'read_write' } as const;

export const lossKernels = {
  mse: {
    forward: defineKernel({ label: 'loss.mse_forward', files, entry: 'mse_forward', bindings: fwdBindings }),
    train: defineKernel({ label: 'loss.mse_train', files, entry: 'mse_train', bindings: trainBindings }),
  },
  bce: {
    forward: defineKernel({ label: 'loss.bce_forward', files, entry: 'bce_forward', bindings: fwdBindings }),
    train: defineKernel({ label: 'loss.bce_train', files, entry: 'bce_train', bindings: trainBindings }),
  },
} as const;

/** Rows per workgroup (one invocation per row). */
const WG = 64;

/**
 * A planned loss over a rows×cols prediction (`pred`: outputs for mse, logits for bce) and float targets of the same
 * shape: writes per-row loss and flags, and with `grad` also ∂(scale · Σ loss)/∂pred. `scale` defaults to 1/rows.
 */
export class LossOp {
  private constructor(
    private readonly kernel: Kernel,
    private readonly group: GPUBindGroup,
    private readonly uniforms: UniformBuffer,
    private rows: number,
  ) {}

  static async plan(
    engine: Engine,
    o: {
      kind: LossKind;
      rows: number;
      cols: number;
      pred: GPUBuffer;
      targets: GPUBuffer;
      loss: GPUBuffer;
      flags: GPUBuffer;
      grad?: GPUBuffer;
      scale?: number;
    },
  ): Promise<LossOp> {
    const defs = lossKernels[o.kind];
    if (!defs) throw new Error(`unknown loss '${o.kind}' (known: ${Object.keys(lossKernels).join(', ')})`);
    if (!Number.isInteger(o.rows) || o.rows < 0) throw new RangeError(`LossOp: rows must be a non-negative integer, got ${o.rows}`);
    if (!Number.isInteger(o.cols) || o.cols < 1) throw new RangeError(`LossOp: cols must be a positive integer, got ${o.cols}`);
    const k = await engine.kernel(o.grad ? defs.train : defs.forward, { WG });
    const u = k.uniforms('p').set({ rows: o.rows, cols: o.cols, scale: o.scale ?? 1 / Math.max(o.rows, 1) });
    u.write();
    const res: Record<string, GPUBuffer> = { p: u.buffer, pred: o.pred, targets: o.targets, loss: o.loss, flags: o.flags };
    if (o.grad) res.grad = o.grad;
    return new LossOp(k, k.bind(res), u, o.rows);
  }

  /** Batch size (≤ the planned buffers) and gradient scale (default 1/rows) of later submits; call between submits. */
  setBatch(rows: number, scale = 1 / Math.max(rows, 1)): void {
    this.rows = rows;
    this.uniforms.set({ rows, scale }).write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch1d(pass, this.group, Math.ceil(this.rows / WG));
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}
