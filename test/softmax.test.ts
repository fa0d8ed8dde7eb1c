import { afterAll, describe, expect, it } from 'vitest';
import {
  CrossEntropyOp,
  INVALID_FLAG,
  MetricsOp,
  SoftmaxOp,
  createMetricsBuffer,
  readMetrics,
  resetMetrics,
} from '../src/kernels/softmax.js';
import {
  accumulateMetricsRef,
  crossEntropyRef,
  crossEntropyTotal,
  emptyMetrics,
  softmaxBackwardRef,
  softmaxRef,
  softmaxRowSumsRef,
} from '../src/ref/softmax.js';
import { softmaxChecks } from '../src/selftest/softmax.js';
import { crossEntropyBounded, metricsLossBound, softmaxBackwardBounded, softmaxBounded } from '../src/testing/bounds/softmax.js';
import { expectWithin, pickBounded } from '../src/testing/sums.js';
import { AWKWARD } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

// Tolerances: per-element bounds from the row sums (C terms) and WGSL's accuracy of exp, log and division; no
// compensated summation assumed (src/testing/bounds/softmax.ts). The last GPU test shows bug-sized errors fail them.

/** Logits: mostly U(−8, 8), some rows in ±80 (stability), one row with ties. */
function logits(B: number, C: number, rand: () => number): Float32Array {
  const z = uniformArray(B * C, -8, 8, rand);
  for (let i = 0; i < B; i++) {
    if (i % 5 === 1) for (let j = 0; j < C; j++) z[i * C + j] = rand() < 0.5 ? -80 + rand() : 80 - 2 * rand();
    if (i % 7 === 3) for (let j = 0; j < C; j++) z[i * C + j] = 2.5; // ties everywhere
  }
  return z;
}

function labelsFor(B: number, C: number, rand: () => number): Uint32Array {
  const l = new Uint32Array(B);
  for (let i = 0; i < B; i++) l[i] = Math.floor(rand() * C);
  return l;
}

function u32Equal(got: Uint32Array, ref: Uint32Array, what: string): void {
  const bad: string[] = [];
  for (let i = 0; i < ref.length; i++) if (got[i] !== ref[i]) bad.push(`[${i}] got ${got[i]} ref ${ref[i]}`);
  if (bad.length) throw new Error(`${what}: ${bad.length} of ${ref.length} differ:\n  ${bad.slice(0, 8).join('\n  ')}`);
}

describe(`softmax family, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  for (const c of softmaxChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));

  for (const log of [false, true]) {
    const name = log ? 'log_softmax' : 'softmax';
    it(`${name} forward and backward at awkward rows × cols, logits up to ±80`, async () => {
      const e = await gpu();
      const rand = rng();
      for (const B of AWKWARD) {
        for (const C of AWKWARD) {
          const z = logits(B, C, rand);
          const dy = uniformArray(B * C, -1, 1, rand);
          const zb = e.storage('z', z);
          const dyb = e.storage('dy', dy);
          const yb = poisoned(e, 'y', B * C);
          const dzb = poisoned(e, 'dz', B * C);
          const fwd = await SoftmaxOp.forward(e, { rows: B, cols: C, x: zb, y: yb, log });
          const bwd = await SoftmaxOp.backward(e, { rows: B, cols: C, y: yb, dy: dyb, dx: dzb, log });
          e.run(`${name} test`, (pass) => {
            fwd.encode(pass);
            bwd.encode(pass);
          });
          const y = await e.readF32(yb);
          const fwd64 = softmaxBounded(z, B, C, log);
          expectWithin(y, fwd64, `${name} forward ${B}×${C}`);
          // The backward is checked on the GPU's own forward output (it is the backward's input).
          expectWithin(await e.readF32(dzb), softmaxBackwardBounded(y, dy, B, C, log), `${name} backward ${B}×${C}`);
          // Each row sums to 1 within the sum of its elements' bounds (exp carries a log-softmax bound b to p·(e^b − 1)).
          for (let i = 0; i < B; i++) {
            let s = 0;
            let bound = 1e-14;
            for (let j = i * C; j < (i + 1) * C; j++) {
              s += log ? Math.exp(y[j]!) : y[j]!;
              bound += log ? Math.exp(fwd64.value[j]!) * Math.expm1(fwd64.bound[j]!) : fwd64.bound[j]!;
            }
            expect(Math.abs(s - 1), `${name} row ${i} of ${B}×${C} sums to ${s}`).toBeLessThanOrEqual(bound);
          }
          for (const b of [zb, dyb, yb, dzb]) b.destroy();
          fwd.destroy();
          bwd.destroy();
        }
      }
    });
  }

  it('cross-entropy forward (loss, flags) and fused gradient at awkward sizes, logits up to ±80, ties', async () => {
    const e = await gpu();
    const rand = rng();
    for (const B of AWKWARD) {
      for (const C of AWKWARD) {
        const z = logits(B, C, rand);
        const labels = labelsFor(B, C, rand);
        const scale = rand() < 0.5 ? 1 / B : 0.37;
        const zb = e.storage('z', z);
        const lb = e.storage('labels', labels);
        const lossb = poisoned(e, 'loss', B);
        const flagb = e.storage('flags', new Uint32Array(B).fill(12345));
        const loss2 = poisoned(e, 'loss2', B);
        const flag2 = e.storage('flags2', new Uint32Array(B).fill(12345));
        const dzb = poisoned(e, 'dz', B * C);
        const train = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb, dlogits: dzb, scale });
        const evalOp = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: loss2, flags: flag2 });
        e.run('xent test', (pass) => {
          train.encode(pass);
          evalOp.encode(pass);
        });
        const ref = crossEntropyBounded(z, labels, B, C, scale);
        expectWithin(await e.readF32(lossb), ref.loss, `xent loss ${B}×${C}`);
        u32Equal(await e.readU32(flagb), ref.flags, `xent flags ${B}×${C}`);
        expectWithin(await e.readF32(dzb), ref.dz, `xent dz ${B}×${C} scale ${scale}`);
        expectWithin(await e.readF32(loss2), ref.loss, `xent (forward only) loss ${B}×${C}`);
        u32Equal(await e.readU32(flag2), ref.flags, `xent (forward only) flags ${B}×${C}`);
        for (const b of [zb, lb, lossb, flagb, loss2, flag2, dzb]) b.destroy();
        train.destroy();
        evalOp.destroy();
      }
    }
  });

  it('cross-entropy of a confident correct prediction keeps its relative accuracy (log1p path)', async () => {
    const e = await gpu();
    // loss = log(1 + Σ_{j≠a} e^{z_j − m}) ≈ 9·e^{-20} ≈ 1.9e-8: log(s) with s rounded to f32 would give 0.
    const B = 3;
    const C = 10;
    const z = new Float32Array(B * C).fill(-20);
    z[0] = 0;
    z[C + 4] = 15;
    z[2 * C + 9] = -19.5;
    const labels = new Uint32Array([0, 4, 9]);
    const zb = e.storage('z', z);
    const lb = e.storage('labels', labels);
    const lossb = poisoned(e, 'loss', B);
    const flagb = e.storage('flags', new Uint32Array(B));
    const op = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb });
    e.run('xent confident', (pass) => op.encode(pass));
    // The bound of a loss this small is relative to it: ε·t/(1 + t) + 12u·log1p(t) (src/testing/bounds/softmax.ts).
    const ref = crossEntropyBounded(z, labels, B, C);
    for (let i = 0; i < B; i++) expect(ref.loss.bound[i]!, `bound of tiny loss ${ref.loss.value[i]}`).toBeLessThan(2e-5 * ref.loss.value[i]!);
    expectWithin(await e.readF32(lossb), ref.loss, 'tiny losses');
    for (const b of [zb, lb, lossb, flagb]) b.destroy();
    op.destroy();
  });

  it('out-of-range labels read nothing out of bounds: loss NaN, flag INVALID, zero gradient row, counted as invalid', async () => {
    const e = await gpu();
    const rand = rng();
    const B = 9;
    const C = 7;
    const z = logits(B, C, rand);
    const labels = labelsFor(B, C, rand);
    labels[2] = C;
    labels[5] = 0xffffffff;
    labels[8] = C + 1000;
    const zb = e.storage('z', z);
    const lb = e.storage('labels', labels);
    const lossb = poisoned(e, 'loss', B);
    const flagb = e.storage('flags', new Uint32Array(B));
    const dzb = poisoned(e, 'dz', B * C);
    const metrics = createMetricsBuffer(e);
    const op = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb, dlogits: dzb });
    const acc = await MetricsOp.plan(e, { rows: B, loss: lossb, flags: flagb, metrics });
    e.run('xent invalid', (pass) => {
      op.encode(pass);
      acc.encode(pass);
    });
    const ref = crossEntropyBounded(z, labels, B, C);
    const loss = await e.readF32(lossb);
    for (const i of [2, 5, 8]) expect(Number.isNaN(loss[i]), `loss[${i}]`).toBe(true);
    expect(Number.isNaN(ref.loss.value[2])).toBe(true);
    // NaN never passes a comparison: compare the valid rows only.
    const valid = (i: number) => ![2, 5, 8].includes(i);
    expectWithin(loss.filter((_, i) => valid(i)), pickBounded(ref.loss, valid), 'valid rows');
    u32Equal(await e.readU32(flagb), ref.flags, 'flags');
    expect(ref.flags[5]).toBe(INVALID_FLAG);
    expectWithin(await e.readF32(dzb), ref.dz, 'dz (zero rows for invalid labels)');
    const m = await readMetrics(e, metrics);
    const mref = accumulateMetricsRef(emptyMetrics(), loss, ref.flags); // the GPU's own row losses: the accumulator's inputs
    expect(m.invalid).toBe(3);
    expect(m.rows).toBe(B - 3);
    expect(m.correct).toBe(mref.correct);
    expect(Math.abs(m.lossSum - mref.lossSum)).toBeLessThanOrEqual(metricsLossBound(mref.lossSum, mref.rows));
    for (const b of [zb, lb, lossb, flagb, dzb, metrics]) b.destroy();
    op.destroy();
    acc.destroy();
  });

  it('metrics accumulate on the GPU over many steps (a partial last batch included), matching float64 sums', async () => {
    const e = await gpu();
    const rand = rng();
    const B = 130;
    const C = 10;
    const metrics = createMetricsBuffer(e);
    const zb = e.storage('z', B * C * 4);
    const lb = e.storage('labels', B * 4);
    const lossb = poisoned(e, 'loss', B);
    const flagb = e.storage('flags', B * 4);
    const dzb = poisoned(e, 'dz', B * C);
    const op = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb, dlogits: dzb });
    const acc = await MetricsOp.plan(e, { rows: B, loss: lossb, flags: flagb, metrics });
    let mref = emptyMetrics();
    const steps = 12;
    const dispatches0 = e.dispatchCount;
    for (let s = 0; s < steps; s++) {
      const rows = s === steps - 1 ? 33 : B;
      if (s === steps - 1) {
        op.setBatch(rows);
        acc.setRows(rows);
      }
      const z = uniformArray(rows * C, -6, 6, rand);
      const labels = labelsFor(rows, C, rand);
      e.write(zb, z);
      e.write(lb, labels);
      e.run('step', (pass) => {
        op.encode(pass);
        acc.encode(pass);
      });
      // The reference sums the GPU's own row losses (the accumulator's exact inputs).
      const ref = crossEntropyBounded(z, labels, rows, C);
      const rowLoss = await e.readF32(lossb, rows);
      expectWithin(rowLoss, ref.loss, `row losses of step ${s}`);
      mref = accumulateMetricsRef(mref, rowLoss, ref.flags);
      if (s === steps - 1) expectWithin(await e.readF32(dzb, rows * C), ref.dz, 'dz of the partial batch (scale 1/33)');
    }
    expect(e.dispatchCount - dispatches0).toBe(2 * steps);
    const m = await readMetrics(e, metrics);
    expect(m.batches).toBe(steps);
    expect(m.rows).toBe(mref.rows);
    expect(m.invalid).toBe(0);
    // argmax ties are impossible with random floats, so the counts agree exactly unless a loss is within f32 noise.
    expect(m.correct).toBe(mref.correct);
    // Σ over 1,463 rows of positive losses, in any order, without relying on the accumulator's TwoSum.
    const lossBound = metricsLossBound(mref.lossSum, mref.rows);
    expect(Math.abs(m.lossSum - mref.lossSum), `Σloss ${m.lossSum} vs ${mref.lossSum}`).toBeLessThanOrEqual(lossBound);
    expect(Math.abs(m.meanLoss - mref.lossSum / mref.rows)).toBeLessThanOrEqual(lossBound / mref.rows + 1e-15 * m.meanLoss);
    e.submit('reset', (enc) => resetMetrics(enc, metrics));
    expect(await readMetrics(e, metrics)).toMatchObject({ lossSum: 0, rows: 0, correct: 0, batches: 0 });
    for (const b of [zb, lb, lossb, flagb, dzb, metrics]) b.destroy();
    op.destroy();
    acc.destroy();
  });

  it('deliberate breaks: a term dropped from a row sum or Σ dy·y, a shifted label, a neighbour\'s row fail the bounds', async () => {
    const e = await gpu();
    const rand = rng();
    const fails = (f: () => void) => expect(f).toThrow(/outside \|got−ref\|/);
    const B = 33;
    const C = 33;
    const z = uniformArray(B * C, -8, 8, rand);
    const dy = uniformArray(B * C, -1, 1, rand);
    const labels = labelsFor(B, C, rand);
    const zb = e.storage('z', z);
    const dyb = e.storage('dy', dy);
    const lb = e.storage('labels', labels);
    const yb = poisoned(e, 'y', B * C);
    const ly = poisoned(e, 'log_y', B * C);
    const dzb = poisoned(e, 'dz', B * C);
    const lossb = poisoned(e, 'loss', B);
    const xdz = poisoned(e, 'xent_dz', B * C);
    const flagb = e.storage('flags', B * 4);
    const ops = [
      await SoftmaxOp.forward(e, { rows: B, cols: C, x: zb, y: yb }),
      await SoftmaxOp.forward(e, { rows: B, cols: C, x: zb, y: ly, log: true }),
      await SoftmaxOp.backward(e, { rows: B, cols: C, y: yb, dy: dyb, dx: dzb }),
      await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb, dlogits: xdz }),
    ];
    e.run('softmax breaks', (pass) => ops.forEach((op) => op.encode(pass)));
    const [y, logY, dz, loss, xentDz] = [await e.readF32(yb), await e.readF32(ly), await e.readF32(dzb), await e.readF32(lossb), await e.readF32(xdz)];
    const prob = softmaxBounded(z, B, C);
    const logp = softmaxBounded(z, B, C, true);
    const back = softmaxBackwardBounded(y, dy, B, C);
    const xent = crossEntropyBounded(z, labels, B, C);
    expectWithin(y, prob, 'unbroken softmax');
    expectWithin(logY, logp, 'unbroken log_softmax');
    expectWithin(dz, back, 'unbroken backward');
    expectWithin(loss, xent.loss, 'unbroken xent loss');
    expectWithin(xentDz, xent.dz, 'unbroken xent dz');
    // The row loop stopping one element early: s misses exp(z_last − m).
    const rs = softmaxRowSumsRef(z, B, C);
    const row = (k: number) => Math.floor(k / C);
    const s = (i: number) => rs.sum[i]!;
    const short = (i: number) => s(i) - Math.exp(z[i * C + C - 1]! - rs.max[i]!);
    fails(() => expectWithin(y.map((v, k) => (v * s(row(k))) / short(row(k))), prob, 'softmax without the last term'));
    fails(() => expectWithin(logY.map((v, k) => v + Math.log(s(row(k)) / short(row(k)))), logp, 'log-sum-exp without the last term'));
    fails(() => expectWithin(loss.map((v, i) => v - Math.log(s(i) / short(i))), xent.loss, 'xent loss without the last term'));
    // Σ dy·y missing its last term: dz_j = y_j·(dy_j − d) with d short by dy_last·y_last.
    fails(() => expectWithin(dz.map((v, k) => v + y[k]! * dy[row(k) * C + C - 1]! * y[row(k) * C + C - 1]!), back, 'backward without the last term'));
    // The one-hot at label + 1 (mod C); row i reading row i + 1's logits.
    const shifted = xentDz.map((v, k) => v + ((k % C === labels[row(k)]! ? 1 : 0) - (k % C === (labels[row(k)]! + 1) % C ? 1 : 0)) / B);
    fails(() => expectWithin(shifted, xent.dz, 'label off by one'));
    fails(() => expectWithin(y.map((_, k) => y[(k + C) % (B * C)]!), prob, 'rows shifted by one'));
    for (const b of [zb, dyb, lb, yb, ly, dzb, lossb, xdz, flagb]) b.destroy();
    for (const op of ops) op.destroy();
  });
});

describe('softmax-family gradients vs central finite differences (CPU reference, float64)', () => {
  const h = 1e-6;

  it('cross-entropy: dz = ∂(scale · Σ_i loss_i)/∂z', () => {
    const rand = rng();
    for (const [B, C] of [[1, 1], [3, 7], [4, 33]] as const) {
      const z = Array.from({ length: B * C }, () => -4 + 8 * rand());
      const labels = Array.from({ length: B }, () => Math.floor(rand() * C));
      const scale = 1 / B;
      const { dz } = crossEntropyRef(z, labels, B, C, 'float64', scale);
      for (let k = 0; k < B * C; k++) {
        const zp = z.slice();
        const zm = z.slice();
        zp[k]! += h;
        zm[k]! -= h;
        const fd = (scale * (crossEntropyTotal(zp, labels, B, C) - crossEntropyTotal(zm, labels, B, C))) / (2 * h);
        expect(Math.abs(fd - dz[k]!), `dz[${k}] ${dz[k]} vs fd ${fd} (${B}×${C})`).toBeLessThanOrEqual(1e-8 + 1e-6 * Math.abs(fd));
      }
    }
  });

  for (const log of [false, true]) {
    it(`${log ? 'log_softmax' : 'softmax'} backward: dz = ∂⟨dy, f(z)⟩/∂z`, () => {
      const rand = rng();
      for (const [B, C] of [[1, 1], [2, 7], [3, 33]] as const) {
        const z = Array.from({ length: B * C }, () => -4 + 8 * rand());
        const dy = Array.from({ length: B * C }, () => -1 + 2 * rand());
        const f = (zz: number[]): number => {
          const y = softmaxRef(zz, B, C, 'float64', log);
          let s = 0;
          for (let k = 0; k < B * C; k++) s += dy[k]! * y[k]!;
          return s;
        };
        const y0 = softmaxRef(z, B, C, 'float64', log);
        const dz = softmaxBackwardRef(y0, dy, B, C, 'float64', log);
        // The difference quotient carries the rounding of f itself: ~ε·Σ|dy·y| / h (log-softmax values reach ~8).
        let fAbs = 0;
        for (let k = 0; k < B * C; k++) fAbs += Math.abs(dy[k]! * y0[k]!);
        const roundoff = (8 * Number.EPSILON * fAbs) / h;
        for (let k = 0; k < B * C; k++) {
          const zp = z.slice();
          const zm = z.slice();
          zp[k]! += h;
          zm[k]! -= h;
          const fd = (f(zp) - f(zm)) / (2 * h);
          expect(Math.abs(fd - dz[k]!), `dz[${k}] ${dz[k]} vs fd ${fd}`).toBeLessThanOrEqual(1e-8 + roundoff + 1e-6 * Math.abs(fd));
        }
      }
    });
  }
});
