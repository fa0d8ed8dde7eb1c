import { LossOp, type LossKind } from '../kernels/loss.js';
import { lossBounded } from '../testing/bounds/loss.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin } from '../testing/sums.js';
import type { SelfCheck } from './types.js';

// Tolerances: losses within the bound of a row sum of N non-negative terms (no compensated summation assumed),
// gradients within the rounding of their few operations (src/testing/bounds/loss.ts); flags exactly.

/** Predictions and targets: mse U(−2, 2) vs U(−2, 2); bce logits U(−80, 80) vs hard or soft targets in [0, 1]. */
export function lossInputs(kind: LossKind, n: number, rand: () => number): { pred: Float32Array; targets: Float32Array } {
  if (kind === 'mse') return { pred: uniformArray(n, -2, 2, rand), targets: uniformArray(n, -2, 2, rand) };
  const pred = uniformArray(n, -80, 80, rand);
  for (let i = 0; i < n; i += 3) pred[i] = pred[i]! / 20; // the region around 0 too
  const targets = uniformArray(n, 0, 1, rand).map((t, i) => (i % 2 === 0 ? Math.round(t) : t));
  return { pred, targets };
}

export const lossChecks: SelfCheck[] = (['mse', 'bce'] as LossKind[]).map((kind) => ({
  name: `loss.${kind}`,
  async run(e, rand) {
    for (const [B, N] of [[1, 1], [7, 33], [130, 10]] as [number, number][]) {
      const { pred, targets } = lossInputs(kind, B * N, rand);
      const pb = e.storage('pred', pred);
      const tb = e.storage('targets', targets);
      const lb = e.storage('loss', new Float32Array(B).fill(NaN));
      const fb = e.storage('flags', new Uint32Array(B).fill(0xdead));
      const gb = e.storage('grad', new Float32Array(B * N).fill(NaN));
      const op = await LossOp.plan(e, { kind, rows: B, cols: N, pred: pb, targets: tb, loss: lb, flags: fb, grad: gb });
      try {
        e.run(`selftest loss ${kind}`, (pass) => op.encode(pass));
        const ref = lossBounded(kind, pred, targets, B, N);
        expectWithin(await e.readF32(lb), ref.loss, `${kind} loss ${B}×${N}`);
        expectClose(await e.readU32(fb), ref.flags, { atol: 0, rtol: 0 }, `${kind} flags ${B}×${N}`);
        expectWithin(await e.readF32(gb), ref.grad, `${kind} grad ${B}×${N}`);
      } finally {
        for (const b of [pb, tb, lb, fb, gb]) b.destroy();
        op.destroy();
      }
    }
  },
}));
