import { afterAll, describe, expect, it } from 'vitest';
import { DropoutOp, dropoutStream } from '../src/kernels/dropout.js';
import { Streams, uniformAt } from '../src/random.js';
import { checkDropoutP, dropoutApplyRef, dropoutKeepProbability, dropoutMaskRef } from '../src/ref/dropout.js';
import { checkDropoutCase, dropoutChecks } from '../src/selftest/dropout.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo } from './helpers/random.js';

describe(`dropout, GPU vs CPU reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('masks and outputs are bit-identical to the CPU at awkward sizes, p, seeds, layers and steps', async () => {
    const e = await gpu();
    const rand = rng();
    for (const n of [1, 2, 3, 5, 7, 33, 127, 130, 4099]) {
      for (const p of [0.1, 0.5, 0.75]) {
        // Seeds above 2^32 exercise the high key word; steps above 2^31 the full u32 range.
        const seed = Math.floor(rand() * 2 ** 50);
        await checkDropoutCase(e, rand, { n, p, seed, layer: Math.floor(rand() * 3), step: Math.floor(rand() * 2 ** 32) });
      }
    }
  });

  it('keeps a fraction 1 − p of elements (6σ bound), and masks change with step and layer but not between forward and backward', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 200_000;
    for (const p of [0.1, 0.5, 0.9]) {
      const seed = Math.floor(rand() * 2 ** 40);
      const y = await checkDropoutCase(e, rand, { n, p, seed, layer: 1, step: 5 });
      let kept = 0;
      for (const v of y) if (v !== 0) kept++;
      // kept ~ Binomial(n, q) with q = 1 − p (up to 2^-24): |kept/n − q| ≤ 6·sqrt(q(1 − q)/n) fails with probability < 2e-9.
      const q = dropoutKeepProbability(p);
      expect(Math.abs(kept / n - q), `p=${p}: kept ${kept} of ${n}`).toBeLessThanOrEqual(6 * Math.sqrt((q * (1 - q)) / n));
    }
    const m = (step: number, layer: number) => dropoutMaskRef(7, dropoutStream(layer), step, 4096, 0.5);
    const differ = (a: Uint8Array, b: Uint8Array) => a.some((v, i) => v !== b[i]);
    expect(differ(m(0, 0), m(1, 0))).toBe(true);
    expect(differ(m(0, 0), m(0, 1))).toBe(true);
    expect(differ(m(0, 0), m(0, 0))).toBe(false);
  });

  it('p = 0 and evaluation mode are the identity', async () => {
    const e = await gpu();
    const rand = rng();
    const y0 = await checkDropoutCase(e, rand, { n: 130, p: 0, seed: 3, layer: 0, step: 9 });
    expect(y0.every((v) => v !== 0)).toBe(true);
    await checkDropoutCase(e, rand, { n: 130, p: 0.5, seed: 3, layer: 0, step: 9, training: false });
  });

  it('p = 1 and other invalid p are rejected with a clear error', async () => {
    const e = await gpu();
    const b = e.storage('b', 64);
    const o = { n: 4, seed: 1, stream: dropoutStream(0), stepinfo: b, x: b, y: b };
    await expect(DropoutOp.forward(e, { ...o, p: 1 })).rejects.toThrow(/p = 1 must be in \[0, 1\).*would drop every element/);
    await expect(DropoutOp.forward(e, { ...o, p: -0.1 })).rejects.toThrow(/must be in \[0, 1\)/);
    await expect(DropoutOp.forward(e, { ...o, p: NaN })).rejects.toThrow(/must be in \[0, 1\)/);
    await expect(DropoutOp.forward(e, { ...o, p: 0.5, n: 17 })).rejects.toThrow(/x holds 64 bytes, needs 68/);
    b.destroy();
  });

  for (const c of dropoutChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));
});

describe('dropout CPU reference', () => {
  it('the mask is uniformAt(seed, stream, step, i) ≥ p, word for word', () => {
    const rand = rng();
    for (const p of [0.1, 0.3, 0.5, 0.999]) {
      const seed = Math.floor(rand() * 2 ** 40);
      const stream = dropoutStream(2);
      const mask = dropoutMaskRef(seed, stream, 11, 301, p);
      for (let i = 0; i < 301; i++) expect(mask[i], `i=${i}`).toBe(uniformAt(seed, stream, 11, i) >= p ? 1 : 0);
    }
  });

  it('inverted scaling, backward uses the same mask, streams and p checks', () => {
    const mask = Uint8Array.of(1, 0, 1, 1);
    expect(Array.from(dropoutApplyRef([1, 2, -3, 0.5], mask, 0.2, 'float64'))).toEqual([1.25, 0, -3.75, 0.625]);
    expect(dropoutStream(0)).toBe(Streams.dropout);
    expect(dropoutStream(3)).toBe(Streams.dropout + 3 * 65536);
    expect(() => dropoutStream(-1)).toThrow(/layer -1/);
    expect(() => checkDropoutP(1)).toThrow(/p = 1/);
    expect(() => checkDropoutP(0)).not.toThrow();
    expect(dropoutKeepProbability(0.5)).toBe(0.5);
  });
});
