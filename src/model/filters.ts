/**
 * A layer's weights as pictures: what each unit of a first layer responds to (a Dense unit's 784 input weights are a
 * 28×28 image). Reads the layer kind's `filters` declaration (src/layers) out of the flat parameters a runner exports.
 *
 *   const { params } = await runner.exportState();
 *   const f = layerFilters(model, params, { imageShape: [28, 28] });   // f.filters[j]: 784 values, f.shape [28, 28]
 */
import { layoutModel, paramSlot } from './layout.js';
import { layerName } from './graph.js';
import { modelLayers, type ModelSpec } from './spec.js';

export interface LayerFilters {
  /** Index of the layer in the model. */
  layer: number;
  /** e.g. `0 dense 784→128` */
  name: string;
  /** One filter's shape: the layer's, or `imageShape` when given and of the same size. */
  shape: number[];
  filters: Float32Array[];
  /** Smallest and largest value over all filters (for a shared colour scale). */
  min: number;
  max: number;
}

/**
 * The filters of `layer` (default: the first layer that declares filters), from the model's flat parameters.
 * `imageShape` reshapes flat filters for display (an MLP's first layer sees 784 values: [28, 28]); it must hold as
 * many values as one filter. Null when the model has no layer with filters (or `layer` has none).
 */
export function layerFilters(model: ModelSpec, params: ArrayLike<number>, options: { layer?: number; imageShape?: number[] } = {}): LayerFilters | null {
  const layers = modelLayers(model);
  const l = options.layer === undefined ? layers.find((x) => x.kind.filters) : layers[options.layer];
  if (options.layer !== undefined && !l) throw new RangeError(`layerFilters: the model has no layer ${options.layer} (it has ${layers.length})`);
  if (!l?.kind.filters) return null;
  const layout = layoutModel(model);
  if (params.length !== layout.n) throw new Error(`layerFilters: got ${params.length} parameters; this model has ${layout.n} (the flat layout of exportState().params)`);
  const slot = paramSlot(layout, l.index, 'weight');
  if (!slot) throw new Error(`layerFilters: layers[${l.index}] (${l.spec.type}) declares filters but has no weight`);
  const decl = l.kind.filters(l.spec, l.input);
  const size = decl.shape.reduce((a, b) => a * b, 1);
  let shape = [...decl.shape];
  if (options.imageShape) {
    const want = options.imageShape.reduce((a, b) => a * b, 1);
    if (want !== size) throw new RangeError(`layerFilters: imageShape [${options.imageShape.join(', ')}] holds ${want} values but a filter of layers[${l.index}] has ${size}`);
    shape = [...options.imageShape];
  }
  const weight = Float32Array.from({ length: slot.size }, (_, i) => params[slot.offset + i]!);
  const filters: Float32Array[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < decl.count; j++) {
    const f = new Float32Array(size);
    decl.read(weight, j, f);
    for (const v of f) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    filters.push(f);
  }
  return { layer: l.index, name: layerName(l), shape, filters, min, max };
}
