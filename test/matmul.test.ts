import { afterAll, describe, expect, it } from 'vitest';
import type { Activation } from '../src/kernels/activation.js';
import {
  chooseMatmulVariant,
  MatmulOp,
  matmulRegistersKernel,
  matmulRegistersVec4Kernel,
  matmulTiledKernel,
  vec4Layout,
  type MatmulVariant,
} from '../src/kernels/matmul.js';
import { checkBindings, type Engine } from '../src/gpu/index.js';
import { matmulRef } from '../src/ref/matmul.js';
import { matmulBounded } from '../src/testing/bounds/matmul.js';
import { expectWithin } from '../src/testing/sums.js';
import { AWKWARD } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

// Tolerance: |Ẑ − Z| ≤ γ_(K+3)·(|α|Σ_k|a·b| + |β·C| + |bias|) per element for any order of k, tiling or fused
// multiply-add (src/testing/bounds/matmul.ts); the last GPU test shows that bug-sized errors fail it.

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

/**
 * The vec4 kernel's layout rule, restated independently of `vec4Layout`: each operand's stored rows must be a
 * multiple of 4 floats long (A: K, or M when transposed; B: N, or K when transposed).
 */
const vec4Fits = (M: number, N: number, K: number, transA: boolean, transB: boolean): boolean =>
  (transA ? M : K) % 4 === 0 && (transB ? K : N) % 4 === 0;

/**
 * A storage buffer holding `data` at byte offset 256 (the next allowed binding offset), bound as a range whose size
 * is 4 bytes more than the data: like a parameter range of the flat parameter buffer, not a multiple of 16 bytes.
 */
function inRange(e: Engine, label: string, data: Float32Array): { buf: GPUBuffer; range: GPUBufferBinding } {
  const all = new Float32Array(64 + data.length + 1 + 8).fill(NaN);
  all.set(data, 64);
  const buf = e.storage(label, all);
  return { buf, range: { buffer: buf, offset: 256, size: data.byteLength + 4 } };
}

/**
 * Runs one planned matmul against the float64 reference. `variant` 'auto' lets MatmulOp choose; the variant it ran
 * is returned. With `ranges`, A and B are bound as ranges of bigger buffers (see `inRange`).
 */
async function check(e: Engine, variant: MatmulVariant | 'auto', cs: Case, rand: () => number, ranges = false): Promise<MatmulVariant> {
  const { M, N, K } = cs;
  const a = uniformArray(M * K, -1, 1, rand);
  const b = uniformArray(K * N, -1, 1, rand);
  const cOld = uniformArray(M * N, -1, 1, rand);
  const bias = uniformArray(N, -1, 1, rand);
  const ar = ranges ? inRange(e, 'a', a) : null;
  const br = ranges ? inRange(e, 'b', b) : null;
  const ab = ar?.buf ?? e.storage('a', a);
  const bb = br?.buf ?? e.storage('b', b);
  // With β = 0, C starts as NaN: the kernel must neither read it nor skip an element.
  const cb = cs.beta ? e.storage('c', cOld) : poisoned(e, 'c', M * N);
  const biasb = cs.bias ? e.storage('bias', bias) : undefined;
  const zb = cs.storeZ ? poisoned(e, 'z', M * N) : undefined;
  const op = await MatmulOp.create(e, {
    ...cs,
    a: ar?.range ?? ab,
    b: br?.range ?? bb,
    c: cb,
    bias: biasb,
    z: zb,
    variant: variant === 'auto' ? undefined : variant,
  });
  const what = `${op.variant}${variant === 'auto' ? ' (auto)' : ''}${ranges ? ' (ranges)' : ''} ${tag(cs.transA, cs.transB)} M=${M} N=${N} K=${K} ${cs.activation ?? 'identity'}${cs.bias ? ' +bias' : ''} α=${cs.alpha ?? 1} β=${cs.beta ?? 0}`;
  try {
    e.run(what, (pass) => op.encode(pass));
    const ref = matmulBounded({ ...cs, a, b, c: cOld, bias: cs.bias ? bias : undefined });
    expectWithin(await e.readF32(cb), ref.y, `${what}: C`);
    if (zb) expectWithin(await e.readF32(zb), ref.z, `${what}: Z`);
    return op.variant;
  } finally {
    for (const x of [ab, bb, cb, biasb, zb]) x?.destroy();
    op.destroy();
  }
}

/** A full epilogue (bias, Z, α, β ≠ 0, 1) with the activation chosen by `t`; and the plain product (β = 0, C NaN). */
const EPI_ACTS: Activation[] = ['relu', 'gelu', 'tanh', 'leaky_relu'];
const fullEpilogue = (t: number): Omit<Case, 'M' | 'N' | 'K' | 'transA' | 'transB'> => ({
  bias: true,
  storeZ: true,
  activation: EPI_ACTS[t % EPI_ACTS.length]!,
  alpha: -1.5,
  beta: 0.5,
});

/** Sizes that suit the vec4 kernel: multiples of 4, not of 8 (so the 8×8 blocks have half-empty edges), and one > 64. */
const ALIGNED = [4, 12, 36, 132];
const SHAPES4: [number, number, number][] = ALIGNED.flatMap((M, i) => ALIGNED.map((N, j) => [M, N, ALIGNED[(i + j) % ALIGNED.length]!] as [number, number, number]));
/**
 * One unaligned size among aligned ones, in each position: the vec4 kernel where its layout still allows, else the
 * fallback. 7 and 31 leave the last 8×8 block's second half partly inside (clamped indices, some outputs stored).
 */
const MIXED: [number, number, number][] = [
  [7, 36, 132],
  [36, 31, 12],
  [132, 12, 130],
  [1, 4, 4],
  [4, 1, 4],
  [4, 4, 1],
];

describe(`matmul, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader; the variant follows the adapter', async () => {
    const e = await gpu();
    for (const def of [matmulRegistersKernel, matmulRegistersVec4Kernel, matmulTiledKernel]) {
      expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
    }
    expect(chooseMatmulVariant(e)).toBe(e.software ? 'registers' : 'tiled8');
  });

  it('the vec4 kernel is chosen exactly when the layout allows it (software adapters)', async () => {
    const e = await gpu();
    const buf = e.storage('x', 4096);
    const out = e.storage('c', 80);
    try {
      for (const [M, N, K] of [...SHAPES4.slice(0, 4), ...MIXED]) {
        for (const [transA, transB] of TRANSPOSES) {
          const layout = { M, N, K, transA, transB, a: buf, b: buf };
          const fits = vec4Fits(M, N, K, transA, transB);
          expect(vec4Layout(layout) === null, `${tag(transA, transB)} ${M}×${N}×${K}`).toBe(fits);
          expect(chooseMatmulVariant(e, layout)).toBe(e.software ? (fits ? 'registers-vec4' : 'registers') : 'tiled8');
        }
      }
      // The MNIST MLP's big products all take it; its 10-wide output layer falls back.
      expect(vec4Layout({ M: 128, N: 256, K: 784, a: buf, b: buf })).toBeNull();
      expect(vec4Layout({ M: 784, N: 256, K: 128, transA: true, a: buf, b: buf })).toBeNull();
      expect(vec4Layout({ M: 128, N: 784, K: 256, transB: true, a: buf, b: buf })).toBeNull();
      expect(vec4Layout({ M: 128, N: 10, K: 256, a: buf, b: buf })).toMatch(/N = 10 is not a multiple of 4/);
      // A range must start on a 16-byte boundary (WebGPU's own 256-byte rule makes this hold for every valid binding).
      expect(vec4Layout({ M: 4, N: 4, K: 4, a: { buffer: buf, offset: 8 }, b: buf })).toMatch(/offset 8/);
      // An explicit request that the layout cannot serve is an error, not a silent fallback.
      await expect(MatmulOp.create(e, { M: 4, N: 5, K: 4, a: buf, b: buf, c: out, variant: 'registers-vec4' })).rejects.toThrow(
        /N = 5 is not a multiple of 4/,
      );
    } finally {
      buf.destroy();
      out.destroy();
    }
  });

  for (const [transA, transB] of TRANSPOSES) {
    it(`registers-vec4 ${tag(transA, transB)}: M, N, K over {${ALIGNED.join(', ')}} and unaligned mixes (auto choice), epilogue`, async () => {
      const e = await gpu();
      const rand = rng();
      const t = TRANSPOSES.findIndex(([x, y]) => x === transA && y === transB);
      for (const [s, [M, N, K]] of [...SHAPES4, ...MIXED].entries()) {
        // Every other shape with the full epilogue, the activation rotating.
        const ep = s % 2 ? fullEpilogue(t + s) : {};
        const chosen = await check(e, 'auto', { M, N, K, transA, transB, ...ep }, rand);
        // Hardware adapters tune per shape (test/matmul-tiled8.test.ts); software ones follow the fixed rule.
        if (e.software) expect(chosen, `${tag(transA, transB)} ${M}×${N}×${K}`).toBe(vec4Fits(M, N, K, transA, transB) ? 'registers-vec4' : 'registers');
      }
      // Explicitly, with A and B bound as ranges (offset 256, size not a multiple of 16 bytes), β = 1.
      await check(e, 'registers-vec4', { M: 12, N: 36, K: 132, transA, transB, bias: true, beta: 1 }, rand, true);
    });
  }

  for (const [transA, transB] of TRANSPOSES) {
    it(`registers ${tag(transA, transB)}: M, N, K over {${AWKWARD.join(', ')}}`, async () => {
      const e = await gpu();
      const rand = rng();
      for (const [M, N, K] of SHAPES) await check(e, 'registers', { M, N, K, transA, transB }, rand);
    });


    it(`registers ${tag(transA, transB)}: fused epilogue (bias, activation, store Z, α, β)`, async () => {
      const e = await gpu();
      const rand = rng();
      // The epilogue code is shared by every transpose and variant; each transpose gets a full epilogue (bias, Z,
      // α, β) and a plain accumulation, with the activation rotating so that each appears with two transposes.
      const t = TRANSPOSES.findIndex(([x, y]) => x === transA && y === transB);
      const epilogues: Omit<Case, 'M' | 'N' | 'K' | 'transA' | 'transB'>[] = [fullEpilogue(t), { activation: EPI_ACTS[(t + 2) % 4]!, beta: 1 }];
      const shapes: [number, number, number][] = [[1, 1, 1], [7, 130, 33], [130, 7, 127], [33, 127, 7], [127, 33, 130]];
      for (const ep of epilogues) for (const [M, N, K] of shapes) await check(e, 'registers', { M, N, K, transA, transB, ...ep }, rand);
    });
  }

  // Tiled pipelines compile slowly on SwiftShader (seconds each) and its barriers make it slow to run. The epilogue
  // code is the registers kernels' (tested above with every activation), so each transpose gets ONE tiled pipeline,
  // with the full epilogue (bias, Z, GELU), reused by the multi-tile test below (same override constants); α and β
  // are uniforms and vary per shape (β = 0: C poisoned with NaN and not read). Shapes: [1, 1, 1] and 5 in which each
  // awkward size appears once as M, once as N and once as K.
  const TILED_EPILOGUE = { bias: true, storeZ: true, activation: 'gelu' as const };
  for (const [transA, transB] of TRANSPOSES) {
    it(`tiled ${tag(transA, transB)}: edge shapes with fused epilogue`, async () => {
      const e = await gpu();
      const rand = rng();
      const n = AWKWARD.length;
      const shapes: [number, number, number][] = [[1, 1, 1], ...AWKWARD.map((_, i) => [AWKWARD[i]!, AWKWARD[(i + 1) % n]!, AWKWARD[(i + 3) % n]!] as [number, number, number])];
      const scalars = [{}, { alpha: -1.5, beta: 0.5 }, { beta: 1 }];
      for (const [s, [M, N, K]] of shapes.entries()) await check(e, 'tiled', { M, N, K, transA, transB, ...TILED_EPILOGUE, ...scalars[s % 3] }, rand);
    });
  }

  it('tiled: a multi-tile shape 300×257×129, all transposes, with epilogue', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of TRANSPOSES) {
      await check(e, 'tiled', { M: 300, N: 257, K: 129, transA, transB, ...TILED_EPILOGUE, beta: 1 }, rand);
    }
  });

  it('registers: 300×257×129, all transposes', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of TRANSPOSES) await check(e, 'registers', { M: 300, N: 257, K: 129, transA, transB, bias: true }, rand);
  });

  it('registers-vec4: several workgroups with half-empty edge blocks, 300×260×132, all transposes', async () => {
    const e = await gpu();
    const rand = rng();
    for (const [transA, transB] of TRANSPOSES) await check(e, 'registers-vec4', { M: 300, N: 260, K: 132, transA, transB, bias: true }, rand);
  });

  it('non-default tile shapes', async () => {
    const e = await gpu();
    const rand = rng();
    const M = 70, N = 44, K = 36; // N and K multiples of 4 (for registers-vec4), M not
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const ref = matmulBounded({ M, N, K, a, b }).y;
    const ab = e.storage('a', a);
    const bb = e.storage('b', b);
    for (const [variant, tile] of [['registers', { wgX: 4, wgY: 16 }], ['registers-vec4', { wgX: 2, wgY: 4 }], ['tiled', { wgX: 8, wgY: 4, bk: 8 }], ['tiled', { wgX: 4, wgY: 8, bk: 4 }]] as const) {
      const cb = poisoned(e, 'c', M * N);
      const op = await MatmulOp.create(e, { M, N, K, a: ab, b: bb, c: cb, variant, tile });
      e.run('tile', (pass) => op.encode(pass));
      expectWithin(await e.readF32(cb), ref, `${variant} ${JSON.stringify(tile)}`);
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
    const first = await e.readF32(cb);
    expectWithin(first, matmulBounded({ M, N, K, a, b }).y, 'C = AB');
    op.setScalars({ beta: 1, alpha: 2 });
    e.run('second', (pass) => op.encode(pass));
    // The second product accumulates onto the GPU's own first result (its exact input).
    expectWithin(await e.readF32(cb), matmulBounded({ M, N, K, a, b, c: first, alpha: 2, beta: 1 }).y, 'then C = 2AB + C');
    op.destroy();
    for (const x of [ab, bb, cb]) x.destroy();
  });

  it('deliberate breaks: a dropped k, a shifted row, a lost bias, β·C added twice fail the bound (every variant)', async () => {
    const e = await gpu();
    const rand = rng();
    const fails = (f: () => void) => expect(f).toThrow(/outside \|got−ref\|/);
    const [M, N, K] = [36, 68, 132];
    const a = uniformArray(M * K, -1, 1, rand);
    const b = uniformArray(K * N, -1, 1, rand);
    const cOld = uniformArray(M * N, -1, 1, rand);
    const bias = uniformArray(N, -1, 1, rand);
    const ab = e.storage('a', a);
    const bb = e.storage('b', b);
    const biasb = e.storage('bias', bias);
    const o = { M, N, K, alpha: 0.5, beta: 1, activation: 'gelu' as const }; // the tiled tests' pipeline (Z is compared)
    const ref = matmulBounded({ ...o, a, b, c: cOld, bias }).z;
    for (const variant of ['registers', 'registers-vec4', 'tiled'] as const) {
      const cb = e.storage('c', cOld);
      const zb = poisoned(e, 'z', M * N);
      const op = await MatmulOp.create(e, { ...o, a: ab, b: bb, c: cb, bias: biasb, z: zb, variant });
      e.run(variant, (pass) => op.encode(pass));
      const z = await e.readF32(zb);
      expectWithin(z, ref, `${variant} unbroken`);
      const col = (k: number) => k % N;
      const row = (k: number) => Math.floor(k / N);
      fails(() => expectWithin(z.map((v, k) => v - 0.5 * a[row(k) * K + K - 1]! * b[(K - 1) * N + col(k)]!), ref, `${variant} k = K − 1 dropped`));
      fails(() => expectWithin(z.map((_, k) => z[(k + N) % (M * N)]!), ref, `${variant} rows shifted by one`));
      fails(() => expectWithin(z.map((v, k) => v - bias[col(k)]!), ref, `${variant} bias lost`));
      fails(() => expectWithin(z.map((v, k) => v + cOld[k]!), ref, `${variant} β·C added twice`));
      for (const x of [cb, zb]) x.destroy();
      op.destroy();
    }
    for (const x of [ab, bb, biasb]) x.destroy();
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
    expectWithin(matmulRef(o, 'float32').y, matmulBounded(o).y, 'float32 vs float64');
  });
});
