/**
 * Row softmax family on the GPU: the TypeScript side of shaders/softmax.wgsl (math, shapes and the out-of-range
 * label rule are in its header). Planned ops: bind groups and uniforms are made once; `encode(pass)` only records
 * dispatches, so a training step does no readback.
 *
 *   const xent = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits, labels, loss, flags, dlogits });
 *   const metrics = createMetricsBuffer(e);
 *   const acc = await MetricsOp.plan(e, { rows: B, loss, flags, metrics });
 *   e.run('step', (pass) => { ...; xent.encode(pass); acc.encode(pass); ... });   // 2 dispatches
 *   ... every N steps: await readMetrics(e, metrics) → { lossSum, correct, rows, invalid, batches, meanLoss, accuracy }
 */
import src from '../../shaders/softmax.wgsl';
import { defineKernel, UniformBlock, type Engine, type Kernel, type StructLayout, type UniformBuffer } from '../gpu/index.js';
import type { MetricsValues } from '../ref/softmax.js';

export { INVALID_FLAG } from '../ref/softmax.js';

const files = [{ file: 'softmax.wgsl', text: src }];

export const softmaxForwardKernel = defineKernel({
  label: 'softmax.forward',
  files,
  entry: 'softmax_forward',
  bindings: { p: 'uniform', z: 'read', y: 'read_write' },
});

export const logSoftmaxForwardKernel = defineKernel({
  label: 'softmax.log_forward',
  files,
  entry: 'log_softmax_forward',
  bindings: { p: 'uniform', z: 'read', y: 'read_write' },
});

export const softmaxBackwardKernel = defineKernel({
  label: 'softmax.backward',
  files,
  entry: 'softmax_backward',
  bindings: { p: 'uniform', sm: 'read', dy: 'read', dz: 'read_write' },
});

export const logSoftmaxBackwardKernel = defineKernel({
  label: 'softmax.log_backward',
  files,
  entry: 'log_softmax_backward',
  bindings: { p: 'uniform', sm: 'read', dy: 'read', dz: 'read_write' },
});

export const xentForwardKernel = defineKernel({
  label: 'softmax.xent_forward',
  files,
  entry: 'xent_forward',
  bindings: { p: 'uniform', z: 'read', labels: 'read', loss: 'read_write', flags: 'read_write' },
});

export const xentTrainKernel = defineKernel({
  label: 'softmax.xent_train',
  files,
  entry: 'xent_train',
  bindings: { p: 'uniform', z: 'read', labels: 'read', loss: 'read_write', flags: 'read_write', dz: 'read_write' },
});

export const metricsKernel = defineKernel({
  label: 'softmax.metrics_accumulate',
  files,
  entry: 'metrics_accumulate',
  bindings: { mp: 'uniform', row_loss: 'read', row_flags: 'read', metrics: 'read_write' },
});

/** Rows per workgroup (one invocation per row). */
const WG = 64;
/** Invocations of the single metrics workgroup (a power of two): fewer on software adapters, where barriers are slow. */
function metricsWorkgroup(engine: Engine): number {
  return engine.software ? 16 : 64;
}

function checkShape(what: string, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`${what}: rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(cols) || cols < 1) throw new RangeError(`${what}: cols must be a positive integer, got ${cols}`);
}

/** A planned row-wise op: one dispatch of ceil(rows / WG) workgroups. */
class RowOp {
  constructor(
    protected readonly kernel: Kernel,
    protected readonly group: GPUBindGroup,
    protected readonly uniforms: UniformBuffer,
    protected rows: number,
  ) {}

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch1d(pass, this.group, Math.ceil(this.rows / WG));
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

/** y = softmax(z) or log_softmax(z) over each row of a rows×cols matrix; backward from the forward output. */
export class SoftmaxOp extends RowOp {
  static async forward(
    engine: Engine,
    o: { rows: number; cols: number; x: GPUBuffer; y: GPUBuffer; log?: boolean },
  ): Promise<SoftmaxOp> {
    checkShape('SoftmaxOp.forward', o.rows, o.cols);
    const k = await engine.kernel(o.log ? logSoftmaxForwardKernel : softmaxForwardKernel, { WG });
    const u = k.uniforms('p').set({ rows: o.rows, cols: o.cols, scale: 1 });
    u.write();
    return new SoftmaxOp(k, k.bind({ p: u.buffer, z: o.x, y: o.y }), u, o.rows);
  }

  /** dx from dy and the forward's output y (softmax: y ⊙ (dy − ⟨dy, y⟩); log_softmax: dy − exp(y) Σ dy). */
  static async backward(
    engine: Engine,
    o: { rows: number; cols: number; y: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer; log?: boolean },
  ): Promise<SoftmaxOp> {
    checkShape('SoftmaxOp.backward', o.rows, o.cols);
    const k = await engine.kernel(o.log ? logSoftmaxBackwardKernel : softmaxBackwardKernel, { WG });
    const u = k.uniforms('p').set({ rows: o.rows, cols: o.cols, scale: 1 });
    u.write();
    return new SoftmaxOp(k, k.bind({ p: u.buffer, sm: o.y, dy: o.dy, dz: o.dx }), u, o.rows);
  }
}

/**
 * Fused softmax cross-entropy with u32 labels: writes per-row loss and flags (1 = argmax correct, 0 = wrong,
 * INVALID_FLAG = label out of range), and with `dlogits` also dz = (softmax(z) − onehot(label)) · scale.
 * `scale` defaults to 1/rows (mean over the batch).
 */
export class CrossEntropyOp extends RowOp {
  static async plan(
    engine: Engine,
    o: {
      rows: number;
      cols: number;
      logits: GPUBuffer;
      labels: GPUBuffer;
      loss: GPUBuffer;
      flags: GPUBuffer;
      dlogits?: GPUBuffer;
      scale?: number;
    },
  ): Promise<CrossEntropyOp> {
    checkShape('CrossEntropyOp', o.rows, o.cols);
    const train = o.dlogits !== undefined;
    const k = await engine.kernel(train ? xentTrainKernel : xentForwardKernel, { WG });
    const u = k.uniforms('p').set({ rows: o.rows, cols: o.cols, scale: o.scale ?? 1 / Math.max(o.rows, 1) });
    u.write();
    const res: Record<string, GPUBuffer> = { p: u.buffer, z: o.logits, labels: o.labels, loss: o.loss, flags: o.flags };
    if (o.dlogits) res.dz = o.dlogits;
    return new CrossEntropyOp(k, k.bind(res), u, o.rows);
  }

  /**
   * Changes the batch size (≤ the planned buffers) and gradient scale (default 1/rows) for later submits — e.g. a
   * partial last batch. Uniform writes are ordered with queue submissions, so call it between submits.
   */
  setBatch(rows: number, scale = 1 / Math.max(rows, 1)): void {
    this.rows = rows;
    this.uniforms.set({ rows, scale }).write();
  }
}

/**
 * Accumulates a batch's per-row losses and flags into the persistent metrics struct (one workgroup, one dispatch).
 * Works for the outputs of CrossEntropyOp and LossOp alike.
 */
export class MetricsOp {
  private constructor(
    private readonly kernel: Kernel,
    private readonly group: GPUBindGroup,
    private readonly uniforms: UniformBuffer,
  ) {}

  static async plan(engine: Engine, o: { rows: number; loss: GPUBuffer; flags: GPUBuffer; metrics: GPUBuffer }): Promise<MetricsOp> {
    const k = await engine.kernel(metricsKernel, { MWG: metricsWorkgroup(engine) });
    const u = k.uniforms('mp').set({ rows: o.rows });
    u.write();
    return new MetricsOp(k, k.bind({ mp: u.buffer, row_loss: o.loss, row_flags: o.flags, metrics: o.metrics }), u);
  }

  /** Rows of the next batches (a partial last batch); call between submits. */
  setRows(rows: number): void {
    this.uniforms.set({ rows }).write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch(pass, this.group, 1);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

/** Byte layout of the `Metrics` struct, reflected from the shader. */
export function metricsLayout(engine: Engine): StructLayout {
  const s = engine.reflect(metricsKernel).structs['Metrics'];
  if (!s) throw new Error('softmax.wgsl: struct Metrics not found');
  return s;
}

/** A zeroed metrics buffer. Zero it again with `resetMetrics` to start a new window. */
export function createMetricsBuffer(engine: Engine, label = 'metrics'): GPUBuffer {
  return engine.storage(label, metricsLayout(engine).size);
}

export function resetMetrics(encoder: GPUCommandEncoder, metrics: GPUBuffer): void {
  encoder.clearBuffer(metrics);
}

export interface MetricsReadout extends MetricsValues {
  /** lossSum / rows (NaN when rows = 0) */
  meanLoss: number;
  /** correct / rows: accuracy for cross-entropy; for binary cross-entropy divide by rows·cols instead */
  accuracy: number;
}

/** Reads the metrics struct back (for logging every N steps — not inside a step). */
export async function readMetrics(engine: Engine, metrics: GPUBuffer): Promise<MetricsReadout> {
  const layout = metricsLayout(engine);
  const b = new UniformBlock(layout, await engine.read(metrics, 0, layout.size));
  const lossSum = b.get('loss_hi') + b.get('loss_lo');
  const rows = b.get('rows');
  const correct = b.get('correct');
  return {
    lossSum,
    correct,
    rows,
    invalid: b.get('invalid'),
    batches: b.get('batches'),
    meanLoss: rows > 0 ? lossSum / rows : NaN,
    accuracy: rows > 0 ? correct / rows : NaN,
  };
}
