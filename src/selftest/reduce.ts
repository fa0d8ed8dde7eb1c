import { ColumnSumOp, StatsOp, readStats, rangesFromOffsets, type RangeStats } from '../kernels/reduce.js';
import { columnSumRefWithAbs, rangeStatsRef, type RangeStatsRef } from '../ref/reduce.js';
import { statsBounds } from '../testing/bounds/reduce.js';
import { expectSumClose, expectWithin } from '../testing/sums.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/**
 * Compares GPU range statistics with the float64 reference: counts and first indices exactly, maxabs exactly (a max
 * of f32 values); sum, sumsq and norm within the bounds of src/testing/bounds/reduce.ts, from each record's Σ|v| and
 * the op's rounding chains (StatsOp.roundingChains: no compensated summation assumed). `skip` ranges get counts only.
 */
export function checkStats(got: RangeStats[], ref: RangeStatsRef[], chains: number[], what: string): void {
  if (got.length !== ref.length) throw new Error(`${what}: ${got.length} records, expected ${ref.length}`);
  ref.forEach((r, k) => {
    const g = got[k]!;
    const where = `${what} record ${k} (${k === 0 ? 'global' : `range ${k - 1}`})`;
    for (const f of ['count', 'nonfinite', 'firstNonfinite', 'maxabs'] as const) {
      if (g[f] !== r[f]) throw new Error(`${where}: ${f} ${g[f]} ≠ ${r[f]}`);
    }
    const b = statsBounds(r, chains[k]!);
    const rule = `the bound of a sum whose terms pass through ≤ ${chains[k]} roundings`;
    expectWithin([g.sum, g.sumsq, g.norm], { value: [r.sum, r.sumsq, r.norm], bound: [b.sum, b.sumsq, b.norm] }, `${where} sum, sumsq, norm`, rule);
  });
}

export const reduceChecks: SelfCheck[] = [
  {
    name: 'reduce.colsum',
    async run(e, rand) {
      for (const [B, N] of [[1, 1], [33, 7], [130, 127]] as [number, number][]) {
        for (const beta of [0, 0.5]) {
          const x = uniformArray(B * N, -1, 1, rand);
          const out0 = beta === 0 ? new Float32Array(N).fill(NaN) : uniformArray(N, -1, 1, rand);
          const xb = e.storage('x', x);
          const ob = e.storage('out', out0);
          const op = await ColumnSumOp.plan(e, { rows: B, cols: N, x: xb, out: ob, beta });
          try {
            e.run('selftest colsum', (pass) => op.encode(pass));
            expectSumClose(await e.readF32(ob), columnSumRefWithAbs(x, B, N, 'float64', beta, out0), `colsum ${B}×${N} β=${beta}`);
          } finally {
            xb.destroy();
            ob.destroy();
            op.destroy();
          }
        }
      }
    },
  },
  {
    name: 'reduce.stats',
    async run(e, rand) {
      const n = 20011;
      const data = uniformArray(n, -3, 3, rand);
      const offsets = [0, 1, 8, 41, 41, 5000, n];
      data[Math.floor(rand() * n)] = NaN;
      data[Math.floor(rand() * n)] = -Infinity;
      const xb = e.storage('grads', data);
      const ranges = rangesFromOffsets(offsets);
      const op = await StatsOp.plan(e, { inputs: [{ buffer: xb, ranges }], chunk: 1000 });
      try {
        e.run('selftest stats', (pass) => op.encode(pass));
        const parts = [{ data, ranges }];
        checkStats(await readStats(e, op.stats, op.records), rangeStatsRef(parts), op.roundingChains, 'stats');
      } finally {
        xb.destroy();
        op.destroy();
      }
    },
  },
];
