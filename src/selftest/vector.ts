import { CpuMachine } from '../linalg/cpu-machine.js';
import { GpuMachine } from '../linalg/gpu-machine.js';
import { exact, reduceBound, scalarOpBounded } from '../testing/bounds/vector.js';
import { U, expectWithin, sumBound } from '../testing/sums.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

const noObjective = (n: number) => ({ n, valueGrad: () => Promise.reject(new Error('vector self-check: no objective')) });

/**
 * The minimizers' vector algebra (shaders/vector.wgsl) through the GPU vector machine against float64 sums and the
 * float32 CPU machine: dot products within src/testing/sums.ts's bound with the reduction's chain length (sumDepth),
 * CG's scalar ops with that bound carried through (src/testing/bounds/vector.ts), axpby with a GPU-scalar
 * coefficient within 2 ulps of |α·x| + |β·y|.
 */
export const vectorChecks: SelfCheck[] = [
  {
    name: 'vector.dot',
    async run(e, rand) {
      for (const n of [1, 33, 130, 4099]) {
        const m = await GpuMachine.create(e, noObjective(n));
        try {
          const xs = uniformArray(n, -2, 2, rand), ys = uniformArray(n, -1, 1, rand);
          const x = m.vector('x'), y = m.vector('y');
          await m.writeVector(x, xs);
          await m.writeVector(y, ys);
          const s = m.scalars(4);
          m.dot(s, x, y, { stats: true });
          const [dot, maxabs, , bad] = await m.read([s, s + 1, s + 2, s + 3]);
          let ref = 0, abs = 0, mx = 0;
          for (let i = 0; i < n; i++) (ref += xs[i]! * ys[i]!), (abs += Math.abs(xs[i]! * ys[i]!)), (mx = Math.max(mx, Math.abs(xs[i]!)));
          expectClose([dot!], [ref], { atol: reduceBound(m.shapeFor(n), abs), rtol: 0 }, `dot n=${n}`);
          expectClose([maxabs!, bad!], [mx, 0], { atol: 0, rtol: 0 }, `max|x|, non-finite n=${n}`);
        } finally {
          m.destroy();
        }
      }
    },
  },
  {
    name: 'vector.axpby',
    async run(e, rand) {
      for (const n of [7, 130, 4099]) {
        const g = await GpuMachine.create(e, noObjective(n));
        const c = new CpuMachine({ n, evaluate: () => 0 }, 'float32');
        try {
          const xs = uniformArray(n, -2, 2, rand), ys = uniformArray(n, -3, 3, rand);
          const out: Float64Array[] = [];
          for (const m of [g, c] as const) {
            const x = m.vector('x'), y = m.vector('y'), z = m.vector('z');
            await m.writeVector(x, xs);
            await m.writeVector(y, ys);
            await m.writeVector(z, new Float32Array(n).fill(NaN));
            const s = m.scalars(2);
            m.dot(s, x, x);
            m.scalar(s + 1, 'div_sqrt', 0.75, { slot: s }); // 0.75/‖x‖ on the machine
            m.axpby(z, { c: -1, slot: s + 1 }, x, 0.5, y);
            m.axpby(y, 2, x, 1, y); // in place
            out.push(await m.readVector(z), await m.readVector(y), Float64Array.from(await m.read([s + 1])));
          }
          const [gz, gy, gs] = out as [Float64Array, Float64Array, Float64Array];
          const [cz, cy, cs] = out.slice(3) as [Float64Array, Float64Array, Float64Array];
          const a = cs[0]!;
          // 0.75/‖x‖ on each machine against float64: ‖x‖² within the bound of its reduction (the GPU's shape, the CPU's
          // loop over all n), carried through √ and ÷.
          const sq = xs.reduce((acc, v) => acc + v * v, 0);
          for (const [who, got, bound] of [['GPU', gs, reduceBound(g.shapeFor(n), sq)], ['CPU', cs, sumBound(n, sq)]] as const) {
            const want = scalarOpBounded('div_sqrt', exact(0.75), { value: sq, bound });
            expectWithin(got, { value: [want.value], bound: [want.bound] }, `${who} scalar 0.75/‖x‖ n=${n}`);
          }
          expectClose(gz, cz, { atol: 4 * U * (Math.abs(a) * 2 + 1.5) + 2 * Math.abs(gs[0]! - a) * 2, rtol: 0 }, `z = −α·x + 0.5·y n=${n}`);
          expectClose(gy, cy, { atol: 2 * U * 7, rtol: 0 }, `y += 2·x n=${n}`);
        } finally {
          g.destroy();
          c.destroy();
        }
      }
    },
  },
];
