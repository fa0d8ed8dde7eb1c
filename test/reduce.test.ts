import { afterAll, describe, expect, it } from 'vitest';
import { ColumnSumOp, StatsOp, readStats, rangesFromOffsets, type Range } from '../src/kernels/reduce.js';
import { columnSumRefWithAbs, rangeStatsRef } from '../src/ref/reduce.js';
import { checkStats, reduceChecks } from '../src/selftest/reduce.js';
import { expectSumClose } from '../src/testing/sums.js';
import { AWKWARD } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

// Tolerances: |got − ref| ≤ γ_n·Σ|terms| (src/testing/sums.ts, src/testing/bounds/reduce.ts), which holds for any
// summation order and assumes no compensated summation; the last test shows bug-sized errors still fail.

function plant(data: Float32Array, count: number, rand: () => number): number[] {
  const bad = [NaN, Infinity, -Infinity];
  const at: number[] = [];
  for (let k = 0; k < count; k++) {
    const i = Math.floor(rand() * data.length);
    data[i] = bad[k % 3]!;
    at.push(i);
  }
  return at.sort((a, b) => a - b);
}

describe(`reductions, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  for (const c of reduceChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));

  it('column sums at awkward rows × cols: written (β = 0 over a NaN-poisoned output) and accumulated (β ≠ 0)', async () => {
    const e = await gpu();
    const rand = rng();
    for (const B of [...AWKWARD, 1000]) {
      for (const N of [...AWKWARD, 300]) {
        const x = uniformArray(B * N, -1, 1, rand);
        const xb = e.storage('dz', x);
        const ob = poisoned(e, 'db', N);
        const op = await ColumnSumOp.plan(e, { rows: B, cols: N, x: xb, out: ob });
        e.run('colsum', (pass) => op.encode(pass));
        const first = await e.readF32(ob);
        expectSumClose(first, columnSumRefWithAbs(x, B, N, 'float64'), `colsum ${B}×${N}`);
        op.setBeta(0.9);
        e.run('colsum accumulate', (pass) => op.encode(pass));
        // The reference accumulates onto the GPU's own first result (an exact input of the second dispatch).
        expectSumClose(await e.readF32(ob), columnSumRefWithAbs(x, B, N, 'float64', 0.9, first), `colsum ${B}×${N} β=0.9`);
        xb.destroy();
        ob.destroy();
        op.destroy();
      }
    }
  });

  it('whole-buffer statistics of 100003 elements, several chunk sizes (two passes), no non-finite values → 0', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 100003;
    const data = uniformArray(n, -2, 2, rand);
    for (let i = 0; i < n; i += 97) data[i] = data[i]! * 1e-4; // a spread of magnitudes
    const xb = e.storage('grads', data);
    const parts = [{ data, ranges: [[0, n]] as Range[] }];
    const ref = rangeStatsRef(parts);
    for (const chunk of [undefined, 1000, 100]) {
      const stats = poisoned(e, 'stats', 16);
      const d0 = e.dispatchCount;
      const op = await StatsOp.plan(e, { inputs: [{ buffer: xb }], chunk, stats });
      e.run('stats', (pass) => op.encode(pass));
      expect(e.dispatchCount - d0).toBe(2);
      const got = await readStats(e, stats, op.records);
      checkStats(got, ref, op.roundingChains, `n=${n} chunk=${chunk ?? 'default'}`);
      expect(got[0]!.nonfinite).toBe(0);
      expect(got[0]!.firstNonfinite).toBe(-1);
      op.destroy();
      stats.destroy();
    }
    xb.destroy();
  });

  it('both workgroup-size variants (hardware 256/64, software 16/16, and 1/1), chunks smaller than a workgroup', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 3001;
    const data = uniformArray(n, -1, 1, rand);
    plant(data, 3, rand);
    const xb = e.storage('grads', data);
    const ranges = rangesFromOffsets([0, 7, 40, 1000, n]);
    const parts = [{ data, ranges }];
    for (const [workgroups, chunk] of [[{ wg: 256, fwg: 64 }, 1024], [{ wg: 256, fwg: 64 }, 300], [{ wg: 16, fwg: 16 }, 7], [{ wg: 1, fwg: 1 }, 500]] as const) {
      const op = await StatsOp.plan(e, { inputs: [{ buffer: xb, ranges }], chunk, workgroups });
      e.run('stats variants', (pass) => op.encode(pass));
      checkStats(await readStats(e, op.stats, op.records), rangeStatsRef(parts), op.roundingChains, `wg ${workgroups.wg}/${workgroups.fwg} chunk ${chunk}`);
      op.destroy();
    }
    xb.destroy();
  });

  it('per-range norms over a flat buffer + offset table and a second buffer; NaN/Inf planted at random positions', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 100003;
    // awkward layer sizes: 1, 7, 33, 127, 130, an empty range, and the long rest
    const offsets = [0, 1, 8, 41, 168, 298, 298, n];
    const data = uniformArray(n, -1, 1, rand);
    const other = uniformArray(130, -5, 5, rand);
    for (const planted of [0, 1, 7]) {
      const d = data.slice();
      const o = other.slice();
      const at = plant(d, planted, rand);
      if (planted) o[Math.floor(rand() * o.length)] = NaN;
      const db = e.storage('grads', d);
      const ob = e.storage('other', o);
      const ranges = rangesFromOffsets(offsets);
      const otherRanges: Range[] = [[0, 130], [5, 5], [3, 40]];
      const op = await StatsOp.plan(e, { inputs: [{ buffer: db, ranges }, { buffer: ob, ranges: otherRanges }], chunk: 2048 });
      const d0 = e.dispatchCount;
      e.run('range stats', (pass) => op.encode(pass));
      expect(e.dispatchCount - d0).toBe(3);
      const parts = [{ data: d, ranges }, { data: o, ranges: otherRanges }];
      const ref = rangeStatsRef(parts);
      const got = await readStats(e, op.stats, op.records);
      checkStats(got, ref, op.roundingChains, `${planted} planted`);
      if (planted) {
        expect(got[0]!.nonfinite).toBeGreaterThanOrEqual(2);
        expect(got[0]!.firstNonfinite).toBe(at[0]); // the flat buffer's ranges come first and cover it from 0
      } else expect(got.every((s) => s.nonfinite === 0 && s.firstNonfinite === -1)).toBe(true);
      op.destroy();
      db.destroy();
      ob.destroy();
    }
  });

  it('non-finite detection by bit pattern: every NaN and inf encoding, and no false positives on extreme finite values', async () => {
    const e = await gpu();
    const bits = new Uint32Array([
      0x7f800000, // +inf
      0xff800000, // −inf
      0x7fc00000, // quiet NaN
      0xffc00000, // negative quiet NaN
      0x7f800001, // signalling NaN, smallest payload
      0x7fffffff, // NaN, largest payload
      0x7f7fffff, // FLT_MAX (finite)
      0xff7fffff, // −FLT_MAX (finite)
      0x00000001, // smallest subnormal (finite)
      0x80000000, // −0 (finite)
    ]);
    const xb = e.storage('bits', bits);
    const ranges: Range[] = Array.from(bits, (_, i) => [i, i + 1] as const);
    const op = await StatsOp.plan(e, { inputs: [{ buffer: xb, ranges }] });
    e.run('bits', (pass) => op.encode(pass));
    const got = await readStats(e, op.stats, op.records);
    expect(got.slice(1).map((s) => s.nonfinite)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(got[0]!.nonfinite).toBe(6);
    expect(got[0]!.firstNonfinite).toBe(0);
    expect(got[7]!.maxabs).toBe(new Float32Array(new Uint32Array([0x7f7fffff]).buffer)[0]);
    op.destroy();
    xb.destroy();
  });

  it('deliberate breaks: a dropped row, a doubled row, a lost boundary element or chunk fail the bounds', async () => {
    const e = await gpu();
    const rand = rng();
    const fails = (f: () => void) => expect(f).toThrow(/outside \|got−ref\|/);
    // Column sums: the shader's loop off by one at either end, or one column reading its neighbour.
    const B = 130;
    const N = 127;
    const x = uniformArray(B * N, -1, 1, rand);
    const xb = e.storage('x', x);
    const ob = poisoned(e, 'out', N);
    const op = await ColumnSumOp.plan(e, { rows: B, cols: N, x: xb, out: ob });
    e.run('colsum', (pass) => op.encode(pass));
    const got = await e.readF32(ob);
    const ref = columnSumRefWithAbs(x, B, N, 'float64');
    expectSumClose(got, ref, 'unbroken colsum');
    fails(() => expectSumClose(got.map((v, j) => v - x[(B - 1) * N + j]!), ref, 'last row dropped'));
    fails(() => expectSumClose(got.map((v, j) => v + x[j]!), ref, 'first row twice'));
    fails(() => expectSumClose(got.map((v, j) => (j === 5 ? got[6]! : v)), ref, 'column 5 reads column 6'));
    for (const b of [xb, ob]) b.destroy();
    op.destroy();
    // Statistics: an off-by-one at a chunk boundary drops its first element; a chunk-table bug loses a whole chunk.
    const n = 20011;
    const chunk = 1000;
    const data = uniformArray(n, -3, 3, rand);
    data[chunk] = 2.5; // the boundary element, of typical size
    const db = e.storage('grads', data);
    const ranges = rangesFromOffsets([0, 5000, n]);
    const sop = await StatsOp.plan(e, { inputs: [{ buffer: db, ranges }], chunk });
    e.run('stats', (pass) => sop.encode(pass));
    const stats = await readStats(e, sop.stats, sop.records);
    const sref = rangeStatsRef([{ data, ranges }]);
    checkStats(stats, sref, sop.roundingChains, 'unbroken stats');
    const lost = (k: number, f: (s: (typeof stats)[number]) => void) => {
      const copy = stats.map((s) => ({ ...s }));
      f(copy[k]!);
      return copy;
    };
    fails(() => checkStats(lost(1, (s) => (s.sum -= data[chunk]!)), sref, sop.roundingChains, 'boundary element dropped from the sum'));
    let chunkSq = 0;
    for (let i = 2 * chunk; i < 3 * chunk; i++) chunkSq += data[i]! * data[i]!;
    fails(() => checkStats(lost(1, (s) => ((s.sumsq -= chunkSq), (s.norm = Math.sqrt(s.sumsq)))), sref, sop.roundingChains, 'a chunk lost from sumsq'));
    db.destroy();
    sop.destroy();
  });
});
