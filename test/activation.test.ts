import { afterAll, describe, expect, it } from 'vitest';
import { ACTIVATIONS, ActivationOp, type Activation } from '../src/kernels/activation.js';
import { activate, activationBackwardRef, activationDerivative, activationForwardRef } from '../src/ref/activation.js';
import { ACTIVATION_TOL } from '../src/testing/bounds/activation.js';
import { AWKWARD, expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const KINDS = Object.keys(ACTIVATIONS) as Activation[];
// f32 exp/tanh are within a few ulp; the erfc fit in GELU has 1.2e-7 fractional error (element-wise: no sums).
const TOL = ACTIVATION_TOL;

describe(`activations, GPU vs float64 reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  for (const kind of KINDS) {
    it(`${kind} forward and backward at awkward sizes`, async () => {
      const e = await gpu();
      const rand = rng();
      for (const n of AWKWARD) {
        // Spans the regimes that need care: |x| up to 30 (overflow of naive exp/tanh), and tiny |x| (cancellation).
        const x = uniformArray(n, -30, 30, rand);
        if (n > 3) x[1] = 1e-4 * (rand() - 0.5), x[2] = -0.3 * rand();
        const dy = uniformArray(n, -2, 2, rand);
        const xb = e.storage('x', x);
        const dyb = e.storage('dy', dy);
        const yb = poisoned(e, 'y', n);
        const dxb = poisoned(e, 'dx', n);
        const fwd = await ActivationOp.forward(e, { kind, n, x: xb, y: yb });
        const bwd = await ActivationOp.backward(e, { kind, n, x: xb, dy: dyb, dx: dxb });
        e.run(`${kind} test`, (pass) => {
          fwd.encode(pass);
          bwd.encode(pass);
        });
        expectClose(await e.readF32(yb), activationForwardRef(kind, x, 'float64'), TOL, `${kind} forward n=${n}`);
        expectClose(await e.readF32(dxb), activationBackwardRef(kind, x, dy, 'float64'), TOL, `${kind} backward n=${n}`);
        for (const b of [xb, dyb, yb, dxb]) b.destroy();
        fwd.destroy();
        bwd.destroy();
      }
    });
  }
});

describe('activation derivatives vs central finite differences (CPU reference, float64)', () => {
  for (const kind of KINDS) {
    it(kind, () => {
      const rand = rng();
      const h = 1e-6;
      for (let k = 0; k < 200; k++) {
        let x = -8 + 16 * rand();
        if (Math.abs(x) < 10 * h) x += 1e-3; // the kinks of relu / leaky_relu / elu at 0
        const fd = (activate(kind, x + h) - activate(kind, x - h)) / (2 * h);
        const an = activationDerivative(kind, x);
        expect(Math.abs(fd - an), `${kind}'(${x}): analytic ${an} vs finite difference ${fd}`).toBeLessThanOrEqual(1e-7 + 1e-6 * Math.abs(an));
      }
    });
  }
});

describe('the test catches a broken kernel', () => {
  it('expectClose rejects NaN and off-by-one results', () => {
    expect(() => expectClose([NaN], [1], TOL)).toThrow(/1 of 1/);
    expect(() => expectClose([1, 2, 3], [1, 2, 4], TOL)).toThrow(/\[2\]/);
    expect(() => expectClose([1, 2], [1, 2], TOL)).not.toThrow();
  });
});
