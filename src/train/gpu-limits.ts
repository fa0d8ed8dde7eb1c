/**
 * What the GPU runner will ask the device for, checked against the adapter's limits before anything is allocated.
 *
 * Every buffer the runner binds is bound whole as storage, so each must fit both `maxBufferSize` and
 * `maxStorageBufferBindingSize` (wgtrain's engine raises both to the adapter's maximum; SwiftShader allows 1 GiB,
 * WebGPU's default is 256 MiB / 128 MiB). The largest are the flat parameter buffer (and its gradient and optimizer
 * slots, the same size) and the first layer's activations for a full batch. Layer scratch is declared by the layer for
 * these limits (a Conv2D's im2col scratch holds one chunk of examples that fits, so only a layer whose single example
 * does not fit is refused, with the layer's own advice). A model that cannot fit is refused here
 * with the sizes and the limit named; an allocation the device refuses anyway (out of memory: no API tells the free
 * memory in advance) surfaces as an error when the runner is created, after which it frees what it made.
 */
import { storageBufferLimit } from '../gpu/limits.js';
import type { ParamLayout } from '../model/layout.js';
import { inputShape, modelLayers } from '../model/spec.js';
import type { RunnerConfig } from './runner.js';

const F32 = 4;

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 40) return `${(bytes / 2 ** 40).toFixed(2)} TiB`;
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${Math.ceil(bytes / 1024)} KiB`;
}

/** Throws when one buffer of `bytes` (described by `what`) exceeds the adapter's limit; `fix` says what to change. */
export function checkBufferFits(limits: GPUSupportedLimits, bytes: number, what: string, fix: string): void {
  const limit = storageBufferLimit(limits);
  if (bytes > limit.bytes) {
    throw new RangeError(
      `${what} needs ${formatBytes(bytes)} in one GPU buffer, but this adapter's ${limit.name} is ${formatBytes(limit.bytes)}; ${fix}`,
    );
  }
}

/** The runner's largest buffers for `config`, checked before `createGpuRunner` allocates any. */
export function checkGpuRunnerFits(limits: GPUSupportedLimits, config: RunnerConfig, layout: ParamLayout): { bytes: number } {
  const B = config.batchSize;
  const m = config.model;
  checkBufferFits(limits, layout.n * F32, `the model (${layout.n.toLocaleString('en-US')} parameters)`, 'use a smaller model');
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const layers = modelLayers(m);
  const widths = [size(inputShape(m)), ...layers.map((l) => size(l.output))];
  const widest = Math.max(...widths);
  checkBufferFits(limits, B * widest * F32, `a layer of width ${widest} for batch size ${B}`, 'use a smaller batch size');
  let scratch = 0;
  for (const l of layers) {
    for (const d of l.kind.gpu.buffers?.(l.spec, { input: l.input, output: l.output, batch: B, limits }) ?? []) {
      checkBufferFits(limits, d.bytes, `layers[${l.index}] (${l.spec.type})'s scratch buffer '${d.name}' for batch size ${B}`, d.fix ?? 'use a smaller batch size or layer');
      scratch += d.bytes;
    }
  }
  // Estimated total (params, grads, up to three optimizer slots, activations and their gradients), for messages.
  return { bytes: 5 * layout.n * F32 + 2 * B * widths.reduce((a, w) => a + w, 0) * F32 + scratch };
}
