/**
 * Initial parameters and statistics of a model in the flat layout, from each layer kind's declarations
 * (src/layers: a ParamDecl's / StatDecl's `init`; zeros when it has none).
 *
 * Reproducibility: a layer's random tensors are drawn from the Philox stream `Streams.init` at step = the layer's
 * index in ModelSpec.layers (src/layers/weights.ts), so a seed fixes every weight and adding a layer elsewhere never
 * shifts another layer's numbers. Dense biases start at zero, BatchNorm γ at 1 and β at 0, running mean 0 and
 * running variance 1 (torch's defaults). He initialisation uses the gain of the activation that follows the layer.
 */
import { gainNonlinearity } from '../layers/weights.js';
import { paramSlot, statSlot, type ParamLayout } from './layout.js';
import { modelLayers, type ModelSpec } from './spec.js';

/** Flat float32 parameters (padding zero). */
export function initParams(m: ModelSpec, layout: ParamLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.n);
  for (const l of modelLayers(m)) {
    const ctx = { seed, index: l.index, nonlinearity: gainNonlinearity(l.site.nextActivation) };
    for (const d of l.kind.params?.(l.spec, l.input) ?? []) {
      if (!d.init) continue;
      const s = paramSlot(layout, l.index, d.role)!;
      d.init(flat.subarray(s.offset, s.offset + s.size), ctx);
    }
  }
  return flat;
}

/** Flat float32 statistics (BatchNorm: running mean 0, running variance 1). */
export function initStats(m: ModelSpec, layout: ParamLayout): Float32Array {
  const flat = new Float32Array(layout.nStats);
  for (const l of modelLayers(m)) {
    for (const d of l.kind.stats?.(l.spec, l.input) ?? []) {
      if (!d.init) continue;
      const s = statSlot(layout, l.index, d.role)!;
      d.init(flat.subarray(s.offset, s.offset + s.size));
    }
  }
  return flat;
}
