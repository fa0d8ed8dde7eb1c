/**
 * Inverted dropout on the GPU: the TypeScript side of shaders/dropout.wgsl (see its header for the math).
 *
 * The mask is never stored: forward and backward regenerate it from Philox word i of
 * (seed, stream, step = stepinfo[0]), so a step's backward must be encoded before the host writes the next step into
 * `stepinfo`. Each dropout layer uses its own stream, `dropoutStream(layerIndex)` (src/shared.ts), so adding a layer never changes
 * another layer's masks, and no dropout stream meets the other documented streams (src/random.ts `Streams`).
 * In evaluation mode dropout is the identity: a plan should alias y to x and encode nothing; `training: false` gives
 * a plain copy kernel (no random numbers) for callers that need distinct buffers.
 */
import randomSrc from '../../shaders/random.wgsl';
import src from '../../shaders/dropout.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer, resourceBytes } from '../gpu/index.js';
import { seedToKey } from '../random.js';
import { checkDropoutP, dropoutThreshold } from '../ref/dropout.js';

const files = [
  { file: 'random.wgsl', text: randomSrc },
  { file: 'dropout.wgsl', text: src },
];

export const dropoutForwardKernel = defineKernel({
  label: 'dropout.forward',
  files,
  entry: 'forward',
  bindings: { p: 'uniform', stepinfo: 'read', x: 'read', y: 'read_write' },
});

export const dropoutBackwardKernel = defineKernel({
  label: 'dropout.backward',
  files,
  entry: 'backward',
  bindings: { p: 'uniform', stepinfo: 'read', dy: 'read', dx: 'read_write' },
});

export { dropoutStream } from '../shared.js';

const WG = 64;

interface DropoutOptions {
  /** Elements. */
  n: number;
  /** Drop probability in [0, 1). */
  p: number;
  /** Run seed (integer in [0, 2^53)). */
  seed: number;
  /** Philox stream of this layer: `dropoutStream(layerIndex)`. */
  stream: number;
  /** u32 [≥ 1]: [0] = global step index, written by the host each step. */
  stepinfo: Resource;
  /** false: identity (evaluation mode). Default true. */
  training?: boolean;
}

/** One planned dropout dispatch; bind group and uniforms built once, `encode` records it. */
export class DropoutOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
  ) {}

  /** y = x · keep / (1 − p) (training), y = x (evaluation). */
  static async forward(engine: Engine, o: DropoutOptions & { x: Resource; y: Resource }): Promise<DropoutOp> {
    return DropoutOp.plan(engine, o, 'forward', { x: o.x, y: o.y });
  }

  /** dx = dy · keep / (1 − p) with the forward's mask (same seed, stream and step). */
  static async backward(engine: Engine, o: DropoutOptions & { dy: Resource; dx: Resource }): Promise<DropoutOp> {
    return DropoutOp.plan(engine, o, 'backward', { dy: o.dy, dx: o.dx });
  }

  private static async plan(engine: Engine, o: DropoutOptions, which: 'forward' | 'backward', io: Record<string, Resource>): Promise<DropoutOp> {
    checkDropoutP(o.p);
    if (!Number.isInteger(o.n) || o.n < 1 || o.n > 0xfffffff0) throw new RangeError(`DropoutOp: n = ${o.n} must be a positive integer below 2^32 − 16`);
    if (!Number.isInteger(o.stream) || o.stream < 0 || o.stream >= 2 ** 32) throw new RangeError(`DropoutOp: stream ${o.stream} must be a u32`);
    for (const [name, r] of Object.entries(io)) {
      if (resourceBytes(r) < o.n * 4) throw new RangeError(`DropoutOp.${which}: ${name} holds ${resourceBytes(r)} bytes, needs ${o.n * 4}`);
    }
    if (resourceBytes(o.stepinfo) < 4) throw new RangeError(`DropoutOp.${which}: stepinfo must hold at least one u32`);
    const training = o.training ?? true;
    const k = await engine.kernel(which === 'forward' ? dropoutForwardKernel : dropoutBackwardKernel, { WG });
    const u = k.uniforms('p').set({
      n: o.n,
      threshold: training ? dropoutThreshold(o.p) : 0,
      scale: training ? 1 / (1 - o.p) : 1,
      stream: o.stream,
      key: seedToKey(o.seed),
    });
    u.write();
    const bg = k.bind({ p: u.buffer, stepinfo: o.stepinfo, ...io });
    const groups = Math.ceil(Math.ceil(o.n / 4) / WG);
    return new DropoutOp((pass) => k.dispatch1d(pass, bg, groups), u);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}
