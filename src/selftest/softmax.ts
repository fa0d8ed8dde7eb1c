import { CrossEntropyOp, MetricsOp, SoftmaxOp, createMetricsBuffer, readMetrics } from '../kernels/softmax.js';
import { accumulateMetricsRef, emptyMetrics } from '../ref/softmax.js';
import { crossEntropyBounded, metricsLossBound, softmaxBackwardBounded, softmaxBounded } from '../testing/bounds/softmax.js';
import { uniformArray } from '../testing/random.js';
import { expectWithin, pickBounded } from '../testing/sums.js';
import type { SelfCheck } from './types.js';

// Tolerances: per-element bounds from the row sums and WGSL's accuracy of exp/log/÷ (src/testing/bounds/softmax.ts).

const SHAPES: [number, number][] = [[1, 1], [7, 33], [33, 7], [130, 10]];

function softmaxCheck(log: boolean): SelfCheck {
  const name = log ? 'log_softmax' : 'softmax';
  return {
    name: `softmax.${name}`,
    async run(e, rand) {
      for (const [B, C] of SHAPES) {
        const z = uniformArray(B * C, -80, 80, rand);
        const dy = uniformArray(B * C, -1, 1, rand);
        const zb = e.storage('z', z);
        const dyb = e.storage('dy', dy);
        const yb = e.storage('y', new Float32Array(B * C).fill(NaN));
        const dzb = e.storage('dz', new Float32Array(B * C).fill(NaN));
        const fwd = await SoftmaxOp.forward(e, { rows: B, cols: C, x: zb, y: yb, log });
        const bwd = await SoftmaxOp.backward(e, { rows: B, cols: C, y: yb, dy: dyb, dx: dzb, log });
        try {
          e.run(`selftest ${name}`, (pass) => {
            fwd.encode(pass);
            bwd.encode(pass);
          });
          const y = await e.readF32(yb);
          expectWithin(y, softmaxBounded(z, B, C, log), `${name} forward ${B}×${C}`);
          // The backward is checked on the GPU's own forward output (its input).
          expectWithin(await e.readF32(dzb), softmaxBackwardBounded(y, dy, B, C, log), `${name} backward ${B}×${C}`);
        } finally {
          for (const b of [zb, dyb, yb, dzb]) b.destroy();
          fwd.destroy();
          bwd.destroy();
        }
      }
    },
  };
}

const xentCheck: SelfCheck = {
  name: 'softmax.cross_entropy',
  async run(e, rand) {
    for (const [B, C] of SHAPES) {
      const z = uniformArray(B * C, -20, 20, rand);
      const labels = new Uint32Array(B).map(() => Math.floor(rand() * C));
      if (B > 3) labels[3] = C; // out of range: NaN loss, INVALID flag, zero gradient row
      const zb = e.storage('z', z);
      const lb = e.storage('labels', labels);
      const lossb = e.storage('loss', new Float32Array(B).fill(NaN));
      const flagb = e.storage('flags', B * 4);
      const dzb = e.storage('dz', new Float32Array(B * C).fill(NaN));
      const metrics = createMetricsBuffer(e);
      const op = await CrossEntropyOp.plan(e, { rows: B, cols: C, logits: zb, labels: lb, loss: lossb, flags: flagb, dlogits: dzb });
      const acc = await MetricsOp.plan(e, { rows: B, loss: lossb, flags: flagb, metrics });
      try {
        e.run('selftest xent', (pass) => {
          op.encode(pass);
          acc.encode(pass);
        });
        const ref = crossEntropyBounded(z, labels, B, C);
        expectWithin(await e.readF32(dzb), ref.dz, `xent dz ${B}×${C}`);
        const loss = await e.readF32(lossb);
        const flags = await e.readU32(flagb);
        const valid = (i: number): boolean => labels[i]! < C;
        expectWithin(loss.filter((_, i) => valid(i)), pickBounded(ref.loss, valid), `xent loss ${B}×${C}`);
        if (flags.some((f, i) => f !== ref.flags[i])) throw new Error(`xent flags ${B}×${C}: ${flags} vs ${ref.flags}`);
        const m = await readMetrics(e, metrics);
        // The accumulator sums the GPU's own row losses (its exact inputs).
        const mr = accumulateMetricsRef(emptyMetrics(), loss, flags);
        const lossBound = metricsLossBound(mr.lossSum, mr.rows);
        if (m.rows !== mr.rows || m.correct !== mr.correct || m.invalid !== mr.invalid || !(Math.abs(m.lossSum - mr.lossSum) <= lossBound)) {
          throw new Error(`metrics ${B}×${C}: ${JSON.stringify(m)} vs ${JSON.stringify(mr)} (loss sum bound ${lossBound})`);
        }
      } finally {
        for (const b of [zb, lb, lossb, flagb, dzb, metrics]) b.destroy();
        op.destroy();
        acc.destroy();
      }
    }
  },
};

export const softmaxChecks: SelfCheck[] = [softmaxCheck(false), softmaxCheck(true), xentCheck];
