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
 *   'tiled'           workgroup tiles through workgroup memory, 4×4 outputs per invocation (hardware GPUs);
 *   'tiled8'          workgroup tiles up to 128×128 through double-buffered workgroup memory, 8×8 outputs per
 *                     invocation, vec4 global loads per operand where its layout allows, optional split-K (a second
 *                     dispatch adds the partial sums and applies the epilogue): the hardware kernel for big shapes.
 * On hardware adapters `tuneMatmul` (matmul-tune.ts) times candidate variants and tiles per shape when a plan is
 * built and caches the winner per engine; without tuning the choice is the fixed rule of `chooseMatmulVariant`.
 */
import src from '../../shaders/matmul.wgsl';
import { defineKernel, type Engine, type KernelDef, type Resource, type UniformBuffer, resourceBytes } from '../gpu/index.js';
import { ACTIVATION_FNS_FILE, activationCode, defaultAlpha, type Activation } from './activation.js';
import { matmulAutotune, tuneMatmul } from './matmul-tune.js';

export type MatmulVariant = 'registers' | 'registers-vec4' | 'tiled' | 'tiled8';

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
export const matmulTiled8Kernel = defineKernel({
  label: 'matmul.tiled8',
  files,
  entry: 'matmul_tiled8',
  bindings: { ...bindings, av: 'read', bv: 'read' },
});
export const matmulSplitKReduceKernel = defineKernel({
  label: 'matmul.splitk-reduce',
  files,
  entry: 'matmul_splitk_reduce',
  bindings: { p: 'uniform', part: 'read', c: 'read_write', bias: 'read', z: 'read_write' },
});

/** Side of the square block of C each invocation computes (fixed in the WGSL: register blocks are not overridable). */
const OUTPUTS_PER_INVOCATION: Record<MatmulVariant, number> = { registers: 4, 'registers-vec4': 8, tiled: 4, tiled8: 8 };

/** Workgroup shape of each variant (override constants); each invocation computes a block of C (4×4; 8×8 for vec4). */
export interface MatmulTile {
  /** Invocations along N (columns of C): the block is 4·wgX columns wide (8·wgX for 'registers-vec4'). */
  wgX: number;
  /** Invocations along M (rows of C): the block is 4·wgY rows tall (8·wgY for 'registers-vec4'). */
  wgY: number;
  /** 'tiled' and 'tiled8': K step through workgroup memory ('tiled8': 2·bk must be wgX or 2·wgX, and wgY or 2·wgY). */
  bk?: number;
  /** 'tiled8' only: K is cut into this many chunks summed by separate workgroups, then added (default 1). */
  splitK?: number;
}

export const DEFAULT_TILES: Record<MatmulVariant, Required<MatmulTile>> = {
  registers: { wgX: 8, wgY: 8, bk: 0, splitK: 1 },
  'registers-vec4': { wgX: 8, wgY: 8, bk: 0, splitK: 1 },
  tiled: { wgX: 16, wgY: 16, bk: 16, splitK: 1 },
  tiled8: { wgX: 16, wgY: 16, bk: 8, splitK: 1 },
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
  return operandVec4(o, 'A') ?? operandVec4(o, 'B');
}

/** Why one operand cannot be read as vec4 along its stored rows (see `vec4Layout`), or null when it can. */
export function operandVec4(o: MatmulLayout, which: 'A' | 'B'): string | null {
  const [name, row, r, stored] =
    which === 'A'
      ? o.transA ? (['M', o.M, o.a, 'K×M'] as const) : (['K', o.K, o.a, 'M×K'] as const)
      : o.transB ? (['K', o.K, o.b, 'N×K'] as const) : (['N', o.N, o.b, 'K×N'] as const);
  if (row % 4 !== 0) return `${which} is ${stored} and ${name} = ${row} is not a multiple of 4`;
  const offset = r instanceof GPUBuffer ? 0 : (r.offset ?? 0);
  if (offset % 16 !== 0) return `${which}'s binding offset ${offset} is not a multiple of 16 bytes`;
  return null;
}

/**
 * The untuned choice. Software adapters (SwiftShader: workgroup barriers cost ~20× the math): 'registers-vec4' when
 * `layout` allows it (see `vec4Layout`), else 'registers'. Hardware GPUs: 'tiled8' (`tuneMatmul` refines this per
 * shape when a plan is built).
 */
export function chooseMatmulVariant(engine: Engine, layout?: MatmulLayout): MatmulVariant {
  if (!engine.software) return 'tiled8';
  return layout && vec4Layout(layout) === null ? 'registers-vec4' : 'registers';
}

/** Why `tile` cannot run variant 'tiled8', or null. */
export function tiled8TileProblem(t: Required<MatmulTile>): string | null {
  const per = (wg: number) => (2 * t.bk) / wg;
  if (t.bk % 4 !== 0 || t.bk < 4) return `bk = ${t.bk} must be a positive multiple of 4`;
  for (const [name, wg] of [['wgX', t.wgX], ['wgY', t.wgY]] as const) {
    if (per(wg) !== 1 && per(wg) !== 2) return `2·bk / ${name} = ${per(wg)} must be 1 or 2 (vec4 loads per invocation)`;
  }
  if (!Number.isInteger(t.splitK) || t.splitK < 1) return `splitK = ${t.splitK} must be a positive integer`;
  return null;
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
  /**
   * The backward of an activation fused into the product: C = (α·op(A)·op(B) + β·C_old + bias) ⊙ f'(z) with f =
   * `activation`, where `z` (M×N, read) holds the activation's saved input. E.g. dZ = (dY_next·Wᵀ) ⊙ relu'(Z).
   */
  activationGrad?: { z: Resource };
  /**
   * Also writes α·Σ_k op(B)[k, j] (+ β·old) to this [N] buffer: the bias gradient db = 1ᵀ·dY beside dW = Xᵀ·dY. With
   * 'tiled8' (transA) it is an extra row of the same dispatch; other variants add a 1×K by K×N product.
   */
  columnSums?: Resource;
  /**
   * Store C (and z) as (G, N, P) instead of M×N: row i = g·P + q, column j goes to (g·N + j)·P + q, with P = this
   * and M a multiple of it. A convolution's im2col product (rows: example × output pixel, columns: channels) lands
   * in NCHW order this way. Bias stays per column.
   */
  nchwPlane?: number;
  /**
   * Element offset of C (and z, activationGrad.z) in their buffers (default 0): the product writes one block of a
   * larger output, e.g. a convolution's chunk of examples, at any offset (a binding offset must be aligned to
   * minStorageBufferOffsetAlignment). Not applied to columnSums.
   */
  cOffset?: number;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Scale of the old C (default 0: C is not read). */
  beta?: number;
  /**
   * Default: on hardware adapters with autotuning on (`setMatmulAutotune`), the fastest candidate `tuneMatmul` measured
   * for this shape; else `chooseMatmulVariant(engine, <these options>)`. 'registers-vec4' throws when the layout does
   * not allow it.
   */
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

/**
 * A planned matmul: pipelines, uniforms and bind groups made once; `encode` records one dispatch (two with split-K,
 * one more for unfused column sums).
 */
export class MatmulOp {
  private constructor(
    private readonly dispatchFn: (pass: GPUComputePassEncoder) => void,
    private readonly uniforms: UniformBuffer,
    private readonly owned: GPUBuffer[],
    readonly variant: MatmulVariant,
    readonly tile: Required<MatmulTile>,
    /** The separate column-sum product, when the variant could not fuse it. */
    private readonly sums: MatmulOp | null = null,
  ) {}

  /** The variant and tile, e.g. `tiled8 16×16 bk 8 split-K 2`. */
  get detail(): string {
    const t = this.tile;
    return `${this.variant} ${t.wgX}×${t.wgY}${t.bk ? ` bk ${t.bk}` : ''}${t.splitK > 1 ? ` split-K ${t.splitK}` : ''}${this.sums ? ' + column sums' : ''}`;
  }

  static async create(engine: Engine, o: MatmulOptions): Promise<MatmulOp> {
    const { M, N, K } = o;
    for (const [name, v] of [['M', M], ['N', N], ['K', K]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`matmul: ${name} must be a positive integer, got ${v}`);
    }
    checkSize(o.transA ? 'A, K×M' : 'A, M×K', o.a, M * K);
    checkSize(o.transB ? 'B, N×K' : 'B, K×N', o.b, K * N);
    const cOffset = o.cOffset ?? 0;
    if (!Number.isInteger(cOffset) || cOffset < 0) throw new RangeError(`matmul: cOffset must be a non-negative integer, got ${cOffset}`);
    checkSize(cOffset ? `C, M×N after ${cOffset} elements` : 'C, M×N', o.c, cOffset + M * N);
    if (o.bias) checkSize('bias, N', o.bias, N);
    if (o.z) {
      checkSize('z, M×N', o.z, cOffset + M * N);
      if (o.z === o.c) throw new Error('matmul: z (pre-activation) must be a different buffer from c');
    }
    if (o.activationGrad) {
      if (o.z) throw new Error('matmul: activationGrad reads z; it cannot be combined with storing z');
      checkSize('activationGrad.z, M×N', o.activationGrad.z, cOffset + M * N);
      if (o.activationGrad.z === o.c) throw new Error('matmul: activationGrad.z must be a different buffer from c');
    }
    if (o.columnSums) {
      checkSize('columnSums, N', o.columnSums, N);
      if (o.z || o.activationGrad) throw new Error('matmul: columnSums uses the z binding; it cannot be combined with z or activationGrad');
      if (o.columnSums === o.c) throw new Error('matmul: columnSums must be a different buffer from c');
    }
    const plane = o.nchwPlane ?? 0;
    if (o.nchwPlane !== undefined && !(Number.isInteger(plane) && plane >= 1 && M % plane === 0)) {
      throw new RangeError(`matmul: nchwPlane ${o.nchwPlane} must be a positive integer dividing M = ${M}`);
    }
    let variant = o.variant;
    let tileOpt = o.tile;
    if (variant === undefined && !o.tile && matmulAutotune(engine)) ({ variant, tile: tileOpt } = await tuneMatmul(engine, o));
    variant ??= chooseMatmulVariant(engine, o);
    if (variant === 'registers-vec4') {
      const why = vec4Layout(o);
      if (why) throw new RangeError(`matmul: variant 'registers-vec4' cannot read this layout: ${why}`);
    }
    const tile: Required<MatmulTile> = { ...DEFAULT_TILES[variant], ...tileOpt };
    if (variant === 'tiled8') {
      const why = tiled8TileProblem(tile);
      if (why) throw new RangeError(`matmul: tile ${JSON.stringify(tile)} does not suit 'tiled8': ${why}`);
    } else if (tile.splitK !== 1) throw new RangeError(`matmul: splitK needs variant 'tiled8' (got '${variant}')`);
    const kind = o.activation ?? 'identity';
    const epilogue = {
      ACT: activationCode(kind),
      HAS_BIAS: o.bias ? 1 : 0,
      STORE_Z: o.z ? 1 : 0,
      ACT_GRAD: o.activationGrad ? 1 : 0,
      C_NCHW: plane ? 1 : 0,
    };
    // The ones row rides in tiled8's A tiles (only when A is read transposed: its rows run along M).
    const onesRow = !!o.columnSums && variant === 'tiled8' && !!o.transA;
    const outRows = M + (onesRow ? 1 : 0);
    const overrides: Record<string, number> = { TRANS_A: o.transA ? 1 : 0, TRANS_B: o.transB ? 1 : 0, ...epilogue, ONES_ROW: onesRow ? 1 : 0 };
    // Split-K: each split covers a whole number of k steps; fewer splits when K is short.
    const kChunk = Math.ceil(Math.ceil(K / tile.splitK) / Math.max(tile.bk, 1)) * Math.max(tile.bk, 1);
    const splits = variant === 'tiled8' ? Math.ceil(K / kChunk) : 1;
    if (variant === 'tiled') Object.assign(overrides, { TS_WG_X: tile.wgX, TS_WG_Y: tile.wgY, TS_BK: tile.bk });
    else if (variant === 'tiled8') {
      Object.assign(overrides, {
        T8_WG_X: tile.wgX, T8_WG_Y: tile.wgY, T8_BK: tile.bk,
        VEC_A: operandVec4(o, 'A') === null ? 1 : 0, VEC_B: operandVec4(o, 'B') === null ? 1 : 0,
      });
      // The partial pass has no epilogue of its own.
      if (splits > 1) Object.assign(overrides, { PARTIAL: 1, ACT: 0, HAS_BIAS: 0, STORE_Z: 0, ACT_GRAD: 0, C_NCHW: 0 });
    } else Object.assign(overrides, { RB_WG_X: tile.wgX, RB_WG_Y: tile.wgY });
    const defs: Record<MatmulVariant, KernelDef> = {
      registers: matmulRegistersKernel, 'registers-vec4': matmulRegistersVec4Kernel, tiled: matmulTiledKernel, tiled8: matmulTiled8Kernel,
    };
    const def = defs[variant];
    if (!def) throw new RangeError(`matmul: unknown variant '${String(variant)}'`);
    const [k, reduce] = await Promise.all([
      engine.kernel(def, overrides),
      splits > 1 ? engine.kernel(matmulSplitKReduceKernel, { TRANS_A: 0, TRANS_B: 0, ...epilogue, ONES_ROW: overrides.ONES_ROW! }) : null,
    ]);
    const u = k.uniforms('p').set({
      M, N, K, alpha: o.alpha ?? 1, beta: o.beta ?? 0, act_alpha: o.activationAlpha ?? defaultAlpha(kind), k_chunk: kChunk, splits,
      c_plane: Math.max(plane, 1), c_offset: cOffset,
    });
    u.write();
    // Unused bindings still need a buffer: bias borrows A (both read-only); z gets a 4-byte placeholder (it is
    // writable, so it may not alias c); an operand not read as vec4 gets a 16-byte placeholder for its vec4 view.
    const owned: GPUBuffer[] = [];
    const own = (b: GPUBuffer) => (owned.push(b), b);
    const z = o.z ?? o.activationGrad?.z ?? (onesRow ? o.columnSums! : own(engine.storage('matmul.z-unused', 4)));
    const block = OUTPUTS_PER_INVOCATION[variant];
    const gx = Math.ceil(N / (block * tile.wgX));
    const gy = Math.ceil(outRows / (block * tile.wgY));
    let dispatch: (pass: GPUComputePassEncoder) => void;
    if (variant === 'tiled8') {
      const vecView = (r: Resource, fits: boolean) => (fits ? r : own(engine.storage('matmul.vec4-unused', 16)));
      const views = { av: vecView(o.a, overrides.VEC_A === 1), bv: vecView(o.b, overrides.VEC_B === 1) };
      if (reduce) {
        const part = own(engine.storage('matmul.splitk-partials', splits * outRows * N * 4));
        const bg = k.bind({ p: u.buffer, a: o.a, b: o.b, ...views, c: part, bias: o.a, z: o.z ?? own(engine.storage('matmul.z-unused', 4)) });
        const bgr = reduce.bind({ p: u.buffer, part, c: o.c, bias: o.bias ?? o.a, z });
        const groups = Math.ceil((outRows * N) / 256);
        dispatch = (pass) => {
          k.dispatch(pass, bg, gx, gy, splits);
          reduce.dispatch1d(pass, bgr, groups);
        };
      } else {
        const bg = k.bind({ p: u.buffer, a: o.a, b: o.b, ...views, c: o.c, bias: o.bias ?? o.a, z });
        dispatch = (pass) => k.dispatch(pass, bg, gx, gy);
      }
    } else {
      const operands: Record<string, Resource> = variant === 'registers-vec4' ? { a4: o.a, b4: o.b } : { a: o.a, b: o.b };
      const bg = k.bind({ p: u.buffer, ...operands, c: o.c, bias: o.bias ?? o.a, z });
      dispatch = (pass) => k.dispatch(pass, bg, gx, gy);
    }
    // Column sums where the kernel cannot add them as a row: a 1×K (ones) by K×N product of their own.
    let sums: MatmulOp | null = null;
    if (o.columnSums && !onesRow) {
      const ones = own(engine.storage('matmul.ones', new Float32Array(K).fill(1)));
      sums = await MatmulOp.create(engine, { M: 1, N, K, a: ones, b: o.b, transB: o.transB, c: o.columnSums, alpha: o.alpha, beta: o.beta, variant: chooseMatmulVariant(engine) });
      const main = dispatch;
      const extra = sums;
      dispatch = (pass) => {
        main(pass);
        extra.encode(pass);
      };
    }
    return new MatmulOp(dispatch, u, owned, variant, tile, sums);
  }

  /** Changes α / β for later submits (e.g. β = 0 for the first micro-batch, 1 for the rest). */
  setScalars(s: { alpha?: number; beta?: number }): void {
    if (s.alpha !== undefined) this.uniforms.set({ alpha: s.alpha });
    if (s.beta !== undefined) this.uniforms.set({ beta: s.beta });
    this.uniforms.write();
    this.sums?.setScalars(s);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.dispatchFn(pass);
  }

  /** Whether the column sums (if asked for) ride in the product's own dispatch. */
  get fusedColumnSums(): boolean {
    return this.sums === null;
  }

  destroy(): void {
    this.uniforms.destroy();
    for (const b of this.owned) b.destroy();
    this.sums?.destroy();
  }
}
