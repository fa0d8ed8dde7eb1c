import { BatchGatherOp, MNIST_NORMALIZATION, uploadF32Dataset, uploadU8Dataset } from '../kernels/batch.js';
import { gatherF32Ref, gatherU8Ref } from '../ref/batch.js';
import { Random } from '../random.js';
import { expectClose } from '../testing/compare.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

/** byte·scale + shift may be fused into one multiply-add on the GPU: at most 1 ulp of |x| ≤ 3 from the CPU value. */
export const BATCH_TOL = { atol: 1e-6, rtol: 1e-6 };

function randomSeed(rand: () => number): number {
  return Math.floor(rand() * 2 ** 31);
}

export const batchChecks: SelfCheck[] = [
  {
    name: 'batch.gather_u8',
    async run(e, rand) {
      const n = 50;
      for (const [dim, batch] of [[7, 7], [33, 1], [784, 13]] as const) {
        const images = Uint8Array.from({ length: n * dim }, () => Math.floor(rand() * 256));
        const labels = Uint32Array.from({ length: n }, () => Math.floor(rand() * 10));
        const perm = new Random(randomSeed(rand)).permutation(n);
        const ds = uploadU8Dataset(e, images, labels, dim);
        const permB = e.storage('perm', perm);
        const start = n - Math.ceil(batch / 2); // a partial last batch when batch > 1
        const stepinfo = e.storage('stepinfo', Uint32Array.of(0, start));
        const xb = e.storage('x', new Float32Array(batch * dim).fill(NaN));
        const lb = e.storage('labels', new Uint32Array(batch).fill(0xdeadbeef));
        const op = await BatchGatherOp.u8(e, { dataset: ds, perm: permB, permLen: n, stepinfo, batch, x: xb, labels: lb, ...MNIST_NORMALIZATION });
        try {
          e.run('selftest gather_u8', (pass) => op.encode(pass));
          const ref = gatherU8Ref({ images, labels, dim, perm, start, batch, ...MNIST_NORMALIZATION }, 'float32');
          expectClose(await e.readF32(xb), ref.x, BATCH_TOL, `gather_u8 x D=${dim} B=${batch}`);
          expectClose(await e.readU32(lb), ref.labels, { atol: 0, rtol: 0 }, `gather_u8 labels D=${dim} B=${batch}`);
        } finally {
          for (const b of [ds.images, ds.labels, permB, stepinfo, xb, lb]) b.destroy();
          op.destroy();
        }
      }
    },
  },
  {
    name: 'batch.gather_f32',
    async run(e, rand) {
      const n = 40;
      const dim = 7;
      const targetDim = 3;
      const batch = 9;
      const data = uniformArray(n * dim, -5, 5, rand);
      const targets = uniformArray(n * targetDim, -5, 5, rand);
      const perm = new Random(randomSeed(rand)).permutation(n);
      const ds = uploadF32Dataset(e, data, targets, dim, targetDim);
      const permB = e.storage('perm', perm);
      const start = 36;
      const stepinfo = e.storage('stepinfo', Uint32Array.of(0, start));
      const xb = e.storage('x', new Float32Array(batch * dim).fill(NaN));
      const tb = e.storage('targets', new Float32Array(batch * targetDim).fill(NaN));
      const op = await BatchGatherOp.f32(e, { dataset: ds, perm: permB, permLen: n, stepinfo, batch, x: xb, targets: tb });
      try {
        e.run('selftest gather_f32', (pass) => op.encode(pass));
        const ref = gatherF32Ref({ data, targets, dim, targetDim, perm, start, batch });
        expectClose(await e.readF32(xb), ref.x, { atol: 0, rtol: 0 }, 'gather_f32 x');
        expectClose(await e.readF32(tb), ref.targets, { atol: 0, rtol: 0 }, 'gather_f32 targets');
      } finally {
        for (const b of [ds.data, ds.targets, permB, stepinfo, xb, tb]) b.destroy();
        op.destroy();
      }
    },
  },
];
