/**
 * The fused GPU optimizer step (shaders/optim_update.wgsl via src/optim/gpu.ts) against the float32 CPU references,
 * on a multi-layer flat layout of awkward sizes (segments 37, 1, 130, 7) in two parameter groups with their own
 * lr / weight_decay; plus clipping, the non-finite guard, several steps per command buffer, the dispatch count and
 * the gradient-magnitude learning-rate control.
 *
 * Tolerance: both sides compute in float32 with operations that round differently (WGSL's sqrt, division and even
 * fma are not correctly rounded or fused on every implementation: SwiftShader's fma is a multiply and an add), so
 * each step's update may differ by ~1e-6 relative and those differences carry into later steps. Parameters are
 * compared per element with |gpu − cpu| ≤ 1e-5·L + 4k float32 roundings of the value, where L = Σ_k |x_k − x_{k−1}|
 * is the path the element travelled (the sum of the step sizes, the scale rounding errors grow with); the net
 * distance |x_k − x0| would be a wrong scale where steps cancel (momentum reversing, NAdam's two terms). State slots
 * are compared with 1e-5 of the largest magnitude the slot held.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/index.js';
import { GpuOptimizer, GPU_SLOTS } from '../src/optim/gpu.js';
import { OPTIMIZER_NAMES, Optimizer, RULES, resolveHyperparams, type OptimizerName } from '../src/optim/index.js';
import { U, WGSL_REL, gamma } from '../src/testing/sums.js';
import { gpu } from './helpers/gpu.js';
import { rng, seedInfo } from './helpers/random.js';

const SEGMENTS = [37, 1, 130, 7];
const N = SEGMENTS.reduce((a, b) => a + b, 0);
const STEPS = 6;

const HYPER: Record<OptimizerName, Record<string, unknown>[]> = {
  SGD: [{ lr: 0.01, momentum: 0.9, nesterov: true }, { lr: 0.02, momentum: 0.5, dampening: 0.3, maximize: true }, { lr: 0.05 }],
  Adagrad: [{ lr_decay: 0.05, initial_accumulator_value: 0.1, eps: 1e-6 }, { maximize: true }],
  RMSprop: [{ momentum: 0.9, centered: true }, { alpha: 0.9, maximize: true }],
  Adadelta: [{ rho: 0.95 }, { maximize: true, lr: 0.5 }],
  Adam: [{ amsgrad: true }, { betas: [0.8, 0.99], maximize: true, lr: 0.01 }],
  AdamW: [{ amsgrad: true }, { maximize: true }],
  Adamax: [{}, { maximize: true, betas: [0.8, 0.99] }],
  NAdam: [{}, { momentum_decay: 0.01, lr: 0.01 }],
  RAdam: [{ betas: [0.9, 0.9] }, {}],
  ASGD: [{ t0: 2, lambd: 0.01 }, { maximize: true, alpha: 0.5 }],
  Rprop: [{}, { etas: [0.3, 1.5], step_sizes: [1e-4, 0.1], maximize: true }],
};

function inputs(rand: () => number, steps = STEPS) {
  const x0 = new Float32Array(N);
  for (let i = 0; i < N; i++) x0[i] = 4 * rand() - 2;
  const grads = Array.from({ length: steps }, (_, k) => {
    const g = new Float32Array(N);
    for (let i = 0; i < N; i++) {
      // Half the elements keep their sign, the rest are random; magnitudes 1e-3..10; a few exact zeros.
      const sign = i % 2 ? 1 : rand() < 0.5 ? -1 : 1;
      g[i] = i % 17 === 3 ? 0 : sign * 10 ** (4 * rand() - 3) * (k % 3 === 2 && i % 5 === 0 ? -1 : 1);
    }
    return g;
  });
  return { x0, grads };
}

function groupsFor(name: OptimizerName) {
  const hasWd = 'weight_decay' in resolveHyperparams(RULES[name], {});
  return [
    { start: 0, end: 38, lr: 0.003 },
    { start: 38, end: N, lr: 0.02, ...(hasWd ? { weight_decay: 0.1 } : {}) },
  ];
}

/** Mismatches of got vs ref, relative to `scale` per element, plus `ulps` float32 roundings of the value (+ extra). */
function scaledMismatches(got: ArrayLike<number>, ref: ArrayLike<number>, scale: ArrayLike<number>, ulps: number, rtol = 1e-5, extra?: ArrayLike<number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!, r = ref[i]!;
    const tol = rtol * scale[i]! + ulps * 2 ** -24 * Math.abs(r) + (extra ? extra[i]! : 0);
    if (!(Math.abs(g - r) <= tol)) out.push(`[${i}] got ${g}, ref ${r}, scale ${scale[i]}, |diff| ${Math.abs(g - r)} > ${tol}`);
  }
  return out;
}

/** Tracks the path length Σ|x_k − x_{k−1}| of every element of a CPU reference run. */
class Path {
  readonly length: Float64Array;
  private prev: Float32Array;
  constructor(x0: Float32Array) {
    this.length = new Float64Array(x0.length);
    this.prev = x0.slice();
  }
  add(x: Float32Array): void {
    for (let i = 0; i < x.length; i++) this.length[i]! += Math.abs(x[i]! - this.prev[i]!);
    this.prev = x.slice();
  }
}

async function makeGpu(e: Engine, name: OptimizerName, h: Record<string, unknown>, x0: Float32Array, extra: Record<string, unknown> = {}) {
  const params = e.storage('test.params', x0);
  const grads = e.storage('test.grads', 4 * N);
  const opt = await GpuOptimizer.create(e, { optimizer: name, hyperparams: h, params, grads, n: N, groups: groupsFor(name), ...extra });
  return { params, grads, opt, destroy: () => (opt.destroy(), params.destroy(), grads.destroy()) };
}

afterAll(async () => (await gpu()).destroy());

type NormExtra = { clip?: { maxNorm?: number; value?: number }; gradLr?: { c: number } };

/**
 * SGD with momentum on the GPU, clipping (by value, by global norm) or with the gradient-magnitude lr, against the
 * float32 CPU reference given the float64 norm; two groups as groupsFor (weight decay in the second when given).
 * Returns the mismatches of the parameters.
 *
 * The GPU measures ‖g‖ itself, a float32 sum of n squares in an order of its own (any order, no compensation
 * assumed): within relative ε = ½γ_(n+1) + 9u of the exact norm (the square root halves the sum's γ_(n+1); WGSL's
 * sqrt is 1/inverseSqrt, 4.5 ulp), the same rule as test/helpers/lockstep.ts. Carried into the parameters, on top of
 * the element-wise 1e-5·path:
 *   clip:   c = max_norm/(‖g‖ + 1e-6) is within ε (+ 2.5 ulp); SGD with momentum μ is linear in each step's c·g,
 *           which moves θ by at most lr·|c·g|/(1 − μ) over all later steps: extra ε'·lr·Σ_k|c_k·g_k|/(1 − μ).
 *   gradLr: α_t = α_(t−1)/(1 + c·√‖g_t‖) gains at most ε/2 relative per step, so step t's move is within t·ε/2.
 * `dropShare` leaves that leading share of the elements out of the CPU's norm (a deliberate break); `stepLr` is
 * passed to every GPU step (the gradient-magnitude control must ignore it).
 */
async function normedSgd(
  e: Engine, x0: Float32Array, grads: Float32Array[], momentum: number, extra: NormExtra, o: { dropShare?: number; stepLr?: number[]; weightDecay?: number } = {},
): Promise<string[]> {
  const n = x0.length;
  const groups = [{ start: 0, end: 38, lr: 0.003 }, { start: 38, end: n, lr: 0.02, ...(o.weightDecay ? { weight_decay: o.weightDecay } : {}) }];
  const eps = gamma(n + 1) / 2 + WGSL_REL.sqrt;
  const h = { momentum };
  const params = e.storage('test.params', x0);
  const gbuf = e.storage('test.grads', 4 * n);
  const opt = await GpuOptimizer.create(e, { optimizer: 'SGD', hyperparams: h, params, grads: gbuf, n, groups, ...extra });
  const cpu = new Optimizer('SGD', h, { n, groups });
  const p = x0.slice();
  const path = new Path(x0);
  const spread = new Float64Array(n);
  let alpha = groups.map((gr) => gr.lr);
  const clip = extra.clip ?? {};
  const drop = (o.dropShare ?? 0) * n;
  for (const [k, grad] of grads.entries()) {
    // CPU: value clamp, then norm (in double) and the torch coefficient max_norm / (norm + 1e-6), capped at 1.
    const c = Float64Array.from(grad, (v) => (clip.value !== undefined ? Math.min(clip.value, Math.max(-clip.value, v)) : v));
    const norm = Math.sqrt(c.reduce((acc, v, i) => acc + (i < drop ? 0 : v * v), 0));
    let coef = 1;
    if (clip.maxNorm !== undefined) {
      coef = Math.min(1, clip.maxNorm / (norm + 1e-6));
      expect(coef, 'the test must actually clip').toBeLessThan(1);
    }
    if (extra.gradLr) {
      const cc = extra.gradLr.c;
      alpha = alpha.map((a) => a / (1 + cc * Math.sqrt(norm)));
      cpu.setLr(alpha);
    }
    const before = p.slice();
    cpu.step(p, Float32Array.from(c, (v) => v * coef));
    path.add(p);
    groups.forEach((gr, gi) => {
      for (let i = gr.start; i < gr.end; i++) {
        if (extra.gradLr) spread[i]! += (((k + 1) * eps) / 2) * Math.abs(p[i]! - before[i]!);
        else if (clip.maxNorm !== undefined) spread[i]! += ((eps + 5 * U) * alpha[gi]! * Math.abs(coef * c[i]!)) / (1 - momentum);
      }
    });
    e.write(gbuf, grad);
    opt.step(o.stepLr);
  }
  const bad = scaledMismatches(await e.readF32(params, n), p, path.length, 4 * grads.length, 1e-5, spread);
  opt.destroy();
  params.destroy();
  gbuf.destroy();
  return bad;
}


describe(`fused GPU update vs CPU reference (${seedInfo()})`, () => {
  for (const name of OPTIMIZER_NAMES) {
    it(`${name}: every variant, two groups, lr changed between steps`, async () => {
      const e = await gpu();
      const rand = rng();
      for (const h of HYPER[name]) {
        const { x0, grads } = inputs(rand);
        const cpu = new Optimizer(name, h, { n: N, dtype: 'float32', groups: groupsFor(name) });
        const p = x0.slice();
        const path = new Path(x0);
        const stateMax: Record<string, Float64Array> = {};
        const g = await makeGpu(e, name, h, x0);
        for (let k = 0; k < STEPS; k++) {
          const lr = k === 3 ? [0.001, 0.03] : undefined;
          if (lr) cpu.setLr(lr);
          cpu.step(p, grads[k]!);
          path.add(p);
          for (const [slot, a] of Object.entries(cpu.slots)) {
            const m = (stateMax[slot] ??= new Float64Array(N));
            for (let i = 0; i < N; i++) m[i] = Math.max(m[i]!, Math.abs(a[i]!));
          }
          e.write(g.grads, grads[k]!);
          g.opt.step(lr);
          const got = await e.readF32(g.params, N);
          const bad = scaledMismatches(got, p, path.length, 4 * (k + 1));
          expect(bad, `${name} ${JSON.stringify(h)} step ${k + 1}: ${bad.length} mismatches\n${bad.slice(0, 6).join('\n')}`).toEqual([]);
        }
        const saved = await g.opt.exportState();
        const ref = cpu.exportState();
        expect(saved.step).toBe(STEPS);
        expect(Object.keys(saved.state).sort()).toEqual(Object.keys(ref.state).sort());
        for (const [slot, vals] of Object.entries(ref.state)) {
          const scale = stateMax[slot] ?? vals.map(Math.abs); // per-group scalars (eta, mu, mu_product): their own size
          const bad = scaledMismatches(saved.state[slot]!, vals, scale, 4 * STEPS);
          expect(bad, `${name} ${JSON.stringify(h)} state ${slot}\n${bad.slice(0, 6).join('\n')}`).toEqual([]);
        }
        g.destroy();
      }
    });
  }
});

describe(`clipping, guard, batching and dispatch count (${seedInfo()})`, () => {
  it('clip by global norm and by value match the CPU (torch clip_grad_norm_ / clip_grad_value_)', async () => {
    const e = await gpu();
    const rand = rng();
    for (const clip of [{ maxNorm: 0.5 }, { value: 0.05 }, { value: 0.3, maxNorm: 1.0 }]) {
      const { x0, grads } = inputs(rand);
      const bad = await normedSgd(e, x0, grads, 0.9, { clip }, { weightDecay: 0.1 });
      expect(bad, `${JSON.stringify(clip)}\n${bad.slice(0, 6).join('\n')}`).toEqual([]);
    }
  });

  it('clip by global norm and the gradient-magnitude lr over N = 40,045 elements (the norm: a sum of N squares)', async () => {
    // ε = ½γ_(N+1) + 9u is 1.2e-3 here (normedSgd), far above the element-wise 1e-5.
    const e = await gpu();
    const rand = rng();
    const n = 37 + 1 + 40000 + 7;
    const run = (extra: NormExtra, dropShare = 0) => {
      const x0 = Float32Array.from({ length: n }, () => 4 * rand() - 2);
      const grads = Array.from({ length: STEPS }, () => Float32Array.from({ length: n }, (_, i) => (i % 17 === 3 ? 0 : (rand() < 0.5 ? -1 : 1) * 10 ** (4 * rand() - 3))));
      return normedSgd(e, x0, grads, 0.9, extra, { dropShare });
    };
    for (const extra of [{ clip: { maxNorm: 0.5 } }, { clip: { value: 0.3, maxNorm: 2 } }, { gradLr: { c: 0.3 } }]) {
      const bad = await run(extra);
      expect(bad, `${JSON.stringify(extra)}: ${bad.length} mismatches\n${bad.slice(0, 6).join('\n')}`).toEqual([]);
    }
    // Deliberate break: a norm that misses one of 64 workgroups' share of the elements (~1.6% of Σg²) fails.
    for (const extra of [{ clip: { maxNorm: 0.5 } }, { gradLr: { c: 0.3 } }]) expect((await run(extra, 1 / 64)).length, JSON.stringify(extra)).toBeGreaterThan(0);
  });

  it('a NaN or Inf gradient skips the step: params and state bit-identical, counter 1, t not advanced', async () => {
    const e = await gpu();
    const rand = rng();
    for (const bad of [NaN, Infinity, -Infinity]) {
      const { x0, grads } = inputs(rand, 4);
      const h = { amsgrad: true };
      const g = await makeGpu(e, 'Adam', h, x0, { guard: true, clip: { maxNorm: 100 } });
      const cpu = new Optimizer('Adam', h, { n: N, groups: groupsFor('Adam') });
      const p = x0.slice();
      const path = new Path(x0);
      for (const k of [0, 1]) {
        e.write(g.grads, grads[k]!);
        g.opt.step();
        cpu.step(p, grads[k]!);
        path.add(p);
      }
      const before = { p: await e.readF32(g.params, N), s: await g.opt.exportState() };
      const poisoned = grads[2]!.slice();
      poisoned[130] = bad;
      e.write(g.grads, poisoned);
      g.opt.step();
      expect(await g.opt.readSkipped()).toBe(1);
      expect(Array.from(await e.readF32(g.params, N))).toEqual(Array.from(before.p));
      const after = await g.opt.exportState();
      expect(after.state).toEqual(before.s.state);
      expect(after.step).toBe(2);
      // The next finite step is step 3 on both sides.
      e.write(g.grads, grads[3]!);
      g.opt.step();
      cpu.step(p, grads[3]!);
      path.add(p);
      expect((await g.opt.exportState()).step).toBe(3);
      const mism = scaledMismatches(await e.readF32(g.params, N), p, path.length, 16);
      expect(mism, mism.slice(0, 6).join('\n')).toEqual([]);
      g.destroy();
    }
  });

  it('K steps in one command buffer equal one step per submit, bit for bit', async () => {
    const e = await gpu();
    const rand = rng();
    const { x0, grads } = inputs(rand, 5);
    const K = grads.length;
    const gradsAll = new Float32Array(K * N);
    grads.forEach((g, k) => gradsAll.set(g, k * N));
    const all = e.storage('test.grads_all', gradsAll);
    const results: Float32Array[] = [];
    for (const batched of [false, true]) {
      const g = await makeGpu(e, 'NAdam', {}, x0, { guard: true, ring: 8 });
      const encodeOne = (enc: GPUCommandEncoder, k: number) => {
        enc.copyBufferToBuffer(all, k * 4 * N, g.grads, 0, 4 * N);
        g.opt.encodeStep(enc, k === 2 ? [0.01, 0.001] : undefined);
      };
      if (batched) e.submit('K steps', (enc) => grads.forEach((_, k) => encodeOne(enc, k)));
      else grads.forEach((_, k) => e.submit(`step ${k}`, (enc) => encodeOne(enc, k)));
      results.push(await e.readF32(g.params, N));
      g.destroy();
    }
    expect(Array.from(results[1]!)).toEqual(Array.from(results[0]!));
    const g = await makeGpu(e, 'SGD', {}, x0, { ring: 2 });
    expect(() => e.submit('too many', (enc) => [0, 1, 2].forEach(() => g.opt.encodeStep(enc)))).toThrow(/more than 2 steps encoded in one command buffer/);
    g.destroy();
    all.destroy();
  });

  it('one dispatch per optimizer step for a model of several layers (two with gradient statistics)', async () => {
    const e = await gpu();
    const x0 = new Float32Array(N).fill(1);
    for (const [extra, perStep] of [[{}, 1], [{ guard: true }, 2], [{ clip: { value: 1 } }, 1]] as const) {
      const g = await makeGpu(e, 'Adam', {}, x0, extra);
      const before = e.dispatchCount;
      e.submit('3 steps', (enc) => [0, 1, 2].forEach(() => g.opt.encodeStep(enc)));
      expect(e.dispatchCount - before, JSON.stringify(extra)).toBe(3 * perStep);
      g.destroy();
    }
  });

  it('gradient-magnitude lr α_t = α_{t−1} / (1 + c·√‖g‖) is kept on the GPU and matches the host formula', async () => {
    const e = await gpu();
    const { x0, grads } = inputs(rng());
    const bad = await normedSgd(e, x0, grads, 0.5, { gradLr: { c: 0.3 } }, { stepLr: [123, 456], weightDecay: 0.1 }); // the control owns the rate
    expect(bad, bad.slice(0, 6).join('\n')).toEqual([]);
  });

  it('exported GPU state loads into the CPU optimizer and back', async () => {
    const e = await gpu();
    const rand = rng();
    const { x0, grads } = inputs(rand);
    const g = await makeGpu(e, 'ASGD', { t0: 1 }, x0);
    for (const k of [0, 1, 2]) {
      e.write(g.grads, grads[k]!);
      g.opt.step();
    }
    const saved = await g.opt.exportState();
    const cpu = new Optimizer('ASGD', { t0: 1 }, { n: N, groups: groupsFor('ASGD') });
    cpu.importState(saved);
    const p = await e.readF32(g.params, N);
    const h = await makeGpu(e, 'ASGD', { t0: 1 }, p);
    const path = new Path(p);
    h.opt.importState(saved);
    for (const k of [3, 4, 5]) {
      cpu.step(p, grads[k]!);
      path.add(p);
      e.write(h.grads, grads[k]!);
      h.opt.step();
    }
    const bad = scaledMismatches(await e.readF32(h.params, N), p, path.length, 12);
    expect(bad, bad.slice(0, 6).join('\n')).toEqual([]);
    g.destroy();
    h.destroy();
  });

  it('slot table names only state the rules have', () => {
    for (const name of OPTIMIZER_NAMES) {
      const all = new Set(RULES[name].slots(resolveHyperparams(RULES[name], HYPER[name][0]!)));
      for (const s of all) expect(GPU_SLOTS[name], `${name}.${s}`).toContain(s);
    }
  });
});
