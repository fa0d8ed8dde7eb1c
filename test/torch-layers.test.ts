/**
 * Parity with PyTorch: F.conv2d, F.max_pool2d (with its indices), F.avg_pool2d, F.adaptive_avg_pool2d(·, 1) and
 * nn.BatchNorm2d, forward and backward, as written by scripts/torch_layers.py (test/fixtures/torch_layers/, float64,
 * inputs that are float32 values). The float64 CPU references must agree to rounding (1e-12 relative to Σ|terms|);
 * the GPU kernels, in float32, within the bounds of the GPU-vs-reference tests (γ_n·Σ|terms|, BatchNorm's derived bounds).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { conv2dBackwardOps, conv2dForwardOps, conv2dSizes } from '../src/kernels/conv2d.js';
import type { PlannedOp } from '../src/layers/layer.js';
import { BatchNorm2dOp } from '../src/kernels/batchnorm2d.js';
import { PoolOp } from '../src/kernels/pool2d.js';
import { batchnorm2dBackwardRef, batchnorm2dEvalRef, batchnorm2dTrainRef, nchwToRowsRef, rowsToNchwRef } from '../src/ref/batchnorm2d.js';
import { batchnormBackwardBounded, batchnormEvalBounded, batchnormTrainBounded } from '../src/testing/bounds/batchnorm.js';
import { conv2dBackwardRef, conv2dForwardRef, type Conv2dGeometry } from '../src/ref/conv2d.js';
import { avgPoolBackwardRef, avgPoolForwardRef, maxPoolBackwardRef, maxPoolForwardRef, type Pool2dGeometry } from '../src/ref/pool2d.js';
import { expectWithin, sumBounds } from '../src/testing/sums.js';
import { gpu } from './helpers/gpu.js';

const DIR = join(import.meta.dirname, 'fixtures', 'torch_layers');
// The fixtures are plain JSON written by scripts/torch_layers.py.
type Fixture = Record<string, any>;
const fixtures: [string, Fixture][] = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort().map((f) => [f.replace('.json', ''), JSON.parse(readFileSync(join(DIR, f), 'utf8'))]);
const ofOp = (op: string) => fixtures.filter(([, f]) => f.op === op);

/** |got − torch| ≤ 1e-12·(Σ|terms| + |torch|): float64 against float64, any summation order. */
const tight = (torch: number[], abs?: ArrayLike<number>) => ({ value: torch, bound: torch.map((v, i) => 1e-12 * ((abs?.[i] ?? 0) + Math.abs(v) + 1e-3)) });

/** torch's conv weight [F, C, kh, kw] as wgtrain's [C, kh, kw, F]. */
function toCkkF(w: number[], F: number, K: number): Float64Array {
  const out = new Float64Array(F * K);
  for (let f = 0; f < F; f++) for (let k = 0; k < K; k++) out[k * F + f] = w[f * K + k]!;
  return out;
}

function convGeometry(f: Fixture): Conv2dGeometry {
  const [, C, H, W] = f.shape;
  return { channels: C, height: H, width: W, filters: f.filters, kernel: f.kernel, stride: f.stride, padding: f.padding, dilation: f.dilation };
}

function poolGeometry(f: Fixture): Pool2dGeometry {
  const [, C, H, W] = f.shape;
  return f.op === 'global_pool2d'
    ? { channels: C, height: H, width: W, kernel: [H, W], stride: [1, 1], padding: [0, 0] }
    : { channels: C, height: H, width: W, kernel: f.kernel, stride: f.stride, padding: f.padding };
}

describe('CPU references vs PyTorch (float64)', () => {
  for (const [name, f] of ofOp('conv2d')) {
    it(name, () => {
      const g = convGeometry(f);
      const K = g.channels * g.kernel[0] * g.kernel[1];
      const w = toCkkF(f.weight, g.filters, K);
      const fw = conv2dForwardRef(g, f.shape[0], f.x, w, f.bias ?? undefined, 'float64');
      expectWithin(fw.y, tight(f.y, fw.abs), `${name}: y`);
      const bw = conv2dBackwardRef(g, f.shape[0], f.x, w, f.dy, true, 'float64');
      expectWithin(bw.dx!, tight(f.dx, bw.dxAbs), `${name}: dx`);
      expectWithin(bw.dw, tight(Array.from(toCkkF(f.dweight, g.filters, K)), bw.dwAbs), `${name}: dweight`);
      if (f.bias) expectWithin(bw.db, tight(f.dbias, bw.dbAbs), `${name}: dbias`);
    });
  }
  for (const [name, f] of [...ofOp('max_pool2d'), ...ofOp('avg_pool2d'), ...ofOp('global_pool2d')]) {
    it(name, () => {
      const g = poolGeometry(f);
      const rows = f.shape[0];
      if (f.op === 'max_pool2d') {
        const m = maxPoolForwardRef(g, rows, f.x, 'float64');
        expect(Array.from(m.y)).toEqual(f.y);
        expect(Array.from(m.argmax)).toEqual(f.indices);
        expectWithin(maxPoolBackwardRef(g, rows, f.dy, m.argmax, 'float64').dx, tight(f.dx), `${name}: dx`);
      } else {
        expectWithin(avgPoolForwardRef(g, rows, f.x, 'float64').y, tight(f.y), `${name}: y`);
        expectWithin(avgPoolBackwardRef(g, rows, f.dy, 'float64').dx, tight(f.dx), `${name}: dx`);
      }
    });
  }
  for (const [name, f] of ofOp('batchnorm2d')) {
    it(`${name}: ${f.x_steps.length} training steps (running statistics), backward of the last, evaluation`, () => {
      const [N, C, H, W] = f.shape;
      const s = { batch: N, channels: C, plane: H * W };
      let rm = Float64Array.from(f.running_mean);
      let rv = Float64Array.from(f.running_var);
      let t!: ReturnType<typeof batchnorm2dTrainRef>;
      for (const x of f.x_steps) {
        t = batchnorm2dTrainRef(x, s, f.gamma, f.beta, rm, rv, 'float64', { eps: f.eps, momentum: f.momentum });
        rm = Float64Array.from(t.runningMean);
        rv = Float64Array.from(t.runningVar);
      }
      expectWithin(t.y, tight(f.y), `${name}: y`);
      expectWithin(rm, tight(f.running_mean_after), `${name}: running_mean`);
      expectWithin(rv, tight(f.running_var_after), `${name}: running_var`);
      const bw = batchnorm2dBackwardRef(f.x_steps.at(-1), f.dy, s, f.gamma, t.mean, t.invstd, 'float64');
      expectWithin(bw.dx, tight(f.dx), `${name}: dx`);
      expectWithin(bw.dgamma, tight(f.dgamma), `${name}: dgamma`);
      expectWithin(bw.dbeta, tight(f.dbeta), `${name}: dbeta`);
      expectWithin(batchnorm2dEvalRef(f.x_eval, s, f.gamma, f.beta, rm, rv, 'float64', { eps: f.eps }), tight(f.y_eval), `${name}: eval y`);
    });
  }
  it('every kind of fixture is there', () => {
    expect(new Set(fixtures.map(([, f]) => f.op))).toEqual(new Set(['conv2d', 'max_pool2d', 'avg_pool2d', 'global_pool2d', 'batchnorm2d']));
  });
});

describe('GPU kernels vs PyTorch (float32 within the bounds of the GPU tests)', () => {
  afterAll(async () => (await gpu()).destroy());

  it('conv2d forward and backward', async () => {
    const e = await gpu();
    for (const [name, f] of ofOp('conv2d')) {
      const g = convGeometry(f);
      const rows = f.shape[0];
      const s = conv2dSizes(g, rows);
      const w = Float32Array.from(toCkkF(f.weight, g.filters, s.K));
      const nan = (n: number) => new Float32Array(n).fill(NaN);
      const bufs = {
        x: e.storage('x', Float32Array.from(f.x)), w: e.storage('w', w), b: e.storage('b', Float32Array.from(f.bias ?? [0])), dy: e.storage('dy', Float32Array.from(f.dy)),
        y: e.storage('y', nan(s.y)), dw: e.storage('dw', nan(s.K * g.filters)), db: e.storage('db', nan(g.filters)), dx: e.storage('dx', nan(s.x)),
        cols: e.storage('cols', nan(s.cols)), rows: e.storage('rows', nan(s.rowsF)),
      };
      const ops: PlannedOp[] = [];
      try {
        ops.push(...(await conv2dForwardOps(e, { geometry: g, rows, x: bufs.x, weight: bufs.w, bias: f.bias ? bufs.b : undefined, y: bufs.y, cols: bufs.cols })));
        ops.push(...(await conv2dBackwardOps(e, { geometry: g, rows, weight: bufs.w, dy: bufs.dy, dweight: bufs.dw, dbias: f.bias ? bufs.db : undefined, dx: bufs.dx, cols: bufs.cols, rowsBuf: bufs.rows })));
        e.run(name, (pass) => ops.forEach((o) => o.op.encode(pass)));
        // Σ|terms| from the reference; the values are torch's.
        const fw = conv2dForwardRef(g, rows, f.x, w, f.bias ?? undefined, 'float64');
        const bw = conv2dBackwardRef(g, rows, f.x, w, f.dy, true, 'float64');
        const n = rows * s.P;
        expectWithin(await e.readF32(bufs.y), sumBounds({ value: f.y, abs: fw.abs, n: s.K + 3 }), `${name}: y`);
        expectWithin(await e.readF32(bufs.dx), sumBounds({ value: f.dx, abs: bw.dxAbs!, n: g.filters + g.kernel[0] * g.kernel[1] + 3 }), `${name}: dx`);
        expectWithin(await e.readF32(bufs.dw), sumBounds({ value: Array.from(toCkkF(f.dweight, g.filters, s.K)), abs: bw.dwAbs, n: n + 3 }), `${name}: dweight`);
        if (f.bias) expectWithin(await e.readF32(bufs.db), sumBounds({ value: f.dbias, abs: bw.dbAbs, n: n + 3 }), `${name}: dbias`);
      } finally {
        for (const o of ops) o.op.destroy();
        for (const b of Object.values(bufs)) b.destroy();
      }
    }
  });

  it('max, average and global average pooling forward and backward; max indices', async () => {
    const e = await gpu();
    for (const [name, f] of [...ofOp('max_pool2d'), ...ofOp('avg_pool2d'), ...ofOp('global_pool2d')]) {
      const g = poolGeometry(f);
      const rows = f.shape[0];
      const io = { geometry: g, rows };
      const bufs = {
        x: e.storage('x', Float32Array.from(f.x)), dy: e.storage('dy', Float32Array.from(f.dy)),
        y: e.storage('y', new Float32Array(f.y.length).fill(NaN)), dx: e.storage('dx', new Float32Array(f.dx.length).fill(NaN)),
        argmax: e.storage('argmax', new Uint32Array(f.y.length).fill(12345)),
      };
      const max = f.op === 'max_pool2d';
      const ops = max
        ? [await PoolOp.maxForward(e, { ...io, x: bufs.x, y: bufs.y, argmax: bufs.argmax }), await PoolOp.maxBackward(e, { ...io, dy: bufs.dy, argmax: bufs.argmax, dx: bufs.dx })]
        : [await PoolOp.avgForward(e, { ...io, x: bufs.x, y: bufs.y }), await PoolOp.avgBackward(e, { ...io, dy: bufs.dy, dx: bufs.dx })];
      try {
        e.run(name, (pass) => ops.forEach((o) => o.encode(pass)));
        const covers = Math.ceil(g.kernel[0] / g.stride[0]) * Math.ceil(g.kernel[1] / g.stride[1]);
        if (max) {
          expect(Array.from(await e.readF32(bufs.y))).toEqual(f.y);
          expect(Array.from(new Uint32Array(await e.read(bufs.argmax)))).toEqual(f.indices);
          expectWithin(await e.readF32(bufs.dx), sumBounds({ value: f.dx, abs: maxPoolBackwardRef(g, rows, f.dy, f.indices, 'float64').abs, n: covers }), `${name}: dx`);
        } else {
          const taps = g.kernel[0] * g.kernel[1];
          expectWithin(await e.readF32(bufs.y), sumBounds({ value: f.y, abs: avgPoolForwardRef(g, rows, f.x, 'float64').abs, n: taps + 2 }), `${name}: y`);
          expectWithin(await e.readF32(bufs.dx), sumBounds({ value: f.dx, abs: avgPoolBackwardRef(g, rows, f.dy, 'float64').abs, n: covers + 2 }), `${name}: dx`);
        }
      } finally {
        for (const o of ops) o.destroy();
        for (const b of Object.values(bufs)) b.destroy();
      }
    }
  });

  it('BatchNorm2d: training steps, backward, evaluation', async () => {
    const e = await gpu();
    for (const [name, f] of ofOp('batchnorm2d')) {
      const [N, C, H, W] = f.shape;
      const shape = { batch: N, channels: C, plane: H * W, eps: f.eps, momentum: f.momentum };
      const n = N * C * H * W;
      const nan = (k: number) => new Float32Array(k).fill(NaN);
      const bufs = {
        xs: f.x_steps.map((x: number[]) => e.storage('x', Float32Array.from(x))) as GPUBuffer[],
        gamma: e.storage('gamma', Float32Array.from(f.gamma)), beta: e.storage('beta', Float32Array.from(f.beta)),
        running: e.storage('running', Float32Array.from([...f.running_mean, ...f.running_var])), saved: e.storage('saved', nan(2 * C)),
        y: e.storage('y', nan(n)), dy: e.storage('dy', Float32Array.from(f.dy)), dx: e.storage('dx', nan(n)),
        dgamma: e.storage('dgamma', nan(C)), dbeta: e.storage('dbeta', nan(C)),
        xEval: e.storage('x_eval', Float32Array.from(f.x_eval)), yEval: e.storage('y_eval', nan(n)),
      };
      const common = { ...shape, gamma: bufs.gamma, beta: bufs.beta, running: bufs.running };
      const ops: BatchNorm2dOp[] = [];
      try {
        for (const x of bufs.xs) ops.push(await BatchNorm2dOp.forwardTrain(e, { ...common, x, y: bufs.y, saved: bufs.saved }));
        ops.push(await BatchNorm2dOp.backward(e, { ...shape, x: bufs.xs.at(-1)!, dy: bufs.dy, gamma: bufs.gamma, saved: bufs.saved, dx: bufs.dx, dgamma: bufs.dgamma, dbeta: bufs.dbeta }));
        ops.push(await BatchNorm2dOp.forwardEval(e, { ...common, x: bufs.xEval, y: bufs.yEval }));
        e.run(name, (pass) => ops.forEach((o) => o.encode(pass)));
        // Bounds: BatchNorm1d's on the transposed tensor [N·H·W, C] (src/testing/bounds/batchnorm.ts), around torch's
        // values (which our float64 reference meets to 1e-12, above). Running statistics after k steps: the sum of
        // each step's bound (an error carried into the next step shrinks by 1 − momentum).
        const s = { batch: N, channels: C, plane: H * W };
        const m = N * H * W;
        const rows = (a: ArrayLike<number>) => nchwToRowsRef(a, s, 'float64');
        const nchw = (b: ArrayLike<number>) => rowsToNchwRef(b, s, 'float64');
        const near = (torchValue: number[], bound: ArrayLike<number>) => ({ value: torchValue, bound: torchValue.map((v, i) => bound[i]! + 1e-12 * (1 + Math.abs(v))) });
        let rm: ArrayLike<number> = f.running_mean;
        let rv: ArrayLike<number> = f.running_var;
        const eRm = new Float64Array(C);
        const eRv = new Float64Array(C);
        let t!: ReturnType<typeof batchnormTrainBounded>;
        for (const x of f.x_steps) {
          t = batchnormTrainBounded(rows(x), m, C, f.gamma, f.beta, rm, rv, { eps: f.eps, momentum: f.momentum });
          for (let c = 0; c < C; c++) {
            eRm[c]! += t.runningMean.bound[c]!;
            eRv[c]! += t.runningVar.bound[c]!;
          }
          rm = t.runningMean.value;
          rv = t.runningVar.value;
        }
        const bw = batchnormBackwardBounded(rows(f.x_steps.at(-1)), rows(f.dy), m, C, f.gamma, t.mean.value, t.invstd.value, { emean: t.mean.bound, einvstd: t.invstd.bound });
        const run = await e.readF32(bufs.running);
        expectWithin(await e.readF32(bufs.y), near(f.y, nchw(t.y.bound)), `${name}: y`);
        expectWithin(run.subarray(0, C), near(f.running_mean_after, eRm), `${name}: running_mean`);
        expectWithin(run.subarray(C), near(f.running_var_after, eRv), `${name}: running_var`);
        expectWithin(await e.readF32(bufs.dx), near(f.dx, nchw(bw.dx.bound)), `${name}: dx`);
        expectWithin(await e.readF32(bufs.dgamma), near(f.dgamma, bw.dgamma.bound), `${name}: dgamma`);
        expectWithin(await e.readF32(bufs.dbeta), near(f.dbeta, bw.dbeta.bound), `${name}: dbeta`);
        // Evaluation reads the GPU's own running statistics (checked above): its bound is around the reference at them.
        const ev = batchnormEvalBounded(rows(f.x_eval), m, C, f.gamma, f.beta, run.subarray(0, C), run.subarray(C), { eps: f.eps });
        expectWithin(await e.readF32(bufs.yEval), { value: nchw(ev.value), bound: nchw(ev.bound) }, `${name}: eval y`);
      } finally {
        for (const o of ops) o.destroy();
        for (const b of [...bufs.xs, ...Object.values(bufs).filter((v): v is GPUBuffer => !Array.isArray(v))]) b.destroy();
      }
    }
  });
});
