/**
 * A model description that is plain data: parsed from the CLI's text (model/text.ts), built in code
 * (`sequential([...])`) or written as an object, stored in checkpoints, and compiled into either the CPU reference
 * model or the GPU step plan.
 *
 * Three forms, one result:
 *   text      parseModelSpec('784-256-256-10:relu,bn,dropout=0.1')  or  parseModelSpec('784-dense(256)-relu-dense(10)')
 *   builder   sequential([dense(256), relu(), batchNorm(), dropout(0.1), dense(10)], { inputs: 784 })
 *   object    validateModelSpec({ inputs: 784, layers: [{ type: 'dense', outputs: 256 }, { type: 'activation', kind: 'relu' }, ...] })
 * Each gives the complete `ModelSpec`: format, loss, every layer's options and derived sizes filled in (so a user
 * writes no `format` or `init` field), checked layer by layer against the shapes (errors name the layer and shapes).
 *
 * Shapes: `inputs` is the number of values per example; `inputShape`, when the input is not flat, its per-example
 * shape ([C, H, W] for images). Each layer kind (src/layers) gives its output shape from its input shape.
 */
import type { Shape } from '../layers/layer.js';
import type { LayerInput, LayerSpec } from '../layers/registry.js';
import { isInitializer, INITIALIZERS, type Initializer } from '../layers/weights.js';
import { LOSSES, type Loss } from '../shared.js';
import { LayerError, resolveLayers, type ResolvedLayer } from './graph.js';

export type { Loss } from '../shared.js';
export { LOSSES } from '../shared.js';
export type { Initializer } from '../layers/weights.js';
export { INITIALIZERS } from '../layers/weights.js';
export type { LayerSpec, LayerInput } from '../layers/registry.js';
export { parseModelSpec, formatModelSpec } from './text.js';

export const MODEL_FORMAT = 'wgtrain.model/1';

/** The complete model description (what checkpoints store). */
export interface ModelSpec {
  format: typeof MODEL_FORMAT;
  /** Values per example. */
  inputs: number;
  /** Per-example input shape when it is not flat, e.g. [1, 28, 28]; absent: [inputs]. */
  inputShape?: number[];
  layers: LayerSpec[];
  loss: Loss;
}

/** What a user writes: `format`, `loss` and each layer's defaults may be left out. */
export interface ModelInput {
  format?: typeof MODEL_FORMAT;
  /** Values per example, or the per-example shape ([1, 28, 28]). */
  inputs: number | readonly number[];
  /** The per-example shape, when `inputs` is a number; its size must equal `inputs`. */
  inputShape?: readonly number[];
  layers: readonly LayerInput[];
  /** Default 'softmax_ce'. */
  loss?: Loss;
  /** Default initializer of every layer with weights that names none (default: per layer, see layers/weights.ts). */
  init?: Initializer;
}

const isDims = (v: unknown): v is number[] => Array.isArray(v) && v.length > 0 && v.every((d) => Number.isInteger(d) && d >= 1);

function checkedInputShape(m: ModelInput): Shape {
  const { inputs, inputShape: shape } = m;
  if (!(isDims(inputs) || (Number.isInteger(inputs) && (inputs as number) >= 1))) {
    throw new Error(`model spec: inputs must be a positive integer or a list of them (the per-example shape, e.g. 784 or [1, 28, 28]); got ${JSON.stringify(inputs)}`);
  }
  if (shape === undefined) return typeof inputs === 'number' ? [inputs] : inputs;
  if (!isDims(shape)) throw new Error(`model spec: inputShape must be a list of positive integers (e.g. [1, 28, 28]); got ${JSON.stringify(shape)}`);
  const size = shape.reduce((a, b) => a * b, 1);
  const given = typeof inputs === 'number' ? inputs : inputs.reduce((a, b) => a * b, 1);
  if (size !== given) throw new Error(`model spec: inputShape [${shape.join(', ')}] holds ${size} values per example but inputs says ${JSON.stringify(inputs)}`);
  return shape;
}

/** The per-example input shape of a model: [F] or e.g. [C, H, W]. */
export function inputShape(m: Pick<ModelSpec, 'inputs' | 'inputShape'>): Shape {
  return m.inputShape ?? [m.inputs];
}

function resolve(m: ModelInput): { spec: ModelSpec; layers: ResolvedLayer[] } {
  if (typeof m !== 'object' || m === null) throw new Error(`model spec: expected an object with inputs and layers, got ${JSON.stringify(m)}`);
  if (m.format !== undefined && m.format !== MODEL_FORMAT) throw new Error(`model spec: format must be '${MODEL_FORMAT}' (got ${JSON.stringify(m.format)})`);
  const shape = checkedInputShape(m);
  const loss = m.loss ?? 'softmax_ce';
  if (!LOSSES.includes(loss)) throw new Error(`model spec: loss must be one of ${LOSSES.join(', ')} (got ${JSON.stringify(m.loss)})`);
  if (m.init !== undefined && !isInitializer(m.init)) throw new Error(`model spec: init must be one of ${INITIALIZERS.join(', ')} (got ${JSON.stringify(m.init)})`);
  if (!Array.isArray(m.layers) || m.layers.length === 0) throw new Error('model spec: layers must be a non-empty list');
  let layers: ResolvedLayer[];
  try {
    layers = resolveLayers(m.layers, shape, m.init);
  } catch (e) {
    if (e instanceof LayerError) throw new Error(`model spec: ${e.message}`);
    throw e;
  }
  // A flat input has no inputShape, so equal models have equal specs.
  const spec: ModelSpec = { format: MODEL_FORMAT, inputs: shape.reduce((a, b) => a * b, 1), ...(shape.length > 1 ? { inputShape: [...shape] } : {}), layers: layers.map((l) => l.spec), loss };
  return { spec, layers };
}

/**
 * The complete ModelSpec of a description (a complete spec, one from a checkpoint, or a hand-written object without
 * format, loss or layer defaults): defaults filled in, every layer checked against its input shape. Throws an Error
 * naming the layer, its kind and the shapes.
 */
export function validateModelSpec(m: ModelInput): ModelSpec {
  return resolve(m).spec;
}

/** The model's layers with their kinds and shapes (for the layout, the CPU model and the GPU runner). */
export function modelLayers(m: ModelInput): ResolvedLayer[] {
  return resolve(m).layers;
}

/** Builder: `sequential([dense(256), relu(), dense(10)], { inputs: 784 })` gives the complete ModelSpec. */
export function sequential(layers: readonly LayerInput[], options: { inputs: number | readonly number[]; loss?: Loss; init?: Initializer }): ModelSpec {
  return validateModelSpec({ ...options, layers });
}

/** Per-example output shape (logits / predictions). */
export function outputShape(m: ModelSpec): Shape {
  return modelLayers(m).at(-1)!.output;
}

/** Width of the model's output (logits / predictions): the output shape's size. */
export function outputSize(m: ModelSpec): number {
  return outputShape(m).reduce((a, b) => a * b, 1);
}

const showDims = (s: Shape) => s.join('x');

/** The size chain: the input shape, then the output shape of each layer without a `tag` (784-256-10, 1x28x28-...). */
export function modelSizes(m: ModelSpec): string {
  return [showDims(inputShape(m)), ...modelLayers(m).filter((l) => !l.kind.tag).map((l) => showDims(l.output))].join('-');
}

/** Short human description, e.g. `784-256-256-10 relu (softmax_ce)`: the size chain, the other layers' tags, the loss. */
export function describeModel(m: ModelSpec): string {
  const tags = [...new Set(modelLayers(m).flatMap((l) => (l.kind.tag ? [l.kind.tag(l.spec) as string] : [])))];
  return `${modelSizes(m)} ${tags.join(',')} (${m.loss})`;
}
