/**
 * Conv2D: the CPU reference against a hand-computed case and finite differences; the GPU (im2col + matmul, NCHW
 * store, col2im) against the float64 reference at awkward geometries, outputs poisoned with NaN, bounds from the
 * number of terms and Σ|terms| (src/selftest/conv2d.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkBindings } from '../src/gpu/index.js';
import { col2imKernel, im2colKernel, im2colRowsKernel, nchwToRowsKernel } from '../src/kernels/conv2d.js';
import { conv2dBackwardRef, conv2dForwardRef, conv2dOutputSize, type Conv2dGeometry } from '../src/ref/conv2d.js';
import { CONV2D_CASES, CONV2D_CHUNK_CASES, CONV2D_FORM_CASES, checkConv2dCase } from '../src/selftest/conv2d.js';
import { expectWithin, sumBounds } from '../src/testing/sums.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const geo = (o: Partial<Conv2dGeometry>): Conv2dGeometry => ({
  channels: 1, height: 3, width: 3, filters: 1, kernel: [2, 2], stride: [1, 1], padding: [0, 0], dilation: [1, 1], ...o,
});

describe('conv2d CPU reference', () => {
  it('a hand-computed case: 3×3 input, 2×2 kernel, bias; output sizes as torch', () => {
    // x = [[1,2,3],[4,5,6],[7,8,9]], w = [[1,0],[0,-1]] → y[i,j] = x[i,j] − x[i+1,j+1] + 10 = 6 everywhere.
    const x = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const y = conv2dForwardRef(geo({}), 1, x, [1, 0, 0, -1], [10], 'float64').y;
    expect(Array.from(y)).toEqual([6, 6, 6, 6]);
    // Padding 1, stride 2: outputs at (−1,−1), (−1,1), (1,−1), (1,1) of the padded grid.
    const p = conv2dForwardRef(geo({ padding: [1, 1], stride: [2, 2] }), 1, x, [1, 0, 0, -1], undefined, 'float64').y;
    expect(Array.from(p)).toEqual([-1, -3, -7, 5 - 9]);
    expect(conv2dOutputSize(geo({ height: 28, width: 28, kernel: [3, 3], padding: [1, 1] }))).toEqual([28, 28]);
    expect(conv2dOutputSize(geo({ height: 7, width: 8, kernel: [3, 3], padding: [1, 1], stride: [2, 2] }))).toEqual([4, 4]);
    expect(conv2dOutputSize(geo({ height: 9, width: 9, kernel: [3, 3], dilation: [3, 2] }))).toEqual([3, 5]);
  });

  it(`gradients: directional finite differences of Σ dy·y w.r.t. x, W and b, awkward geometries (float64; ${seedInfo()})`, () => {
    const rand = rng();
    for (const cs of CONV2D_CASES) {
      const g = cs.geometry;
      const rows = cs.rows;
      const [OH, OW] = conv2dOutputSize(g);
      const K = g.channels * g.kernel[0] * g.kernel[1];
      const nx = rows * g.channels * g.height * g.width;
      const x = Float64Array.from(uniformArray(nx, -1, 1, rand));
      const w = Float64Array.from(uniformArray(K * g.filters, -1, 1, rand));
      const b = Float64Array.from(uniformArray(g.filters, -1, 1, rand));
      const dy = Float64Array.from(uniformArray(rows * g.filters * OH * OW, -1, 1, rand));
      const loss = (xx: Float64Array, ww: Float64Array, bb: Float64Array) =>
        Array.from(conv2dForwardRef(g, rows, xx, ww, bb, 'float64').y).reduce((s, v, i) => s + v * dy[i]!, 0);
      const grads = conv2dBackwardRef(g, rows, x, w, dy, true, 'float64');
      const h = 1e-5;
      for (const [name, base, grad] of [['x', x, grads.dx!], ['W', w, grads.dw], ['b', b, grads.db]] as const) {
        const v = Float64Array.from(base, () => 2 * rand() - 1);
        const at = (sign: number) => {
          const moved = Float64Array.from(base, (t, i) => t + sign * h * v[i]!);
          return name === 'x' ? loss(moved, w, b) : name === 'W' ? loss(x, moved, b) : loss(x, w, moved);
        };
        const fd = (at(1) - at(-1)) / (2 * h);
        const an = Array.from(grad).reduce((s, gi, i) => s + gi * v[i]!, 0);
        // The loss is linear in each argument: the central difference is exact up to the rounding of the loss (~1e-16·Σ|terms| / h).
        expect(Math.abs(fd - an), `${name}: ∇·v = ${an} vs ${fd}`).toBeLessThan(1e-8 * (1 + Math.abs(an)));
      }
    }
  });

  it('float32 rounds like a GPU: it agrees with float64 within the sum bound', () => {
    const rand = rng();
    const g = geo({ channels: 4, height: 6, width: 7, filters: 3, kernel: [3, 3], padding: [1, 1] });
    const x = uniformArray(2 * 4 * 42, -1, 1, rand);
    const w = uniformArray(36 * 3, -1, 1, rand);
    const y32 = conv2dForwardRef(g, 2, x, w, undefined, 'float32');
    const y64 = conv2dForwardRef(g, 2, x, w, undefined, 'float64');
    expectWithin(y32.y, sumBounds({ value: y64.y, abs: y64.abs, n: 36 }), 'float32 vs float64', 'γ_K·Σ|terms|');
    // …and it did round along the way, not only on the final store: some output differs from fround(float64).
    expect(Array.from(y32.y).some((v, i) => v !== Math.fround(y64.y[i]!))).toBe(true);
  });
});

describe(`conv2d GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('declared bindings match the shader', async () => {
    const e = await gpu();
    for (const def of [im2colKernel, im2colRowsKernel, col2imKernel, nchwToRowsKernel]) expect(checkBindings(def, e.reflect(def).entries[def.entry])).toEqual([]);
  });

  it('forward (bias, fused ReLU) and backward (dW, db, dx, relu′ fused into col2im) at awkward geometries', async () => {
    const e = await gpu();
    const rand = rng();
    for (const cs of CONV2D_CASES) await checkConv2dCase(e, rand, cs);
    // A 1×1 convolution with 8 filters: K = 4 and F = 8 let every product read vec4 on software adapters.
    await checkConv2dCase(e, rand, {
      geometry: { channels: 4, height: 3, width: 5, filters: 8, kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] },
      rows: 2, bias: true, relu: false,
    });
  });

  it('im2col by element and by row (each forced), on the awkward geometries and a padded stride-1 layer', async () => {
    const e = await gpu();
    const rand = rng();
    for (const im2col of ['elements', 'rows'] as const) for (const cs of CONV2D_CASES) await checkConv2dCase(e, rand, { ...cs, im2col });
    for (const cs of CONV2D_FORM_CASES) await checkConv2dCase(e, rand, cs);
  });

  it('in chunks of examples (5 in chunks of 2, 3 in chunks of 1): y, dW and db summed over chunks, dx per chunk', async () => {
    const e = await gpu();
    const rand = rng();
    for (const cs of CONV2D_CHUNK_CASES) await checkConv2dCase(e, rand, cs);
  });
});
