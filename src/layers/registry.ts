/**
 * The layer kinds by name. Everything that walks a model looks kinds up here; a new kind is one module
 * (src/layers/<kind>.ts exporting a `LayerKind`) added to BUILTIN_LAYERS, plus its shader and tests — or, from
 * outside the library, `registerLayerKind(kind)` before the first model that uses it is built.
 */
import { activationLayer } from './activation.js';
import { batchNormLayer } from './batchnorm.js';
import { batchNorm2dLayer } from './batchnorm2d.js';
import { avgPool2dLayer } from './avgpool2d.js';
import { conv2dLayer } from './conv2d.js';
import { flattenLayer } from './flatten.js';
import { globalAvgPoolLayer } from './globalavgpool.js';
import { maxPool2dLayer } from './maxpool2d.js';
import { denseLayer } from './dense.js';
import { dropoutLayer } from './dropout.js';
import type { LayerKind, LayerSpecBase } from './layer.js';
import { reshapeLayer } from './reshape.js';

export const BUILTIN_LAYERS = [
  denseLayer, activationLayer, batchNormLayer, dropoutLayer, reshapeLayer, conv2dLayer,
  batchNorm2dLayer, maxPool2dLayer, avgPool2dLayer, globalAvgPoolLayer, flattenLayer,
] as const;

type Builtin = (typeof BUILTIN_LAYERS)[number];
/** A complete layer spec of a built-in kind (what ModelSpec.layers holds). */
export type LayerSpec = Builtin extends infer K ? (K extends LayerKind<infer S, LayerSpecBase> ? S : never) : never;
/** What a user writes for a layer of a built-in kind (defaults and derived fields optional). */
export type LayerInput = Builtin extends infer K ? (K extends LayerKind<LayerSpecBase, infer I> ? I : never) : never;

type AnyKind = LayerKind<any, any>;

const byType = new Map<string, AnyKind>();
const byName = new Map<string, AnyKind>();

/** Adds a layer kind; its type and its text names must be new. */
export function registerLayerKind(kind: AnyKind): void {
  if (typeof kind?.type !== 'string' || !/^[a-z][a-z0-9_]*$/.test(kind.type)) throw new Error(`registerLayerKind: type ${JSON.stringify(kind?.type)} must be a lower-case identifier`);
  if (byType.has(kind.type)) throw new Error(`registerLayerKind: a layer kind '${kind.type}' is already registered`);
  for (const name of kind.syntax.names) {
    const other = byName.get(name);
    if (other) throw new Error(`registerLayerKind: '${kind.type}' claims the name '${name}', which '${other.type}' already has`);
  }
  byType.set(kind.type, kind);
  for (const name of kind.syntax.names) byName.set(name, kind);
}

for (const kind of BUILTIN_LAYERS) registerLayerKind(kind);

/** The kind of a layer spec's `type`; the error lists the known kinds. */
export function layerKind(type: unknown): AnyKind {
  const kind = typeof type === 'string' ? byType.get(type) : undefined;
  if (!kind) throw new Error(`unknown layer type ${JSON.stringify(type)} (known: ${[...byType.keys()].join(', ')})`);
  return kind;
}

/** The kind a text name (dense, relu, bn, ...) selects, if any. */
export function layerKindByName(name: string): AnyKind | undefined {
  return byName.get(name);
}

/** Every registered kind, built-ins first. */
export function layerKinds(): AnyKind[] {
  return [...byType.values()];
}
