/**
 * Checkpoints: a schedule saved mid-run (through JSON, as a checkpoint file holds it) and resumed, either by
 * `restoreSchedule(state)` or by `load(state)` into a freshly built twin, must produce exactly the rates the
 * uninterrupted run produces. Loading into a differently configured schedule must fail and name the field.
 */
import { describe, expect, it } from 'vitest';
import {
  ReduceLROnPlateau,
  restoreSchedule,
  ScheduleError,
  scheduleFromSpec,
  type Schedule,
  type ScheduleState,
  type StepFeed,
} from '../src/schedule/index.js';

/** A deterministic feed for step i: a noisy, slowly improving metric and a varying gradient norm. */
function feed(i: number): StepFeed {
  return { metric: 1 + 0.5 * Math.cos(i * 1.7) + 10 / (i + 1) - Math.floor(i / 9) * 0.3, gradNorm: 0.5 + (i % 5) * 0.8 };
}

function run(s: Schedule, from: number, n: number): number[] {
  const out: number[] = [];
  for (let i = from; i < from + n; i++) out.push(s.step(feed(i)));
  return out;
}

const LR = 0.1;
const SPECS = [
  'constant',
  'step:size=4,gamma=0.5',
  'multistep:milestones=3/8/20,gamma=0.2',
  'exp:gamma=0.95',
  'invtime:decay=0.1',
  'linear:start=1,end=0.1,iters=12',
  'poly:iters=30,power=2',
  'cosine:T=17,min=1e-4',
  'sgdr:T=3,mult=2,min=1e-3',
  'warmup:7,start=0.05+cosine:T=25',
  'warmup:5+warmup:3+step:size=2',
  'onecycle:total=60,three_phase=true,pct=0.3',
  'plateau:factor=0.5,patience=1,cooldown=2,threshold=0.01',
  'plateau:mode=max,threshold_mode=abs,threshold=0.2,patience=0,per=step',
  'gradmag:c=0.05',
  'warmup:4+plateau:patience=0,factor=0.7',
  'warmup:6+gradmag:c=0.2',
];

describe('state round trip', () => {
  // Every save point 0..25, so saves land inside warm-ups, cooldowns, bad-epoch streaks and between restarts.
  it.each(SPECS)('%s saved after any step resumes identically', (spec) => {
    const reference = scheduleFromSpec(spec, { lr: LR });
    const straight = [reference.lr, ...run(reference, 0, 40)];
    for (let saveAt = 0; saveAt <= 25; saveAt++) {
      const first = scheduleFromSpec(spec, { lr: LR });
      const before = [first.lr, ...run(first, 0, saveAt)];
      const saved = JSON.parse(JSON.stringify(first.state())) as ScheduleState;
      expect(saved.t).toBe(saveAt);

      const restored = restoreSchedule(saved);
      const twin = scheduleFromSpec(spec, { lr: LR });
      twin.load(saved);
      for (const resumed of [restored, twin]) {
        expect(resumed.t).toBe(saveAt);
        const after = [resumed.lr, ...run(resumed, saveAt, 40 - saveAt)];
        // Bit-identical, not merely close: a resumed run must not drift from an uninterrupted one.
        expect([...before.slice(0, -1), ...after], `${spec} saved at t = ${saveAt}`).toEqual(straight);
        expect(resumed.state()).toEqual(reference.state());
      }
    }
  });

  it('the plateau runs above pass through cooldowns and bad-epoch streaks (so their round trips test them)', () => {
    const s = scheduleFromSpec(SPECS[12]!, { lr: LR });
    const seen = { cooldown: 0, bad: 0, reductions: 0 };
    for (let i = 0; i < 25; i++) {
      const lr = s.lr;
      s.step(feed(i));
      const st = s.state();
      if ((st.cooldown_counter as number) > 0) seen.cooldown++;
      if ((st.num_bad_epochs as number) > 0) seen.bad++;
      if (s.lr < lr) seen.reductions++;
    }
    expect(seen.cooldown).toBeGreaterThan(0);
    expect(seen.bad).toBeGreaterThan(0);
    expect(seen.reductions).toBeGreaterThan(1);
  });

  it('plateau keeps best = +∞ through JSON before its first metric, and the counters after', () => {
    const s = new ReduceLROnPlateau({ lr: 1, patience: 3, cooldown: 4 });
    const fresh = JSON.parse(JSON.stringify(s.state())) as ScheduleState;
    expect(fresh.best).toBe('Infinity');
    const r = restoreSchedule(fresh) as ReduceLROnPlateau;
    expect(r.best).toBe(Infinity);
    for (const m of [5, 6, 6, 6, 6, 6]) s.step({ metric: m });
    const mid = s.state();
    expect([mid.lr, mid.best, mid.num_bad_epochs, mid.cooldown_counter]).toEqual([0.1, 5, 0, 3]);
  });

  it('load refuses a state from a differently configured schedule, naming the field', () => {
    const a = scheduleFromSpec('warmup:10+cosine:T=1000,min=1e-5', { lr: LR });
    a.step();
    const other = scheduleFromSpec('warmup:10+cosine:T=500,min=1e-5', { lr: LR });
    expect(() => other.load(a.state())).toThrow(ScheduleError);
    expect(() => other.load(a.state())).toThrow(/config\.then\.T_max: saved 1000, this schedule 500/);
    expect(() => scheduleFromSpec('exp:0.9', { lr: LR }).load(a.state())).toThrow(/config\.name: saved "warmup", this schedule "exp"/);
    expect(other.t).toBe(0);
  });

  it('load refuses malformed states without changing the schedule', () => {
    const s = scheduleFromSpec('warmup:3+plateau', { lr: LR });
    const good = s.state();
    expect(() => s.load({ ...good, t: -1 })).toThrow(/state\.t must be an integer >= 0, got -1/);
    expect(() => s.load({ ...good, t: 5 })).toThrow(/state\.inner must be the wrapped schedule's state with t = 2/);
    const p = scheduleFromSpec('plateau', { lr: LR });
    expect(() => p.load({ ...p.state(), best: 'lots' })).toThrow(/state\.best must be a number, got "lots"/);
    expect(() => p.load({ ...p.state(), num_bad_epochs: 1.5 })).toThrow(/state\.num_bad_epochs must be an integer >= 0/);
    expect(() => restoreSchedule({} as ScheduleState)).toThrow(/needs an object from schedule\.state\(\)/);
    expect([s.t, p.t, p.lr]).toEqual([0, 0, LR]);
  });
});
