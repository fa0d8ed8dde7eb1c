import { afterAll, describe, expect, it } from 'vitest';
import type { Activation } from '../src/kernels/activation.js';
import { chooseMatmulVariant, MatmulOp, matmulRegistersKernel, matmulTiledKernel, type MatmulVariant } from '../src/kernels/matmul.js';
import { checkBindings, type Engine } from '../src/gpu/index.js';
import { matmulRef } from '../src/ref/matmul.js';
import { matmulTol } from '../src/selftest/matmul.js';
import { AWKWARD, expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

// Tolerance: see matmulTol (src/selftest/matmul.ts) for the error bound it is derived from.
const tolFor = matmulTol;

interface Case {
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
  bias?: boolean;
  storeZ?: boolean;
  activation?: Activation;
  alpha?: number;
  beta?: number;
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const tag = (tA: boolean, tB: boolean): string => `${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`;

/** Every (M, N) pair of AWKWARD, K cycling through AWKWARD (a Latin square: each pair of sizes meets once). */
const SHAPES: [number, number, number][] = AWKWARD.flatMap((M, i) => AWKWARD.map((N, j) => [M, N, AWKWARD[(i + j) % AWKWARD.length]!] as [number, number, number]));

async function check(e: Engine, variant: MatmulVariant, cs: Case, rand: () => number): Promise<void> {
  const { M, N, K } = cs;
  const a = uniformArray(M * K, -1, 1, rand);
  const b = uniformArray(K * N, -1, 1, rand);
  const cOld = uniformArray(M * N, -1, 1, rand);
  const bias = uniformArray(N, -1, 1, rand);
  const ab = e.storage('a', a);
  const bb = e.storage('b', b);
  // With β = 0, C starts as NaN: the kernel must neither read it nor skip an element.
  const cb = cs.beta ? e.storage('c', cOld) : poisoned(e, 'c', M * N);
  const biasb = cs.bias ? e.storage('bias', bias) : undefined;
  const zb = cs.storeZ ? poisoned(e, 'z', M * N) : undefined;
  const op = await MatmulOp.create(e, { ...cs, a: ab, b: bb, c: cb, bias: biasb, z: zb, variant });
  const what = `${variant} ${tag(cs.transA, cs.transB)} M=${M} N=${N} K=${K} ${cs.activation ?? 'identity'}${cs.bias ? ' +bias' : ''} α=${cs.alpha ?? 1} β=${cs.beta ?? 0}`;
  try {
    e.run(what, (pass) => op.encode(pass));
    const ref = matmulRef({ ...cs, a, b, c: cOld, bias: cs.bias ? bias : undefined }, 'float64');
    const tol = tolFor(K, cs.alpha);
    expectClose(await e.readF32(cb), ref.y, tol, `${what}: C`);
    if (zb) expectClose(await e.readF32(zb), ref.z, tol, `${what}: Z`);
  } finally {
    for (const x of [ab, bb, cb, biasb, zb]) x?.destroy();
    op.destroy();
  }
}

const VARIANTS: MatmulVariant[] = ['registers', 'tiled'];

describe(`matmul, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader; the variant follows the adapter', async () => {
    const e = await gpu();
    for (const def of [matmulRegistersKernel, matmulTiledKernel]) expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
    expect(chooseMatmulVariant(e)).toBe(e.software ? 'registers' : 'tiled');
  });

  for (const variant of VARIANTS) {
    for (const [transA, transB] of TRANSPOSES) {
      it(`${variant} ${tag(transA, transB)}: M, N, K over {${AWKWARD.join(', ')}}`, async () => {
        const e = await gpu();
        const rand = rng();
        for (const [M, N, K] of SHAPES) await check(e, variant, { M, N, K, transA, transB }, rand);
      });

      it(`${variant} ${tag(transA, transB)}: fused epilogue (bias, activation, store Z, α, β)`, async () => {
        const e = await gpu();
        const rand = rng();
        // The epilogue code is shared by every transpose; each transpose gets a full epilogue (bias, Z, α, β) and
        // a plain accumulation, with the activation rotating so that each appears with two transposes.
        const t = TRANSPOSES.findIndex(([x, y]) => x === transA && y === transB);
        const acts: Activation[] = ['relu', 'gelu', 'tanh', 'leaky_relu'];
        const epilogues: Omit<Case, 'M' | 'N' | 'K' | 'transA' | 'transB'>[] = [
          { bias: true, storeZ: true, activation: acts[t]!, alpha: -1.5, beta: 0.5 },
          { activation: acts[(t + 2) % 4]!, beta: 1 },
        ];
        const shapes: [number, number, number][] = [[1, 1, 1], [7, 130, 33], [130, 7, 127], [33, 127, 7], [127, 33, 130]];
        for (const ep of epilogues) for (const [M, N, K] of shapes) await check(e, variant, { M, N, K, transA, transB, ...ep }, rand);
      });
    }
  }

  it('tiled: a multi-tile shape 300×257×129, all transposes, with epilogue', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of TRANSPOSES) {
      await check(e, 'tiled', { M: 300, N: 257, K: 129, transA, transB, bias: true, activation: 'gelu', storeZ: true, beta: 1 }, rand);
    }
  });

  it('registers: 300×257×129, all transposes', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of TRANSPOSES) await check(e, 'registers', { M: 300, N: 257, K: 129, transA, transB, bias: true }, rand);
  });

  it('non-default tile shapes', async () => {
    const e = await gpu();
    const rand = rng();
    const M = 70, N = 45, K = 37;
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const ref = matmulRef({ M, N, K, a, b }, 'float64').y;
    const ab = e.storage('a', a);
    const bb = e.storage('b', b);
    for (const [variant, tile] of [['registers', { wgX: 4, wgY: 16 }], ['tiled', { wgX: 8, wgY: 4, bk: 8 }], ['tiled', { wgX: 4, wgY: 8, bk: 4 }]] as const) {
      const cb = poisoned(e, 'c', M * N);
      const op = await MatmulOp.create(e, { M, N, K, a: ab, b: bb, c: cb, variant, tile });
      e.run('tile', (pass) => op.encode(pass));
      expectClose(await e.readF32(cb), ref, tolFor(K), `${variant} ${JSON.stringify(tile)}`);
      op.destroy();
      cb.destroy();
    }
    ab.destroy();
    bb.destroy();
  });

  it('setScalars: β = 0 then β = 1 accumulates two products', async () => {
    const e = await gpu();
    const rand = rng();
    const M = 9, N = 5, K = 6;
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const ab = e.storage('a', a);
    const bb = e.storage('b', b);
    const cb = poisoned(e, 'c', M * N);
    const op = await MatmulOp.create(e, { M, N, K, a: ab, b: bb, c: cb, beta: 0 });
    e.run('first', (pass) => op.encode(pass));
    op.setScalars({ beta: 1, alpha: 2 });
    e.run('second', (pass) => op.encode(pass));
    const once = matmulRef({ M, N, K, a, b }, 'float64').y;
    expectClose(await e.readF32(cb), once.map((v) => 3 * v), tolFor(K, 3), 'C = AB, then C = 2AB + C');
    op.destroy();
    for (const x of [ab, bb, cb]) x.destroy();
  });

  it('rejects bad plans', async () => {
    const e = await gpu();
    const small = e.storage('small', 16);
    const big = e.storage('big', 4096);
    const big2 = e.storage('big2', 4096);
    await expect(MatmulOp.create(e, { M: 4, N: 4, K: 4, a: small, b: big, c: big2 })).rejects.toThrow(/'small' \(A, M×K\)/);
    await expect(MatmulOp.create(e, { M: 4, N: 4, K: 4, a: big, b: big, c: big2, z: big2 })).rejects.toThrow(/different buffer/);
    await expect(MatmulOp.create(e, { M: 0, N: 4, K: 4, a: big, b: big, c: big2 })).rejects.toThrow(/positive integer/);
    for (const x of [small, big, big2]) x.destroy();
  });
});

describe('matmul CPU reference', () => {
  it('a hand-computed product with every epilogue term', () => {
    // op(A) = [[1, 2, 3], [4, 5, 6]], op(B) = [[1, 0], [0, 1], [1, 1]] → AB = [[4, 5], [10, 11]]
    const A = [1, 2, 3, 4, 5, 6];
    const At = [1, 4, 2, 5, 3, 6];
    const B = [1, 0, 0, 1, 1, 1];
    const Bt = [1, 0, 1, 0, 1, 1];
    const base = { M: 2, N: 2, K: 3, c: [1, 1, 1, 1], bias: [-100, 0], alpha: 2, beta: 3, activation: 'relu' as const };
    const want = { z: [-89, 13, -77, 25], y: [0, 13, 0, 25] };
    for (const [transA, transB, a, b] of [[false, false, A, B], [true, false, At, B], [false, true, A, Bt], [true, true, At, Bt]] as const) {
      const r = matmulRef({ ...base, transA, transB, a, b }, 'float64');
      expect(Array.from(r.z)).toEqual(want.z);
      expect(Array.from(r.y)).toEqual(want.y);
    }
  });

  it('float32 and float64 agree within the GPU tolerance; β = 0 ignores a NaN C', () => {
    const rand = rng();
    const M = 13, N = 17, K = 130;
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const c = new Float32Array(M * N).fill(NaN);
    const o = { M, N, K, a, b, c, activation: 'tanh' as const };
    expectClose(matmulRef(o, 'float32').y, matmulRef(o, 'float64').y, tolFor(K), 'float32 vs float64');
  });
});
