/**
 * Fresh random inputs per run, reproducible on demand: the seed comes from WGTRAIN_TEST_SEED or the clock and is
 * printed by `seedInfo()` so a failing run can be replayed.
 */
export const TEST_SEED = Number(process.env.WGTRAIN_TEST_SEED ?? (Date.now() % 2 ** 31));

/** mulberry32: small, fast, good enough for test inputs (not the library's documented PRNG). */
export function rng(seed = TEST_SEED): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniformArray(n: number, lo: number, hi: number, rand = rng()): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * rand();
  return a;
}

export function seedInfo(): string {
  return `WGTRAIN_TEST_SEED=${TEST_SEED}`;
}
