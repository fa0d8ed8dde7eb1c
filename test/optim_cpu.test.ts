/**
 * CPU optimizer bookkeeping: hyperparameter validation and torch defaults, parameter groups, state export/import,
 * float32 vs float64 references, and `wgtrain trace` argument/spec errors. The update math itself is checked against
 * torch in trace_torch.test.ts.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runTrace, traceMain } from '../src/cli/trace.js';
import { OPTIMIZER_NAMES, Optimizer, RULES, resolveHyperparams, type FloatArray } from '../src/optim/index.js';
import { expectClose } from './helpers/compare.js';
import { rng, seedInfo } from './helpers/random.js';

/** Hyperparameters that switch on every state slot of a rule. */
const ALL_SLOTS: Record<string, Record<string, unknown>> = {
  SGD: { lr: 0.01, momentum: 0.9, weight_decay: 0.01 },
  Adagrad: { lr_decay: 0.01, initial_accumulator_value: 0.1 },
  RMSprop: { momentum: 0.9, centered: true },
  Adadelta: {},
  Adam: { amsgrad: true, weight_decay: 0.01 },
  AdamW: { amsgrad: true },
  Adamax: {},
  NAdam: { weight_decay: 0.01 },
  RAdam: { betas: [0.9, 0.9] },
  ASGD: { t0: 2 },
  Rprop: {},
};

function randomArrays(n: number, dtype: 'float32' | 'float64', rand: () => number, steps: number) {
  const make = (f: () => number): FloatArray => {
    const a = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) a[i] = f();
    return a;
  };
  const x0 = make(() => 4 * rand() - 2);
  const grads = Array.from({ length: steps }, () => make(() => (2 * rand() - 1) * 10 ** (3 * rand() - 2)));
  return { x0, grads };
}

describe('hyperparameters', () => {
  it('take torch defaults', () => {
    const d = (name: string) => resolveHyperparams(RULES[name as keyof typeof RULES], {});
    expect(d('Adam')).toEqual({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weight_decay: 0, amsgrad: false, maximize: false });
    expect(d('AdamW').weight_decay).toBe(1e-2);
    expect(d('Adagrad')).toMatchObject({ lr: 1e-2, eps: 1e-10, initial_accumulator_value: 0, lr_decay: 0 });
    expect(d('RMSprop')).toMatchObject({ lr: 1e-2, alpha: 0.99, eps: 1e-8, momentum: 0, centered: false });
    expect(d('Adadelta')).toMatchObject({ lr: 1, rho: 0.9, eps: 1e-6 });
    expect(d('Adamax')).toMatchObject({ lr: 2e-3 });
    expect(d('NAdam')).toMatchObject({ lr: 2e-3, momentum_decay: 4e-3 });
    expect(d('RAdam')).toMatchObject({ lr: 1e-3 });
    expect(d('ASGD')).toMatchObject({ lr: 1e-2, lambd: 1e-4, alpha: 0.75, t0: 1e6 });
    expect(d('Rprop')).toMatchObject({ lr: 1e-2, etas: [0.5, 1.2], step_sizes: [1e-6, 50] });
    expect(d('SGD')).toMatchObject({ lr: 1e-3, momentum: 0, dampening: 0, nesterov: false });
  });

  it('reject bad values with the field named', () => {
    const mk = (name: string, h: Record<string, unknown>) => () => new Optimizer(name, h, { n: 3 });
    expect(mk('Adam', { beta1: 0.9 })).toThrow(/hyperparams\.beta1: Adam has no hyperparameter "beta1".*betas/);
    expect(mk('Adam', { betas: [0.9] })).toThrow(/hyperparams\.betas must be a list of two/);
    expect(mk('Adam', { betas: [0.9, 1.0] })).toThrow(/hyperparams\.betas: betas must both be in \[0, 1\)/);
    expect(mk('Adam', { lr: -1 })).toThrow(/hyperparams\.lr: lr must be >= 0/);
    expect(mk('Adam', { lr: NaN })).toThrow(/hyperparams\.lr must be a finite number/);
    expect(mk('Adam', { amsgrad: 1 })).toThrow(/hyperparams\.amsgrad must be true or false/);
    expect(mk('SGD', { nesterov: true })).toThrow(/nesterov momentum requires a momentum > 0/);
    expect(mk('Rprop', { etas: [1.1, 1.2] })).toThrow(/hyperparams\.etas: .*0 < etaminus < 1 < etaplus/);
    expect(mk('adam', {})).toThrow(/unknown optimizer "adam" \(did you mean "Adam"/);
    expect(mk('Lion', {})).toThrow(/expected one of SGD, Adagrad/);
  });
});

describe('parameter groups', () => {
  it('each group updates like its own optimizer with its lr and weight_decay', () => {
    const rand = rng();
    for (const name of OPTIMIZER_NAMES) {
      for (const dtype of ['float32', 'float64'] as const) {
        const sizes = [37, 1, 130, 7];
        const n = sizes.reduce((a, b) => a + b, 0);
        const { x0, grads } = randomArrays(n, dtype, rand, 4);
        const hasWd = 'weight_decay' in resolveHyperparams(RULES[name], {});
        const groups = [
          { start: 0, end: 38, lr: 0.003 },
          { start: 38, end: n, lr: 0.02, ...(hasWd ? { weight_decay: 0.1 } : {}) },
        ];
        const whole = new Optimizer(name, ALL_SLOTS[name], { n, dtype, groups });
        const p = x0.slice();
        for (const g of grads) whole.step(p, g);
        for (const gr of groups) {
          const { start, end, ...over } = gr;
          const sep = new Optimizer(name, { ...ALL_SLOTS[name], ...over }, { n: end - start, dtype });
          const q = x0.slice(start, end) as FloatArray;
          for (const g of grads) sep.step(q, g.slice(start, end) as FloatArray);
          expect(Array.from(p.slice(start, end)), `${name} ${dtype} group [${start}, ${end})`).toEqual(Array.from(q));
        }
      }
    }
  });

  it('reject layouts that do not tile the buffer', () => {
    const mk = (groups: { start: number; end: number; [k: string]: number }[]) => () => new Optimizer('Adam', {}, { n: 10, groups });
    expect(mk([{ start: 0, end: 4 }, { start: 5, end: 10 }])).toThrow(/groups\[1\] starts at 5 but the previous group ends at 4/);
    expect(mk([{ start: 0, end: 4 }])).toThrow(/cover \[0, 4\) but there are n = 10/);
    expect(mk([{ start: 0, end: 10, momentum: 0.5 }])).toThrow(/groups\[0\]\.momentum: a group may only set/);
    expect(mk([{ start: 0, end: 10, lr: -1 }])).toThrow(/groups\[0\]\.lr: lr must be >= 0/);
    expect(() => new Optimizer('Rprop', {}, { n: 10, groups: [{ start: 0, end: 10, weight_decay: 0.1 }] })).toThrow(
      /groups\[0\]\.weight_decay: Rprop has no weight_decay/,
    );
  });
});

describe(`state export / import (${seedInfo()})`, () => {
  for (const name of OPTIMIZER_NAMES) {
    it(`${name}: a JSON round trip resumes bit-identically`, () => {
      const rand = rng();
      for (const dtype of ['float32', 'float64'] as const) {
        const n = 33;
        const { x0, grads } = randomArrays(n, dtype, rand, 6);
        const groups = [{ start: 0, end: 7, lr: 0.004 }, { start: 7, end: n }];
        const a = new Optimizer(name, ALL_SLOTS[name], { n, dtype, groups });
        const pa = x0.slice();
        for (const g of grads.slice(0, 3)) a.step(pa, g);
        const saved = JSON.parse(JSON.stringify(a.exportState()));
        expect(saved.step).toBe(3);
        expect(Object.keys(saved.state).sort()).toEqual(
          [...a.rule.slots(a.hyperparams), ...Object.keys(a.rule.scalars?.(a.hyperparams) ?? {})].sort(),
        );
        const b = new Optimizer(name, ALL_SLOTS[name], { n, dtype, groups: [{ start: 0, end: 7 }, { start: 7, end: n }] });
        b.importState(saved);
        expect(b.groups[0]!.h.lr).toBe(0.004);
        const pb = pa.slice();
        for (const g of grads.slice(3)) {
          a.step(pa, g);
          b.step(pb, g);
        }
        expect(Array.from(pb)).toEqual(Array.from(pa));
        expect(b.exportState()).toEqual(a.exportState());
      }
    });
  }

  it('rejects state that does not fit, changing nothing', () => {
    const a = new Optimizer('Adam', { amsgrad: true }, { n: 5 });
    a.step(new Float32Array(5).fill(1), new Float32Array(5).fill(0.5));
    const saved = a.exportState();
    const plain = new Optimizer('Adam', {}, { n: 5 });
    expect(() => plain.importState(saved)).toThrow(/holds \[exp_avg, exp_avg_sq, max_exp_avg_sq\] but this Adam needs \[exp_avg, exp_avg_sq\]/);
    expect(() => new Optimizer('AdamW', { amsgrad: true }, { n: 5 }).importState(saved)).toThrow(/saved by Adam, cannot load into AdamW/);
    expect(() => new Optimizer('Adam', { amsgrad: true }, { n: 6 }).importState(saved)).toThrow(/n is 5, this optimizer has n = 6/);
    const bad = structuredClone(saved);
    bad.state.exp_avg![2] = NaN;
    const c = new Optimizer('Adam', { amsgrad: true }, { n: 5 });
    expect(() => c.importState(bad)).toThrow(/state\.exp_avg\[2\] must be a finite number/);
    expect(c.stepCount).toBe(0);
    expect(Array.from(c.slots.exp_avg!)).toEqual([0, 0, 0, 0, 0]);
  });
});

describe(`float32 reference tracks float64 on well-conditioned inputs (${seedInfo()})`, () => {
  for (const name of OPTIMIZER_NAMES) {
    it(name, () => {
      const rand = rng();
      const n = 130;
      const { x0, grads } = randomArrays(n, 'float64', rand, 5);
      // Gradients of moderate size with a fixed sign per element: no cancellation, so float32 stays close.
      for (const g of grads) for (let i = 0; i < n; i++) g[i] = (i % 2 ? 1 : -1) * (0.5 + Math.abs(g[i]!) % 1);
      const p64 = Float64Array.from(x0, Math.fround);
      const p32 = Float32Array.from(p64);
      const o64 = new Optimizer(name, ALL_SLOTS[name], { n, dtype: 'float64' });
      const o32 = new Optimizer(name, ALL_SLOTS[name], { n, dtype: 'float32' });
      for (const g of grads) {
        o64.step(p64, Float64Array.from(g, Math.fround));
        o32.step(p32, Float32Array.from(g));
      }
      const maxMoved = Math.max(...Array.from(p64, (v, i) => Math.abs(v - Math.fround(x0[i]!))));
      // 1e-6 of the largest distance moved, plus the float32 rounding of the stored value (half an ulp each): twice
      // per step at most (AdamW shrinks then steps; NAdam and ASGD add two terms), and once for x0.
      expectClose(p32, p64, { atol: 1e-6 * maxMoved, rtol: (2 * grads.length + 1) * 2 ** -24 }, `${name} float32 vs float64`);
    });
  }
});

describe('wgtrain trace', () => {
  const spec = { optimizer: 'Adam', hyperparams: { lr: 0.01 }, dtype: 'float64', x0: [1, 2, 3], grads: [[0.1, 0.2, 0.3], [0, -1, 2]] };

  it('returns the documented shape', async () => {
    const out = await runTrace(spec);
    expect(Object.keys(out).sort()).toEqual(['device', 'dtype', 'final_state', 'optimizer', 'params_after_each_step']);
    expect(out.device).toBe('cpu');
    expect(out.params_after_each_step).toHaveLength(2);
    expect(out.final_state.step).toEqual([2]);
    expect(out.final_state.exp_avg).toHaveLength(3);
  });

  it('rejects bad specs naming the field', async () => {
    const bad = async (patch: Record<string, unknown>, device: 'cpu' | 'gpu' = 'cpu') => runTrace({ ...spec, ...patch }, { device });
    await expect(bad({ optimizer: 'Adamm' })).rejects.toThrow(/optimizer: unknown optimizer "Adamm"/);
    await expect(bad({ hyperparams: { lr: 0.1, foo: 1 } })).rejects.toThrow(/hyperparams\.foo: Adam has no hyperparameter/);
    await expect(bad({ hyperparams: [1] })).rejects.toThrow(/hyperparams must be an object/);
    await expect(bad({ dtype: 'float16' })).rejects.toThrow(/dtype must be "float32" or "float64"/);
    await expect(bad({ x0: [1, 'a', 3] })).rejects.toThrow(/x0\[1\] must be a finite number/);
    await expect(bad({ x0: [] })).rejects.toThrow(/x0 must hold at least one number/);
    await expect(bad({ grads: [[1, 2, 3], [1, 2]] })).rejects.toThrow(/grads\[1\] has 2 numbers but x0 has n = 3/);
    await expect(bad({ grads: [[1, Infinity, 3]] })).rejects.toThrow(/grads\[0\]\[1\] must be a finite number/);
    await expect(bad({ grads: 5 })).rejects.toThrow(/grads must be a list/);
    await expect(bad({}, 'gpu')).rejects.toThrow(/dtype: the GPU computes in float32 only/);
  });

  it('traceMain reads --spec and writes --out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgtrain-trace-'));
    writeFileSync(join(dir, 'spec.json'), JSON.stringify(spec));
    expect(await traceMain(['--spec', join(dir, 'spec.json'), '--out', join(dir, 'out.json'), '--device=cpu'])).toBe(0);
    const out = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(out).toEqual(await runTrace(spec));
    expect(await traceMain(['--spec'])).toBe(2);
    expect(await traceMain(['--bogus', 'x'])).toBe(2);
    expect(await traceMain([])).toBe(2);
    expect(await traceMain(['--spec', join(dir, 'missing.json')])).toBe(1);
  });
});
