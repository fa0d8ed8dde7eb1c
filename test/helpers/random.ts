/**
 * Fresh random inputs per run, reproducible on demand: the seed comes from WGTRAIN_TEST_SEED or the clock and is
 * printed by `seedInfo()` so a failing run can be replayed.
 */
import { mulberry32, uniformArray as uniform } from '../../src/testing/random.js';

export const TEST_SEED = Number(process.env.WGTRAIN_TEST_SEED ?? (Date.now() % 2 ** 31));

export function rng(seed = TEST_SEED): () => number {
  return mulberry32(seed);
}

export function uniformArray(n: number, lo: number, hi: number, rand = rng()): Float32Array {
  return uniform(n, lo, hi, rand);
}

export function seedInfo(): string {
  return `WGTRAIN_TEST_SEED=${TEST_SEED}`;
}
