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
} from '../src/ref/softmax.js';
import { softmaxChecks } from '../src/selftest/softmax.js';
import { AWKWARD, expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

// Probabilities: f32 exp is within a few ulp (WGSL allows 3 + 2|x| ulp), plus one division.
const PROB_TOL = { atol: 1e-7, rtol: 2e-5 };
// log-softmax and losses reach |160| for logits in ±80: relative accuracy of a few ulp, absolute 1e-6 near 0.
const LOG_TOL = { atol: 1e-6, rtol: 2e-6 };
// Gradients: sums of C products in f32.
const GRAD_TOL = { atol: 1e-6, rtol: 1e-4 };

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
          expectClose(y, softmaxRef(z, B, C, 'float64', log), log ? LOG_TOL : PROB_TOL, `${name} forward ${B}×${C}`);
          // The backward is checked on the GPU's own forward output (it is the backward's input).
          expectClose(await e.readF32(dzb), softmaxBackwardRef(y, dy, B, C, 'float64', log), GRAD_TOL, `${name} backward ${B}×${C}`);
          for (let i = 0; i < B; i++) {
            let s = 0;
            for (let j = 0; j < C; j++) s += log ? Math.exp(y[i * C + j]!) : y[i * C + j]!;
            expect(Math.abs(s - 1), `${name} row ${i} of ${B}×${C} sums to ${s}`).toBeLessThan(2e-6 * Math.max(1, Math.sqrt(C)));
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
        const ref = crossEntropyRef(z, labels, B, C, 'float64', scale);
        expectClose(await e.readF32(lossb), ref.loss, LOG_TOL, `xent loss ${B}×${C}`);
        u32Equal(await e.readU32(flagb), ref.flags, `xent flags ${B}×${C}`);
        expectClose(await e.readF32(dzb), ref.dz, { atol: 1e-7 * Math.max(scale, 1e-3) * 10, rtol: 2e-5 }, `xent dz ${B}×${C} scale ${scale}`);
        expectClose(await e.readF32(loss2), ref.loss, LOG_TOL, `xent (forward only) loss ${B}×${C}`);
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
    expectClose(await e.readF32(lossb), crossEntropyRef(z, labels, B, C, 'float64').loss, { atol: 0, rtol: 1e-5 }, 'tiny losses');
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
    const ref = crossEntropyRef(z, labels, B, C, 'float64');
    const loss = await e.readF32(lossb);
    for (const i of [2, 5, 8]) expect(Number.isNaN(loss[i]), `loss[${i}]`).toBe(true);
    expect(Number.isNaN(ref.loss[2])).toBe(true);
    // NaN equals NaN here: compare the valid rows only.
    expectClose(loss.filter((_, i) => ![2, 5, 8].includes(i)), ref.loss.filter((_, i) => ![2, 5, 8].includes(i)), LOG_TOL, 'valid rows');
    u32Equal(await e.readU32(flagb), ref.flags, 'flags');
    expect(ref.flags[5]).toBe(INVALID_FLAG);
    expectClose(await e.readF32(dzb), ref.dz, { atol: 1e-8, rtol: 2e-5 }, 'dz (zero rows for invalid labels)');
    const m = await readMetrics(e, metrics);
    const mref = accumulateMetricsRef(emptyMetrics(), ref.loss, ref.flags);
    expect(m.invalid).toBe(3);
    expect(m.rows).toBe(B - 3);
    expect(m.correct).toBe(mref.correct);
    expect(Math.abs(m.lossSum - mref.lossSum)).toBeLessThanOrEqual(1e-5 * Math.abs(mref.lossSum) + 1e-6);
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
      // The reference sums the float32 losses the GPU would produce (exact inputs to the accumulator).
      const ref = crossEntropyRef(z, labels, rows, C, 'float64');
      mref = accumulateMetricsRef(mref, Float32Array.from(ref.loss), ref.flags);
      if (s === steps - 1) expectClose(await e.readF32(dzb, rows * C), ref.dz, GRAD_TOL, 'dz of the partial batch (scale 1/33)');
    }
    expect(e.dispatchCount - dispatches0).toBe(2 * steps);
    const m = await readMetrics(e, metrics);
    expect(m.batches).toBe(steps);
    expect(m.rows).toBe(mref.rows);
    expect(m.invalid).toBe(0);
    // argmax ties are impossible with random floats, so the counts agree exactly unless a loss is within f32 noise.
    expect(m.correct).toBe(mref.correct);
    expect(Math.abs(m.lossSum - mref.lossSum), `Σloss ${m.lossSum} vs ${mref.lossSum}`).toBeLessThanOrEqual(2e-6 * mref.lossSum);
    expect(Math.abs(m.meanLoss - mref.lossSum / mref.rows)).toBeLessThanOrEqual(2e-6 * m.meanLoss);
    e.submit('reset', (enc) => resetMetrics(enc, metrics));
    expect(await readMetrics(e, metrics)).toMatchObject({ lossSum: 0, rows: 0, correct: 0, batches: 0 });
    for (const b of [zb, lb, lossb, flagb, dzb, metrics]) b.destroy();
    op.destroy();
    acc.destroy();
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
