/**
 * Every closed-form schedule against its formula in float64: a second, independently written form of the formula
 * (torch's recursive update, or the textbook form) over a range of t, plus hand-computed values at the boundaries.
 * The feedback schedules (plateau, gradient magnitude) are checked step by step against their update rules.
 */
import { describe, expect, it } from 'vitest';
import {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  ExponentialLR,
  FixedLR,
  GradMagnitudeLR,
  gradMagnitudeControl,
  gradMagnitudeLr,
  InverseTimeLR,
  LinearLR,
  LinearWarmup,
  MultiStepLR,
  OneCycleLR,
  PolynomialLR,
  ReduceLROnPlateau,
  ScheduleError,
  StepLR,
  type Schedule,
} from '../src/schedule/index.js';

/** |got − ref| <= atol + rtol·|ref| at every t; NaN never passes; the first mismatches are printed. */
function expectClose(label: string, got: number[], ref: number[], atol = 0, rtol = 1e-12): void {
  expect(got.length, `${label}: length`).toBe(ref.length);
  const bad: string[] = [];
  for (let t = 0; t < ref.length; t++) {
    const g = got[t]!;
    const r = ref[t]!;
    if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) bad.push(`t=${t}: got ${g}, ref ${r}, |diff| ${Math.abs(g - r)}`);
  }
  if (bad.length) console.error(`${label}: ${bad.length} mismatches (atol ${atol}, rtol ${rtol})\n${bad.slice(0, 8).join('\n')}`);
  expect(bad.slice(0, 8), `${label}: mismatches`).toEqual([]);
}

/** The rates a training loop would see: lr before each of n steps, then after the last. */
function stepped(s: Schedule, n: number): number[] {
  const out = [s.lr];
  for (let i = 0; i < n; i++) out.push(s.step());
  return out;
}

/** lrAt over t = 0..n; must agree exactly with stepping. */
function closed(s: Schedule, n: number): number[] {
  const out = Array.from({ length: n + 1 }, (_, t) => s.lrAt(t));
  expect(stepped(s, n), `${s.name}: lr while stepping equals lrAt(t)`).toEqual(out);
  return out;
}

/** ref[t] from a recursion ref[t] = next(ref[t−1], t), the way torch's chainable schedulers compute it. */
function recurse(first: number, n: number, next: (prev: number, t: number) => number): number[] {
  const out = [first];
  for (let t = 1; t <= n; t++) out.push(next(out[t - 1]!, t));
  return out;
}

describe('closed-form schedules against their formulas (float64)', () => {
  it('constant', () => {
    const s = new FixedLR({ lr: 0.03 });
    expectClose('constant', closed(s, 20), Array(21).fill(0.03), 0, 0);
    expect(s.lrAt(1e9)).toBe(0.03);
  });

  it('step: α₀·γ^⌊t/step_size⌋, decays exactly at multiples of step_size', () => {
    const s = new StepLR({ lr: 0.1, step_size: 3, gamma: 0.5 });
    expectClose('step', closed(s, 40), recurse(0.1, 40, (p, t) => (t % 3 === 0 ? p * 0.5 : p)));
    expect([0, 2, 3, 5, 6].map((t) => s.lrAt(t))).toEqual([0.1, 0.1, 0.05, 0.05, 0.025]);
    expect(new StepLR({ lr: 1, step_size: 1 }).lrAt(2)).toBeCloseTo(0.01, 15); // torch's default γ = 0.1
  });

  it('multistep: γ once per milestone passed, milestone 0 included', () => {
    const milestones = [0, 4, 5, 11];
    const s = new MultiStepLR({ lr: 0.2, milestones, gamma: 0.3 });
    expectClose('multistep', closed(s, 20), recurse(0.2 * 0.3, 20, (p, t) => (milestones.includes(t) ? p * 0.3 : p)));
    expectClose('multistep boundaries', [3, 4, 10, 11].map((t) => s.lrAt(t)), [0.06, 0.018, 0.2 * 0.3 ** 3, 0.2 * 0.3 ** 4]);
  });

  it('exponential: α ← γ·α every step', () => {
    const s = new ExponentialLR({ lr: 0.5, gamma: 0.97 });
    expectClose('exp', closed(s, 200), recurse(0.5, 200, (p) => p * 0.97), 0, 1e-12);
    expect(s.lrAt(0)).toBe(0.5);
  });

  it('inverse time: α₀ / (1 + d·t)', () => {
    const s = new InverseTimeLR({ lr: 0.4, decay: 0.5 });
    expectClose('invtime', closed(s, 30), Array.from({ length: 31 }, (_, t) => 0.4 / (1 + 0.5 * t)));
    expectClose('invtime spots', [0, 2, 6].map((t) => s.lrAt(t)), [0.4, 0.2, 0.1]);
  });

  it('linear: (1 − t/τ)·α_start + (t/τ)·α_τ, then α_τ', () => {
    const [a0, s0, e0, tau] = [0.2, 1, 0.05, 8];
    const s = new LinearLR({ lr: a0, start_factor: s0, end_factor: e0, total_iters: tau });
    const ref = Array.from({ length: 21 }, (_, t) => (t <= tau ? (1 - t / tau) * s0 * a0 + (t / tau) * e0 * a0 : e0 * a0));
    expectClose('linear', closed(s, 20), ref, 1e-17);
    // torch's defaults: s = 1/3, e = 1, τ = 5.
    const d = new LinearLR({ lr: 0.3 });
    expectClose('linear defaults', [0, 5, 9].map((t) => d.lrAt(t)), [0.1, 0.3, 0.3], 1e-17);
  });

  it("polynomial: α₀·(1 − min(t,τ)/τ)^p, zero from τ on", () => {
    const s = new PolynomialLR({ lr: 0.1, total_iters: 10, power: 2 });
    const ref = recurse(0.1, 15, (p, t) => (t > 10 ? p : p * ((1 - t / 10) / (1 - (t - 1) / 10)) ** 2));
    expectClose('poly', closed(s, 15), ref, 1e-17);
    expect(s.lrAt(10)).toBe(0);
    expect(s.lrAt(5)).toBeCloseTo(0.025, 15);
  });

  it("cosine: η_min + (α₀ − η_min)(1 + cos(πt/T_max))/2, rising again past T_max as torch's", () => {
    const [a0, min, T] = [0.1, 0.001, 20];
    const s = new CosineAnnealingLR({ lr: a0, T_max: T, eta_min: min });
    // torch's recursive CosineAnnealingLR.get_lr, including its special case at T_cur = (2k+1)·T_max.
    const ref = recurse(a0, 3 * T, (p, t) =>
      (t - 1 - T) % (2 * T) === 0
        ? p + ((a0 - min) * (1 - Math.cos(Math.PI / T))) / 2
        : ((1 + Math.cos((Math.PI * t) / T)) / (1 + Math.cos((Math.PI * (t - 1)) / T))) * (p - min) + min,
    );
    expectClose('cosine', closed(s, 3 * T), ref, 1e-15, 1e-10);
    expectClose('cosine spots', [0, 10, 20, 40].map((t) => s.lrAt(t)), [a0, (a0 + min) / 2, min, a0], 1e-17);
  });

  it('cosine with warm restarts: T_cur, T_i as torch steps them; restarts at 5, 15, 35 for T_0=5, T_mult=2', () => {
    const [a0, min] = [0.1, 0.01];
    for (const [T0, mult] of [[5, 2], [7, 1], [3, 3]] as const) {
      const s = new CosineAnnealingWarmRestarts({ lr: a0, T_0: T0, T_mult: mult, eta_min: min });
      // torch's step(): T_cur += 1; on reaching T_i, subtract it and grow T_i.
      const ref: number[] = [];
      let [Tcur, Ti]: number[] = [0, T0];
      for (let t = 0; t <= 90; t++) {
        ref.push(min + ((a0 - min) * (1 + Math.cos((Math.PI * Tcur) / Ti))) / 2);
        Tcur += 1;
        if (Tcur >= Ti) [Tcur, Ti] = [Tcur - Ti, Ti * mult];
      }
      expectClose(`sgdr T_0=${T0} T_mult=${mult}`, closed(s, 90), ref, 1e-17);
    }
    const s = new CosineAnnealingWarmRestarts({ lr: a0, T_0: 5, T_mult: 2, eta_min: min });
    expect([5, 15, 35, 75].map((t) => s.lrAt(t))).toEqual([a0, a0, a0, a0]);
    expect(s.cycleAt(14)).toEqual({ T_cur: 9, T_i: 10 });
    expect(s.lrAt(2.5)).toBeCloseTo(min + (a0 - min) / 2, 15); // fractional epochs, as torch's step(epoch)
  });

  it('one-cycle, two phases, cos: α_max/div → α_max at pT−1 → α_max/div/final_div at T−1', () => {
    const s = new OneCycleLR({ max_lr: 1, total_steps: 100, pct_start: 0.3 });
    const init = 1 / 25;
    const min = init / 1e4;
    const cos = (a: number, b: number, p: number) => b + ((a - b) * (1 + Math.cos(Math.PI * p))) / 2;
    const ref = Array.from({ length: 101 }, (_, t) => (t <= 29 ? cos(init, 1, t / 29) : cos(1, min, (t - 29) / (99 - 29))));
    expectClose('onecycle', closed(s, 100), ref, 1e-17);
    expectClose('onecycle spots', [0, 29, 99].map((t) => s.lrAt(t)), [init, 1, min], 1e-17);
    // momentum runs the other way: max_momentum → base_momentum at the peak → max_momentum.
    expectClose('onecycle momentum', [0, 29, 99].map((t) => s.momentumAt(t)!), [0.95, 0.85, 0.95], 1e-17);
    expect(() => s.lrAt(101)).toThrow(/t = 101 is past the end of the cycle \(total_steps = 100\)/);
  });

  it('one-cycle, three phases, linear; stepping past total_steps throws and leaves t alone', () => {
    const s = new OneCycleLR({ max_lr: 0.2, total_steps: 40, pct_start: 0.25, anneal_strategy: 'linear', three_phase: true, div_factor: 10, final_div_factor: 100 });
    const [init, max, min] = [0.02, 0.2, 0.0002];
    const lin = (a: number, b: number, p: number) => a + (b - a) * p;
    const ref = Array.from({ length: 41 }, (_, t) =>
      t <= 9 ? lin(init, max, t / 9) : t <= 18 ? lin(max, init, (t - 9) / 9) : lin(init, min, (t - 18) / (39 - 18)),
    );
    expectClose('onecycle three-phase', closed(s, 40), ref, 1e-17);
    expectClose('onecycle three-phase spots', [0, 9, 18, 39].map((t) => s.lrAt(t)), [init, max, init, min], 1e-17);
    expect(s.t).toBe(40);
    expect(() => s.step()).toThrow(ScheduleError);
    expect(s.t).toBe(40);
    expect(new OneCycleLR({ max_lr: 1, epochs: 4, steps_per_epoch: 25, cycle_momentum: false }).momentumAt(3)).toBeNull();
  });

  it('warm-up + cosine: linear ramp to the cosine\'s first rate, then the cosine from its own t = 0', () => {
    const [W, sf] = [10, 0.1];
    const cos = new CosineAnnealingLR({ lr: 0.1, T_max: 50, eta_min: 1e-4 });
    const ref = Array.from({ length: 71 }, (_, t) => (t < W ? 0.1 * (sf + ((1 - sf) * t) / W) : cos.lrAt(t - W)));
    const s = new LinearWarmup({ total_iters: W, start_factor: sf, then: new CosineAnnealingLR({ lr: 0.1, T_max: 50, eta_min: 1e-4 }) });
    expectClose('warmup+cosine', closed(s, 70), ref, 1e-17);
    expectClose('warmup spots', [0, W - 1, W, W + 50].map((t) => s.lrAt(t)), [0.01, 0.1 * (sf + (1 - sf) * 0.9), 0.1, 1e-4], 1e-17);
    expect(s.inner.t).toBe(60); // the cosine was stepped only after the ramp
    // W = 0 is the wrapped schedule unchanged.
    const none = new LinearWarmup({ total_iters: 0, then: new ExponentialLR({ lr: 1, gamma: 0.5 }) });
    expect(stepped(none, 3)).toEqual([1, 0.5, 0.25, 0.125]);
  });

  it('warm-up ramps to a one-cycle\'s first rate, not its peak', () => {
    const s = new LinearWarmup({ total_iters: 4, start_factor: 0, then: new OneCycleLR({ max_lr: 1, total_steps: 20 }) });
    expectClose('warmup+onecycle', [0, 2, 4].map((t) => s.lrAt(t)), [0, 0.02, 0.04], 1e-17);
  });
});

describe('feedback schedules', () => {
  it('gradient magnitude: α_{t+1} = α_t / (1 + c·√|g_t|), float64 and float32', () => {
    const s = new GradMagnitudeLR({ lr: 0.1, c: 0.05 });
    expect(s.needs).toBe('gradNorm');
    expect(s.closedForm).toBe(false);
    const norms = [0, 1, 4, 0.25, 100, 1e-8, 3.3, 17];
    let ref = 0.1;
    const got = [s.lr];
    const want = [ref];
    for (const g of norms) {
      got.push(s.step({ gradNorm: g }));
      ref = ref / (1 + 0.05 * Math.sqrt(g));
      want.push(ref);
    }
    expectClose('gradmag', got, want, 0, 1e-15);
    expect(gradMagnitudeLr(0.3, 0.5, 4)).toBeCloseTo(0.15, 15);
    // float32: every intermediate rounded, as the kernel computes it in f32.
    const f = Math.fround;
    for (const [lr, c, g] of [[0.1, 0.05, 3.3], [1e-3, 0.7, 1e4], [0.37, 1e-3, 0.123]] as const) {
      const r32 = f(f(lr) / f(1 + f(f(c) * f(Math.sqrt(f(g))))));
      expect(gradMagnitudeLr(lr, c, g, 'float32')).toBe(r32);
      expectClose('gradmag f32 vs f64', [gradMagnitudeLr(lr, c, g, 'float32')], [gradMagnitudeLr(lr, c, g)], 0, 3e-7);
    }
    expect(() => s.step()).toThrow(/needs \{ gradNorm \}/);
    expect(() => s.step({ gradNorm: NaN })).toThrow(/gradNorm = NaN/);
    expect(() => s.lrAt(3)).toThrow(/no closed form/);
  });

  it('gradient magnitude is found behind a warm-up only once the ramp has handed over', () => {
    const g = new GradMagnitudeLR({ lr: 0.1, c: 0.1 });
    const s = new LinearWarmup({ total_iters: 2, then: g });
    expect(s.needs).toBe('gradNorm');
    expect(gradMagnitudeControl(s)).toBeNull();
    s.step({ gradNorm: 100 }); // ignored during the ramp
    s.step({ gradNorm: 100 });
    expect(s.lr).toBe(0.1);
    expect(gradMagnitudeControl(s)).toBe(g);
    expect(s.step({ gradNorm: 4 })).toBeCloseTo(0.1 / 1.2, 15);
    g.adopt(0.05, 7);
    expect([g.lr, g.t]).toEqual([0.05, 7]);
  });

  it('plateau: torch semantics with threshold (rel), patience, cooldown, min_lr floor and eps', () => {
    const s = new ReduceLROnPlateau({ lr: 1, factor: 0.5, patience: 1, threshold: 0.1, cooldown: 2, min_lr: 0.2, eps: 1e-8 });
    expect(s.unit).toBe('epoch');
    // Each row: metric, then the expected [lr, best, bad epochs, cooldown counter] after the step.
    const rows: [number, number, number, number, number][] = [
      [10, 1, 10, 0, 0], // first metric always improves on +∞
      [9.5, 1, 10, 1, 0], // not below 10·(1 − 0.1) = 9: bad
      [9.2, 0.5, 10, 0, 2], // second bad epoch > patience 1: halve, start cooldown
      [9.1, 0.5, 10, 0, 1], // bad, but cooldown swallows it
      [9.0, 0.5, 10, 0, 0], // 9.0 is not < 9.0: bad, swallowed; cooldown ends
      [8.9, 0.5, 8.9, 0, 0], // improves
      [8.9, 0.5, 8.9, 1, 0],
      [8.9, 0.25, 8.9, 0, 2],
      [8.9, 0.25, 8.9, 0, 1],
      [8.9, 0.25, 8.9, 0, 0],
      [8.9, 0.25, 8.9, 1, 0],
      [8.9, 0.2, 8.9, 0, 2], // 0.125 floored at min_lr 0.2
      [8.9, 0.2, 8.9, 0, 1],
      [8.9, 0.2, 8.9, 0, 0],
      [8.9, 0.2, 8.9, 1, 0],
      [8.9, 0.2, 8.9, 0, 2], // at the floor: max(0.1, 0.2) = 0.2, no change, but cooldown restarts
      [NaN, 0.2, 8.9, 0, 1], // NaN is never better (torch)
    ];
    rows.forEach(([metric, lr, best, bad, cd], i) => {
      s.step({ metric });
      expect([s.lr, s.best, s.numBadEpochs, s.cooldownCounter], `after epoch ${i} (metric ${metric})`).toEqual([lr, best, bad, cd]);
    });
    expect(s.t).toBe(rows.length);
    expect(() => s.step()).toThrow(/needs \{ metric \}/);
  });

  it("plateau: mode 'max' with an absolute threshold; eps ignores reductions smaller than it", () => {
    const s = new ReduceLROnPlateau({ lr: 0.01, mode: 'max', threshold_mode: 'abs', threshold: 0.05, patience: 0, factor: 0.5, eps: 0.003 });
    const lrs = [0.1, 0.16, 0.2, 0.2, 0.2, 0.2].map((metric) => s.step({ metric }));
    // 0.16 > 0.1 + 0.05 improves; 0.2 < 0.16 + 0.05 does not: patience 0 halves at once; 0.005 → 0.0025 is < eps.
    expect(lrs).toEqual([0.01, 0.01, 0.005, 0.005, 0.005, 0.005]);
  });
});

describe('argument checks', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['step_size 0', () => new StepLR({ lr: 0.1, step_size: 0 }), /StepLR: step_size must be a positive integer, got 0/],
    ['step_size 2.5', () => new StepLR({ lr: 0.1, step_size: 2.5 }), /step_size must be a positive integer, got 2.5/],
    ['negative lr', () => new ExponentialLR({ lr: -1, gamma: 0.9 }), /ExponentialLR: lr must be a finite number >= 0, got -1/],
    ['gamma missing', () => new ExponentialLR({ lr: 1 } as never), /gamma must be a finite number > 0, got undefined/],
    ['milestones unsorted', () => new MultiStepLR({ lr: 1, milestones: [5, 3] }), /strictly increasing.*milestones\[1\] = 3/],
    ['milestones empty', () => new MultiStepLR({ lr: 1, milestones: [] }), /non-empty list/],
    ['start_factor > 1', () => new LinearLR({ lr: 1, start_factor: 1.5 }), /start_factor must be in \[0, 1\], got 1.5/],
    ['power 0', () => new PolynomialLR({ lr: 1, power: 0 }), /power must be a finite number > 0/],
    ['T_max 0', () => new CosineAnnealingLR({ lr: 1, T_max: 0 }), /T_max must be a finite number > 0, got 0/],
    ['T_mult 0', () => new CosineAnnealingWarmRestarts({ lr: 1, T_0: 3, T_mult: 0 }), /T_mult must be a positive integer, got 0/],
    ['T_0 1.5', () => new CosineAnnealingWarmRestarts({ lr: 1, T_0: 1.5 }), /T_0 must be a positive integer, got 1.5/],
    ['onecycle no length', () => new OneCycleLR({ max_lr: 1 }), /give total_steps, or epochs and steps_per_epoch/],
    ['onecycle pct 1.2', () => new OneCycleLR({ max_lr: 1, total_steps: 10, pct_start: 1.2 }), /pct_start must be in \[0, 1\], got 1.2/],
    ['onecycle zero phase', () => new OneCycleLR({ max_lr: 1, total_steps: 10, pct_start: 0.1 }), /rising phase has zero length/],
    ['onecycle pct 1', () => new OneCycleLR({ max_lr: 1, total_steps: 10, pct_start: 1 }), /phase 2 .* pct_start must be < 1/],
    ['onecycle 3-phase', () => new OneCycleLR({ max_lr: 1, total_steps: 10, pct_start: 0.6, three_phase: true }), /three_phase needs 1 < pct_start \* total_steps < \(total_steps \+ 1\) \/ 2/],
    ['onecycle anneal', () => new OneCycleLR({ max_lr: 1, total_steps: 10, anneal_strategy: 'cosine' as never }), /anneal_strategy must be one of 'cos', 'linear', got "cosine"/],
    ['plateau factor 1', () => new ReduceLROnPlateau({ lr: 1, factor: 1 }), /factor must be in \(0, 1\), got 1/],
    ['plateau mode', () => new ReduceLROnPlateau({ lr: 1, mode: 'down' as never }), /mode must be one of 'min', 'max', got "down"/],
    ['plateau rel threshold 1', () => new ReduceLROnPlateau({ lr: 1, threshold: 1 }), /threshold must be in \[0, 1\), got 1/],
    ['warmup of a stepped schedule', () => {
      const c = new ExponentialLR({ lr: 1, gamma: 0.5 });
      c.step();
      return new LinearWarmup({ total_iters: 3, then: c });
    }, /already taken 1 steps; wrap a fresh schedule/],
    ['lrAt(-1)', () => new FixedLR({ lr: 1 }).lrAt(-1), /t must be a finite number >= 0, got -1/],
    ['unit', () => new FixedLR({ lr: 1, unit: 'batch' as never }), /unit must be 'step' or 'epoch', got "batch"/],
  ];
  it.each(cases)('%s', (_label, make, message) => {
    expect(make).toThrow(ScheduleError);
    expect(make).toThrow(message);
  });
});
