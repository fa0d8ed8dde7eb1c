/**
 * The in-library self-test in Node (Dawn): every registered kernel family's GPU-vs-CPU checks, the same list the
 * browser test runs in Chromium. Fails on any failed check and on an empty list; prints the adapter.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { describeWorst, SELF_CHECKS, selfTest } from '../src/selftest/index.js';
import { gpu } from './helpers/gpu.js';
import { TEST_SEED, seedInfo } from './helpers/random.js';

describe(`selfTest(engine) in Node (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('passes every registered check', async () => {
    const e = await gpu();
    console.log(`selfTest runs on: ${e.describe()}`);
    expect(SELF_CHECKS.length, 'no self-checks are registered in src/selftest/index.ts').toBeGreaterThan(0);
    const progress: [string, number, number][] = [];
    const results = await selfTest(e, { seed: TEST_SEED, onResult: (r, done, total) => progress.push([r.name, done, total]) });
    for (const r of results) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? `\n       ${r.error}` : ''}`);
    expect(results.length).toBe(SELF_CHECKS.length);
    expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`), 'failed self-checks').toEqual([]);
    // Reported one by one as they finish, and each states how close it came to its tolerance.
    expect(progress).toEqual(results.map((r, i) => [r.name, i + 1, results.length]));
    for (const r of results) {
      expect(r.comparisons, `${r.name} compared nothing`).toBeGreaterThan(0);
      expect(r.worst!.ratio, `${r.name}: ${describeWorst(r)}`).toBeLessThanOrEqual(1);
      expect(describeWorst(r)).toMatch(/^(max error \S+ where \S+ is allowed \(|exact: every element equal)/);
    }
  }, 900_000);
});
