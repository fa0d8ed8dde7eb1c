/**
 * Writes a uniform (or storage) struct by field name into host memory, using the byte layout reflected from the WGSL.
 * A `UniformBlock` views one record at `base` inside an ArrayBuffer, so a ring of per-step records (one per
 * 256-byte-aligned slot, selected with a dynamic offset) reuses the same writer.
 */
import type { StructLayout } from './layout.js';

export type FieldValue = number | boolean | ArrayLike<number>;

export class UniformBlock {
  private readonly f32: Float32Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;

  constructor(
    readonly layout: StructLayout,
    readonly bytes: ArrayBuffer = new ArrayBuffer(layout.size),
    readonly base = 0,
  ) {
    if (base % 4 !== 0 || base + layout.size > bytes.byteLength) {
      throw new RangeError(`UniformBlock(${layout.name}): base ${base} does not fit a ${layout.size}-byte record`);
    }
    this.f32 = new Float32Array(bytes);
    this.u32 = new Uint32Array(bytes);
    this.i32 = new Int32Array(bytes);
  }

  /** Sets fields by name. Unknown names are an error (a typo must not silently leave a field at zero). */
  set(values: Record<string, FieldValue>): this {
    for (const [name, value] of Object.entries(values)) this.setField(name, value);
    return this;
  }

  setField(name: string, value: FieldValue): void {
    const f = this.layout.fields[name];
    if (!f) {
      throw new Error(
        `uniform struct ${this.layout.name} has no field '${name}' (fields: ${Object.keys(this.layout.fields).join(', ')})`,
      );
    }
    // Written every training step (the optimizer's record): no arrays made here.
    const scalar = typeof value === 'number' || typeof value === 'boolean';
    const count = scalar ? 1 : value.length;
    if (count !== f.count) {
      throw new Error(`uniform ${this.layout.name}.${name} holds ${f.count} value(s), got ${count}`);
    }
    for (let k = 0; k < f.count; k++) {
      const idx = (this.base + f.offset + k * f.stride) >> 2;
      const v = scalar ? Number(value) : Number(value[k]);
      if (f.scalar === 'f32') this.f32[idx] = v;
      else {
        if (!Number.isInteger(v)) throw new Error(`uniform ${this.layout.name}.${name} is ${f.scalar}; got non-integer ${v}`);
        if (f.scalar === 'u32') {
          if (v < 0 || v > 0xffffffff) throw new RangeError(`uniform ${this.layout.name}.${name} (u32) out of range: ${v}`);
          this.u32[idx] = v;
        } else this.i32[idx] = v;
      }
    }
  }

  get(name: string): number {
    const f = this.layout.fields[name];
    if (!f) throw new Error(`uniform struct ${this.layout.name} has no field '${name}'`);
    const idx = (this.base + f.offset) >> 2;
    return f.scalar === 'f32' ? this.f32[idx]! : f.scalar === 'u32' ? this.u32[idx]! : this.i32[idx]!;
  }
}
