/** Element-wise activations on the GPU: the TypeScript side of shaders/activation.wgsl. */
import fns from '../../shaders/activation_fns.wgsl';
import src from '../../shaders/activation.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer } from '../gpu/index.js';
import { activationCode, defaultAlpha, type Activation } from '../shared.js';

export { ACTIVATIONS, activationCode, defaultAlpha, type Activation } from '../shared.js';

export const ACTIVATION_FNS_FILE = { file: 'activation_fns.wgsl', text: fns };

/**
 * The backward of an activation fused into the op after it (col2im, a pooling's backward): dx ⊙ f′(z), with z (the
 * shape of dx, read) that activation's input.
 */
export interface ActivationGrad {
  kind: Activation;
  alpha?: number;
  z: Resource;
}
const files = [ACTIVATION_FNS_FILE, { file: 'activation.wgsl', text: src }];

export const activationForwardKernel = defineKernel({
  label: 'activation.forward',
  files,
  entry: 'forward',
  bindings: { p: 'uniform', x: 'read', y: 'read_write' },
});

export const activationBackwardKernel = defineKernel({
  label: 'activation.backward',
  files,
  entry: 'backward',
  bindings: { p: 'uniform', x: 'read', dy: 'read', dx: 'read_write' },
});

const WG = 64;

/** A planned activation over `n` elements: bind groups built once, `encode` records one dispatch. */
export class ActivationOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
  ) {}

  /** y = f(x) */
  static async forward(engine: Engine, o: { kind: Activation; alpha?: number; n: number; x: GPUBuffer; y: GPUBuffer }): Promise<ActivationOp> {
    const k = await engine.kernel(activationForwardKernel, { ACT: activationCode(o.kind), WG });
    const u = k.uniforms('p').set({ n: o.n, alpha: o.alpha ?? defaultAlpha(o.kind) });
    u.write();
    const bg = k.bind({ p: u.buffer, x: o.x, y: o.y });
    const groups = Math.ceil(o.n / WG);
    return new ActivationOp((pass) => k.dispatch1d(pass, bg, groups), u);
  }

  /** dx = dy · f'(x) */
  static async backward(
    engine: Engine,
    o: { kind: Activation; alpha?: number; n: number; x: GPUBuffer; dy: GPUBuffer; dx: GPUBuffer },
  ): Promise<ActivationOp> {
    const k = await engine.kernel(activationBackwardKernel, { ACT: activationCode(o.kind), WG });
    const u = k.uniforms('p').set({ n: o.n, alpha: o.alpha ?? defaultAlpha(o.kind) });
    u.write();
    const bg = k.bind({ p: u.buffer, x: o.x, dy: o.dy, dx: o.dx });
    const groups = Math.ceil(o.n / WG);
    return new ActivationOp((pass) => k.dispatch1d(pass, bg, groups), u);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}
