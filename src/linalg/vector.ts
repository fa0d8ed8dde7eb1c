/**
 * The TypeScript side of shaders/vector.wgsl (math, passes and accuracy in its header): kernel declarations, the
 * shape of a two-pass reduction for a length, the error bound of its sums, coefficients, and `VectorSumOp`, a
 * standalone reduction with a fixed record (the problems use it for f = Σ terms).
 *
 * The GPU vector machine (gpu-machine.ts) uses the same kernels with a ring of per-dispatch records.
 */
import src from '../../shaders/vector.wgsl';
import { defineKernel, type Engine, type Kernel, type StructLayout } from '../gpu/index.js';
import type { ScalarRef } from './objective.js';

const files = [{ file: 'vector.wgsl', text: src }];

export const reducePartialKernel = defineKernel({
  label: 'vector.reduce_partial',
  files,
  entry: 'reduce_partial',
  bindings: { op: 'uniform', x: 'read', y: 'read', parts: 'read_write' },
  dynamic: ['op'],
});

export const reduceFinalKernel = defineKernel({
  label: 'vector.reduce_final',
  files,
  entry: 'reduce_final',
  bindings: { op: 'uniform', parts_in: 'read', sc: 'read_write' },
  dynamic: ['op'],
});

export const axpbyKernel = defineKernel({
  label: 'vector.axpby',
  files,
  entry: 'axpby',
  bindings: { op: 'uniform', x: 'read', y: 'read', z: 'read_write', sc_in: 'read' },
  dynamic: ['op'],
});

export const axpyKernel = defineKernel({
  label: 'vector.axpy',
  files,
  entry: 'axpy',
  bindings: { op: 'uniform', x: 'read', z: 'read_write', sc_in: 'read' },
  dynamic: ['op'],
});

export const scalarOpKernel = defineKernel({
  label: 'vector.scalar_op',
  files,
  entry: 'scalar_op',
  bindings: { op: 'uniform', sc: 'read_write' },
  dynamic: ['op'],
});

/** scalar_op modes: sc[out] = A / B, A·√B, A / √B. */
export const SCALAR_MODES = { div: 0, mul_sqrt: 1, div_sqrt: 2 } as const;
export type ScalarMode = keyof typeof SCALAR_MODES;

/** "No scalar slot" in a record. */
export const NONE = 0xffffffff;
/** Elementwise workgroup size (the EWG override's default). */
export const EWG = 64;

/** How a reduction of n elements is split: partial workgroups, their chunk, and the two workgroup sizes. */
export interface ReduceShape {
  parts: number;
  chunk: number;
  wg: number;
  fwg: number;
}

/**
 * Workgroup sizes: 256 / 64 on hardware; 16 / 16 on software adapters, where workgroup barriers are expensive
 * (as in reduce.ts). Partials: enough that each invocation sums ~8 elements, at most 256 (hardware) or 16.
 */
export function reduceShape(engine: Engine, n: number, sizes?: { wg: number; fwg: number }): ReduceShape {
  const { wg, fwg } = sizes ?? (engine.software ? { wg: 16, fwg: 16 } : { wg: 256, fwg: 64 });
  const maxParts = engine.software ? 16 : 256;
  const parts = Math.max(1, Math.min(maxParts, Math.ceil(n / (wg * 8))));
  return { parts, chunk: Math.max(1, Math.ceil(n / parts)), wg, fwg };
}

/**
 * The longest chain of roundings a term of the sum passes through in this shape: its product, the sequential loop of
 * one invocation, the workgroup tree, the final pass's loop and its tree (h + 1 in the shader header's bound). The
 * passes are separated by dispatches and the trees by barriers, which no compiler reorders, so a comparison may use
 * src/testing/sums.ts's sumBound with this n instead of the term count.
 */
export function sumDepth(s: ReduceShape): number {
  return Math.ceil(s.chunk / s.wg) + Math.log2(s.wg) + Math.ceil(s.parts / s.fwg) + Math.log2(s.fwg) + 1;
}

/** A coefficient of axpby: a host constant c, or c·(sc[slot] − sc[sub]) from scalars on the GPU. */
export type Coef = number | { c?: number; slot: number; sub?: number };

/** The fields of a VecOp record (shaders/vector.wgsl); left out: n, mode, out 0, parts, chunk, outputs, scale 1, no coefficient. */
export interface VecOpFields {
  n?: number;
  mode?: number;
  parts?: number;
  chunk?: number;
  out?: number;
  outputs?: number;
  scale?: number;
  a?: Coef;
  b?: Coef;
}

const VEC_OP_FIELDS = {
  n: 'u32', mode: 'u32', parts: 'u32', chunk: 'u32', out: 'u32', outputs: 'u32', scale: 'f32',
  a_const: 'f32', a_slot: 'u32', a_sub: 'u32', b_const: 'f32', b_slot: 'u32', b_sub: 'u32',
} as const;

/**
 * Writes VecOp records into host memory at the reflected offsets. The vector machine writes one per dispatch, so a
 * record makes no typed-array views and looks up no field names (a UniformBlock per record did both).
 */
export class VecOpWriter {
  private readonly u32: Uint32Array;
  private readonly f32: Float32Array;
  /** Word index of each field within a record. */
  private readonly w: Record<keyof typeof VEC_OP_FIELDS, number>;

  constructor(layout: StructLayout, readonly bytes: ArrayBuffer) {
    const w = {} as Record<keyof typeof VEC_OP_FIELDS, number>;
    for (const [name, scalar] of Object.entries(VEC_OP_FIELDS) as [keyof typeof VEC_OP_FIELDS, string][]) {
      const f = layout.fields[name];
      if (!f || f.scalar !== scalar || f.count !== 1) throw new Error(`vector.wgsl: VecOp.${name} is not a ${scalar} scalar`);
      w[name] = f.offset >> 2;
    }
    this.w = w;
    this.u32 = new Uint32Array(bytes);
    this.f32 = new Float32Array(bytes);
  }

  /** Writes every field of the record at `byteOffset` (fields left out get their defaults). */
  write(byteOffset: number, r: VecOpFields): void {
    const at = byteOffset >> 2;
    const { u32, f32, w } = this;
    u32[at + w.n] = r.n ?? 0;
    u32[at + w.mode] = r.mode ?? 0;
    u32[at + w.parts] = r.parts ?? 1;
    u32[at + w.chunk] = r.chunk ?? 1;
    u32[at + w.out] = r.out ?? 0;
    u32[at + w.outputs] = r.outputs ?? 1;
    f32[at + w.scale] = r.scale ?? 1;
    this.coef(at + w.a_const, at + w.a_slot, at + w.a_sub, r.a);
    this.coef(at + w.b_const, at + w.b_slot, at + w.b_sub, r.b);
  }

  /** c·(sc[slot] − sc[sub]) as (const, slot, sub): a host constant has no slot, no coefficient is the constant 0. */
  private coef(c: number, slot: number, sub: number, k: Coef | undefined): void {
    const host = k === undefined || typeof k === 'number';
    this.f32[c] = k === undefined ? 0 : typeof k === 'number' ? k : (k.c ?? 1);
    this.u32[slot] = host ? NONE : k.slot;
    this.u32[sub] = host ? NONE : (k.sub ?? NONE);
  }
}

/** The reflected layout of a VecOp record. */
export function vecOpLayout(engine: Engine): StructLayout {
  const s = engine.reflect(axpbyKernel).structs['VecOp'];
  if (!s) throw new Error('vector.wgsl: struct VecOp not found');
  return s;
}

/** Bytes between records in a buffer bound with dynamic offsets. */
export function recordStride(engine: Engine): number {
  const layout = vecOpLayout(engine);
  const align = engine.limits.minUniformBufferOffsetAlignment;
  return Math.ceil(layout.size / align) * align;
}

/** The two reduction kernels for a shape (compiled once per workgroup size). */
export async function reduceKernels(engine: Engine, s: ReduceShape): Promise<{ partial: Kernel; final: Kernel }> {
  const [partial, final] = await Promise.all([
    engine.kernel(reducePartialKernel, { WG: s.wg }),
    engine.kernel(reduceFinalKernel, { FWG: s.fwg }),
  ]);
  return { partial, final };
}

/**
 * out = scale·Σ x_i·y_i (or scale·Σ x_i without y) over n elements, as a plan with its own record and partials:
 * two dispatches per encode, nothing read back. `out` is one f32 of a storage buffer (e.g. a minimizer's f slot).
 */
export class VectorSumOp {
  private constructor(
    private readonly partial: Kernel,
    private readonly final: Kernel,
    private readonly groups: [GPUBindGroup, GPUBindGroup],
    private readonly owned: GPUBuffer[],
    readonly shape: ReduceShape,
  ) {}

  static async plan(
    engine: Engine,
    o: { x: GPUBuffer; y?: GPUBuffer; n: number; out: ScalarRef; scale?: number; label?: string; sizes?: { wg: number; fwg: number } },
  ): Promise<VectorSumOp> {
    const label = o.label ?? 'vector.sum';
    const shape = reduceShape(engine, o.n, o.sizes);
    const { partial, final } = await reduceKernels(engine, shape);
    const layout = vecOpLayout(engine);
    const block = new VecOpWriter(layout, new ArrayBuffer(layout.size));
    block.write(0, { n: o.n, mode: o.y ? 0 : 1, parts: shape.parts, chunk: shape.chunk, out: o.out.index, scale: o.scale ?? 1 });
    const rec = engine.buffer({ label: `${label}.op`, size: layout.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    engine.write(rec, new Uint8Array(block.bytes));
    const parts = engine.storage(`${label}.parts`, 16 * shape.parts);
    const op = { buffer: rec, offset: 0, size: layout.size };
    const groups: [GPUBindGroup, GPUBindGroup] = [
      partial.bind({ op, x: o.x, y: o.y ?? o.x, parts }, `${label}.partial`),
      final.bind({ op, parts_in: parts, sc: o.out.buffer }, `${label}.final`),
    ];
    return new VectorSumOp(partial, final, groups, [rec, parts], shape);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.partial.dispatch1d(pass, this.groups[0], this.shape.parts, [0]);
    this.final.dispatch(pass, this.groups[1], 1, 1, 1, [0]);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

/**
 * z ← α·x (out of place: axpby with y = x and β = 0) or z ← β·z + α·x (in place: axpy), with host constants, as a
 * plan with its own record: what a fixed sequence of accumulations (a full-batch gradient over chunks) needs.
 */
export class VectorAxpbyOp {
  private constructor(
    private readonly kernel: Kernel,
    private readonly group: GPUBindGroup,
    private readonly owned: GPUBuffer[],
    private readonly n: number,
  ) {}

  static async plan(engine: Engine, o: { z: GPUBuffer; x: GPUBuffer; n: number; alpha: number; beta?: number; label?: string }): Promise<VectorAxpbyOp> {
    const label = o.label ?? 'vector.axpby';
    const inPlace = o.beta !== undefined;
    const kernel = await engine.kernel(inPlace ? axpyKernel : axpbyKernel, { EWG });
    const layout = vecOpLayout(engine);
    const block = new VecOpWriter(layout, new ArrayBuffer(layout.size));
    block.write(0, { n: o.n, a: o.alpha, b: o.beta ?? 0 });
    const rec = engine.buffer({ label: `${label}.op`, size: layout.size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    engine.write(rec, new Uint8Array(block.bytes));
    // sc_in is read only for coefficients from slots, which a plan with host constants never has: bind the record's
    // own scratch buffer.
    const scratch = engine.storage(`${label}.sc`, 16);
    const op = { buffer: rec, offset: 0, size: layout.size };
    const group = inPlace
      ? kernel.bind({ op, x: o.x, z: o.z, sc_in: scratch }, label)
      : kernel.bind({ op, x: o.x, y: o.x, z: o.z, sc_in: scratch }, label);
    return new VectorAxpbyOp(kernel, group, [rec, scratch], o.n);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch1d(pass, this.group, Math.ceil(this.n / EWG), [0]);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
