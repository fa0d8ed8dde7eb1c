/**
 * What a layer kind is: one module (src/layers/<kind>.ts) exports one `LayerKind` holding everything about the
 * layer, and src/layers/registry.ts lists it. Everything that walks a model — the text parser (model/text.ts), the
 * validation (model/spec.ts), the parameter layout and initialisation (model/layout.ts, model/params.ts), the CPU
 * reference model (model/cpu-model.ts), the GPU step plan (train/gpu-runner.ts) and the self-test — asks the
 * layer's kind; none of them switches on the kind.
 *
 * Shapes. Activations are tensors (N, ...shape) in row-major order, N the examples of the batch. A `Shape` is the
 * per-example part: [F] for (N, F), [C, H, W] for (N, C, H, W). A layer maps its input shape to its output shape.
 *
 * The life of a layer:
 *   text `dense(256)` ──syntax.parse──▶ input object {type: 'dense', outputs: 256}   (what users and builders write)
 *        ──resolve(input, site)──▶ complete spec {type: 'dense', inputs: 784, outputs: 256, init: 'he_normal', bias: true}
 *   the complete spec is what ModelSpec.layers holds and checkpoints store; resolve() is idempotent on it.
 *   params(spec, input) / stats(spec, input) declare its tensors; model/layout.ts places them in the flat buffers
 *   under the names `layers.<index>.<role>`.
 *   cpu.forward / cpu.backward: the reference (plain loops of src/ref, float32 or float64).
 *   gpu.forward / gpu.backward: planned ops (bind groups made once) on buffers the runner hands over.
 */
import type { Engine } from '../gpu/index.js';
import type { Nonlinearity } from '../model/init.js';
import type { Dtype, FloatArray } from '../ref/dtype.js';
import type { SelfCheck } from '../selftest/types.js';
import type { Activation } from '../shared.js';
import type { Initializer } from './weights.js';

/** Per-example shape: [F], or [C, H, W]; the batch dimension N is never part of it. */
export type Shape = readonly number[];

/** What every layer spec has: the kind's name. */
export interface LayerSpecBase {
  readonly type: string;
}

/** Where a layer sits in its model: what resolve(), syntax.format() and parameter initialisers may depend on. */
export interface LayerSite {
  /** Index in ModelSpec.layers (parameter names `layers.<index>.<role>`, init and dropout streams). */
  index: number;
  /** The input's per-example shape (the model's input shape, or the previous layer's output shape). */
  input: Shape;
  /**
   * The activation applied after this layer: the next layer's `nonlinearity`, looking through layers marked
   * `transparentToInit` (BatchNorm); undefined when the next layer is not an activation. Weight initialisers take
   * their gain from it, and the default initializer is chosen by it.
   */
  nextActivation: Activation | undefined;
  /** The model-wide default initializer (ModelInput.init, or `init=NAME` in the text form), if any. */
  init?: Initializer;
  /** The layer whose output is this layer's input (absent for the first layer), for messages. */
  previous?: { index: number; type: string; input: Shape };
}

/** A parameter tensor of a layer: the optimizer updates it. */
export interface ParamDecl {
  /** Name within the layer: the tensor is `layers.<index>.<role>` (e.g. weight, bias, gamma, beta). */
  role: string;
  shape: number[];
  /** Optimizer parameter group: 'decay' (weights: weight decay / L2 apply) or 'no_decay' (biases, norm scales). */
  group: 'decay' | 'no_decay';
  /** Writes the initial values into `out` (all of it); absent: zeros. */
  init?: (out: Float32Array, ctx: InitContext) => void;
}

/** A non-trainable tensor of a layer (BatchNorm's running statistics). A layer's stats are adjacent in the flat stats buffer, in declaration order. */
export interface StatDecl {
  role: string;
  shape: number[];
  /** Initial values; absent: zeros. */
  init?: (out: Float32Array) => void;
}

export interface InitContext {
  /** The run seed. */
  seed: number;
  /** The layer's index (the Philox step of its initialisers: every layer draws its own words). */
  index: number;
  /** torch.nn.init gain name of the activation after the layer ('linear' when there is none). */
  nonlinearity: Nonlinearity;
}

/** Arguments of a layer in the text form `name(a, b, key=value)`: positional ones in order, keyword ones by key. */
export interface LayerArgs {
  positional: string[];
  named: Record<string, string>;
}

/** The text form of a layer kind (model/text.ts drives it). */
export interface LayerSyntax<S, I> {
  /** Names that select this kind in the text form, e.g. ['dense'], or every activation's name. Unique across kinds. */
  names: readonly string[];
  /** For `wgtrain train --help`: each form of the layer and what it means, e.g. ['dense(N)', 'N outputs']. */
  help: readonly (readonly [form: string, meaning: string])[];
  /** The input object of `name(args)`; throws an Error saying what is wrong. */
  parse(name: string, args: LayerArgs): I;
  /** The text of a complete spec, omitting options at their defaults; `parse` of it gives the spec back. */
  format(spec: S, site: LayerSite): string;
}

/** What a planned GPU op must offer (the kernels' *Op classes do). */
export interface Encodable {
  encode(pass: GPUComputePassEncoder): void;
  destroy(): void;
  /** What the op chose when it was built, for profiles (e.g. a matmul's variant and tile); absent when nothing. */
  readonly detail?: string;
}

/** A planned op and its name in profiles (`layers.<i>.<label> <name>`), e.g. 'forward', 'dW', 'backward'. */
export interface PlannedOp {
  name: string;
  op: Encodable;
}

/** An element-wise function a producer (a matmul) can apply to its output in its epilogue. */
export interface Epilogue {
  activation: Activation;
  alpha?: number;
}

/** Buffers and scalars a layer's GPU plan gets from the runner. Every activation buffer holds `rows × size(shape)` floats at least. */
export interface GpuContext {
  engine: Engine;
  index: number;
  /** Examples in the batch this plan serves (a plan is built per row count). */
  rows: number;
  training: boolean;
  input: Shape;
  output: Shape;
  /** Input activations (N, ...input). */
  x: GPUBuffer;
  /** Output activations (N, ...output). */
  y: GPUBuffer;
  /** A parameter tensor's range of the flat parameter buffer. */
  param(role: string): GPUBufferBinding;
  /** The layer's statistics: all its StatDecls, adjacent, as one range of the flat stats buffer. */
  stats(): GPUBufferBinding;
  /** A scratch buffer the layer declared in `gpu.buffers` (allocated once, kept across plans and steps). */
  buffer(name: string): GPUBuffer;
  /** The run seed and the u32 step record [step, batch start] the host writes before each step (dropout masks). */
  seed: number;
  stepinfo: GPUBuffer;
  /** At least `rows` floats of 1.0 (column sums as 1ᵀ·M). */
  ones: GPUBuffer;
}

export interface GpuForwardContext extends GpuContext {
  /**
   * Set when this layer absorbs the next layer's forward (it `acceptsEpilogue` and the next layer offers an
   * `epilogue`): write the epilogue's output to `epilogue.y` and this layer's own output (the next layer's input,
   * which its backward reads) to `y`.
   */
  epilogue?: Epilogue & { y: GPUBuffer };
}

export interface GpuBackwardContext extends GpuContext {
  /** ∂loss/∂y (N, ...output): read. */
  dy: GPUBuffer;
  /** ∂loss/∂x (N, ...input): written, when `needsDx`. */
  dx: GPUBuffer;
  /** False for layers before which nothing has parameters: then nobody reads dx and ops that only write it are left out. */
  needsDx: boolean;
  /**
   * Set when this layer absorbs the backward of the layer before it (this layer `acceptsGradEpilogue`, needs dx, and
   * that layer offers an `epilogue`): instead of dx, write dx ⊙ f′(z) — the gradient w.r.t. that layer's input — to
   * `gradEpilogue.dx`; `z` holds that layer's input. The layer before then plans no backward of its own.
   */
  gradEpilogue?: Epilogue & { z: GPUBuffer; dx: GPUBuffer };
  /** A parameter tensor's range of the flat gradient buffer; gradients are WRITTEN (not accumulated) each step. */
  grad(role: string): GPUBufferBinding;
}

/** Where a backward writes the input gradient, in the form the kernels' options take (`activationGrad`: src/kernels/activation.ts). */
export interface DxTarget {
  dx: GPUBuffer;
  /** Set when the backward absorbs the layer before: dx ⊙ f′(z), z that layer's input. */
  activationGrad?: { kind: Activation; alpha?: number; z: GPUBuffer };
}

/**
 * The dx target of a backward that `acceptsGradEpilogue`: the epilogue's dx with its activation's derivative when it
 * absorbs one, else plain dx when `needsDx`, else undefined (nothing reads dx).
 */
export function dxTarget(c: GpuBackwardContext): DxTarget | undefined {
  const g = c.gradEpilogue;
  if (g) return { dx: g.dx, activationGrad: { kind: g.activation, alpha: g.alpha, z: g.z } };
  return c.needsDx ? { dx: c.dx } : undefined;
}

/** The profile name of a backward op that writes `t`: 'backward', or 'backward+relu′' when it absorbed a ReLU. */
export function dxOpName(t: DxTarget, name = 'backward'): string {
  return t.activationGrad ? `${name}+${t.activationGrad.kind}′` : name;
}

/** The layer's GPU step plan. */
export interface GpuLayer<S> {
  /**
   * Scratch buffers kept for the runner's lifetime, by name (e.g. BatchNorm's saved batch statistics); `batch` is
   * the largest row count any plan will have; `limits` the device's (a layer may size its scratch to fit one
   * binding, e.g. Conv2D's chunks); `engine` is absent when the runner checks sizes before it has one. Contents start
   * at zero, or every f32 at `fill`. `fix`: what to change when the buffer is too large (default: a smaller batch
   * size or layer).
   */
  buffers?(spec: S, io: { input: Shape; output: Shape; batch: number; limits: GPUSupportedLimits; engine?: Engine }): { name: string; bytes: number; fill?: number; fix?: string }[];
  /** True when the output is the input's memory reinterpreted (reshape): no ops; y aliases x and dx aliases dy. */
  aliasesInput?(spec: S): boolean;
  /** This layer's forward can apply an `Epilogue`, absorbing the next layer's forward (Dense: matmul + activation). */
  acceptsEpilogue?: boolean;
  /**
   * The backward can apply an element-wise layer's backward to the dx it produces (`GpuBackwardContext.gradEpilogue`:
   * e.g. the dX matmul times f′(z)), absorbing the backward of the layer before.
   */
  acceptsGradEpilogue?: boolean;
  /**
   * The epilogue this layer amounts to (activations): y = f(x), dx = dy ⊙ f′(x). A layer before it that
   * `acceptsEpilogue` may absorb its forward; a layer after it that `acceptsGradEpilogue` may absorb its backward.
   */
  epilogue?(spec: S): Epilogue | undefined;
  /** Forward ops, in order (training or evaluation, see ctx.training). Not called when a producer absorbed it. */
  forward(spec: S, ctx: GpuForwardContext): Promise<PlannedOp[]>;
  /** Backward ops, in order (training plans only): parameter gradients, and dx when ctx.needsDx. */
  backward(spec: S, ctx: GpuBackwardContext): Promise<PlannedOp[]>;
}

interface CpuContext {
  index: number;
  rows: number;
  input: Shape;
  output: Shape;
  dtype: Dtype;
  /** Seed and global step: dropout masks are a function of (seed, layer, step, element). */
  seed: number;
  step: number;
  param(role: string): FloatArray;
}

export interface CpuForwardContext extends CpuContext {
  /** (rows, ...input), row-major. */
  x: FloatArray;
  training: boolean;
  /** A statistics tensor, writable in place (BatchNorm updates its running statistics in training). */
  stat(role: string): FloatArray;
}

export interface CpuBackwardContext extends CpuContext {
  /** The forward's input. */
  x: FloatArray;
  /** ∂loss/∂y (rows, ...output). */
  dy: FloatArray;
  /** What forward returned as `cache`. */
  cache: unknown;
  needsDx: boolean;
  /** A parameter's gradient, written (not accumulated). */
  grad(role: string): FloatArray;
}

/** The layer's CPU reference (plain loops; float32 rounds every operation, float64 none). */
export interface CpuLayer<S> {
  forward(spec: S, c: CpuForwardContext): { y: FloatArray; cache?: unknown };
  /** ∂loss/∂x, or undefined when !needsDx; writes the parameters' gradients through c.grad. */
  backward(spec: S, c: CpuBackwardContext): FloatArray | undefined;
}

/**
 * A layer kind. S: its complete spec; I: what a user may write (S with defaults and derived fields optional).
 */
export interface LayerKind<S extends LayerSpecBase = LayerSpecBase, I extends LayerSpecBase = LayerSpecBase> {
  readonly type: S['type'];
  /** One line for documentation: what the layer computes. */
  readonly summary: string;
  readonly syntax: LayerSyntax<S, I>;
  /**
   * The complete spec from what the user wrote: defaults filled in, fields derived from the input shape, every
   * option checked against the input shape. Throws an Error that says what is wrong and names the shapes
   * (model/spec.ts prefixes the layer's index and kind).
   */
  resolve(input: I, site: LayerSite): S;
  outputShape(spec: S, input: Shape): Shape;
  /** Name in profiles and op labels: the kind, or e.g. the activation's name. */
  label(spec: S): string;
  /**
   * In `describeModel`: a short tag (e.g. 'relu', 'bn', 'dropout=0.1') for layers that keep the shape; absent for
   * layers whose output size belongs in the size chain (784-256-10).
   */
  tag?(spec: S): string;
  /** The element-wise function this layer applies, for the initialisers of the layer before it. */
  nonlinearity?(spec: S): Activation;
  /** The layer before looks through this one for its next activation (BatchNorm between Dense and ReLU). */
  readonly transparentToInit?: boolean;
  params?(spec: S, input: Shape): ParamDecl[];
  stats?(spec: S, input: Shape): StatDecl[];
  /**
   * What each unit of this layer looks at, for drawing a first layer's weights as pictures (model/filters.ts): `count`
   * filters of `shape` values over the layer's input, read out of its `weight` parameter. Absent for layers without
   * such weights.
   */
  filters?(spec: S, input: Shape): LayerFilterDecl;
  readonly cpu: CpuLayer<S>;
  readonly gpu: GpuLayer<S>;
  /** GPU-vs-CPU self-checks of the kernels this layer owns (run by `selfTest`). */
  readonly selfChecks?: readonly SelfCheck[];
}

export interface LayerFilterDecl {
  /** Filters (a Dense layer's output units, a convolution's output channels). */
  count: number;
  /** The shape of one filter (a Dense layer: its input shape). */
  shape: Shape;
  /** Copies filter `unit` out of the layer's weight tensor into `out` (length = the product of `shape`). */
  read(weight: ArrayLike<number>, unit: number, out: Float32Array): void;
}

/** Column `col` of a rows×cols row-major matrix into `out`: a unit's filter in an in×out weight (Dense, Conv2D). */
export function readColumn(weight: ArrayLike<number>, rows: number, cols: number, col: number, out: Float32Array): void {
  for (let i = 0; i < rows; i++) out[i] = weight[i * cols + col]!;
}

/** Elements of one example of a shape. */
export function shapeSize(s: Shape): number {
  return s.reduce((a, b) => a * b, 1);
}

/** `(N, 1, 28, 28)`: a shape with the batch dimension, as messages show it. */
export function showShape(s: Shape): string {
  return `(N, ${s.join(', ')})`;
}

/**
 * Runs `build`, collecting the ops it adds in order; when it throws, the ops added so far are destroyed (no GPU
 * buffer outlives a failed plan).
 */
export async function plannedOps(build: (add: (name: string, op: Encodable) => void) => Promise<void>): Promise<PlannedOp[]> {
  const ops: PlannedOp[] = [];
  try {
    await build((name, op) => ops.push({ name, op }));
    return ops;
  } catch (e) {
    for (const o of ops) o.op.destroy();
    throw e;
  }
}
