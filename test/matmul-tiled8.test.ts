/**
 * matmul 'tiled8' (the hardware kernel: 8×8 outputs per invocation, double-buffered workgroup tiles, vec4 loads where
 * an operand's layout allows, split-K) and the autotuner, against the float64 reference. Every configuration is
 * forced, so SwiftShader runs each code path the hardware choice may take; small tiles (wgX = wgY = 4: a 32×32 tile)
 * keep the shapes multi-tile and the pipelines few (each compiles for seconds on SwiftShader).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkBindings, type Engine } from '../src/gpu/index.js';
import {
  MatmulOp,
  matmulSplitKReduceKernel,
  matmulTiled8Kernel,
  operandVec4,
  tiled8TileProblem,
  type MatmulTile,
} from '../src/kernels/matmul.js';
import { matmulCandidates, setMatmulAutotune, timeMatmulCandidates, tuneMatmul } from '../src/kernels/matmul-tune.js';
import { matmulBounded } from '../src/testing/bounds/matmul.js';
import { expectWithin } from '../src/testing/sums.js';
import { expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const tag = (tA: boolean, tB: boolean): string => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;
const SMALL: MatmulTile = { wgX: 4, wgY: 4, bk: 4 };

interface Case {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  tile: MatmulTile;
  epilogue?: boolean;
  beta?: number;
}

async function check(e: Engine, cs: Case, rand: () => number): Promise<MatmulOp> {
  const { M, N, K } = cs;
  const a = uniformArray(M * K, -1, 1, rand);
  const b = uniformArray(K * N, -1, 1, rand);
  const cOld = uniformArray(M * N, -1, 1, rand);
  const bias = uniformArray(N, -1, 1, rand);
  const ep = cs.epilogue ? { activation: 'gelu' as const, alpha: -1.5 } : {};
  const ab = e.storage('a', a);
  const bb = e.storage('b', b);
  const cb = cs.beta ? e.storage('c', cOld) : poisoned(e, 'c', M * N);
  const biasb = cs.epilogue ? e.storage('bias', bias) : undefined;
  const zb = cs.epilogue ? poisoned(e, 'z', M * N) : undefined;
  const o = { M, N, K, transA: cs.transA, transB: cs.transB, beta: cs.beta ?? 0, ...ep };
  const op = await MatmulOp.create(e, { ...o, a: ab, b: bb, c: cb, bias: biasb, z: zb, variant: 'tiled8', tile: cs.tile });
  const what = `tiled8 ${JSON.stringify(cs.tile)} ${tag(cs.transA, cs.transB)} ${M}×${N}×${K}${cs.epilogue ? ' +epilogue' : ''} β=${cs.beta ?? 0}`;
  try {
    e.run(what, (pass) => op.encode(pass));
    // |Ẑ − Z| ≤ γ_(K+3)·Σ|terms| for any split of K and order of summation (src/testing/bounds/matmul.ts).
    const ref = matmulBounded({ ...o, a, b, c: cOld, bias: cs.epilogue ? bias : undefined });
    expectWithin(await e.readF32(cb), ref.y, `${what}: C`);
    if (zb) expectWithin(await e.readF32(zb), ref.z, `${what}: Z`);
    return op;
  } finally {
    for (const x of [ab, bb, cb, biasb, zb]) x?.destroy();
    op.destroy();
  }
}

describe(`matmul tiled8 and autotuning, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader; tile rules', async () => {
    const e = await gpu();
    for (const def of [matmulTiled8Kernel, matmulSplitKReduceKernel]) expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
    expect(tiled8TileProblem({ wgX: 16, wgY: 16, bk: 8, splitK: 1 })).toBeNull();
    expect(tiled8TileProblem({ wgX: 16, wgY: 16, bk: 6, splitK: 1 })).toMatch(/multiple of 4/);
    expect(tiled8TileProblem({ wgX: 16, wgY: 4, bk: 8, splitK: 1 })).toMatch(/wgY = 4/);
    expect(tiled8TileProblem({ wgX: 8, wgY: 8, bk: 8, splitK: 0 })).toMatch(/splitK/);
    const buf = e.storage('x', 64);
    await expect(MatmulOp.create(e, { M: 4, N: 4, K: 4, a: buf, b: buf, c: e.storage('c', 64), variant: 'tiled8', tile: { wgX: 16, wgY: 16, bk: 6 } })).rejects.toThrow(
      /does not suit 'tiled8'/,
    );
    await expect(MatmulOp.create(e, { M: 4, N: 4, K: 4, a: buf, b: buf, c: e.storage('c2', 64), variant: 'tiled', tile: { wgX: 8, wgY: 8, splitK: 2 } })).rejects.toThrow(
      /splitK needs variant 'tiled8'/,
    );
  });

  for (const [transA, transB] of TRANSPOSES) {
    it(`${tag(transA, transB)}: scalar loads at awkward multi-tile shapes, then vec4 loads, with the epilogue`, async () => {
      const e = await gpu();
      const rand = rng();
      // Unaligned rows: both operands take the scalar path; one pipeline for the three shapes (and [1, 1, 1]).
      for (const [M, N, K] of [[1, 1, 1], [33, 37, 13], [70, 9, 31], [5, 66, 67]] as const) {
        await check(e, { M, N, K, transA, transB, tile: SMALL, epilogue: true, beta: M === 70 ? 1 : 0 }, rand);
      }
      // Rows a multiple of 4: both operands read as vec4; sizes not multiples of the 32×32 tile or of bk.
      const op = await check(e, { M: 36, N: 44, K: 20, transA, transB, tile: SMALL, epilogue: true }, rand);
      expect(op.tile.splitK).toBe(1);
    });
  }

  it('mixed: one operand vec4, the other scalar (the 10-wide output layer of an MLP)', async () => {
    const e = await gpu();
    const rand = rng();
    const buf = e.storage('x', 4096);
    // NN with N = 10: A (M×K, K = 36) reads vec4, B (K×N, N = 10) does not.
    expect(operandVec4({ M: 40, N: 10, K: 36, a: buf, b: buf }, 'A')).toBeNull();
    expect(operandVec4({ M: 40, N: 10, K: 36, a: buf, b: buf }, 'B')).toMatch(/N = 10/);
    buf.destroy();
    await check(e, { M: 40, N: 10, K: 36, transA: false, transB: false, tile: SMALL, epilogue: true }, rand);
  });

  it('split-K: chunks that do not divide K, β = 1 and the epilogue applied once after the sum', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of [[false, false], [true, false]] as const) {
      // K = 45 in 3 splits of chunk 16 (the last one 13 long); and 4 splits asked of K = 9 (one 4-chunk each, 3 made).
      await check(e, { M: 34, N: 35, K: 45, transA, transB, tile: { ...SMALL, splitK: 3 }, epilogue: true, beta: 1 }, rand);
      await check(e, { M: 34, N: 35, K: 9, transA, transB, tile: { ...SMALL, splitK: 4 }, epilogue: true, beta: 1 }, rand);
    }
  });

  it('activationGrad: C = (A·Bᵀ) ⊙ f′(z), the activation backward fused into the dX product, in every variant', async () => {
    const e = await gpu();
    const rand = rng();
    const cases = [
      ['registers', undefined, 'gelu', [13, 30, 17]],
      ['registers-vec4', undefined, 'tanh', [12, 20, 36]],
      ['tiled', { wgX: 8, wgY: 8, bk: 8 }, 'relu', [33, 20, 19]],
      ['tiled8', SMALL, 'leaky_relu', [33, 37, 13]],
      ['tiled8', { ...SMALL, splitK: 3 }, 'relu', [34, 35, 45]],
    ] as const;
    for (const [variant, tile, activation, [M, N, K]] of cases) {
      const a = uniformArray(M * K, -1, 1, rand);
      const b = uniformArray(N * K, -1, 1, rand);
      const zIn = uniformArray(M * N, -2, 2, rand);
      const ab = e.storage('a', a);
      const bb = e.storage('b', b);
      const zb = e.storage('z', zIn);
      const cb = poisoned(e, 'c', M * N);
      const op = await MatmulOp.create(e, { M, N, K, transB: true, a: ab, b: bb, c: cb, activation, activationGrad: { z: zb }, variant, tile });
      try {
        e.run('activationGrad', (pass) => op.encode(pass));
        const ref = matmulBounded({ M, N, K, transB: true, a, b, activation, activationGradZ: zIn });
        expectWithin(await e.readF32(cb), ref.y, `${variant} ${JSON.stringify(tile ?? {})} ${activation}′ ${M}×${N}×${K}`);
        // z is read, never written.
        expectClose(await e.readF32(zb), zIn, { atol: 0, rtol: 0 }, 'z unchanged');
      } finally {
        op.destroy();
        for (const x of [ab, bb, zb, cb]) x.destroy();
      }
    }
    const buf = e.storage('x', 4096);
    await expect(MatmulOp.create(e, { M: 4, N: 4, K: 4, a: buf, b: buf, c: e.storage('c3', 64), z: e.storage('z3', 64), activationGrad: { z: buf } })).rejects.toThrow(
      /cannot be combined/,
    );
    buf.destroy();
  });

  it('nchwPlane: C and z stored as (G, N, P) — a convolution\'s output in NCHW — in every variant, with β, bias, z and split-K; at cOffset 0 and 5', async () => {
    const e = await gpu();
    const rand = rng();
    // M = G·P rows (example g, pixel q), N channels; P = 7 is not a multiple of any block size.
    const P = 7;
    const toNchw = (rows: ArrayLike<number>, M: number, N: number) => {
      const out = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[((Math.floor(i / P) * N + j) * P) + (i % P)] = rows[i * N + j]!;
      return out;
    };
    const fromNchw = (t: ArrayLike<number>, M: number, N: number) => {
      const out = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) out[i * N + j] = t[((Math.floor(i / P) * N + j) * P) + (i % P)]!;
      return out;
    };
    const cases = [
      ['registers', undefined, [21, 10, 13]],
      ['registers-vec4', undefined, [28, 12, 36]],
      ['tiled', { wgX: 8, wgY: 8, bk: 8 }, [35, 9, 19]],
      ['tiled8', SMALL, [42, 37, 13]],
      ['tiled8', { ...SMALL, splitK: 3 }, [35, 35, 45]],
    ] as const;
    // cOffset 5 (elements): the product fills a block of a longer C and z (a chunk of a convolution's examples); the
    // 5 values before it and 3 after keep their sentinel.
    for (const off of [0, 5]) for (const [variant, tile, [M, N, K]] of cases) {
      const pad = (t: ArrayLike<number>) => Float32Array.from([...new Array<number>(off).fill(7), ...Array.from(t), 7, 7, 7]);
      const unpad = (t: Float32Array) => {
        expect([...t.subarray(0, off), ...t.subarray(off + M * N)]).toEqual(new Array<number>(off + 3).fill(7));
        return t.subarray(off, off + M * N);
      };
      const a = uniformArray(M * K, -1, 1, rand);
      const b = uniformArray(K * N, -1, 1, rand);
      const cOld = uniformArray(M * N, -1, 1, rand);
      const bias = uniformArray(N, -1, 1, rand);
      const bufs = [e.storage('a', a), e.storage('b', b), e.storage('c', pad(toNchw(cOld, M, N))), e.storage('bias', bias), e.storage('z', pad(new Float32Array(M * N).fill(NaN)))] as const;
      const [ab, bb, cb, biasb, zb] = bufs;
      const o = { M, N, K, activation: 'relu' as const, alpha: 0.5, beta: 0.5 };
      const op = await MatmulOp.create(e, { ...o, a: ab, b: bb, c: cb, bias: biasb, z: zb, nchwPlane: P, cOffset: off, variant, tile });
      try {
        e.run('nchw', (pass) => op.encode(pass));
        const ref = matmulBounded({ ...o, a, b, c: cOld, bias });
        const what = `${variant} ${JSON.stringify(tile ?? {})} nchwPlane ${P} cOffset ${off} ${M}×${N}×${K}`;
        const nchw = (r: { value: ArrayLike<number>; bound: ArrayLike<number> }) => ({ value: toNchw(r.value, M, N), bound: toNchw(r.bound, M, N) });
        expectWithin(unpad(await e.readF32(cb)), nchw(ref.y), `${what}: C`);
        expectWithin(unpad(await e.readF32(zb)), nchw(ref.z), `${what}: Z`);
        expect(fromNchw(toNchw(cOld, M, N), M, N)).toEqual(Float64Array.from(cOld));
      } finally {
        op.destroy();
        for (const x of bufs) x.destroy();
      }
    }
    const buf = e.storage('x', 4096);
    await expect(MatmulOp.create(e, { M: 10, N: 4, K: 4, a: buf, b: buf, c: e.storage('c4', 256), nchwPlane: 3 })).rejects.toThrow(/nchwPlane 3 must be a positive integer dividing M = 10/);
    buf.destroy();
  });

  it('columnSums: db = 1ᵀ·dY beside dW = Xᵀ·dY, as tiled8\'s ones row (scalar, vec4, split-K) or a product of its own', async () => {
    const e = await gpu();
    const rand = rng();
    const cases = [
      ['tiled8', SMALL, [33, 37, 13], true],
      ['tiled8', SMALL, [32, 20, 36], true], // M % 4 = 0: A read as vec4, the ones row starts a vec4 of its own
      ['tiled8', { ...SMALL, splitK: 3 }, [31, 35, 45], true],
      ['registers', undefined, [13, 30, 17], false],
    ] as const;
    for (const [variant, tile, [M, N, K], fused] of cases) {
      const a = uniformArray(K * M, -1, 1, rand);
      const b = uniformArray(K * N, -1, 1, rand);
      const sumsOld = uniformArray(N, -1, 1, rand);
      const ab = e.storage('a', a);
      const bb = e.storage('b', b);
      const cb = poisoned(e, 'c', M * N);
      const sb = e.storage('sums', sumsOld);
      const op = await MatmulOp.create(e, { M, N, K, transA: true, a: ab, b: bb, c: cb, columnSums: sb, alpha: 0.5, beta: 1, variant, tile });
      const what = `${variant} ${JSON.stringify(tile ?? {})} TN ${M}×${N}×${K}`;
      try {
        expect(op.fusedColumnSums, what).toBe(fused);
        // β = 1 applies to both outputs: C starts from NaN only where β = 0, so give C a value here.
        e.write(cb, new Float32Array(M * N).fill(0.25));
        e.run('columnSums', (pass) => op.encode(pass));
        const ref = matmulBounded({ M, N, K, transA: true, a, b, c: new Float32Array(M * N).fill(0.25), alpha: 0.5, beta: 1 });
        expectWithin(await e.readF32(cb), ref.y, `${what}: C`);
        // db = 0.5·Σ_k dY[k, j] + old: the product 1ᵀ·dY, bounded like any other (K terms).
        const want = matmulBounded({ M: 1, N, K, a: new Float32Array(K).fill(1), b, c: sumsOld, alpha: 0.5, beta: 1 });
        expectWithin(await e.readF32(sb), want.y, `${what}: column sums`);
      } finally {
        op.destroy();
        for (const x of [ab, bb, cb, sb]) x.destroy();
      }
    }
  });

  it('the default 128×128 tile (16×16 invocations, bk 8): several tiles in each direction', async () => {
    const e = await gpu();
    const rand = rng();
    await check(e, { M: 129, N: 136, K: 21, transA: false, transB: false, tile: { wgX: 16, wgY: 16, bk: 8 } }, rand);
  });

  it('tuning times the candidates on the real operands, picks the fastest, caches it, and the result is right', async () => {
    const e = await gpu();
    const rand = rng();
    const buf = e.storage('x', 4096);
    // Candidates on a hardware adapter: split-K only where tiles are too few and K is long enough.
    const few = matmulCandidates(e, { M: 128, N: 256, K: 784, a: buf, b: buf });
    expect(few.some((c) => (c.tile.splitK ?? 1) > 1)).toBe(true);
    const many = matmulCandidates(e, { M: 4096, N: 4096, K: 4096, a: buf, b: buf });
    expect(many.some((c) => (c.tile.splitK ?? 1) > 1)).toBe(false);
    buf.destroy();
    const M = 20, N = 12, K = 8;
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const ab = e.storage('a', a);
    const bb = e.storage('b', b);
    const cb = poisoned(e, 'c', M * N);
    try {
      const rows = await timeMatmulCandidates(e, { M, N, K, a: ab, b: bb, c: cb }, [
        { variant: 'registers', tile: { wgX: 8, wgY: 8 } },
        { variant: 'tiled8', tile: { wgX: 16, wgY: 16, bk: 7 } }, // invalid: reported, not thrown
      ]);
      expect(rows[0]!.ms).toBeGreaterThan(0);
      expect(Number.isFinite(rows[0]!.ms)).toBe(true);
      expect(rows[1]!.ms).toBe(Infinity);
      expect(rows[1]!.error).toMatch(/multiple of 4/);
      // Tuning writes only scratch buffers: C is still all NaN.
      expect((await e.readF32(cb)).every(Number.isNaN)).toBe(true);
      // With tuning on (forced here; SwiftShader defaults to off), an auto matmul runs the tuned choice and is right.
      // Two cheap candidates (the full list compiles ~20 pipelines: seconds each on SwiftShader); the second call and
      // the op below hit the cache.
      setMatmulAutotune(e, true);
      const cfg = await tuneMatmul(e, { M, N, K, a: ab, b: bb, c: cb }, [
        { variant: 'registers', tile: { wgX: 8, wgY: 8 } },
        { variant: 'registers', tile: { wgX: 4, wgY: 4 } },
      ]);
      expect(await tuneMatmul(e, { M, N, K, a: ab, b: bb, c: cb })).toBe(cfg);
      const op = await MatmulOp.create(e, { M, N, K, a: ab, b: bb, c: cb });
      expect(op.variant).toBe(cfg.variant);
      e.run('tuned', (pass) => op.encode(pass));
      expectWithin(await e.readF32(cb), matmulBounded({ M, N, K, a, b }).y, 'tuned matmul');
      op.destroy();
    } finally {
      setMatmulAutotune(e, false);
      for (const x of [ab, bb, cb]) x.destroy();
    }
  }, 600_000);
});
