import { GradNormsOp } from '../kernels/gradnorms.js';
import { gradNormsRef, type NormSummary } from '../ref/gradnorms.js';
import { expectClose } from '../testing/compare.js';
import { gamma, WGSL_REL } from '../testing/sums.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';


/**
 * Relative error of a window's mean norm: the sum of squares of n elements (all terms ≥ 0, so relative ≤ γ_n, in
 * any order), halved by the square root, WGSL's sqrt, then a sum of `steps` norms and one division (γ_steps + ÷).
 */
export function gradNormTolerance(n: number, steps: number): number {
  return gamma(n) / 2 + WGSL_REL.sqrt + gamma(steps) + WGSL_REL.div;
}

/** mean, max and last of each record, as numbers to compare (non-finite ones compare exactly). */
export const normValues = (r: { global: NormSummary; groups: NormSummary[] }): number[] =>
  [r.global, ...r.groups].flatMap((s) => [s.mean, s.max, s.last]);

export const normCounts = (r: { global: NormSummary; groups: NormSummary[] }): number[] =>
  [r.global, ...r.groups].flatMap((s) => [s.steps, s.nonfinite]);

/**
 * Three steps of gradients of awkward length over three groups (one of two ranges, one single, one of a tiny range
 * and an empty one), the second step with a NaN in group 1: that group and the global norm turn +inf, the others not.
 * The per-range statistics start poisoned with NaN.
 */
export const gradNormChecks: SelfCheck[] = [
  {
    name: 'gradnorms.accumulate',
    async run(e, rand) {
      const n = 5003;
      const groups: [number, number][][] = [[[0, 1500], [4100, 5003]], [[1500, 4037]], [[4037, 4040], [4040, 4040]]];
      const buf = e.storage('gradnorms.x', n * 4);
      const stats = e.storage('gradnorms.stats', new Float32Array(8 * 6).fill(NaN));
      const op = await GradNormsOp.plan(e, { buffer: buf, groups: groups.map((ranges) => ({ ranges })), stats });
      try {
        const steps: Float32Array[] = [];
        for (let s = 0; s < 3; s++) {
          const x = uniformArray(n, -2, 2, rand);
          if (s === 1) x[1500 + Math.floor(rand() * 2537)] = NaN;
          steps.push(x);
          e.write(buf, x);
          e.run('selftest gradnorms', (pass) => op.encode(pass));
        }
        const got = op.decode(await e.read(op.acc));
        const ref = gradNormsRef(steps, groups);
        expectClose(normCounts(got), normCounts(ref), { atol: 0, rtol: 0 }, 'gradnorms steps and non-finite counts');
        expectClose(normValues(got), normValues(ref), { atol: 1e-30, rtol: gradNormTolerance(n, 3) }, 'gradnorms mean, max, last');
      } finally {
        op.destroy();
        buf.destroy();
        stats.destroy();
      }
    },
  },
];
