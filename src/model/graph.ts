/**
 * A model's layers resolved against their kinds (src/layers/registry.ts): each layer's complete spec, its input and
 * output shapes and its site. The one walk over ModelSpec.layers that the validation, the layout, the CPU model and
 * the GPU runner share.
 */
import type { LayerKind, LayerSite, LayerSpecBase, Shape } from '../layers/layer.js';
import { layerKind, type LayerInput, type LayerSpec } from '../layers/registry.js';
import type { Initializer } from '../layers/weights.js';
import { isActivation, type Activation } from '../shared.js';

export interface ResolvedLayer {
  index: number;
  kind: LayerKind<any, any>;
  spec: LayerSpec;
  input: Shape;
  output: Shape;
  site: LayerSite;
}

/** A layer in plots and logs: index, label and shapes, e.g. `0 dense 784→128`. */
export function layerName(l: ResolvedLayer): string {
  return `${l.index} ${l.kind.label(l.spec)} ${l.input.join('×')}→${l.output.join('×')}`;
}

/** Why a layer is wrong: the message starts with `layers[i] (type): `. */
export class LayerError extends Error {}

/**
 * Resolves `layers` in order from `input`; each kind checks its options against its input shape. Errors are
 * LayerErrors naming the layer's index and kind.
 */
export function resolveLayers(layers: readonly LayerSpecBase[], input: Shape, init?: Initializer): ResolvedLayer[] {
  const at = (i: number, type: unknown) => `layers[${i}] (${typeof type === 'string' ? type : JSON.stringify(type)})`;
  const kinds = layers.map((l, i) => {
    if (typeof l !== 'object' || l === null) throw new LayerError(`${at(i, undefined)}: a layer must be an object with a type, got ${JSON.stringify(l)}`);
    try {
      return layerKind(l.type);
    } catch (e) {
      throw new LayerError(`${at(i, l.type)}: ${(e as Error).message}`);
    }
  });
  const nextActivation = (i: number): Activation | undefined => {
    let j = i + 1;
    while (j < layers.length && kinds[j]!.transparentToInit) j++;
    const a = j < layers.length ? kinds[j]!.nonlinearity?.(layers[j]) : undefined;
    return isActivation(a) ? a : undefined;
  };
  const out: ResolvedLayer[] = [];
  let shape = input;
  layers.forEach((raw, index) => {
    const kind = kinds[index]!;
    const prev = out[index - 1];
    const site: LayerSite = {
      index, input: shape, nextActivation: nextActivation(index), ...(init ? { init } : {}),
      ...(prev ? { previous: { index: prev.index, type: prev.spec.type, input: prev.input } } : {}),
    };
    let spec: LayerSpec;
    let output: Shape;
    try {
      spec = kind.resolve(raw as LayerInput, site);
      output = kind.outputShape(spec, shape);
    } catch (e) {
      throw new LayerError(`${at(index, raw.type)}: ${(e as Error).message}`);
    }
    out.push({ index, kind, spec, input: shape, output, site });
    shape = output;
  });
  return out;
}

/** Whether each layer's backward must produce ∂loss/∂input: only when a layer before it has parameters. */
export function inputGradientNeeded(layers: readonly ResolvedLayer[]): boolean[] {
  let seen = false;
  return layers.map((l) => {
    const needed = seen;
    if ((l.kind.params?.(l.spec, l.input).length ?? 0) > 0) seen = true;
    return needed;
  });
}
