/** The emulated fused multiply-adds of src/ref/fma.ts against exact rational arithmetic (BigInt), seeded. */
import { describe, expect, it } from 'vitest';
import { fma32, fma64 } from '../src/ref/fma.js';
import { rng, seedInfo } from './helpers/random.js';

/** a·b + c exactly, as (integer numerator, binary exponent). */
function exact(a: number, b: number, c: number): [bigint, number] {
  const frac = (x: number): [bigint, number] => {
    const v = new DataView(new ArrayBuffer(8));
    v.setFloat64(0, x);
    const hi = v.getUint32(0), lo = v.getUint32(4);
    const exp = (hi >>> 20) & 0x7ff;
    let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
    if (exp) mant |= 1n << 52n;
    return [(hi >>> 31 ? -1n : 1n) * mant, exp ? exp - 1075 : -1074];
  };
  const [ma, ea] = frac(a), [mb, eb] = frac(b), [mc, ec] = frac(c);
  const e = Math.min(ea + eb, ec);
  return [((ma * mb) << BigInt(ea + eb - e)) + (mc << BigInt(ec - e)), e];
}

/** Round-to-nearest-even of num·2^e to `bits` significant bits. */
function round([num, e]: [bigint, number], bits: number): number {
  if (num === 0n) return 0;
  const neg = num < 0n;
  let m = neg ? -num : num;
  const shift = m.toString(2).length - bits;
  if (shift > 0) {
    const half = 1n << BigInt(shift - 1);
    const rem = m & ((1n << BigInt(shift)) - 1n);
    m >>= BigInt(shift);
    if (rem > half || (rem === half && (m & 1n) === 1n)) m += 1n;
    e += shift;
  }
  const v = Number(m) * 2 ** e;
  return neg ? -v : v;
}

describe(`fused multiply-add emulation (${seedInfo()})`, () => {
  it('fma64 and fma32 are correctly rounded, including near-cancellation', () => {
    const rand = rng();
    const r = () => (rand() - 0.5) * 2 ** Math.floor(rand() * 40 - 20);
    for (let i = 0; i < 20000; i++) {
      let a = r(), b = r();
      let c = rand() < 0.3 ? -a * b * (1 + (rand() - 0.5) * 1e-10) : r();
      expect(fma64(a, b, c), `fma64(${a}, ${b}, ${c})`).toBe(round(exact(a, b, c), 53));
      a = Math.fround(a);
      b = Math.fround(b);
      c = Math.fround(rand() < 0.3 ? -a * b * (1 + (rand() - 0.5) * 1e-5) : c);
      expect(fma32(a, b, c), `fma32(${a}, ${b}, ${c})`).toBe(round(exact(a, b, c), 24));
    }
  });
});
