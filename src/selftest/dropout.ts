import type { Engine } from '../gpu/index.js';
import { DropoutOp, dropoutStream } from '../kernels/dropout.js';
import { dropoutApplyRef, dropoutMaskRef } from '../ref/dropout.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/** Masks are bit-identical and each output is one correctly rounded f32 multiply: GPU = float32 reference exactly. */
export const DROPOUT_EXACT = { atol: 0, rtol: 0 };

/**
 * Forward and backward for one (n, p, step) against the float32 reference; returns the GPU forward output.
 * Outputs start as NaN so an element the kernel forgets cannot pass.
 */
export async function checkDropoutCase(
  e: Engine,
  rand: () => number,
  o: { n: number; p: number; seed: number; layer: number; step: number; training?: boolean },
): Promise<Float32Array> {
  const x = uniformArray(o.n, -3, 3, rand);
  const dy = uniformArray(o.n, -2, 2, rand);
  const bufs = {
    stepinfo: e.storage('stepinfo', Uint32Array.of(o.step, 0)),
    x: e.storage('x', x),
    dy: e.storage('dy', dy),
    y: e.storage('y', new Float32Array(o.n).fill(NaN)),
    dx: e.storage('dx', new Float32Array(o.n).fill(NaN)),
  };
  const opts = { n: o.n, p: o.p, seed: o.seed, stream: dropoutStream(o.layer), training: o.training ?? true, ...bufs };
  const ops = [await DropoutOp.forward(e, opts), await DropoutOp.backward(e, opts)];
  try {
    e.run('dropout check', (pass) => ops.forEach((op) => op.encode(pass)));
    const training = o.training ?? true;
    const mask = training ? dropoutMaskRef(o.seed, dropoutStream(o.layer), o.step, o.n, o.p) : new Uint8Array(o.n).fill(1);
    const p = training ? o.p : 0;
    const what = `n=${o.n} p=${o.p} step=${o.step} layer=${o.layer}${training ? '' : ' (eval)'}`;
    const y = await e.readF32(bufs.y);
    expectClose(y, dropoutApplyRef(x, mask, p, 'float32'), DROPOUT_EXACT, `dropout forward ${what}`);
    expectClose(await e.readF32(bufs.dx), dropoutApplyRef(dy, mask, p, 'float32'), DROPOUT_EXACT, `dropout backward ${what}`);
    return y;
  } finally {
    for (const b of Object.values(bufs)) b.destroy();
    for (const op of ops) op.destroy();
  }
}

export const dropoutChecks: SelfCheck[] = [
  {
    name: 'dropout.mask_forward_backward',
    async run(e, rand) {
      for (const [n, p] of [[1, 0.5], [7, 0.1], [130, 0.5], [1000, 0.9], [33, 0]] as const) {
        await checkDropoutCase(e, rand, { n, p, seed: Math.floor(rand() * 2 ** 40), layer: Math.floor(rand() * 4), step: Math.floor(rand() * 1e6) });
      }
    },
  },
];
