import type { Engine } from '../gpu/index.js';
import { PoolOp } from '../kernels/pool2d.js';
import { pool2dOutputSize, type Pool2dGeometry } from '../ref/pool2d.js';
import { avgPoolBackwardBounded, avgPoolForwardBounded, maxPoolBackwardBounded, maxPoolForwardBounded } from '../testing/bounds/pool2d.js';
import { expectWithin, type Bounded } from '../testing/sums.js';
import { uniformArray } from '../testing/random.js';
import type { SelfCheck } from './types.js';

export interface Pool2dCase {
  geometry: Pool2dGeometry;
  rows: number;
  /** Fuse relu′(z) into the backward. */
  relu: boolean;
}

/**
 * Max and average pooling, forward and backward, on random inputs with every output first NaN, against the float64
 * reference, within src/testing/bounds/pool2d.ts's bounds for exact inputs. Max: y and argmax exact (a maximum is
 * one of the inputs); dx gathers ≤ ⌈kh/sh⌉·⌈kw/sw⌉ dy terms. Average: y sums ≤ kh·kw terms, then one product with
 * 1/(kh·kw) (rounded itself): γ_(kh·kw+2)·Σ|terms|; dx likewise over the covering windows.
 */
export async function checkPool2dCase(e: Engine, rand: () => number, cs: Pool2dCase): Promise<void> {
  const g = cs.geometry;
  const [OH, OW] = pool2dOutputSize(g);
  const nx = cs.rows * g.channels * g.height * g.width;
  const ny = cs.rows * g.channels * OH * OW;
  const x = uniformArray(nx, -1, 1, rand);
  const dy = uniformArray(ny, -1, 1, rand);
  const z = uniformArray(nx, -1, 1, rand);
  const nan = (n: number) => new Float32Array(n).fill(NaN);
  const bufs = {
    x: e.storage('x', x), dy: e.storage('dy', dy), z: e.storage('z', z),
    yMax: e.storage('y_max', nan(ny)), argmax: e.storage('argmax', new Uint32Array(ny).fill(0xdeadbeef)), dxMax: e.storage('dx_max', nan(nx)),
    yAvg: e.storage('y_avg', nan(ny)), dxAvg: e.storage('dx_avg', nan(nx)),
  };
  const io = { geometry: g, rows: cs.rows };
  const grad = cs.relu ? { activationGrad: { kind: 'relu' as const, z: bufs.z } } : {};
  const ops: PoolOp[] = [];
  try {
    ops.push(await PoolOp.maxForward(e, { ...io, x: bufs.x, y: bufs.yMax, argmax: bufs.argmax }));
    ops.push(await PoolOp.maxBackward(e, { ...io, dy: bufs.dy, argmax: bufs.argmax, dx: bufs.dxMax, ...grad }));
    ops.push(await PoolOp.avgForward(e, { ...io, x: bufs.x, y: bufs.yAvg }));
    ops.push(await PoolOp.avgBackward(e, { ...io, dy: bufs.dy, dx: bufs.dxAvg, ...grad }));
    e.run('pool2d check', (pass) => ops.forEach((o) => o.encode(pass)));
    const what = `pool2d N=${cs.rows} C=${g.channels} ${g.height}×${g.width} k=${g.kernel} s=${g.stride} p=${g.padding}${cs.relu ? ' +relu′' : ''}`;
    // relu′(z) multiplies by exactly 0 or 1: the bound of the ungated sum still holds.
    const gated = (b: Bounded): Bounded => ({ value: Array.from(b.value, (v, i) => (cs.relu && !(z[i]! > 0) ? 0 : v)), bound: b.bound });
    const mx = maxPoolForwardBounded(g, cs.rows, x);
    expectWithin(await e.readF32(bufs.yMax), mx.y, `${what}: max y`, 'exact');
    expectWithin(new Uint32Array(await e.read(bufs.argmax)), { value: mx.argmax, bound: new Float64Array(ny) }, `${what}: argmax`, 'exact');
    expectWithin(await e.readF32(bufs.dxMax), gated(maxPoolBackwardBounded(g, cs.rows, dy, mx)), `${what}: max dx`, 'γ_(covering windows)·Σ|terms|');
    expectWithin(await e.readF32(bufs.yAvg), avgPoolForwardBounded(g, cs.rows, x), `${what}: avg y`, 'γ_(kh·kw+2)·Σ|terms|');
    expectWithin(await e.readF32(bufs.dxAvg), gated(avgPoolBackwardBounded(g, cs.rows, dy)), `${what}: avg dx`, 'γ_(covering windows+2)·Σ|terms|');
  } finally {
    for (const o of ops) o.destroy();
    for (const b of Object.values(bufs)) b.destroy();
  }
}

const geometry = (o: Partial<Pool2dGeometry>): Pool2dGeometry => ({ channels: 3, height: 7, width: 9, kernel: [2, 2], stride: [2, 2], padding: [0, 0], ...o });

/**
 * 2×2 stride 2 over odd 7×9 (the last row and column dropped); 3×3 stride 2 padding 1 (windows overlap, the padding
 * is read); 3×2 stride (1, 2) (overlap in rows only); the whole plane (global average pooling's window).
 */
export const POOL2D_CASES: Pool2dCase[] = [
  { geometry: geometry({}), rows: 2, relu: false },
  { geometry: geometry({ kernel: [3, 3], stride: [2, 2], padding: [1, 1] }), rows: 2, relu: true },
  { geometry: geometry({ channels: 2, height: 5, width: 6, kernel: [3, 2], stride: [1, 2], padding: [1, 0] }), rows: 3, relu: false },
  { geometry: geometry({ channels: 5, height: 3, width: 5, kernel: [3, 5], stride: [1, 1] }), rows: 2, relu: true },
];

export const pool2dChecks: SelfCheck[] = [
  {
    name: 'pool2d.max_avg',
    async run(e, rand) {
      for (const cs of POOL2D_CASES) await checkPool2dCase(e, rand, cs);
    },
  },
];
