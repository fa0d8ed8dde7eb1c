/**
 * Mini-batch gather on the GPU: the TypeScript side of shaders/batch.wgsl (see its header for the math and bindings).
 *
 * The dataset is uploaded once (`uploadU8Dataset` / `uploadF32Dataset`), each epoch's permutation once per epoch
 * (`engine.write(perm, ...)`), and each step the host writes only `stepinfo` ([0] step, [1] start = position of the
 * batch's first row in the permutation). `BatchGatherOp.encode` records one dispatch that reads `stepinfo`, so the
 * planned op never changes between steps. The last partial batch of an epoch needs nothing from the host: the shader
 * fills count = min(B, L − start) rows and zeroes the rest (`setBatch` lowers the rows filled explicitly if a caller
 * prefers).
 */
import src from '../../shaders/batch.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer, resourceBytes } from '../gpu/index.js';

const files = [{ file: 'batch.wgsl', text: src }];

export const gatherU8Kernel = defineKernel({
  label: 'batch.gather_u8',
  files,
  entry: 'gather_u8',
  bindings: { p: 'uniform', stepinfo: 'read', perm: 'read', images: 'read', label_data: 'read', x: 'read_write', labels: 'read_write' },
});

export const gatherF32Kernel = defineKernel({
  label: 'batch.gather_f32',
  files,
  entry: 'gather_f32',
  bindings: { p: 'uniform', stepinfo: 'read', perm: 'read', data: 'read', target_data: 'read', x: 'read_write', targets: 'read_write' },
});

export const gatherF32LabelsKernel = defineKernel({
  label: 'batch.gather_f32_labels',
  files,
  entry: 'gather_f32_labels',
  bindings: { p: 'uniform', stepinfo: 'read', perm: 'read', data: 'read', label_data: 'read', x: 'read_write', labels: 'read_write' },
});

/** MNIST's usual normalisation, (v/255 − 0.1307)/0.3081, as x = v·scale + shift. */
export const MNIST_NORMALIZATION = { scale: 1 / (255 * 0.3081), shift: -0.1307 / 0.3081 } as const;

const WG = 64;
const U32_LIMIT = 2 ** 32;

/** A u8 dataset on the GPU: N rows of D bytes (packed 4 per u32) and N u32 labels. */
export interface U8Dataset {
  images: GPUBuffer;
  labels: GPUBuffer;
  rows: number;
  dim: number;
}

/** A float dataset on the GPU: N×D inputs and N×K targets, f32. */
export interface F32Dataset {
  data: GPUBuffer;
  targets: GPUBuffer;
  rows: number;
  dim: number;
  targetDim: number;
}

function checkShape(what: string, rows: number, dim: number): void {
  if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`${what}: row count ${rows} must be a positive integer`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${what}: row width ${dim} must be a positive integer`);
  if (rows * dim >= U32_LIMIT) throw new RangeError(`${what}: ${rows}×${dim} elements exceed the u32 indexing of the gather kernel`);
}

/** Uploads N×D bytes (row-major) and N labels once; the buffers live until destroyed. */
export function uploadU8Dataset(engine: Engine, images: Uint8Array, labels: Uint32Array | ArrayLike<number>, dim: number, label = 'dataset'): U8Dataset {
  const rows = labels.length;
  checkShape('uploadU8Dataset', rows, dim);
  if (images.length !== rows * dim) throw new RangeError(`uploadU8Dataset: ${images.length} bytes ≠ ${rows} labels × ${dim} bytes per row`);
  // engine.buffer rounds the size up to 4 bytes; the tail bytes of the last word are zero and never read.
  return {
    images: engine.storage(`${label}.images`, images),
    labels: engine.storage(`${label}.labels`, Uint32Array.from(labels)),
    rows,
    dim,
  };
}

/** A float dataset with class labels on the GPU: N×D f32 inputs and N u32 labels. */
export interface F32LabelDataset {
  data: GPUBuffer;
  labels: GPUBuffer;
  rows: number;
  dim: number;
}

/** Uploads N×D f32 inputs and N class labels once. */
export function uploadF32LabelDataset(engine: Engine, data: Float32Array, labels: ArrayLike<number>, dim: number, label = 'dataset'): F32LabelDataset {
  const rows = labels.length;
  checkShape('uploadF32LabelDataset', rows, dim);
  if (data.length !== rows * dim) throw new RangeError(`uploadF32LabelDataset: ${data.length} values ≠ ${rows} labels × ${dim} per row`);
  return { data: engine.storage(`${label}.data`, data), labels: engine.storage(`${label}.labels`, Uint32Array.from(labels)), rows, dim };
}

/** Uploads N×D f32 inputs and N×K f32 targets once. */
export function uploadF32Dataset(engine: Engine, data: Float32Array, targets: Float32Array, dim: number, targetDim: number, label = 'dataset'): F32Dataset {
  const rows = data.length / dim;
  checkShape('uploadF32Dataset', rows, dim);
  checkShape('uploadF32Dataset targets', rows, targetDim);
  if (targets.length !== rows * targetDim) throw new RangeError(`uploadF32Dataset: ${targets.length} targets ≠ ${rows} rows × ${targetDim}`);
  return { data: engine.storage(`${label}.data`, data), targets: engine.storage(`${label}.targets`, targets), rows, dim, targetDim };
}

function need(what: string, r: Resource, bytes: number): void {
  if (resourceBytes(r) < bytes) throw new RangeError(`BatchGatherOp: ${what} holds ${resourceBytes(r)} bytes, needs ${bytes}`);
}

interface CommonOptions {
  /** Permutation of row indices (u32[permLen]), rewritten by the host once per epoch. */
  perm: Resource;
  /** L, the permutation's length (normally N). */
  permLen: number;
  /** u32 [≥ 2]: [0] global step, [1] start offset into the permutation; written by the host each step. */
  stepinfo: Resource;
  /** B, rows of the batch buffers. */
  batch: number;
  /** f32 [B·D], written. */
  x: Resource;
}

/** One planned gather: bind group and uniforms built once; `encode` records one dispatch. */
export class BatchGatherOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    /** B fixed at plan time: the dispatch covers it, `setBatch` may only lower the rows filled. */
    readonly capacity: number,
  ) {}

  /** x[b, d] = byte·scale + shift, labels[b] = label[r] (the u8 dataset of `uploadU8Dataset`). */
  static async u8(
    engine: Engine,
    o: CommonOptions & { dataset: U8Dataset; labels: Resource; scale: number; shift: number },
  ): Promise<BatchGatherOp> {
    const { dataset: ds } = o;
    checkCommon(o, ds.rows, ds.dim);
    need('labels', o.labels, o.batch * 4);
    const k = await engine.kernel(gatherU8Kernel, { WG });
    const u = k.uniforms('p').set({ batch: o.batch, fill: o.batch, dim: ds.dim, target_dim: 0, perm_len: o.permLen, rows: ds.rows, scale: o.scale, shift: o.shift });
    u.write();
    const bg = k.bind({ p: u.buffer, stepinfo: o.stepinfo, perm: o.perm, images: ds.images, label_data: ds.labels, x: o.x, labels: o.labels });
    const groups = Math.ceil((o.batch * ds.dim) / WG);
    return new BatchGatherOp((pass) => k.dispatch1d(pass, bg, groups), u, o.batch);
  }

  /** x[b, :] = data[r, :], targets[b, :] = target_data[r, :] (the float dataset of `uploadF32Dataset`). */
  static async f32(engine: Engine, o: CommonOptions & { dataset: F32Dataset; targets: Resource }): Promise<BatchGatherOp> {
    const { dataset: ds } = o;
    checkCommon(o, ds.rows, ds.dim);
    need('targets', o.targets, o.batch * ds.targetDim * 4);
    if (o.batch * (ds.dim + ds.targetDim) >= U32_LIMIT) throw new RangeError('BatchGatherOp: batch too large for u32 indexing');
    const k = await engine.kernel(gatherF32Kernel, { WG });
    const u = k.uniforms('p').set({ batch: o.batch, fill: o.batch, dim: ds.dim, target_dim: ds.targetDim, perm_len: o.permLen, rows: ds.rows, scale: 1, shift: 0 });
    u.write();
    const bg = k.bind({ p: u.buffer, stepinfo: o.stepinfo, perm: o.perm, data: ds.data, target_data: ds.targets, x: o.x, targets: o.targets });
    const groups = Math.ceil((o.batch * (ds.dim + ds.targetDim)) / WG);
    return new BatchGatherOp((pass) => k.dispatch1d(pass, bg, groups), u, o.batch);
  }

  /** x[b, :] = data[r, :], labels[b] = label[r] (the float dataset with labels of `uploadF32LabelDataset`). */
  static async f32Labels(engine: Engine, o: CommonOptions & { dataset: F32LabelDataset; labels: Resource }): Promise<BatchGatherOp> {
    const { dataset: ds } = o;
    checkCommon(o, ds.rows, ds.dim);
    need('labels', o.labels, o.batch * 4);
    const k = await engine.kernel(gatherF32LabelsKernel, { WG });
    const u = k.uniforms('p').set({ batch: o.batch, fill: o.batch, dim: ds.dim, target_dim: 0, perm_len: o.permLen, rows: ds.rows, scale: 1, shift: 0 });
    u.write();
    const bg = k.bind({ p: u.buffer, stepinfo: o.stepinfo, perm: o.perm, data: ds.data, label_data: ds.labels, x: o.x, labels: o.labels });
    const groups = Math.ceil((o.batch * ds.dim) / WG);
    return new BatchGatherOp((pass) => k.dispatch1d(pass, bg, groups), u, o.batch);
  }

  /**
   * Fills only the first `count` rows (≤ the planned B) from now on and zeroes the rest; the upload is ordered before
   * the next submit. Not needed for the last partial batch of an epoch (the shader clamps to L − start itself).
   */
  setBatch(count: number): void {
    if (!Number.isInteger(count) || count < 0 || count > this.capacity) {
      throw new RangeError(`BatchGatherOp.setBatch: ${count} must be an integer in [0, ${this.capacity}] (the planned batch)`);
    }
    this.uniforms.set({ fill: count }).write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

function checkCommon(o: CommonOptions, rows: number, dim: number): void {
  if (!Number.isInteger(o.batch) || o.batch < 1) throw new RangeError(`BatchGatherOp: batch ${o.batch} must be a positive integer`);
  if (!Number.isInteger(o.permLen) || o.permLen < 1 || o.permLen >= U32_LIMIT) throw new RangeError(`BatchGatherOp: permLen ${o.permLen} must be a positive u32`);
  checkShape('BatchGatherOp', rows, dim);
  if (o.batch * dim >= U32_LIMIT) throw new RangeError(`BatchGatherOp: batch ${o.batch} × ${dim} exceeds u32 indexing`);
  need('perm', o.perm, o.permLen * 4);
  need('stepinfo', o.stepinfo, 8);
  need('x', o.x, o.batch * dim * 4);
}
