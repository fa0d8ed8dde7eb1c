import { CrossEntropyOp, MetricsOp, SoftmaxOp, createMetricsBuffer, readMetrics } from '../kernels/softmax.js';
import { accumulateMetricsRef, crossEntropyRef, emptyMetrics, softmaxBackwardRef, softmaxRef } from '../ref/softmax.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

// The tolerances of test/softmax.test.ts (see there for why).
export const SOFTMAX_TOL = { prob: { atol: 1e-7, rtol: 2e-5 }, log: { atol: 1e-6, rtol: 2e-6 }, grad: { atol: 1e-6, rtol: 1e-4 } };

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
          expectClose(y, softmaxRef(z, B, C, 'float64', log), log ? SOFTMAX_TOL.log : SOFTMAX_TOL.prob, `${name} forward ${B}×${C}`);
          expectClose(await e.readF32(dzb), softmaxBackwardRef(y, dy, B, C, 'float64', log), SOFTMAX_TOL.grad, `${name} backward ${B}×${C}`);
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
        const ref = crossEntropyRef(z, labels, B, C, 'float64');
        expectClose(await e.readF32(dzb), ref.dz, SOFTMAX_TOL.grad, `xent dz ${B}×${C}`);
        const loss = await e.readF32(lossb);
        const flags = await e.readU32(flagb);
        const valid = (_: number, i: number): boolean => labels[i]! < C;
        expectClose(loss.filter(valid), ref.loss.filter(valid), SOFTMAX_TOL.log, `xent loss ${B}×${C}`);
        if (flags.some((f, i) => f !== ref.flags[i])) throw new Error(`xent flags ${B}×${C}: ${flags} vs ${ref.flags}`);
        const m = await readMetrics(e, metrics);
        const mr = accumulateMetricsRef(emptyMetrics(), ref.loss, ref.flags);
        if (m.rows !== mr.rows || m.correct !== mr.correct || m.invalid !== mr.invalid || Math.abs(m.lossSum - mr.lossSum) > 1e-5 * Math.abs(mr.lossSum) + 1e-6) {
          throw new Error(`metrics ${B}×${C}: ${JSON.stringify(m)} vs ${JSON.stringify(mr)}`);
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
