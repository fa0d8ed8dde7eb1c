import { afterAll, describe, expect, it } from 'vitest';
import { LossOp, type LossKind } from '../src/kernels/loss.js';
import { MetricsOp, createMetricsBuffer, readMetrics } from '../src/kernels/softmax.js';
import { lossRef, lossTotal } from '../src/ref/loss.js';
import { accumulateMetricsRef, emptyMetrics } from '../src/ref/softmax.js';
import { LOSS_TOL, gradTol, lossChecks, lossInputs } from '../src/selftest/loss.js';
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
          const ref = lossRef(kind, pred, targets, B, N, 'float64', scale);
          expectClose(await e.readF32(lb), ref.loss, LOSS_TOL.loss, `${kind} loss ${B}×${N}`);
          expectClose(await e.readU32(fb), ref.flags, EXACT, `${kind} flags ${B}×${N}`);
          expectClose(await e.readF32(gb), ref.grad, gradTol(scale, N), `${kind} grad ${B}×${N}`);
          expectClose(await e.readF32(lb2), ref.loss, LOSS_TOL.loss, `${kind} (forward only) loss ${B}×${N}`);
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
    const ref = lossRef('bce', pred, targets, B, 1, 'float64', 1);
    // log1p(exp(−30)) = 9.4e-14: a plain log(1 + u) would return 0 (or garbage at 2^-21 absolute accuracy).
    expectClose(await e.readF32(lb), ref.loss, { atol: 0, rtol: 2e-5 }, 'bce extreme losses (relative)');
    expectClose(await e.readF32(gb), ref.grad, { atol: 1e-12, rtol: 2e-5 }, 'bce extreme gradients');
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
        const ref = lossRef(kind, pred, targets, rows, N, 'float64');
        mref = accumulateMetricsRef(mref, Float32Array.from(ref.loss), ref.flags);
        if (s === 5) expectClose(await e.readF32(gb, rows * N), ref.grad, gradTol(1 / rows, N), `${kind} grad of the partial batch`);
      }
      const m = await readMetrics(e, metrics);
      expect(m).toMatchObject({ rows: mref.rows, correct: mref.correct, invalid: 0, batches: 6 });
      expect(Math.abs(m.lossSum - mref.lossSum), `${kind} Σloss ${m.lossSum} vs ${mref.lossSum}`).toBeLessThanOrEqual(1e-5 * mref.lossSum);
      for (const b of [metrics, pb, tb, lb, fb, gb]) b.destroy();
      op.destroy();
      acc.destroy();
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
          expect(Math.abs(fd - grad[k]!), `${kind} grad[${k}] ${grad[k]} vs fd ${fd} (${B}×${N})`).toBeLessThanOrEqual(1e-9 + 1e-6 * Math.abs(fd));
        }
      }
    });
  }
});
