/**
 * Names and numbers that the GPU kernels (src/kernels), the CPU references (src/ref) and the model (src/layers,
 * src/model) must agree on: activation codes, the dropout streams and the loss kinds. It depends on nothing but
 * src/random.ts, so CPU-only code never loads a shader through it.
 */
import { Streams } from './random.js';

/** Activation codes as the shaders know them (the `ACT` override of activation_fns.wgsl). */
export const ACTIVATIONS = {
  identity: 0,
  relu: 1,
  leaky_relu: 2,
  elu: 3,
  sigmoid: 4,
  tanh: 5,
  gelu: 6,
  gelu_tanh: 7,
  softplus: 8,
} as const;

export type Activation = keyof typeof ACTIVATIONS;

/** α of leaky_relu (negative slope) and elu, with torch's defaults. */
export function defaultAlpha(kind: Activation): number {
  return kind === 'leaky_relu' ? 0.01 : kind === 'elu' ? 1 : 0;
}

/** Activations that take an α (the others ignore it). */
export const ACTIVATIONS_WITH_ALPHA: readonly Activation[] = ['leaky_relu', 'elu'];

export function isActivation(kind: unknown): kind is Activation {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(ACTIVATIONS, kind);
}

export function activationCode(kind: string): number {
  if (!isActivation(kind)) throw new Error(`unknown activation '${kind}' (known: ${Object.keys(ACTIVATIONS).join(', ')})`);
  return ACTIVATIONS[kind];
}

/**
 * Philox stream of the dropout layer at index `layer` of ModelSpec.layers: Streams.dropout + 65536·layer (layer 0
 * uses Streams.dropout itself). Stream ids below 65536 other than Streams.dropout stay free for other uses.
 */
export function dropoutStream(layer: number): number {
  if (!Number.isInteger(layer) || layer < 0 || layer >= 65536) throw new RangeError(`dropoutStream: layer ${layer} must be an integer in [0, 65536)`);
  return Streams.dropout + 65536 * layer;
}

/** The model's loss: softmax cross-entropy on integer labels, or an element-wise loss on float targets. */
export type Loss = 'softmax_ce' | 'mse' | 'bce';
export const LOSSES: readonly Loss[] = ['softmax_ce', 'mse', 'bce'];

/** The element-wise losses of shaders/loss.wgsl. */
export type LossKind = 'mse' | 'bce';
