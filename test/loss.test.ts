import { afterAll, describe, expect, it } from 'vitest';
import { LossOp, type LossKind } from '../src/kernels/loss.js';
import { MetricsOp, createMetricsBuffer, readMetrics } from '../src/kernels/softmax.js';
import { lossRef, lossTotal } from '../src/ref/loss.js';
import { accumulateMetricsRef, emptyMetrics } from '../src/ref/softmax.js';
import { lossChecks, lossInputs } from '../src/selftest/loss.js';
import { lossBounded } from '../src/testing/bounds/loss.js';
import { metricsLossBound } from '../src/testing/bounds/softmax.js';
import { expectWithin } from '../src/testing/sums.js';
import { AWKWARD, expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo } from './helpers/random.js';

const KINDS: LossKind[] = ['mse', 'bce'];
const EXACT = { atol: 0, rtol: 0 };

describe(`losses, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  for (const c of lossChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));

  for (const kind of KINDS) {
    it(`${kind}: per-row loss, flags and gradient at awkward rows × cols (bce logits up to ±80)`, async () => {
      const e = await gpu();
      const rand = rng();
      for (const B of AWKWARD) {
        for (const N of AWKWARD) {
          const { pred, targets } = lossInputs(kind, B * N, rand);
          const scale = rand() < 0.5 ? 1 / B : 0.61;
          const pb = e.storage('pred', pred);
          const tb = e.storage('targets', targets);
          const lb = poisoned(e, 'loss', B);
          const fb = e.storage('flags', new Uint32Array(B).fill(0xdead));
          const gb = poisoned(e, 'grad', B * N);
          const lb2 = poisoned(e, 'loss2', B);
          const fb2 = e.storage('flags2', new Uint32Array(B).fill(0xdead));
          const train = await LossOp.plan(e, { kind, rows: B, cols: N, pred: pb, targets: tb, loss: lb, flags: fb, grad: gb, scale });
          const fwd = await LossOp.plan(e, { kind, rows: B, cols: N, pred: pb, targets: tb, loss: lb2, flags: fb2 });
          e.run(`${kind} test`, (pass) => {
            train.encode(pass);
            fwd.encode(pass);
          });
          const ref = lossBounded(kind, pred, targets, B, N, scale);
          expectWithin(await e.readF32(lb), ref.loss, `${kind} loss ${B}×${N}`);
          expectClose(await e.readU32(fb), ref.flags, EXACT, `${kind} flags ${B}×${N}`);
          expectWithin(await e.readF32(gb), ref.grad, `${kind} grad ${B}×${N}`);
          expectWithin(await e.readF32(lb2), ref.loss, `${kind} (forward only) loss ${B}×${N}`);
          expectClose(await e.readU32(fb2), ref.flags, EXACT, `${kind} (forward only) flags ${B}×${N}`);
          for (const b of [pb, tb, lb, fb, gb, lb2, fb2]) b.destroy();
          train.destroy();
          fwd.destroy();
        }
      }
    });
  }

  it('bce keeps relative accuracy for confident predictions and never overflows (|z| up to 1e30)', async () => {
    const e = await gpu();
    const pred = new Float32Array([30, -30, 80, -80, 1e30, -1e30, 1e-3, 0, 17, -17, 80]);
    const targets = new Float32Array([1, 0, 1, 0, 1, 0, 1, 0.5, 0.99, 0.01, 0.999]);
    const B = pred.length;
    const pb = e.storage('pred', pred);
    const tb = e.storage('targets', targets);
    const lb = poisoned(e, 'loss', B);
    const fb = e.storage('flags', B * 4);
    const gb = poisoned(e, 'grad', B);
    const op = await LossOp.plan(e, { kind: 'bce', rows: B, cols: 1, pred: pb, targets: tb, loss: lb, flags: fb, grad: gb, scale: 1 });
    e.run('bce extremes', (pass) => op.encode(pass));
    const ref = lossBounded('bce', pred, targets, B, 1, 1);
    // log1p(exp(−30)) = 9.4e-14: a plain log(1 + u) would return 0 (or garbage at 2^-21 absolute accuracy). The
    // bounds are relative here (exp's (3 + 2|z|) ulp), so these losses must keep ~4 significant digits.
    for (let i = 0; i < B; i++) expect(ref.loss.bound[i]!, `bound of loss ${ref.loss.value[i]}`).toBeLessThan(1e-4 * ref.loss.value[i]! + 1e-30);
    expectWithin(await e.readF32(lb), ref.loss, 'bce extreme losses (relative)');
    expectWithin(await e.readF32(gb), ref.grad, 'bce extreme gradients');
    for (const b of [pb, tb, lb, fb, gb]) b.destroy();
    op.destroy();
  });

  it('per-row losses and flags accumulate into the GPU metrics over steps (bce: correct elements)', async () => {
    const e = await gpu();
    const rand = rng();
    for (const kind of KINDS) {
      const B = 127;
      const N = 7;
      const metrics = createMetricsBuffer(e);
      const pb = e.storage('pred', B * N * 4);
      const tb = e.storage('targets', B * N * 4);
      const lb = poisoned(e, 'loss', B);
      const fb = e.storage('flags', B * 4);
      const gb = poisoned(e, 'grad', B * N);
      const op = await LossOp.plan(e, { kind, rows: B, cols: N, pred: pb, targets: tb, loss: lb, flags: fb, grad: gb });
      const acc = await MetricsOp.plan(e, { rows: B, loss: lb, flags: fb, metrics });
      let mref = emptyMetrics();
      for (let s = 0; s < 6; s++) {
        const rows = s === 5 ? 33 : B;
        if (s === 5) {
          op.setBatch(rows);
          acc.setRows(rows);
        }
        const { pred, targets } = lossInputs(kind, rows * N, rand);
        e.write(pb, pred);
        e.write(tb, targets);
        e.run('step', (pass) => {
          op.encode(pass);
          acc.encode(pass);
        });
        const ref = lossBounded(kind, pred, targets, rows, N);
        // The accumulator's inputs are the GPU's own row losses.
        const rowLoss = await e.readF32(lb, rows);
        expectWithin(rowLoss, ref.loss, `${kind} row losses of step ${s}`);
        mref = accumulateMetricsRef(mref, rowLoss, ref.flags);
        if (s === 5) expectWithin(await e.readF32(gb, rows * N), ref.grad, `${kind} grad of the partial batch`);
      }
      const m = await readMetrics(e, metrics);
      expect(m).toMatchObject({ rows: mref.rows, correct: mref.correct, invalid: 0, batches: 6 });
      expect(Math.abs(m.lossSum - mref.lossSum), `${kind} Σloss ${m.lossSum} vs ${mref.lossSum}`).toBeLessThanOrEqual(metricsLossBound(mref.lossSum, mref.rows));
      for (const b of [metrics, pb, tb, lb, fb, gb]) b.destroy();
      op.destroy();
      acc.destroy();
    }
  });

  it('a term dropped from a row, the mean over N − 1, a neighbour\'s element, one sign flipped fail the bounds', async () => {
    const e = await gpu();
    const rand = rng();
    const fails = (f: () => void) => expect(f).toThrow(/outside \|got−ref\|/);
    const [B, N] = [33, 127];
    for (const kind of KINDS) {
      const { pred, targets } = lossInputs(kind, B * N, rand);
      const pb = e.storage('pred', pred);
      const tb = e.storage('targets', targets);
      const lb = poisoned(e, 'loss', B);
      const fb = e.storage('flags', B * 4);
      const gb = poisoned(e, 'grad', B * N);
      const op = await LossOp.plan(e, { kind, rows: B, cols: N, pred: pb, targets: tb, loss: lb, flags: fb, grad: gb });
      e.run(`${kind} breaks`, (pass) => op.encode(pass));
      const [loss, grad] = [await e.readF32(lb), await e.readF32(gb)];
      const ref = lossBounded(kind, pred, targets, B, N);
      const term = lossRef(kind, pred, targets, B * N, 1, 'float64', 1).loss; // every element's own loss
      expectWithin(loss, ref.loss, `${kind} unbroken loss`);
      expectWithin(grad, ref.grad, `${kind} unbroken grad`);
      fails(() => expectWithin(loss.map((v, i) => v - term[i * N + N - 1]! / N), ref.loss, `${kind} last term dropped`));
      fails(() => expectWithin(loss.map((v) => (v * N) / (N - 1)), ref.loss, `${kind} mean over N − 1`));
      fails(() => expectWithin(grad.map((v, k) => (k % N === 0 ? grad[k + 1]! : v)), ref.grad, `${kind} element 0 reads element 1`));
      const big = grad.reduce((m, v, k) => (Math.abs(v) > Math.abs(grad[m]!) ? k : m), 0); // a sign error where it shows
      fails(() => expectWithin(grad.map((v, k) => (k === big ? -v : v)), ref.grad, `${kind} one sign flipped`));
      for (const b of [pb, tb, lb, fb, gb]) b.destroy();
      op.destroy();
    }
  });
});

describe('loss gradients vs central finite differences (CPU reference, float64)', () => {
  for (const kind of KINDS) {
    it(`${kind}: grad = ∂(scale · Σ_i loss_i)/∂pred`, () => {
      const rand = rng();
      const h = 1e-6;
      for (const [B, N] of [[1, 1], [3, 7], [2, 33]] as const) {
        const pred = Array.from({ length: B * N }, () => -6 + 12 * rand());
        const targets = Array.from({ length: B * N }, (_, k) => (kind === 'mse' ? -2 + 4 * rand() : k % 2 ? rand() : Math.round(rand())));
        const scale = 1 / B;
        const { grad } = lossRef(kind, pred, targets, B, N, 'float64', scale);
        for (let k = 0; k < B * N; k++) {
          const pp = pred.slice();
          const pm = pred.slice();
          pp[k]! += h;
          pm[k]! -= h;
          const fd = (scale * (lossTotal(kind, pp, targets, B, N) - lossTotal(kind, pm, targets, B, N))) / (2 * h);
          // Round-off of the difference quotient: each total (B·N non-negative terms, then the row means) is within
          // (B·N + 2)·ε of itself, and the difference of two is divided by 2h. Truncation is O(h²·f''') (< 1e-12 here).
          const roundoff = ((B * N + 2) * Number.EPSILON * scale * (lossTotal(kind, pp, targets, B, N) + lossTotal(kind, pm, targets, B, N))) / (2 * h);
          expect(Math.abs(fd - grad[k]!), `${kind} grad[${k}] ${grad[k]} vs fd ${fd} (${B}×${N})`).toBeLessThanOrEqual(1e-9 + roundoff + 1e-6 * Math.abs(fd));
        }
      }
    });
  }
});
