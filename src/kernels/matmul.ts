/**
 * Matrix multiply with a fused epilogue on the GPU: the TypeScript side of shaders/matmul.wgsl (whose header states
 * the math, shapes and bindings).
 *
 *   Z = α·op(A)·op(B) + β·C_old + bias[j];  C = act(Z);  optionally z = Z.
 *
 * Two variants of the same math, chosen per adapter by `chooseMatmulVariant`:
 *   'registers'  4×4 outputs per invocation in registers, no workgroup memory (software adapters: barriers are slow);
 *   'tiled'      workgroup tiles through workgroup memory, 4×4 outputs per invocation (hardware GPUs).
 */
import src from '../../shaders/matmul.wgsl';
import { defineKernel, type Engine, type Resource, type UniformBuffer } from '../gpu/index.js';
import { ACTIVATION_FNS_FILE, activationCode, defaultAlpha, type Activation } from './activation.js';

export type MatmulVariant = 'registers' | 'tiled';

const files = [ACTIVATION_FNS_FILE, { file: 'matmul.wgsl', text: src }];
const bindings = { p: 'uniform', a: 'read', b: 'read', c: 'read_write', bias: 'read', z: 'read_write' } as const;

export const matmulRegistersKernel = defineKernel({ label: 'matmul.registers', files, entry: 'matmul_registers', bindings });
export const matmulTiledKernel = defineKernel({ label: 'matmul.tiled', files, entry: 'matmul_tiled', bindings });

/** Workgroup shape of each variant (override constants). Each invocation always computes a 4×4 block of C. */
export interface MatmulTile {
  /** Invocations along N (columns of C): the block is 4·wgX columns wide. */
  wgX: number;
  /** Invocations along M (rows of C): the block is 4·wgY rows tall. */
  wgY: number;
  /** 'tiled' only: K step through workgroup memory. */
  bk?: number;
}

export const DEFAULT_TILES: Record<MatmulVariant, Required<MatmulTile>> = {
  registers: { wgX: 8, wgY: 8, bk: 0 },
  tiled: { wgX: 16, wgY: 16, bk: 16 },
};

/** 'registers' on software adapters (SwiftShader: workgroup barriers cost ~20× the math), 'tiled' on GPUs. */
export function chooseMatmulVariant(engine: Engine): MatmulVariant {
  return engine.software ? 'registers' : 'tiled';
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
  /** Default: `chooseMatmulVariant(engine)`. */
  variant?: MatmulVariant;
  tile?: MatmulTile;
}

/** Size in bytes of a whole buffer or of a buffer range (parameters are ranges of the flat parameter buffer). */
function bytesOf(r: Resource): number {
  return r instanceof GPUBuffer ? r.size : (r.size ?? r.buffer.size - (r.offset ?? 0));
}

function checkSize(what: string, r: Resource, elements: number): void {
  const bytes = bytesOf(r);
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
    const variant = o.variant ?? chooseMatmulVariant(engine);
    const tile = { ...DEFAULT_TILES[variant], ...o.tile };
    const kind = o.activation ?? 'identity';
    const overrides: Record<string, number> = {
      TRANS_A: o.transA ? 1 : 0,
      TRANS_B: o.transB ? 1 : 0,
      ACT: activationCode(kind),
      HAS_BIAS: o.bias ? 1 : 0,
      STORE_Z: o.z ? 1 : 0,
    };
    if (variant === 'registers') Object.assign(overrides, { RB_WG_X: tile.wgX, RB_WG_Y: tile.wgY });
    else Object.assign(overrides, { TS_WG_X: tile.wgX, TS_WG_Y: tile.wgY, TS_BK: tile.bk });
    const k = await engine.kernel(variant === 'registers' ? matmulRegistersKernel : matmulTiledKernel, overrides);
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
    const bg = k.bind({ p: u.buffer, a: o.a, b: o.b, c: o.c, bias: o.bias ?? o.a, z });
    const gx = Math.ceil(N / (4 * tile.wgX));
    const gy = Math.ceil(M / (4 * tile.wgY));
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
