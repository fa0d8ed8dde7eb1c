/**
 * Weight initialisers as layers name them, and the defaults a layer with weights (Dense; later Conv2D) shares:
 *   default initializer: he_normal when the activation after the layer (site.nextActivation) is ReLU-like, else
 *   glorot_uniform (also for the last layer, which no activation follows);
 *   He gain: that of the activation after the layer (relu, leaky_relu, tanh, sigmoid as themselves; none: linear;
 *   any other activation: relu's).
 * Draws: the tensor of layer i comes from Philox stream Streams.init at step i (model/init.ts), so a seed fixes
 * every weight and adding a layer elsewhere never shifts another layer's numbers.
 */
import { initialize, type InitSpec, type Nonlinearity } from '../model/init.js';
import type { Activation } from '../shared.js';

export type Initializer =
  | 'glorot_uniform' | 'glorot_normal' | 'he_uniform' | 'he_normal' | 'lecun_normal' | 'zeros' | 'constant';
export const INITIALIZERS: readonly Initializer[] = [
  'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal', 'lecun_normal', 'zeros', 'constant',
];

export function isInitializer(v: unknown): v is Initializer {
  return typeof v === 'string' && (INITIALIZERS as readonly string[]).includes(v);
}

const RELU_LIKE = new Set<Activation>(['relu', 'leaky_relu', 'elu', 'gelu', 'gelu_tanh']);

/** The initializer of a layer with weights when the user names none (see the module comment). */
export function defaultWeightInit(nextActivation: Activation | undefined, modelDefault?: Initializer): Initializer {
  if (modelDefault) return modelDefault;
  return nextActivation && RELU_LIKE.has(nextActivation) ? 'he_normal' : 'glorot_uniform';
}

/** torch.nn.init's gain name for the activation after a layer. */
export function gainNonlinearity(next: Activation | undefined): Nonlinearity {
  if (next === undefined) return 'linear';
  return next === 'relu' || next === 'leaky_relu' || next === 'tanh' || next === 'sigmoid' ? next : 'relu';
}

function initSpec(kind: Initializer, nonlinearity: Nonlinearity): InitSpec {
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

/** Fills a weight tensor: `kind` with fans (fanIn, fanOut), Philox step = the layer's index. */
export function initWeights(out: Float32Array, kind: Initializer, fans: { fanIn: number; fanOut: number }, ctx: { seed: number; index: number; nonlinearity: Nonlinearity }): void {
  initialize(out, initSpec(kind, ctx.nonlinearity), { fanIn: fans.fanIn, fanOut: fans.fanOut, seed: ctx.seed, step: ctx.index });
}
