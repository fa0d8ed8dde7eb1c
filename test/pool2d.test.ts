/**
 * Max and average pooling: the CPU reference against hand-computed cases (torch's rules for ties, NaN and padding)
 * and finite differences; the GPU against the float64 reference at awkward windows, outputs poisoned with NaN
 * (src/selftest/pool2d.ts), and on ties and NaN.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkBindings } from '../src/gpu/index.js';
import { avgPoolBackwardKernel, avgPoolForwardKernel, maxPoolBackwardKernel, maxPoolForwardKernel, PoolOp } from '../src/kernels/pool2d.js';
import { avgPoolBackwardRef, avgPoolForwardRef, maxPoolBackwardRef, maxPoolForwardRef, pool2dOutputSize, type Pool2dGeometry } from '../src/ref/pool2d.js';
import { POOL2D_CASES, checkPool2dCase } from '../src/selftest/pool2d.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const geo = (o: Partial<Pool2dGeometry>): Pool2dGeometry => ({ channels: 1, height: 4, width: 4, kernel: [2, 2], stride: [2, 2], padding: [0, 0], ...o });

describe('pool2d CPU reference', () => {
  it('hand-computed: max with ties (first wins) and NaN (wins), average counting the padding as zeros', () => {
    const x = [1, 3, 2, 2, 3, 0, 2, 1, -1, -2, 5, 5, -3, -4, 5, NaN];
    const m = maxPoolForwardRef(geo({}), 1, x, 'float64');
    expect(Array.from(m.y)).toEqual([3, 2, -1, NaN]);
    // Ties: 3 at (0,1) before (1,0); 2 at (0,2) before (0,3) and (1,2); NaN beats 5.
    expect(Array.from(m.argmax)).toEqual([1, 2, 8, 15]);
    expect(Array.from(maxPoolBackwardRef(geo({}), 1, [10, 20, 30, 40], m.argmax, 'float64').dx)).toEqual([0, 10, 20, 0, 0, 0, 0, 0, 30, 0, 0, 0, 0, 0, 0, 40]);
    // 3×3 stride 1 padding 1 on [[1, 2], [3, 4]]: every window holds all four values and five zeros of the padding.
    const a = avgPoolForwardRef(geo({ height: 2, width: 2, kernel: [3, 3], stride: [1, 1], padding: [1, 1] }), 1, [1, 2, 3, 4], 'float64');
    expect(Array.from(a.y)).toEqual([10 / 9, 10 / 9, 10 / 9, 10 / 9]);
    expect(pool2dOutputSize(geo({ height: 7, width: 9 }))).toEqual([3, 4]);
    expect(pool2dOutputSize(geo({ height: 7, width: 9, kernel: [3, 3], padding: [1, 1] }))).toEqual([4, 5]);
  });

  it(`gradients: directional finite differences of Σ dy·y (float64, no ties; ${seedInfo()})`, () => {
    const rand = rng();
    for (const { geometry: g, rows } of POOL2D_CASES) {
      const [OH, OW] = pool2dOutputSize(g);
      const x = Float64Array.from(uniformArray(rows * g.channels * g.height * g.width, -1, 1, rand));
      const dy = Float64Array.from(uniformArray(rows * g.channels * OH * OW, -1, 1, rand));
      const v = Float64Array.from(x, () => 2 * rand() - 1);
      const h = 1e-7; // small enough that no maximum changes place (random inputs differ by ≫ h)
      const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((s, t, i) => s + t * b[i]!, 0);
      const moved = (sign: number) => Float64Array.from(x, (t, i) => t + sign * h * v[i]!);
      for (const [name, f, dx] of [
        ['max', (xx: Float64Array) => maxPoolForwardRef(g, rows, xx, 'float64').y, maxPoolBackwardRef(g, rows, dy, maxPoolForwardRef(g, rows, x, 'float64').argmax, 'float64').dx],
        ['avg', (xx: Float64Array) => avgPoolForwardRef(g, rows, xx, 'float64').y, avgPoolBackwardRef(g, rows, dy, 'float64').dx],
      ] as const) {
        const fd = (dot(f(moved(1)), dy) - dot(f(moved(-1)), dy)) / (2 * h);
        const an = dot(dx, v);
        expect(Math.abs(fd - an), `${name} k=${g.kernel} s=${g.stride} p=${g.padding}: ∇·v = ${an} vs ${fd}`).toBeLessThan(1e-6 * (1 + Math.abs(an)));
      }
    }
  });
});

describe(`pool2d GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader', async () => {
    const e = await gpu();
    for (const def of [maxPoolForwardKernel, maxPoolBackwardKernel, avgPoolForwardKernel, avgPoolBackwardKernel]) {
      expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
    }
  });

  it('max (values, argmax, routed gradients) and average, forward and backward, relu′ fused, at awkward windows', async () => {
    const e = await gpu();
    const rand = rng();
    for (const cs of POOL2D_CASES) await checkPool2dCase(e, rand, cs);
  });

  it('max: ties go to the first element and NaN wins, as torch and the reference', async () => {
    const e = await gpu();
    const x = new Float32Array([1, 3, 2, 2, 3, 0, 2, 1, -1, -2, 5, 5, -3, -4, 5, NaN, NaN, 0, 7, NaN]);
    const g = geo({ height: 5 }); // the last row is dropped: 5 rows with a 2×2 window of stride 2
    const xb = e.storage('x', x);
    const y = poisoned(e, 'y', 4);
    const argmax = e.storage('argmax', new Uint32Array(4).fill(77));
    const op = await PoolOp.maxForward(e, { geometry: g, rows: 1, x: xb, y, argmax });
    try {
      e.run('ties', (pass) => op.encode(pass));
      const ref = maxPoolForwardRef(g, 1, x, 'float32');
      expect(Array.from(await e.readF32(y))).toEqual(Array.from(ref.y));
      expect(Array.from(new Uint32Array(await e.read(argmax)))).toEqual(Array.from(ref.argmax));
      expect(Array.from(ref.argmax)).toEqual([1, 2, 8, 15]);
    } finally {
      op.destroy();
      for (const b of [xb, y, argmax]) b.destroy();
    }
  });
});
