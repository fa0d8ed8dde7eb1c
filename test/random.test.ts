// Philox4x32-10 CPU generator: known answers, the counter layout the WGSL twin relies on, exact state restore,
// and distribution sanity with fixed seeds (so every bound below is deterministic, not flaky).
import { describe, expect, it } from 'vitest';
import type { WgslReflect as WgslReflectClass } from 'wgsl_reflect';
import randomWgsl from '../shaders/random.wgsl';
import {
  Random,
  Streams,
  boxMuller,
  mulhi32,
  philox4x32_10,
  randomU32At,
  seedToKey,
  u32ToUnit,
  uniformAt,
} from '../src/random.js';

// wgsl_reflect's "main" is a CommonJS build in a "type": "module" package, so Node cannot load it; use its ESM build.
const wgslReflectPath = 'wgsl_reflect/wgsl_reflect.module.js';
const { WgslReflect } = (await import(wgslReflectPath)) as { WgslReflect: typeof WgslReflectClass };

const hex = (a: ArrayLike<number>) => Array.from(a, (x) => x.toString(16).padStart(8, '0')).join(' ');

describe('philox4x32_10', () => {
  // Random123 kat_vectors, "philox4x32 10" lines: counter[4] key[2] -> output[4].
  const kat: [number[], number[], string][] = [
    [[0, 0, 0, 0], [0, 0], '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], '408f276d 41c83b0e a20bc7c6 6d5451fd'],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], 'd16cfe09 94fdcceb 5001e420 24126ea1'],
  ];
  it.each(kat)('matches Random123 known answer for counter %j key %j', (c, k, want) => {
    expect(hex(philox4x32_10(c[0]!, c[1]!, c[2]!, c[3]!, k[0]!, k[1]!))).toBe(want);
  });

  it('mulhi32 from 16-bit halves equals the 64-bit product high word', () => {
    const rng = new Random(11);
    const cases: [number, number][] = [
      [0, 0],
      [0xffffffff, 0xffffffff],
      [0xd2511f53, 0xffffffff],
      [0xcd9e8d57, 0x80000000],
      [0x0000ffff, 0xffff0000],
    ];
    for (let i = 0; i < 2000; i++) cases.push([rng.nextU32(), rng.nextU32()]);
    const bad = cases.filter(([a, b]) => mulhi32(a, b) !== Number((BigInt(a) * BigInt(b)) >> 32n));
    expect(bad.slice(0, 5)).toEqual([]);
  });
});

describe('counter layout shared with shaders/random.wgsl', () => {
  it('word i of (seed, stream, step) is output[i & 3] of block i >> 2 with counter (block, step, stream, 0)', () => {
    const seed = 2 ** 40 + 12345;
    const [k0, k1] = seedToKey(seed);
    expect([k0, k1]).toEqual([12345, 256]);
    for (const i of [0, 1, 2, 3, 4, 7, 1001, 0xffffffff]) {
      const block = philox4x32_10(i >>> 2, 9, Streams.dropout, 0, k0, k1);
      expect(randomU32At(seed, Streams.dropout, 9, i)).toBe(block[i & 3]);
      expect(uniformAt(seed, Streams.dropout, 9, i)).toBe(u32ToUnit(block[i & 3]!));
    }
  });

  it('the sequential generator walks the same words, carrying from offset 2^34 - 1 into the next step', () => {
    const r = new Random(77, { stream: 3, step: 5 });
    const seq = Array.from({ length: 10 }, () => r.nextU32());
    expect(seq).toEqual(Array.from({ length: 10 }, (_, i) => randomU32At(77, 3, 5, i)));

    const end = new Random(77, { stream: 3, step: 5, offset: 2 ** 34 - 2 });
    const words = [end.nextU32(), end.nextU32(), end.nextU32(), end.nextU32()];
    const k = seedToKey(77);
    expect(words.slice(0, 2)).toEqual(Array.from(philox4x32_10(0xffffffff, 5, 3, 0, k[0], k[1]).slice(2)));
    expect(words.slice(2)).toEqual([randomU32At(77, 3, 6, 0), randomU32At(77, 3, 6, 1)]);
    expect(end.state()).toMatchObject({ step: 6, offset: 2 });
  });

  it('the WGSL library parses and defines the functions the header documents', () => {
    const reflect = new WgslReflect(randomWgsl);
    const names = reflect.functions.map((f) => f.name);
    for (const fn of ['rng_mulhi', 'rng_philox4x32_10', 'rng_block', 'rng_u32_at', 'rng_unit', 'rng_uniform_at', 'rng_box_muller']) {
      expect(names).toContain(fn);
    }
    // The twin must hold the same constants as the CPU; a typo in one of them would silently split the streams.
    for (const c of ['0xd2511f53u', '0xcd9e8d57u', '0x9e3779b9u', '0xbb67ae85u']) expect(randomWgsl).toContain(c);
  });
});

describe('Random', () => {
  it('is reproducible for a seed and differs across seeds and streams', () => {
    const draw = (r: Random) => Array.from({ length: 64 }, () => r.nextU32());
    const a = draw(new Random(123));
    expect(draw(new Random(123))).toEqual(a);
    expect(draw(new Random(124))).not.toEqual(a);
    expect(draw(new Random(123, { stream: Streams.init }))).not.toEqual(a);
    expect(draw(new Random(123, { step: 1 }))).not.toEqual(a);
  });

  it('state() survives JSON and resumes exactly, mid-block and after every kind of draw', () => {
    const r = new Random(2024, { stream: Streams.shuffle, step: 3 });
    r.nextU32();
    r.normal();
    r.int(1000);
    r.uniform();
    r.nextU32(); // offset now 6: inside a Philox block
    const saved = JSON.parse(JSON.stringify(r.state()));
    expect(saved.offset % 4).not.toBe(0);
    const continued = [r.nextU32(), r.uniform(), r.normal(3, 2), r.int(7), ...r.permutation(20)];
    const restored = Random.fromState(saved);
    const replay = [restored.nextU32(), restored.uniform(), restored.normal(3, 2), restored.int(7), ...restored.permutation(20)];
    expect(replay).toEqual(continued);
    expect(restored.state()).toEqual(r.state());
  });

  it('fromState and the constructor reject bad input with a message naming the field', () => {
    expect(() => Random.fromState(null)).toThrow(/expected an object from Random.state\(\)/);
    expect(() => Random.fromState({ algorithm: 'mt19937', seed: 1, stream: 0, step: 0, offset: 0 })).toThrow(
      /algorithm is "mt19937", expected "philox4x32-10"/,
    );
    expect(() => Random.fromState({ algorithm: 'philox4x32-10', seed: 1, stream: 0, step: '0', offset: 0 })).toThrow(
      /field "step" is "0", expected a number/,
    );
    expect(() => new Random(-1)).toThrow(/seed -1 must be an integer in \[0, 2\^53\)/);
    expect(() => new Random(1.5)).toThrow(/seed 1.5/);
    expect(() => new Random(1, { stream: 2 ** 32 })).toThrow(/stream 4294967296 must be an integer in \[0, 2\^32\)/);
    expect(() => new Random(1, { offset: 2 ** 34 })).toThrow(/offset .* \[0, 2\^34\)/);
    expect(() => new Random(1).int(0)).toThrow(/n = 0 must be an integer in \[1, 2\^32\]/);
  });

  it('uniform: values are f32-exact, in [0, 1), with mean 1/2 and variance 1/12', () => {
    const r = new Random(1);
    const n = 200_000;
    let sum = 0;
    let sumSq = 0;
    let min = 1;
    let max = 0;
    let notF32 = 0;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      if (Math.fround(u) !== u) notF32++;
      sum += u;
      sumSq += u * u;
      min = Math.min(min, u);
      max = Math.max(max, u);
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    expect(notF32).toBe(0);
    // Standard error of the mean is sqrt(1/12/n) ≈ 6.5e-4; 5 standard errors.
    expect(Math.abs(mean - 0.5)).toBeLessThan(3.3e-3);
    expect(Math.abs(variance - 1 / 12)).toBeLessThan(1.5e-3);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(u32ToUnit(0xffffffff)).toBe(1 - 2 ** -24);
  });

  it('normal: mean, variance and kurtosis of N(0, 1); scaled draws follow mean and std', () => {
    const r = new Random(2);
    const n = 200_000;
    let s1 = 0;
    let s2 = 0;
    let s4 = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      if (!Number.isFinite(z)) throw new Error(`normal draw ${i} is ${z}`);
      s1 += z;
      s2 += z * z;
      s4 += z ** 4;
    }
    expect(Math.abs(s1 / n)).toBeLessThan(0.012); // SE 2.2e-3
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.016); // SE of the variance ≈ sqrt(2/n) = 3.2e-3
    expect(Math.abs(s4 / n - 3)).toBeLessThan(0.12); // SE ≈ sqrt(96/n) = 0.022
    const scaled = new Random(2).fillNormal(new Float64Array(50_000), 5, 0.1);
    const mean = scaled.reduce((a, b) => a + b, 0) / scaled.length;
    const std = Math.sqrt(scaled.reduce((a, b) => a + (b - mean) ** 2, 0) / scaled.length);
    expect(Math.abs(mean - 5)).toBeLessThan(0.003);
    expect(Math.abs(std - 0.1)).toBeLessThan(0.003);
    // The tail is truncated at sqrt(2 ln 2^24) by the 24-bit uniform: the smallest u1 is 2^-24.
    expect(boxMuller(0, 2 ** 31)[0]).toBeCloseTo(Math.sqrt(2 * 24 * Math.LN2), 12);
  });

  it('int(n): each value equally likely (chi-square), including n just above 2^31 where rejection matters', () => {
    const r = new Random(3);
    const n = 10;
    const draws = 100_000;
    const counts = new Array(n).fill(0);
    for (let i = 0; i < draws; i++) counts[r.int(n)]++;
    const expected = draws / n;
    const chi2 = counts.reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2, `counts ${counts}`).toBeLessThan(27.9); // 9 d.o.f., p = 0.001

    // With n = 2^31 + 1 plain modulo would make half the values twice as likely; rejection keeps the mean at n/2.
    const big = 2 ** 31 + 1;
    let below = 0;
    for (let i = 0; i < 20_000; i++) if (r.int(big) < big / 2) below++;
    expect(Math.abs(below / 20_000 - 0.5)).toBeLessThan(0.02);
  });

  it('permutation / shuffle: a permutation, seeded, and uniform over the 6 orders of 3 items', () => {
    const p = new Random(4).permutation(1000);
    expect(Array.from(p).sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(new Random(4).permutation(1000)).toEqual(p);
    expect(new Random(5).permutation(1000)).not.toEqual(p);
    expect(new Random(4).permutation(0)).toEqual(new Uint32Array(0));

    const r = new Random(6);
    const counts = new Map<string, number>();
    const trials = 60_000;
    for (let i = 0; i < trials; i++) {
      const key = r.shuffle(['a', 'b', 'c']).join('');
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    expect(counts.size).toBe(6);
    const expected = trials / 6;
    const chi2 = [...counts.values()].reduce((a, c) => a + (c - expected) ** 2 / expected, 0);
    expect(chi2, JSON.stringify([...counts])).toBeLessThan(20.5); // 5 d.o.f., p = 0.001
  });
});
