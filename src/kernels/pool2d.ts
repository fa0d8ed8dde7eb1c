/**
 * Max and average pooling on the GPU: the TypeScript side of shaders/pool2d.wgsl (header: math, shapes, bindings).
 * Each planned op is one dispatch; the backward ones may fuse an activation's derivative (`activationGrad`).
 *   PoolOp.maxForward   x → y, argmax (u32 per output: the plane index of the chosen element)
 *   PoolOp.maxBackward  dy, argmax → dx
 *   PoolOp.avgForward   x → y            PoolOp.avgBackward  dy → dx
 */
import src from '../../shaders/pool2d.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer } from '../gpu/index.js';
import { pool2dOutputSize, type Pool2dGeometry } from '../ref/pool2d.js';
import { activationCode, defaultAlpha } from '../shared.js';
import { ACTIVATION_FNS_FILE, type ActivationGrad } from './activation.js';
import { checkElements } from './sizes.js';

const files = [ACTIVATION_FNS_FILE, { file: 'pool2d.wgsl', text: src }];

export const maxPoolForwardKernel = defineKernel({
  label: 'pool2d.max_forward', files, entry: 'max_forward', bindings: { p: 'uniform', x_in: 'read', y: 'read_write', argmax: 'read_write' },
});
export const maxPoolBackwardKernel = defineKernel({
  label: 'pool2d.max_backward', files, entry: 'max_backward', bindings: { p: 'uniform', dy: 'read', argmax: 'read_write', dx: 'read_write', z: 'read' },
});
export const avgPoolForwardKernel = defineKernel({
  label: 'pool2d.avg_forward', files, entry: 'avg_forward', bindings: { p: 'uniform', x_in: 'read', y: 'read_write' },
});
export const avgPoolBackwardKernel = defineKernel({
  label: 'pool2d.avg_backward', files, entry: 'avg_backward', bindings: { p: 'uniform', dy: 'read', dx: 'read_write', z: 'read' },
});

const WG = 256;

interface Io {
  geometry: Pool2dGeometry;
  rows: number;
}

function sizes(o: Io): { x: number; y: number } {
  const [OH, OW] = pool2dOutputSize(o.geometry);
  const planes = o.rows * o.geometry.channels;
  return { x: planes * o.geometry.height * o.geometry.width, y: planes * OH * OW };
}

export class PoolOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
  ) {}

  private static async plan(
    engine: Engine,
    def: typeof maxPoolForwardKernel,
    o: Io,
    total: number,
    resources: Record<string, Resource>,
    grad?: ActivationGrad,
  ): Promise<PoolOp> {
    const g = o.geometry;
    const [OH, OW] = pool2dOutputSize(g);
    const k = await engine.kernel(def, { WG, ...('z' in def.bindings ? { ACT: grad ? activationCode(grad.kind) : 0, ACT_GRAD: grad ? 1 : 0 } : {}) });
    const u = k.uniforms('p').set({
      planes: o.rows * g.channels, height: g.height, width: g.width, out_h: OH, out_w: OW, kh: g.kernel[0], kw: g.kernel[1],
      sh: g.stride[0], sw: g.stride[1], ph: g.padding[0], pw: g.padding[1], total,
      inv_count: 1 / (g.kernel[0] * g.kernel[1]), act_alpha: grad ? (grad.alpha ?? defaultAlpha(grad.kind)) : 0,
    });
    u.write();
    // Without ACT_GRAD, z is never read; dy fills the binding.
    const bg = k.bind('z' in def.bindings ? { p: u.buffer, ...resources, z: grad?.z ?? resources.dy! } : { p: u.buffer, ...resources });
    const groups = Math.ceil(total / WG);
    return new PoolOp((pass) => k.dispatch1d(pass, bg, groups), u);
  }

  static async maxForward(engine: Engine, o: Io & { x: Resource; y: Resource; argmax: Resource }): Promise<PoolOp> {
    const s = sizes(o);
    checkElements('PoolOp.maxForward', { x: [o.x, s.x], y: [o.y, s.y], argmax: [o.argmax, s.y] });
    return PoolOp.plan(engine, maxPoolForwardKernel, o, s.y, { x_in: o.x, y: o.y, argmax: o.argmax });
  }

  static async maxBackward(engine: Engine, o: Io & { dy: Resource; argmax: Resource; dx: Resource; activationGrad?: ActivationGrad }): Promise<PoolOp> {
    const s = sizes(o);
    checkElements('PoolOp.maxBackward', { dy: [o.dy, s.y], argmax: [o.argmax, s.y], dx: [o.dx, s.x], ...(o.activationGrad ? { z: [o.activationGrad.z, s.x] as [Resource, number] } : {}) });
    return PoolOp.plan(engine, maxPoolBackwardKernel, o, s.x, { dy: o.dy, argmax: o.argmax, dx: o.dx }, o.activationGrad);
  }

  static async avgForward(engine: Engine, o: Io & { x: Resource; y: Resource }): Promise<PoolOp> {
    const s = sizes(o);
    checkElements('PoolOp.avgForward', { x: [o.x, s.x], y: [o.y, s.y] });
    return PoolOp.plan(engine, avgPoolForwardKernel, o, s.y, { x_in: o.x, y: o.y });
  }

  static async avgBackward(engine: Engine, o: Io & { dy: Resource; dx: Resource; activationGrad?: ActivationGrad }): Promise<PoolOp> {
    const s = sizes(o);
    checkElements('PoolOp.avgBackward', { dy: [o.dy, s.y], dx: [o.dx, s.x], ...(o.activationGrad ? { z: [o.activationGrad.z, s.x] as [Resource, number] } : {}) });
    return PoolOp.plan(engine, avgPoolBackwardKernel, o, s.x, { dy: o.dy, dx: o.dx }, o.activationGrad);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}
