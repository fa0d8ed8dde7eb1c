/**
 * shaders/vector.wgsl through the GPU vector machine, against float64 math and the CPU machine: dot products (two
 * passes, with max|x|, Σ|x| and the non-finite count), scaled additions with host and GPU-scalar coefficients, in
 * place and out of place, at awkward lengths, on NaN-poisoned outputs.
 *
 * Tolerance of a sum: src/testing/sums.ts's sumBound with n = the longest chain of roundings a term passes through in
 * this reduction's shape (vector.ts sumDepth: the passes and trees are fixed by dispatches and barriers; the loop
 * inside an invocation counts its whole length), so it holds on any correct GPU; the scalar ops carry it
 * (src/testing/bounds/vector.ts). Elementwise results, GPU against the float32 CPU machine: 2 ulps (4u) of
 * |α·x| + |β·y|, each side's own rounding of two products and a sum (or one fused multiply-add).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { CpuMachine } from '../src/linalg/cpu-machine.js';
import { GpuMachine } from '../src/linalg/gpu-machine.js';
import type { GpuObjective } from '../src/linalg/objective.js';
import { VectorSumOp } from '../src/linalg/vector.js';
import { difference, exact, reduceBound, scalarOpBounded, type Known } from '../src/testing/bounds/vector.js';
import { U, expectWithin, sumBound } from '../src/testing/sums.js';
import { expectClose } from './helpers/compare.js';
import { gpu, poisoned } from './helpers/gpu.js';
import { rng, seedInfo, uniformArray } from './helpers/random.js';

const LENGTHS = [1, 7, 33, 127, 130, 1000, 4099, 100003];

/** An objective with no function: the machine is used for its vector algebra only. */
function noObjective(n: number): GpuObjective {
  return { n, valueGrad: () => Promise.reject(new Error('no objective in this test')) };
}

describe(`vector algebra on the GPU vs float64 (${seedInfo()})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('dot products and statistics at awkward lengths, both workgroup-size variants, within the summation bound', async () => {
    const e = await gpu();
    const rand = rng();
    for (const sizes of [undefined, { wg: 256, fwg: 64 }, { wg: 1, fwg: 1 }]) {
      for (const n of LENGTHS) {
        if (sizes?.wg === 1 && n > 5000) continue; // one invocation per workgroup: slow on a software adapter
        const m = await GpuMachine.create(e, noObjective(n), sizes ? { reduceSizes: sizes } : {});
        try {
          const xs = uniformArray(n, -2, 2, rand);
          const ys = uniformArray(n, -1, 3, rand);
          for (let i = 0; i < n; i += 17) xs[i] = xs[i]! * 1e-3; // a spread of magnitudes
          const x = m.vector('x_test'), y = m.vector('y_test');
          await m.writeVector(x, xs);
          await m.writeVector(y, ys);
          const out = m.scalars(4);
          const scaled = m.scalars(1);
          // Poison the slots first: a final pass that forgets one cannot pass.
          await poisonSlots(m, [out, out + 1, out + 2, out + 3, scaled]);
          m.dot(out, x, y, { stats: true });
          m.dot(scaled, x, x, { scale: -0.5 });
          const [dot, maxabs, sumabs, bad, sq] = await m.read([out, out + 1, out + 2, out + 3, scaled]);
          let ref = 0, absTerms = 0, mx = 0, sa = 0, sqRef = 0;
          for (let i = 0; i < n; i++) {
            ref += xs[i]! * ys[i]!;
            absTerms += Math.abs(xs[i]! * ys[i]!);
            mx = Math.max(mx, Math.abs(xs[i]!));
            sa += Math.abs(xs[i]!);
            sqRef += xs[i]! * xs[i]!;
          }
          const shape = m.shapeFor(n);
          const what = `n=${n} wg=${shape.wg}/${shape.fwg} parts=${shape.parts}`;
          expectClose([dot!], [ref], { atol: reduceBound(shape, absTerms), rtol: 0 }, `${what} dot`);
          expect(maxabs, `${what} maxabs`).toBe(mx);
          expectClose([sumabs!], [sa], { atol: reduceBound(shape, sa), rtol: 0 }, `${what} Σ|x|`);
          expect(bad).toBe(0);
          // −½·Σx²: the sum's bound plus the rounding of the product by the scale.
          expectClose([sq!], [-0.5 * sqRef], { atol: 0.5 * reduceBound(shape, sqRef) + U * 0.5 * sqRef, rtol: 0 }, `${what} scaled`);
        } finally {
          m.destroy();
        }
      }
    }
  });

  it('non-finite elements are counted (by bit pattern) and left out of the sums', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 1000;
    const m = await GpuMachine.create(e, noObjective(n));
    try {
      const xs = uniformArray(n, -1, 1, rand);
      const ys = uniformArray(n, -1, 1, rand);
      const badAt = [3, 500, 999];
      xs[badAt[0]!] = NaN;
      xs[badAt[1]!] = Infinity;
      ys[badAt[2]!] = -Infinity;
      const x = m.vector('x_test'), y = m.vector('y_test');
      await m.writeVector(x, xs);
      await m.writeVector(y, ys);
      const out = m.scalars(4);
      m.dot(out, x, y, { stats: true });
      const [dot, maxabs, sumabs, bad] = await m.read([out, out + 1, out + 2, out + 3]);
      expect(bad).toBe(3);
      let ref = 0, absTerms = 0, mx = 0, sa = 0;
      for (let i = 0; i < n; i++) {
        if (badAt.includes(i)) continue;
        ref += xs[i]! * ys[i]!;
        absTerms += Math.abs(xs[i]! * ys[i]!);
        mx = Math.max(mx, Math.abs(xs[i]!));
        sa += Math.abs(xs[i]!);
      }
      const shape = m.shapeFor(n);
      expectClose([dot!, sumabs!], [ref, sa], { atol: reduceBound(shape, Math.max(absTerms, sa)), rtol: 0 }, 'sums without the non-finite pairs');
      expect(maxabs).toBe(mx);
    } finally {
      m.destroy();
    }
  });

  it('axpby: host and GPU-scalar coefficients, out of place and in place, agree with the float32 CPU machine', async () => {
    const e = await gpu();
    const rand = rng();
    for (const n of [1, 7, 33, 127, 130, 4099]) {
      const g = await GpuMachine.create(e, noObjective(n));
      const c = new CpuMachine({ n, evaluate: () => 0 }, 'float32');
      try {
        const xs = uniformArray(n, -2, 2, rand);
        const ys = uniformArray(n, -3, 3, rand);
        const zs = new Float32Array(n).fill(NaN);
        const both = [g, c] as const;
        const vec = both.map((m) => ({ x: m.vector('x_test'), y: m.vector('y_test'), z: m.vector('z_test'), w: m.vector('w_test') }));
        const slots = both.map((m) => m.scalars(3));
        for (const [k, m] of both.entries()) {
          await m.writeVector(vec[k]!.x, xs);
          await m.writeVector(vec[k]!.y, ys);
          await m.writeVector(vec[k]!.z, zs);
          await m.writeVector(vec[k]!.w, ys);
          // Scalars computed on the machine: s0 = x·y, s1 = x·x, s2 = −0.25·(y·y).
          m.dot(slots[k]!, vec[k]!.x, vec[k]!.y);
          m.dot(slots[k]! + 1, vec[k]!.x, vec[k]!.x);
          m.dot(slots[k]! + 2, vec[k]!.y, vec[k]!.y, { scale: -0.25 });
        }
        const [s0, s1, s2] = await g.read([slots[0]!, slots[0]! + 1, slots[0]! + 2]);
        const cs = await c.read([slots[1]!, slots[1]! + 1, slots[1]! + 2]);
        // The CPU machine's scalars differ from the GPU's by the summation order; run both steps with the GPU's.
        await c.writeVector(vec[1]!.x, xs);
        expect(cs.length).toBe(3);
        const coefs = (k: number) => {
          const s = slots[k]!;
          return { a: { c: -0.5, slot: s, sub: s + 1 }, b: { slot: s + 2 } };
        };
        for (const [k, m] of both.entries()) {
          const v = vec[k]!;
          const { a, b } = coefs(k);
          m.axpby(v.z, a, v.x, b, v.y); // z = −0.5·(s0 − s1)·x + s2·y   (out of place, both from scalars)
          m.axpby(v.w, 1.5, v.x, { c: -1, slot: slots[k]! }, v.w); // w = −s0·w + 1.5·x  (in place, z = y)
          m.axpby(v.x, 2, v.x, 0.75, v.y); // x = 2·x + 0.75·y (in place, z = x)
        }
        // Give the CPU the GPU's scalars so the comparison is of the vector arithmetic only.
        const cpuSlots = slots[1]!;
        (c as unknown as { sc: Float64Array }).sc.set([s0!, s1!, s2!], cpuSlots);
        await c.writeVector(vec[1]!.x, xs);
        await c.writeVector(vec[1]!.w, ys);
        const { a, b } = coefs(1);
        c.axpby(vec[1]!.z, a, vec[1]!.x, b, vec[1]!.y);
        c.axpby(vec[1]!.w, 1.5, vec[1]!.x, { c: -1, slot: cpuSlots }, vec[1]!.w);
        c.axpby(vec[1]!.x, 2, vec[1]!.x, 0.75, vec[1]!.y);
        const alpha = Math.fround(-0.5 * Math.fround(s0! - s1!));
        for (const [name, scale] of [
          ['z', (i: number) => Math.abs(alpha * xs[i]!) + Math.abs(s2! * ys[i]!)],
          ['w', (i: number) => Math.abs(s0! * ys[i]!) + Math.abs(1.5 * xs[i]!)],
          ['x', (i: number) => Math.abs(2 * xs[i]!) + Math.abs(0.75 * ys[i]!)],
        ] as const) {
          const got = await g.readVector(vec[0]![name]);
          const ref = await c.readVector(vec[1]![name]);
          const bad: string[] = [];
          for (let i = 0; i < n; i++) {
            // Each machine within 2u·(|α·x| + |β·y|) of the exact value (two products and a sum, or a fused multiply-add).
            if (!(Math.abs(got[i]! - ref[i]!) <= 4 * U * scale(i))) bad.push(`${name}[${i}] gpu ${got[i]} cpu ${ref[i]}`);
          }
          expect(bad.slice(0, 5), `n=${n}`).toEqual([]);
        }
      } finally {
        g.destroy();
        c.destroy();
      }
    }
  });

  it('scalar ops: A/B, A·√B, A/√B (0 when B = 0) from GPU scalars and host constants, as the float32 CPU machine', async () => {
    const e = await gpu();
    const g = await GpuMachine.create(e, noObjective(4));
    const c = new CpuMachine({ n: 4, evaluate: () => 0 }, 'float32');
    try {
      const vals = [3, -7.25, 0.1, 0];
      const outs: number[][] = [];
      for (const m of [g, c]) {
        const v = m.vector('v_test');
        await m.writeVector(v, vals);
        const s = m.scalars(10);
        m.dot(s, v, v); // 61.5725
        const ones = m.vector('ones_test');
        await m.writeVector(ones, [1, 1, 1, 1]);
        m.dot(s + 1, v, ones); // −4.15
        m.scalar(s + 2, 'div', { slot: s + 1 }, { slot: s });
        m.scalar(s + 3, 'mul_sqrt', { c: -2, slot: s + 1 }, { slot: s });
        m.scalar(s + 4, 'div_sqrt', 1.5, { slot: s });
        m.scalar(s + 5, 'div_sqrt', 1.5, 0);
        m.scalar(s + 6, 'div', { slot: s, sub: s + 1 }, 2);
        outs.push(await m.read([s, s + 1, s + 2, s + 3, s + 4, s + 5, s + 6]));
        // A read of a few slots out of order, not from the first (the GPU copies back only their span).
        outs.push(await m.read([s + 6, s + 3]));
      }
      const [gv, gPart, cv, cPart] = outs as [number[], number[], number[], number[]];
      expect(gPart).toEqual([gv[6], gv[3]]);
      expect(cPart).toEqual([cv[6], cv[3]]);
      expect(gv[5]).toBe(0);
      expect(cv[5]).toBe(0);
      // Each machine against float64 within the bounds of its reductions (the GPU's shape; the CPU's sequential loop
      // over 4 terms), carried through the scalar ops (src/testing/bounds/vector.ts).
      const v32 = vals.map(Math.fround);
      for (const [name, got, dotBound] of [
        ['gpu', gv, (abs: number) => reduceBound(g.shapeFor(4), abs)],
        ['cpu', cv, (abs: number) => sumBound(4, abs)],
      ] as const) {
        const sum = (terms: number[]): Known => ({ value: terms.reduce((a, t) => a + t, 0), bound: dotBound(terms.reduce((a, t) => a + Math.abs(t), 0)) });
        const s0 = sum(v32.map((v) => v * v));
        const s1 = sum(v32);
        const want = [
          s0,
          s1,
          scalarOpBounded('div', s1, s0),
          scalarOpBounded('mul_sqrt', { value: -2 * s1.value, bound: 2 * s1.bound }, s0),
          scalarOpBounded('div_sqrt', exact(1.5), s0),
          exact(0),
          scalarOpBounded('div', difference(s0, s1), exact(2)),
        ];
        expectWithin(got, { value: want.map((w) => w.value), bound: want.map((w) => w.bound) }, `${name} scalar slots`);
      }
    } finally {
      g.destroy();
      c.destroy();
    }
  });

  it('scaling in place and copies; a machine releases every buffer it made', async () => {
    const e = await gpu();
    const before = e.memory().buffers;
    const m = await GpuMachine.create(e, noObjective(130));
    const xs = uniformArray(130, -1, 1, rng());
    const a = m.vector('a_test'), b = m.vector('b_test');
    await m.writeVector(a, xs);
    m.axpby(a, -3, a); // a ← −3·a
    m.copy(b, a);
    m.axpby(a, 0.5, b); // a ← 0.5·b
    expect(Array.from(await m.readVector(b))).toEqual(Array.from(xs, (v) => Math.fround(-3 * v)));
    expect(Array.from(await m.readVector(a))).toEqual(Array.from(xs, (v) => Math.fround(0.5 * Math.fround(-3 * v))));
    m.destroy();
    expect(e.memory().buffers).toBe(before);
  });

  it('VectorSumOp writes one slot of a larger buffer and nothing else', async () => {
    const e = await gpu();
    const rand = rng();
    const n = 4099;
    const xs = uniformArray(n, -1, 1, rand);
    const x = e.storage('x', xs);
    const out = poisoned(e, 'sc', 8);
    const op = await VectorSumOp.plan(e, { x, n, out: { buffer: out, index: 5 }, scale: 3 });
    e.run('sum', (pass) => op.encode(pass));
    const got = await e.readF32(out);
    let ref = 0, abs = 0;
    for (const v of xs) (ref += v), (abs += Math.abs(v));
    expectClose([got[5]!], [3 * ref], { atol: 3 * reduceBound(op.shape, abs) + 3 * U * Math.abs(ref), rtol: 0 }, 'sum');
    expect(Array.from(got).filter((_, i) => i !== 5).every(Number.isNaN)).toBe(true);
    op.destroy();
    x.destroy();
    out.destroy();
  });
});

/** Fills scalar slots with NaN through the machine (an axpby cannot: slots are written by dot products only). */
async function poisonSlots(m: GpuMachine, slots: number[]): Promise<void> {
  const buf = (m as unknown as { sc: GPUBuffer }).sc;
  await m.read([]);
  for (const s of slots) m.engine.write(buf, new Float32Array([NaN]), 4 * s);
}
