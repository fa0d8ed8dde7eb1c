import { describe, expect, it } from 'vitest';
import {
  calculateGain,
  constant,
  DEFAULT_BIAS_INIT,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  initDistribution,
  initialize,
  lecunNormal,
  zeros,
  type InitSpec,
} from '../src/model/init.js';
import { Random, Streams } from '../src/random.js';
import { rng, seedInfo } from './helpers/random.js';

function moments(a: Float32Array): { mean: number; variance: number } {
  let s = 0;
  for (const v of a) s += v;
  const mean = s / a.length;
  let q = 0;
  for (const v of a) q += (v - mean) ** 2;
  return { mean, variance: q / a.length };
}

const SPECS: InitSpec[] = [
  { kind: 'glorot_uniform' },
  { kind: 'glorot_normal', gain: 5 / 3 },
  { kind: 'he_uniform' },
  { kind: 'he_normal', nonlinearity: 'leaky_relu', negativeSlope: 0.2 },
  { kind: 'he_uniform', nonlinearity: 'tanh' },
  { kind: 'lecun_normal' },
];

describe(`weight initialisers (${seedInfo()})`, () => {
  it('calculateGain matches torch.nn.init.calculate_gain', () => {
    expect(calculateGain('linear')).toBe(1);
    expect(calculateGain('sigmoid')).toBe(1);
    expect(calculateGain('tanh')).toBe(5 / 3);
    expect(calculateGain('relu')).toBe(Math.SQRT2);
    expect(calculateGain('leaky_relu')).toBeCloseTo(Math.sqrt(2 / (1 + 0.01 ** 2)), 15); // torch: 1.4141428569978354
    expect(calculateGain('leaky_relu', 0.2)).toBeCloseTo(1.386750490563073, 15);
    expect(calculateGain('selu')).toBe(0.75);
  });

  it('scales are the torch formulas', () => {
    expect(initDistribution({ kind: 'glorot_uniform' }, 784, 128)).toEqual({ dist: 'uniform', bound: Math.sqrt(6 / 912) });
    expect(initDistribution({ kind: 'glorot_normal', gain: 2 }, 784, 128)).toEqual({ dist: 'normal', std: 2 * Math.sqrt(2 / 912) });
    expect(initDistribution({ kind: 'he_uniform' }, 784, 128)).toEqual({ dist: 'uniform', bound: Math.SQRT2 * Math.sqrt(3 / 784) });
    expect(initDistribution({ kind: 'he_normal' }, 784, 128)).toEqual({ dist: 'normal', std: Math.SQRT2 / 28 });
    expect(initDistribution({ kind: 'lecun_normal' }, 784, 128)).toEqual({ dist: 'normal', std: 1 / 28 });
    expect(() => initDistribution({ kind: 'he_normal' }, 0, 10)).toThrow(/fanIn 0/);
    expect(() => initDistribution({ kind: 'glorot_normal' }, 3, 0)).toThrow(/fanOut 0/);
  });

  it('is deterministic in (seed, stream, step) and documented as Random draws in order', () => {
    const rand = rng();
    const seed = Math.floor(rand() * 2 ** 45);
    for (const spec of SPECS) {
      const ctx = { fanIn: 33, fanOut: 7, seed, step: 3 };
      const a = initialize(new Float32Array(231), spec, ctx);
      expect(initialize(new Float32Array(231), spec, ctx)).toEqual(a);
      expect(initialize(new Float32Array(231), spec, { ...ctx, seed: seed + 1 })).not.toEqual(a);
      expect(initialize(new Float32Array(231), spec, { ...ctx, step: 4 })).not.toEqual(a);
      expect(initialize(new Float32Array(231), spec, { ...ctx, stream: Streams.default })).not.toEqual(a);
      // The contract: out[i] is the i-th draw of Random(seed, { stream: Streams.init, step }).
      const d = initDistribution(spec, 33, 7);
      const r = new Random(seed, { stream: Streams.init, step: 3 });
      const want = Float32Array.from({ length: 231 }, () =>
        d.dist === 'uniform' ? r.uniformRange(-d.bound, d.bound) : d.dist === 'normal' ? r.normal(0, d.std) : 0,
      );
      expect(a).toEqual(want);
      // A longer tensor starts with the same values (prefix stability).
      expect(initialize(new Float32Array(400), spec, ctx).subarray(0, 231)).toEqual(a);
    }
  });

  it('mean and variance within 6σ statistical bounds; uniform forms stay within ±bound', () => {
    const rand = rng();
    const fanIn = 400;
    const fanOut = 500;
    const n = fanIn * fanOut;
    for (const spec of SPECS) {
      const w = initialize(new Float32Array(n), spec, { fanIn, fanOut, seed: Math.floor(rand() * 2 ** 40) });
      const d = initDistribution(spec, fanIn, fanOut);
      const { mean, variance } = moments(w);
      // σ² and the 4th central moment μ4 of the target distribution: normal μ4 = 3σ⁴, U(−a, a): σ² = a²/3, μ4 = a⁴/5.
      // The sample mean has standard deviation σ/√n and the sample variance √((μ4 − σ⁴)/n).
      const s2 = d.dist === 'uniform' ? d.bound ** 2 / 3 : d.dist === 'normal' ? d.std ** 2 : 0;
      const mu4 = d.dist === 'uniform' ? d.bound ** 4 / 5 : 3 * s2 * s2;
      expect(Math.abs(mean), `${spec.kind} mean`).toBeLessThanOrEqual(6 * Math.sqrt(s2 / n));
      expect(Math.abs(variance - s2), `${spec.kind} variance ${variance} vs ${s2}`).toBeLessThanOrEqual(6 * Math.sqrt((mu4 - s2 * s2) / n));
      if (d.dist === 'uniform') {
        const bound = Math.fround(d.bound);
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of w) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
        expect(lo).toBeGreaterThanOrEqual(-bound);
        expect(hi).toBeLessThanOrEqual(bound);
        // The whole interval is used: the extremes are within 0.1% of the bound for 2·10^5 draws.
        expect(hi).toBeGreaterThan(0.999 * bound);
        expect(lo).toBeLessThan(-0.999 * bound);
      }
    }
  });

  it('named helpers, zeros, constant, default bias', () => {
    const ctx = { fanIn: 10, fanOut: 20, seed: 5 };
    expect(glorotUniform(new Float32Array(8), ctx)).toEqual(initialize(new Float32Array(8), { kind: 'glorot_uniform' }, ctx));
    expect(glorotNormal(new Float32Array(8), { ...ctx, gain: 2 })).toEqual(initialize(new Float32Array(8), { kind: 'glorot_normal', gain: 2 }, ctx));
    expect(heUniform(new Float32Array(8), ctx)).toEqual(initialize(new Float32Array(8), { kind: 'he_uniform', nonlinearity: 'relu' }, ctx));
    expect(heNormal(new Float32Array(8), { ...ctx, nonlinearity: 'tanh' })).toEqual(initialize(new Float32Array(8), { kind: 'he_normal', nonlinearity: 'tanh' }, ctx));
    expect(lecunNormal(new Float32Array(8), ctx)).toEqual(initialize(new Float32Array(8), { kind: 'lecun_normal' }, ctx));
    expect(Array.from(zeros(new Float32Array(3).fill(9)))).toEqual([0, 0, 0]);
    expect(Array.from(constant(new Float32Array(3), 0.25))).toEqual([0.25, 0.25, 0.25]);
    expect(Array.from(initialize(new Float32Array(4).fill(1), DEFAULT_BIAS_INIT, ctx))).toEqual([0, 0, 0, 0]);
    expect(() => constant(new Float32Array(1), NaN)).toThrow(/finite/);
  });
});
