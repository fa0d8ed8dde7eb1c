/**
 * Matrix multiply with a fused epilogue on the GPU: the TypeScript side of shaders/matmul.wgsl (whose header states
 * the math, shapes and bindings).
 *
 *   Z = α·op(A)·op(B) + β·C_old + bias[j];  C = act(Z);  optionally z = Z.
 *
 * Three variants of the same math, chosen per adapter and layout by `chooseMatmulVariant`:
 *   'registers'       4×4 outputs per invocation in registers, no workgroup memory, scalar loads: any shape
 *                     (software adapters: barriers are slow);
 *   'registers-vec4'  8×8 outputs per invocation, A and B read as vec4, no workgroup memory: on software adapters
 *                     whenever the layout allows it (`vec4Layout`), else 'registers'. Load instructions (each a
 *                     bounds-checked per-lane gather on SwiftShader) per FMA drop 8× against 'registers';
 *   'tiled'           workgroup tiles through workgroup memory, 4×4 outputs per invocation (hardware GPUs).
 */
import src from '../../shaders/matmul.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer, resourceBytes } from '../gpu/index.js';
import { ACTIVATION_FNS_FILE, activationCode, defaultAlpha, type Activation } from './activation.js';

export type MatmulVariant = 'registers' | 'registers-vec4' | 'tiled';

const files = [ACTIVATION_FNS_FILE, { file: 'matmul.wgsl', text: src }];
const bindings = { p: 'uniform', a: 'read', b: 'read', c: 'read_write', bias: 'read', z: 'read_write' } as const;

export const matmulRegistersKernel = defineKernel({ label: 'matmul.registers', files, entry: 'matmul_registers', bindings });
export const matmulRegistersVec4Kernel = defineKernel({
  label: 'matmul.registers-vec4',
  files,
  entry: 'matmul_registers_vec4',
  bindings: { p: 'uniform', a4: 'read', b4: 'read', c: 'read_write', bias: 'read', z: 'read_write' },
});
export const matmulTiledKernel = defineKernel({ label: 'matmul.tiled', files, entry: 'matmul_tiled', bindings });

/** Side of the square block of C each invocation computes (fixed in the WGSL: register blocks are not overridable). */
const OUTPUTS_PER_INVOCATION: Record<MatmulVariant, number> = { registers: 4, 'registers-vec4': 8, tiled: 4 };

/** Workgroup shape of each variant (override constants); each invocation computes a block of C (4×4; 8×8 for vec4). */
export interface MatmulTile {
  /** Invocations along N (columns of C): the block is 4·wgX columns wide (8·wgX for 'registers-vec4'). */
  wgX: number;
  /** Invocations along M (rows of C): the block is 4·wgY rows tall (8·wgY for 'registers-vec4'). */
  wgY: number;
  /** 'tiled' only: K step through workgroup memory. */
  bk?: number;
}

export const DEFAULT_TILES: Record<MatmulVariant, Required<MatmulTile>> = {
  registers: { wgX: 8, wgY: 8, bk: 0 },
  'registers-vec4': { wgX: 8, wgY: 8, bk: 0 },
  tiled: { wgX: 16, wgY: 16, bk: 16 },
};

/** The shape and operands of a planned matmul, as far as the choice of variant depends on them. */
export interface MatmulLayout {
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  a: Resource;
  b: Resource;
}

/**
 * Why A and B cannot be read as vec4 (matmul_registers_vec4), or null when they can. Each operand is read 4 floats
 * at a time along its stored rows, so its row length must be a multiple of 4 (A: K, or M when transposed; B: N, or
 * K when transposed) and its binding must start on a 16-byte boundary (buffer ranges start on 256-byte boundaries
 * in WebGPU, so this only guards odd callers). The binding's size need not be a multiple of 16 bytes: the elements
 * used fill the first M·K (K·N) floats, a multiple of 16 bytes, and the shader never reads the tail — so the range
 * is bound as given, not rounded up.
 */
export function vec4Layout(o: MatmulLayout): string | null {
  const [nameA, rowA] = o.transA ? (['M', o.M] as const) : (['K', o.K] as const);
  const [nameB, rowB] = o.transB ? (['K', o.K] as const) : (['N', o.N] as const);
  if (rowA % 4 !== 0) return `A is ${o.transA ? 'K×M' : 'M×K'} and ${nameA} = ${rowA} is not a multiple of 4`;
  if (rowB % 4 !== 0) return `B is ${o.transB ? 'N×K' : 'K×N'} and ${nameB} = ${rowB} is not a multiple of 4`;
  for (const [name, r] of [['A', o.a], ['B', o.b]] as const) {
    const offset = r instanceof GPUBuffer ? 0 : (r.offset ?? 0);
    if (offset % 16 !== 0) return `${name}'s binding offset ${offset} is not a multiple of 16 bytes`;
  }
  return null;
}

/**
 * Software adapters (SwiftShader: workgroup barriers cost ~20× the math): 'registers-vec4' when `layout` allows it
 * (see `vec4Layout`), else 'registers'. Hardware GPUs: 'tiled'.
 */
export function chooseMatmulVariant(engine: Engine, layout?: MatmulLayout): MatmulVariant {
  if (!engine.software) return 'tiled';
  return layout && vec4Layout(layout) === null ? 'registers-vec4' : 'registers';
}

export interface MatmulOptions {
  /** Rows of op(A) and C. */
  M: number;
  /** Columns of op(B) and C. */
  N: number;
  /** Columns of op(A) = rows of op(B). */
  K: number;
  /** A is stored K×M and used transposed (default: A is M×K). */
  transA?: boolean;
  /** B is stored N×K and used transposed (default: B is K×N). */
  transB?: boolean;
  a: Resource;
  b: Resource;
  /** M×N output; read too when β ≠ 0. */
  c: Resource;
  /** [N], added to every row. */
  bias?: Resource;
  /** M×N: receives the pre-activation Z. Must not be `c`. */
  z?: Resource;
  activation?: Activation;
  /** Parameter of leaky_relu / elu (default: torch's). */
  activationAlpha?: number;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Scale of the old C (default 0: C is not read). */
  beta?: number;
  /** Default: `chooseMatmulVariant(engine, <these options>)`. 'registers-vec4' throws when the layout does not allow it. */
  variant?: MatmulVariant;
  tile?: MatmulTile;
}

function checkSize(what: string, r: Resource, elements: number): void {
  const bytes = resourceBytes(r);
  if (bytes < elements * 4) {
    const label = r instanceof GPUBuffer ? r.label : `${r.buffer.label}@${r.offset ?? 0}`;
    throw new RangeError(`matmul: buffer '${label}' (${what}) holds ${bytes} bytes; needs ${elements} f32 = ${elements * 4} bytes`);
  }
}

/** A planned matmul: pipeline, uniforms and bind group made once; `encode` records one dispatch. */
export class MatmulOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    private readonly owned: GPUBuffer[],
    readonly variant: MatmulVariant,
  ) {}

  static async create(engine: Engine, o: MatmulOptions): Promise<MatmulOp> {
    const { M, N, K } = o;
    for (const [name, v] of [['M', M], ['N', N], ['K', K]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`matmul: ${name} must be a positive integer, got ${v}`);
    }
    checkSize(o.transA ? 'A, K×M' : 'A, M×K', o.a, M * K);
    checkSize(o.transB ? 'B, N×K' : 'B, K×N', o.b, K * N);
    checkSize('C, M×N', o.c, M * N);
    if (o.bias) checkSize('bias, N', o.bias, N);
    if (o.z) {
      checkSize('z, M×N', o.z, M * N);
      if (o.z === o.c) throw new Error('matmul: z (pre-activation) must be a different buffer from c');
    }
    const variant = o.variant ?? chooseMatmulVariant(engine, o);
    if (variant === 'registers-vec4') {
      const why = vec4Layout(o);
      if (why) throw new RangeError(`matmul: variant 'registers-vec4' cannot read this layout: ${why}`);
    }
    const tile = { ...DEFAULT_TILES[variant], ...o.tile };
    const kind = o.activation ?? 'identity';
    const overrides: Record<string, number> = {
      TRANS_A: o.transA ? 1 : 0,
      TRANS_B: o.transB ? 1 : 0,
      ACT: activationCode(kind),
      HAS_BIAS: o.bias ? 1 : 0,
      STORE_Z: o.z ? 1 : 0,
    };
    if (variant === 'tiled') Object.assign(overrides, { TS_WG_X: tile.wgX, TS_WG_Y: tile.wgY, TS_BK: tile.bk });
    else Object.assign(overrides, { RB_WG_X: tile.wgX, RB_WG_Y: tile.wgY });
    const def = { registers: matmulRegistersKernel, 'registers-vec4': matmulRegistersVec4Kernel, tiled: matmulTiledKernel }[variant];
    if (!def) throw new RangeError(`matmul: unknown variant '${String(variant)}'`);
    const k = await engine.kernel(def, overrides);
    const u = k.uniforms('p').set({ M, N, K, alpha: o.alpha ?? 1, beta: o.beta ?? 0, act_alpha: o.activationAlpha ?? defaultAlpha(kind) });
    u.write();
    // Unused bindings still need a buffer: bias borrows A (both read-only); z gets a 4-byte placeholder (it is
    // writable, so it may not alias c).
    const owned: GPUBuffer[] = [];
    let z = o.z;
    if (!z) {
      z = engine.storage('matmul.z-unused', 4);
      owned.push(z);
    }
    const operands: Record<string, Resource> = variant === 'registers-vec4' ? { a4: o.a, b4: o.b } : { a: o.a, b: o.b };
    const bg = k.bind({ p: u.buffer, ...operands, c: o.c, bias: o.bias ?? o.a, z });
    const block = OUTPUTS_PER_INVOCATION[variant];
    const gx = Math.ceil(N / (block * tile.wgX));
    const gy = Math.ceil(M / (block * tile.wgY));
    return new MatmulOp((pass) => k.dispatch(pass, bg, gx, gy), u, owned, variant);
  }

  /** Changes α / β for later submits (e.g. β = 0 for the first micro-batch, 1 for the rest). */
  setScalars(s: { alpha?: number; beta?: number }): void {
    if (s.alpha !== undefined) this.uniforms.set({ alpha: s.alpha });
    if (s.beta !== undefined) this.uniforms.set({ beta: s.beta });
    this.uniforms.write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  destroy(): void {
    this.uniforms.destroy();
    for (const b of this.owned) b.destroy();
  }
}
