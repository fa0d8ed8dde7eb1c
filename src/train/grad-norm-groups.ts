/**
 * The groups the runners measure gradient norms over (RunnerConfig.gradNorms): one per layer that has parameters,
 * holding that layer's tensors as ranges of the flat gradient buffer, named for plots and logs.
 */
import type { ParamLayout } from '../model/layout.js';
import { layerName } from '../model/graph.js';
import { modelLayers, type ModelSpec } from '../model/spec.js';

export interface GradNormLayer {
  layer: number;
  /** e.g. `0 dense 784→128` */
  name: string;
  ranges: [number, number][];
}

export function gradNormLayers(model: ModelSpec, layout: ParamLayout): GradNormLayer[] {
  const out: GradNormLayer[] = [];
  for (const l of modelLayers(model)) {
    const ranges = layout.params.filter((p) => p.layer === l.index).map((p): [number, number] => [p.offset, p.offset + p.size]);
    if (ranges.length) out.push({ layer: l.index, name: layerName(l), ranges });
  }
  return out;
}
