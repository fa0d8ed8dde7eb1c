/**
 * Errors wgtrain throws. Each names what went wrong and, where we can tell, how to fix it; GPU errors carry the
 * label of the kernel or buffer involved (every pipeline and buffer we create is labelled for that reason).
 */
export class WgtrainError extends Error {
  override name = 'WgtrainError';
}

/** No usable WebGPU adapter: `tried` lists each attempt and why it failed. */
export class NoAdapterError extends WgtrainError {
  override name = 'NoAdapterError';
  constructor(readonly tried: string[], hint: string) {
    super(`wgtrain: no WebGPU adapter could be created.\nTried:\n${tried.map((t) => `  - ${t}`).join('\n')}\n${hint}`);
  }
}

/** A WGSL compile error, with `file:line:column` for every message. */
export class ShaderCompileError extends WgtrainError {
  override name = 'ShaderCompileError';
}

/** A validation error, out-of-memory or internal error reported by the device. */
export class GpuError extends WgtrainError {
  override name = 'GpuError';
  constructor(
    readonly kind: 'validation' | 'out-of-memory' | 'internal',
    message: string,
  ) {
    super(kind === 'out-of-memory'
      ? `${message}\nThe GPU ran out of memory: use a smaller batch size or model, or free other GPU work.`
      : message);
  }
}

/** The device was lost (driver reset, destroy(), tab in background too long...). The engine is unusable afterwards. */
export class DeviceLostError extends WgtrainError {
  override name = 'DeviceLostError';
}
