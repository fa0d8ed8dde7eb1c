/**
 * How many examples a Conv2D layer's GPU plan runs through im2col and its products at once. Its scratch `cols` holds
 * chunk·P·K floats and `rows` chunk·P·F (P output pixels, K = C·kh·kw taps, F filters): for the CNN preset's 32→32
 * 3×3 layer at 28×28 that is 904 KiB per example, 115 MB at batch 128, more than the 128 MiB a storage binding may
 * hold on many adapters at batch 150. The whole batch is one chunk whenever both fit the adapter's binding limit (the
 * plan is then exactly the unchunked one); otherwise the largest number of examples that fits, the last chunk
 * shorter. Only the binding limit decides: the extra dispatches per chunk are the price of running at all, and total
 * device memory has no WebGPU query to budget against.
 */
import type { Engine } from '../gpu/index.js';
import { storageBufferLimit } from '../gpu/limits.js';
import { conv2dOutputSize, conv2dTaps, type Conv2dGeometry } from '../ref/conv2d.js';

const forced = new WeakMap<Engine, number>();

/**
 * Caps the chunk of every Conv2D plan built on `engine` afterwards at `rows` examples (undefined: no cap), e.g. 2 in
 * tests so that chunking runs at small sizes. Set it before the runner is created: the scratch is sized with it.
 */
export function setConv2dChunkCap(engine: Engine, rows: number | undefined): void {
  if (rows === undefined) forced.delete(engine);
  else if (!Number.isInteger(rows) || rows < 1) throw new RangeError(`conv2d chunk cap must be a positive integer number of examples, got ${rows}`);
  else forced.set(engine, rows);
}

/** Bytes of one example's largest scratch (cols, P·K floats, or rows, P·F). */
export function conv2dScratchPerExample(g: Conv2dGeometry): number {
  const [OH, OW] = conv2dOutputSize(g);
  return 4 * OH * OW * Math.max(conv2dTaps(g), g.filters);
}

/**
 * Examples per chunk for a plan of `batch` rows: all of them when their scratch fits one storage binding (the
 * smaller of maxBufferSize and maxStorageBufferBindingSize: `storageBufferLimit`), else as many as fit, at least 1
 * (when even one example does not fit, the runner's buffer check refuses the model before allocating).
 */
export function conv2dChunk(g: Conv2dGeometry, batch: number, limits: GPUSupportedLimits, engine?: Engine): number {
  const fit = Math.max(1, Math.floor(storageBufferLimit(limits).bytes / conv2dScratchPerExample(g)));
  return Math.min(batch, fit, (engine && forced.get(engine)) ?? Infinity);
}
