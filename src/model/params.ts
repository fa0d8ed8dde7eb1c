/**
 * Initial parameters and statistics of a model in the flat layout.
 *
 * Reproducibility: Dense layer i's weights are drawn from the Philox stream `Streams.init` at step i (the layer's
 * index in ModelSpec.layers), so a seed fixes every weight and adding a layer elsewhere never shifts another
 * layer's numbers. Biases start at zero, BatchNorm γ at 1 and β at 0, running mean 0 and running variance 1
 * (torch's defaults). He initialisation uses the gain of the activation that follows the layer.
 */
import { initialize, type InitSpec, type Nonlinearity } from './init.js';
import { paramSlot, statSlot, type ParamLayout } from './layout.js';
import type { Initializer, ModelSpec } from './spec.js';

function weightInit(kind: Initializer, nonlinearity: Nonlinearity): InitSpec {
  switch (kind) {
    case 'he_normal':
    case 'he_uniform':
      return { kind, nonlinearity };
    case 'constant':
      return { kind: 'constant', value: 0.01 };
    default:
      return { kind };
  }
}

/** Flat float32 parameters (padding zero). */
export function initParams(m: ModelSpec, layout: ParamLayout, seed: number): Float32Array {
  const flat = new Float32Array(layout.n);
  m.layers.forEach((l, i) => {
    if (l.type === 'dense') {
      const next = m.layers[i + 1];
      const act = next?.type === 'activation' ? next.kind : next?.type === 'batchnorm' && m.layers[i + 2]?.type === 'activation' ? (m.layers[i + 2] as { kind: string }).kind : 'linear';
      const nonlinearity: Nonlinearity = act === 'relu' || act === 'leaky_relu' || act === 'tanh' || act === 'sigmoid' ? act : act === 'linear' ? 'linear' : 'relu';
      const w = paramSlot(layout, i, 'weight')!;
      initialize(flat.subarray(w.offset, w.offset + w.size), weightInit(l.init, nonlinearity), { fanIn: l.inputs, fanOut: l.outputs, seed, step: i });
    } else if (l.type === 'batchnorm') {
      const g = paramSlot(layout, i, 'gamma')!;
      flat.fill(1, g.offset, g.offset + g.size);
    }
  });
  return flat;
}

/** Flat float32 BatchNorm statistics: running mean 0, running variance 1. */
export function initStats(m: ModelSpec, layout: ParamLayout): Float32Array {
  const flat = new Float32Array(layout.nStats);
  m.layers.forEach((l, i) => {
    if (l.type !== 'batchnorm') return;
    const v = statSlot(layout, i, 'running_var')!;
    flat.fill(1, v.offset, v.offset + v.size);
  });
  return flat;
}
