/**
 * The largest buffer a storage binding can take on a device: every buffer wgtrain binds is bound whole as storage, so
 * it must fit both `maxBufferSize` and `maxStorageBufferBindingSize`. Here, in src/gpu/, so that kernels sizing their
 * scratch (kernels/conv2d-chunk.ts) and the runner's up-front checks (train/gpu-limits.ts) share one rule.
 */

/** The largest buffer the device takes for a storage binding, and which limit sets it. */
export function storageBufferLimit(limits: GPUSupportedLimits): { bytes: number; name: string } {
  return limits.maxBufferSize <= limits.maxStorageBufferBindingSize
    ? { bytes: limits.maxBufferSize, name: 'maxBufferSize' }
    : { bytes: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
}
