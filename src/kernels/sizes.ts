/**
 * The buffer-size check the kernels' plan functions share: a clear RangeError naming the op and the buffer instead of
 * a WebGPU validation error (or a silent out-of-bounds clamp) at dispatch.
 */
import { resourceBytes, type Resource } from '../gpu/index.js';

/**
 * Each named resource holds at least its count of 4-byte elements (f32 or u32), and no count reaches 2³², past a
 * shader's u32 index.
 */
export function checkElements(what: string, buffers: Record<string, [Resource, number]>): void {
  for (const [name, [r, n]] of Object.entries(buffers)) {
    if (resourceBytes(r) < n * 4) throw new RangeError(`${what}: ${name} holds ${resourceBytes(r)} bytes, needs ${n * 4} (${n} elements of 4 bytes)`);
    if (n >= 2 ** 32) throw new RangeError(`${what}: ${name}'s ${n} elements exceed u32 indexing`);
  }
}
