import { ACTIVATIONS, ActivationOp, type Activation } from '../kernels/activation.js';
import { activationBackwardRef, activationForwardRef } from '../ref/activation.js';
import { ACTIVATION_TOL } from '../testing/bounds/activation.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

// Element-wise functions (no sums): a fixed accuracy, stated with the error model in src/testing/bounds/activation.ts.
export { ACTIVATION_TOL };

export const activationChecks: SelfCheck[] = (Object.keys(ACTIVATIONS) as Activation[]).map((kind) => ({
  name: `activation.${kind}`,
  async run(e, rand) {
    for (const n of [1, 7, 33, 130]) {
      const x = uniformArray(n, -30, 30, rand);
      const dy = uniformArray(n, -2, 2, rand);
      const xb = e.storage('x', x);
      const dyb = e.storage('dy', dy);
      const yb = e.storage('y', new Float32Array(n).fill(NaN));
      const dxb = e.storage('dx', new Float32Array(n).fill(NaN));
      const fwd = await ActivationOp.forward(e, { kind, n, x: xb, y: yb });
      const bwd = await ActivationOp.backward(e, { kind, n, x: xb, dy: dyb, dx: dxb });
      try {
        e.run(`selftest ${kind}`, (pass) => {
          fwd.encode(pass);
          bwd.encode(pass);
        });
        expectClose(await e.readF32(yb), activationForwardRef(kind, x, 'float64'), ACTIVATION_TOL, `${kind} forward n=${n}`);
        expectClose(await e.readF32(dxb), activationBackwardRef(kind, x, dy, 'float64'), ACTIVATION_TOL, `${kind} backward n=${n}`);
      } finally {
        for (const b of [xb, dyb, yb, dxb]) b.destroy();
        fwd.destroy();
        bwd.destroy();
      }
    }
  },
}));
