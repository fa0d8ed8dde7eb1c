import { afterAll, describe, expect, it } from 'vitest';
import { BatchGatherOp, MNIST_NORMALIZATION, uploadF32Dataset, uploadF32LabelDataset, uploadU8Dataset } from '../src/kernels/batch.js';
import { batchRowCount, gatherF32Ref, gatherU8Ref } from '../src/ref/batch.js';
import { Random } from '../src/random.js';
import { batchChecks, BATCH_TOL } from '../src/selftest/batch.js';
import { expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const EXACT = { atol: 0, rtol: 0 };

describe(`batch gather, GPU vs CPU reference (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('gather_u8: awkward D and B, random permutations, partial and empty batches, poisoned outputs', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 150;
    for (const dim of [7, 33, 784]) {
      const images = Uint8Array.from({ length: n * dim }, () => Math.floor(rand() * 256));
      images[0] = 255; // the extremes of the byte range
      images[1] = 0;
      const labels = Uint32Array.from({ length: n }, () => Math.floor(rand() * 10));
      const ds = uploadU8Dataset(e, images, labels, dim);
      for (const batch of [1, 7, 130]) {
        const perm = new Random(Math.floor(rand() * 2 ** 31), { stream: 2 }).permutation(n);
        const permB = e.storage('perm', perm);
        const stepinfo = e.storage('stepinfo', new Uint32Array(2));
        const xb = poisoned(e, 'x', batch * dim);
        const lb = e.storage('labels', new Uint32Array(batch).fill(0xdeadbeef));
        const op = await BatchGatherOp.u8(e, { dataset: ds, perm: permB, permLen: n, stepinfo, batch, x: xb, labels: lb, ...MNIST_NORMALIZATION });
        // First batch, a middle one, the last partial one (n − start < batch), and start = n (nothing left: all zeros).
        for (const start of [0, Math.floor(rand() * (n - batch)), n - Math.max(1, batch >> 1) , n]) {
          e.write(stepinfo, Uint32Array.of(17, start));
          e.write(xb, new Float32Array(batch * dim).fill(NaN));
          e.write(lb, new Uint32Array(batch).fill(0xdeadbeef));
          e.run('gather_u8 test', (pass) => op.encode(pass));
          const ref = gatherU8Ref({ images, labels, dim, perm, start, batch, ...MNIST_NORMALIZATION }, 'float32');
          const what = `gather_u8 D=${dim} B=${batch} start=${start} (rows ${batchRowCount(start, batch, n)})`;
          expectClose(await e.readF32(xb), ref.x, BATCH_TOL, `${what} x`);
          expectClose(await e.readU32(lb), ref.labels, EXACT, `${what} labels`);
        }
        // The float64 reference of the same normalisation: the f32 path loses at most a couple of ulp.
        const ref64 = gatherU8Ref({ images, labels, dim, perm, start: n, batch, ...MNIST_NORMALIZATION }, 'float64');
        expectClose(await e.readF32(xb), ref64.x, { atol: 1e-6, rtol: 1e-6 }, 'vs float64');
        for (const b of [permB, stepinfo, xb, lb]) b.destroy();
        op.destroy();
      }
      ds.images.destroy();
      ds.labels.destroy();
    }
  });

  it('gather_u8 normalises MNIST bytes to (v/255 − 0.1307)/0.3081 and zeroes rows of out-of-range permutation entries', async () => {
    const e = await gpu();
    const dim = 5;
    const images = Uint8Array.of(0, 1, 127, 254, 255, 10, 20, 30, 40, 50);
    const labels = Uint32Array.of(3, 8);
    const ds = uploadU8Dataset(e, images, labels, dim);
    // A subset permutation (L = 3 over N = 2 rows, with an entry naming a row that does not exist).
    const perm = e.storage('perm', Uint32Array.of(1, 0, 999));
    const stepinfo = e.storage('stepinfo', Uint32Array.of(0, 0));
    const xb = poisoned(e, 'x', 4 * dim);
    const lb = e.storage('labels', new Uint32Array(4).fill(0xdeadbeef));
    const op = await BatchGatherOp.u8(e, { dataset: ds, perm, permLen: 3, stepinfo, batch: 4, x: xb, labels: lb, ...MNIST_NORMALIZATION });
    e.run('gather_u8 mnist', (pass) => op.encode(pass));
    const norm = (v: number) => (v / 255 - 0.1307) / 0.3081;
    const want = [10, 20, 30, 40, 50, 0, 1, 127, 254, 255].map(norm).concat(new Array(10).fill(0));
    expectClose(await e.readF32(xb), want, { atol: 1e-6, rtol: 1e-6 }, 'normalised');
    expect(Array.from(await e.readU32(lb))).toEqual([8, 3, 0, 0]);
    // setBatch: only the first row is filled from now on, the rest are zeros.
    op.setBatch(1);
    e.run('gather_u8 setBatch', (pass) => op.encode(pass));
    expectClose(await e.readF32(xb), want.slice(0, 5).concat(new Array(15).fill(0)), { atol: 1e-6, rtol: 1e-6 }, 'setBatch(1)');
    expect(() => op.setBatch(5)).toThrow(/\[0, 4\]/);
    for (const b of [ds.images, ds.labels, perm, stepinfo, xb, lb]) b.destroy();
    op.destroy();
  });

  it('gather_f32: awkward D, K and B with partial batches, bit-exact copies', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 140;
    for (const [dim, targetDim] of [[7, 1], [33, 10], [784, 3]] as const) {
      const data = uniformArray(n * dim, -3, 3, rand);
      const targets = uniformArray(n * targetDim, -3, 3, rand);
      const ds = uploadF32Dataset(e, data, targets, dim, targetDim);
      for (const batch of [1, 7, 130]) {
        const perm = new Random(Math.floor(rand() * 2 ** 31), { stream: 2 }).permutation(n);
        const permB = e.storage('perm', perm);
        const stepinfo = e.storage('stepinfo', new Uint32Array(2));
        const xb = poisoned(e, 'x', batch * dim);
        const tb = poisoned(e, 'targets', batch * targetDim);
        const op = await BatchGatherOp.f32(e, { dataset: ds, perm: permB, permLen: n, stepinfo, batch, x: xb, targets: tb });
        for (const start of [0, n - Math.max(1, batch >> 1)]) {
          e.write(stepinfo, Uint32Array.of(0, start));
          e.run('gather_f32 test', (pass) => op.encode(pass));
          const ref = gatherF32Ref({ data, targets, dim, targetDim, perm, start, batch });
          expectClose(await e.readF32(xb), ref.x, EXACT, `gather_f32 x D=${dim} B=${batch} start=${start}`);
          expectClose(await e.readF32(tb), ref.targets, EXACT, `gather_f32 targets K=${targetDim} B=${batch} start=${start}`);
        }
        for (const b of [permB, stepinfo, xb, tb]) b.destroy();
        op.destroy();
      }
      ds.data.destroy();
      ds.targets.destroy();
    }
  });

  it('gather_f32_labels: float rows with u32 labels, awkward D and B, partial batches', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 131;
    for (const dim of [7, 33]) {
      const data = uniformArray(n * dim, -3, 3, rand);
      const labels = Uint32Array.from({ length: n }, () => Math.floor(rand() * 10));
      const ds = uploadF32LabelDataset(e, data, labels, dim);
      for (const batch of [1, 7, 130]) {
        const perm = new Random(Math.floor(rand() * 2 ** 31), { stream: 2 }).permutation(n);
        const permB = e.storage('perm', perm);
        const stepinfo = e.storage('stepinfo', new Uint32Array(2));
        const xb = poisoned(e, 'x', batch * dim);
        const lb = e.storage('labels', new Uint32Array(batch).fill(0xdeadbeef));
        const op = await BatchGatherOp.f32Labels(e, { dataset: ds, perm: permB, permLen: n, stepinfo, batch, x: xb, labels: lb });
        for (const start of [0, n - Math.max(1, batch >> 1)]) {
          e.write(stepinfo, Uint32Array.of(0, start));
          e.run('gather_f32_labels test', (pass) => op.encode(pass));
          // The reference of the float gather, with the labels as a one-column float target (exact for small integers).
          const ref = gatherF32Ref({ data, targets: Float32Array.from(labels), dim, targetDim: 1, perm, start, batch });
          expectClose(await e.readF32(xb), ref.x, EXACT, `gather_f32_labels x D=${dim} B=${batch} start=${start}`);
          expectClose(Array.from(await e.readU32(lb)), ref.targets, EXACT, `gather_f32_labels labels B=${batch} start=${start}`);
        }
        for (const b of [permB, stepinfo, xb, lb]) b.destroy();
        op.destroy();
      }
      ds.data.destroy();
      ds.labels.destroy();
    }
  });

  it('rejects impossible plans with clear errors', async () => {
    const e = await gpu();
    const ds = uploadU8Dataset(e, new Uint8Array(12), [0, 1, 2], 4);
    const perm = e.storage('perm', Uint32Array.of(0, 1, 2));
    const stepinfo = e.storage('stepinfo', new Uint32Array(2));
    const small = e.storage('x', 8);
    const lb = e.storage('labels', 8);
    await expect(BatchGatherOp.u8(e, { dataset: ds, perm, permLen: 3, stepinfo, batch: 2, x: small, labels: lb, scale: 1, shift: 0 })).rejects.toThrow(
      /x holds 8 bytes, needs 32/,
    );
    await expect(BatchGatherOp.u8(e, { dataset: ds, perm, permLen: 4, stepinfo, batch: 1, x: small, labels: lb, scale: 1, shift: 0 })).rejects.toThrow(
      /perm holds 12 bytes, needs 16/,
    );
    expect(() => uploadU8Dataset(e, new Uint8Array(11), [0, 1, 2], 4)).toThrow(/11 bytes/);
    for (const b of [ds.images, ds.labels, perm, stepinfo, small, lb]) b.destroy();
  });

  it('batchRowCount', () => {
    expect(batchRowCount(0, 64, 150)).toBe(64);
    expect(batchRowCount(128, 64, 150)).toBe(22);
    expect(batchRowCount(150, 64, 150)).toBe(0);
    expect(batchRowCount(200, 64, 150)).toBe(0);
  });

  for (const c of batchChecks) it(`self-check ${c.name}`, async () => c.run(await gpu(), rng()));
});
