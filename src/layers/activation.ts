/**
 * Element-wise activation Y = f(X) over any shape; dX = dY·f′(X). The functions and their derivatives are stated in
 * shaders/activation_fns.wgsl (CPU reference: src/ref/activation.ts). α is leaky_relu's negative slope (default
 * 0.01) or elu's scale (default 1); no other activation takes one.
 * GPU: after a layer that `acceptsEpilogue` (Dense) the activation is applied in that layer's epilogue and this
 * layer plans no forward op of its own; its backward reads the pre-activation the producer stored.
 */
import { ActivationOp } from '../kernels/activation.js';
import { activationBackwardRef, activationForwardRef } from '../ref/activation.js';
import { activationChecks } from '../selftest/activation.js';
import { ACTIVATIONS, ACTIVATIONS_WITH_ALPHA, isActivation, type Activation } from '../shared.js';
import { bindArgs, formatCall } from './args.js';
import { shapeSize, type LayerKind } from './layer.js';

export interface ActivationSpec {
  type: 'activation';
  kind: Activation;
  /** leaky_relu's negative slope or elu's α; absent: torch's default. */
  alpha?: number;
}

export type ActivationInput = ActivationSpec;

/** Builder for any activation by name: `activation('gelu')`, `activation('leaky_relu', 0.2)`. */
export function activation(kind: Activation, alpha?: number): ActivationInput {
  return alpha === undefined ? { type: 'activation', kind } : { type: 'activation', kind, alpha };
}
export const relu = (): ActivationInput => activation('relu');
export const leakyRelu = (alpha?: number): ActivationInput => activation('leaky_relu', alpha);
export const elu = (alpha?: number): ActivationInput => activation('elu', alpha);
export const sigmoid = (): ActivationInput => activation('sigmoid');
export const tanh = (): ActivationInput => activation('tanh');
export const gelu = (): ActivationInput => activation('gelu');
export const geluTanh = (): ActivationInput => activation('gelu_tanh');
export const softplus = (): ActivationInput => activation('softplus');

const names = Object.keys(ACTIVATIONS) as Activation[];

export const activationLayer: LayerKind<ActivationSpec, ActivationInput> = {
  type: 'activation',
  summary: 'element-wise activation Y = f(X), any shape',
  syntax: {
    names,
    help: [[names.join(' | '), 'element-wise activation; leaky_relu(A) and elu(A) take α (default 0.01 and 1)']],
    parse(name, args) {
      const a = bindArgs(name, args, ACTIVATIONS_WITH_ALPHA.includes(name as Activation) ? [{ key: 'alpha', type: 'number', positional: true }] : []);
      return activation(name as Activation, a.alpha as number | undefined);
    },
    format: (s) => formatCall(s.kind, [s.alpha]),
  },
  resolve(l) {
    if (!isActivation(l.kind)) throw new Error(`unknown activation '${l.kind}' (known: ${names.join(', ')})`);
    if (l.alpha === undefined) return { type: 'activation', kind: l.kind };
    if (!ACTIVATIONS_WITH_ALPHA.includes(l.kind)) throw new Error(`${l.kind} takes no alpha (only ${ACTIVATIONS_WITH_ALPHA.join(' and ')} do)`);
    if (typeof l.alpha !== 'number' || !Number.isFinite(l.alpha)) throw new Error(`alpha must be a finite number (got ${JSON.stringify(l.alpha)})`);
    return { type: 'activation', kind: l.kind, alpha: l.alpha };
  },
  outputShape: (_s, input) => input,
  label: (s) => s.kind,
  tag: (s) => s.kind,
  nonlinearity: (s) => s.kind,
  cpu: {
    forward: (s, c) => ({ y: activationForwardRef(s.kind, c.x, c.dtype, s.alpha) }),
    backward: (s, c) => (c.needsDx ? activationBackwardRef(s.kind, c.x, c.dy, c.dtype, s.alpha) : undefined),
  },
  gpu: {
    epilogue: (s) => ({ activation: s.kind, alpha: s.alpha }),
    async forward(s, c) {
      return [{ name: 'forward', op: await ActivationOp.forward(c.engine, { kind: s.kind, alpha: s.alpha, n: c.rows * shapeSize(c.input), x: c.x, y: c.y }) }];
    },
    async backward(s, c) {
      if (!c.needsDx) return [];
      return [{ name: 'backward', op: await ActivationOp.backward(c.engine, { kind: s.kind, alpha: s.alpha, n: c.rows * shapeSize(c.output), x: c.x, dy: c.dy, dx: c.dx }) }];
    },
  },
  selfChecks: activationChecks,
};
