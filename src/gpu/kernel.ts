/**
 * A compute kernel: one entry point of a WGSL module with a pipeline built from an explicit layout derived from
 * reflection. TypeScript declares how it binds each WGSL variable (`KernelDef.bindings`); the declaration is checked
 * against the reflected shader when the kernel is built and by a test over every defined kernel, and bind groups are
 * checked by binding name when they are created (once, at plan time — never per step).
 */
import type { Engine } from './engine.js';
import type { BindingKind, EntryInfo, StructLayout } from './layout.js';
import type { WgslFile } from './source.js';
import { UniformBlock } from './uniforms.js';

export interface KernelDef {
  /** Label for pipelines and errors, e.g. `matmul.nn`. */
  label: string;
  /** The files whose concatenation is the module's source (a function library first, the kernel family last). */
  files: WgslFile[];
  entry: string;
  /** Every binding the entry point uses, by WGSL variable name, with the access the TypeScript side expects. */
  bindings: Record<string, BindingKind>;
  /** Bindings that take a dynamic offset (a ring of per-step records). */
  dynamic?: string[];
}

const defined: KernelDef[] = [];

/** Declares a kernel. Declarations are collected so a test can check each against its shader's reflection. */
export function defineKernel(def: KernelDef): KernelDef {
  defined.push(def);
  return def;
}

export function definedKernels(): readonly KernelDef[] {
  return defined;
}

/** Compares a declaration with the reflected entry point; returns human-readable problems (empty when they agree). */
export function checkBindings(def: KernelDef, entry: EntryInfo | undefined): string[] {
  const where = `${def.files.map((f) => f.file).join('+')}:${def.entry} (${def.label})`;
  if (!entry) return [`${where}: no compute entry point named '${def.entry}'`];
  const problems: string[] = [];
  const reflected = new Map(entry.bindings.map((b) => [b.name, b]));
  for (const [name, kind] of Object.entries(def.bindings)) {
    const b = reflected.get(name);
    if (!b) problems.push(`${where}: TypeScript binds '${name}' but the entry point does not use it`);
    else if (b.kind !== kind) problems.push(`${where}: '${name}' is ${b.kind} in WGSL but declared ${kind} in TypeScript`);
    else if (b.group !== 0) problems.push(`${where}: '${name}' is in group ${b.group}; wgtrain kernels use group 0`);
  }
  for (const b of entry.bindings) {
    if (!(b.name in def.bindings)) problems.push(`${where}: the entry point uses '${b.name}' (${b.kind}) but TypeScript does not bind it`);
  }
  for (const d of def.dynamic ?? []) if (!(d in def.bindings)) problems.push(`${where}: dynamic binding '${d}' is not a binding`);
  return problems;
}

export type Resource = GPUBuffer | GPUBufferBinding;

/** Bytes a resource covers: the whole buffer, or a binding's range (to its buffer's end when it gives no size). */
export function resourceBytes(r: Resource): number {
  return r instanceof GPUBuffer ? r.size : (r.size ?? r.buffer.size - (r.offset ?? 0));
}

/**
 * The pipeline and bind group last set through `Kernel.dispatch`, and on which pass. One pass is encoded at a time, so
 * one entry serves (a lookup per dispatch in a map of passes cost more than it saved); a dispatch into another pass
 * starts it afresh, which can only set state again, never skip a needed call.
 */
const passState: { pass: GPUComputePassEncoder | null; pipeline: GPUComputePipeline | null; group: GPUBindGroup | null } = {
  pass: null,
  pipeline: null,
  group: null,
};

export class Kernel {
  /** The device's maxComputeWorkgroupsPerDimension, read once (each read of a Dawn limit is a call into C++). */
  private readonly maxGroups: number;

  constructor(
    readonly engine: Engine,
    readonly def: KernelDef,
    readonly label: string,
    readonly entry: EntryInfo,
    readonly pipeline: GPUComputePipeline,
    readonly layout: GPUBindGroupLayout,
  ) {
    this.maxGroups = engine.limits.maxComputeWorkgroupsPerDimension;
  }

  /** Creates a bind group from resources named as in the WGSL. Missing or extra names are errors. */
  bind(resources: Record<string, Resource>, label = this.label): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    for (const b of this.entry.bindings) {
      const r = resources[b.name];
      if (!r) {
        throw new Error(`${this.label}: bind group '${label}' lacks binding '${b.name}' (${b.kind}); given: ${Object.keys(resources).join(', ')}`);
      }
      const buffer = r instanceof GPUBuffer ? r : r.buffer;
      const need = b.kind === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE;
      if ((buffer.usage & need) === 0) {
        throw new Error(`${this.label}: buffer '${buffer.label}' bound to '${b.name}' lacks ${b.kind === 'uniform' ? 'UNIFORM' : 'STORAGE'} usage`);
      }
      entries.push({ binding: b.binding, resource: r instanceof GPUBuffer ? { buffer: r } : r });
    }
    for (const name of Object.keys(resources)) {
      if (!this.entry.bindings.some((b) => b.name === name)) {
        throw new Error(`${this.label}: no binding named '${name}' (bindings: ${this.entry.bindings.map((b) => b.name).join(', ')})`);
      }
    }
    return this.engine.device.createBindGroup({ label, layout: this.layout, entries });
  }

  /** The reflected struct layout of a binding (a uniform block), for writing it by field name. */
  struct(binding: string): StructLayout {
    const b = this.entry.bindings.find((x) => x.name === binding);
    if (!b?.struct) throw new Error(`${this.label}: binding '${binding}' is not a struct`);
    return b.struct;
  }

  /** A host-side record for a uniform binding, plus the GPU buffer it is written to. */
  uniforms(binding: string, label = `${this.label}.${binding}`): UniformBuffer {
    return new UniformBuffer(this.engine, this.struct(binding), label);
  }

  /** Records one dispatch into a compute pass and counts it. */
  dispatch(pass: GPUComputePassEncoder, group: GPUBindGroup, x: number, y = 1, z = 1, dynamicOffsets?: number[]): void {
    const max = this.maxGroups;
    if (x > max || y > max || z > max) {
      throw new RangeError(`${this.label}: dispatch ${x}×${y}×${z} exceeds ${max} workgroups per dimension; use dispatch1d`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    // Each encoder call costs microseconds of host time (≈ 3 µs for setPipeline in Node's Dawn): a step of ~20
    // dispatches is encoded while the GPU runs the previous one, so repeated state is not set again.
    const last = passState;
    if (last.pass !== pass) {
      last.pass = pass;
      last.pipeline = null;
      last.group = null;
    }
    if (last.pipeline !== this.pipeline) {
      pass.setPipeline(this.pipeline);
      last.pipeline = this.pipeline;
    }
    if (dynamicOffsets) {
      pass.setBindGroup(0, group, dynamicOffsets);
      last.group = null;
    } else if (last.group !== group) {
      pass.setBindGroup(0, group);
      last.group = group;
    }
    pass.dispatchWorkgroups(x, y, z);
    this.engine.dispatchCount++;
  }

  /**
   * Dispatches `groups` workgroups in a 2-D grid when there are more than one dimension allows; the shader computes
   * its linear workgroup index as `wid.x + wid.y * nwg.x` and checks bounds.
   */
  dispatch1d(pass: GPUComputePassEncoder, group: GPUBindGroup, groups: number, dynamicOffsets?: number[]): void {
    if (groups <= this.maxGroups) this.dispatch(pass, group, groups, 1, 1, dynamicOffsets);
    else {
      const [x, y] = grid1d(groups, this.maxGroups);
      this.dispatch(pass, group, x, y, 1, dynamicOffsets);
    }
  }
}

export function grid1d(groups: number, max = 65535): [number, number] {
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** A uniform buffer with its host-side record; `write()` queues the upload (ordered before later submits). */
export class UniformBuffer {
  readonly block: UniformBlock;
  readonly buffer: GPUBuffer;

  constructor(readonly engine: Engine, layout: StructLayout, label: string) {
    this.block = new UniformBlock(layout);
    this.buffer = engine.buffer({ label, size: Math.max(16, align(layout.size, 16)), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  }

  set(values: Record<string, number | boolean | ArrayLike<number>>): this {
    this.block.set(values);
    return this;
  }

  write(): void {
    this.engine.device.queue.writeBuffer(this.buffer, 0, this.block.bytes);
  }

  destroy(): void {
    this.buffer.destroy();
  }
}

export function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}
