import { ColumnSumOp, StatsOp, readStats, rangesFromOffsets, type RangeStats } from '../kernels/reduce.js';
import { columnSumRef, rangeStatsRef } from '../ref/reduce.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/**
 * Compares GPU range statistics with the float64 reference: counts and first indices exactly, maxabs exactly (a max
 * of f32 values), sums to 2e-7 · Σ|v| (+ tiny), sumsq and norm to 2e-6 relative. `skip` ranges get counts only.
 */
export function checkStats(got: RangeStats[], ref: RangeStats[], absSums: number[], what: string): void {
  if (got.length !== ref.length) throw new Error(`${what}: ${got.length} records, expected ${ref.length}`);
  ref.forEach((r, k) => {
    const g = got[k]!;
    const where = `${what} record ${k} (${k === 0 ? 'global' : `range ${k - 1}`})`;
    for (const f of ['count', 'nonfinite', 'firstNonfinite', 'maxabs'] as const) {
      if (g[f] !== r[f]) throw new Error(`${where}: ${f} ${g[f]} ≠ ${r[f]}`);
    }
    expectClose([g.sum], [r.sum], { atol: 2e-7 * absSums[k]! + 1e-30, rtol: 0 }, `${where} sum`);
    expectClose([g.sumsq, g.norm], [r.sumsq, r.norm], { atol: 1e-30, rtol: 2e-6 }, `${where} sumsq, norm`);
  });
}

/** Σ|v| per record (global first) over the finite elements: the scale of a sum's rounding error. */
export function absSums(parts: { data: ArrayLike<number>; ranges: ReadonlyArray<readonly [number, number]> }[]): number[] {
  const per: number[] = [];
  for (const { data, ranges } of parts) {
    for (const [s, e] of ranges) {
      let a = 0;
      for (let i = s; i < e; i++) if (Number.isFinite(data[i]!)) a += Math.abs(data[i]!);
      per.push(a);
    }
  }
  return [per.reduce((a, b) => a + b, 0), ...per];
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
            expectClose(await e.readF32(ob), columnSumRef(x, B, N, 'float64', beta, out0), { atol: 1e-6, rtol: 1e-6 }, `colsum ${B}×${N} β=${beta}`);
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
        checkStats(await readStats(e, op.stats, op.records), rangeStatsRef(parts), absSums(parts), 'stats');
      } finally {
        xb.destroy();
        op.destroy();
      }
    },
  },
];
