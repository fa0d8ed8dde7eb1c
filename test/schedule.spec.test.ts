/**
 * The CLI spec form: what each string parses to, that the built schedules carry those arguments, and that every
 * kind of mistake is refused with a message naming the schedule and the field.
 */
import { describe, expect, it } from 'vitest';
import {
  CosineAnnealingLR,
  LinearWarmup,
  OneCycleLR,
  parseSpec,
  ReduceLROnPlateau,
  ScheduleError,
  scheduleFromSpec,
  specHelp,
  StepLR,
} from '../src/schedule/index.js';

describe('parseSpec', () => {
  const cases: [string, object][] = [
    ['cosine:T=1000,min=1e-5', { name: 'cosine', T_max: 1000, eta_min: 1e-5 }],
    ['cosine:T_max=1000,eta_min=1e-5', { name: 'cosine', T_max: 1000, eta_min: 1e-5 }],
    ['warmup:100+step:size=1000,gamma=0.5', { name: 'warmup', total_iters: 100, then: { name: 'step', step_size: 1000, gamma: 0.5 } }],
    ['plateau:factor=0.5,patience=3', { name: 'plateau', factor: 0.5, patience: 3 }],
    ['exp:gamma=0.999', { name: 'exp', gamma: 0.999 }],
    ['exponential:0.999', { name: 'exp', gamma: 0.999 }],
    ['invtime:decay=0.01', { name: 'invtime', decay: 0.01 }],
    ['multistep:milestones=30/80', { name: 'multistep', milestones: [30, 80] }],
    ['onecycle:max=0.1,total=500,anneal=linear,three_phase=1', { name: 'onecycle', max_lr: 0.1, total_steps: 500, anneal_strategy: 'linear', three_phase: true }],
    [' constant ', { name: 'constant' }],
    ['sgdr:T=10,mult=2,per=epoch', { name: 'sgdr', T_0: 10, T_mult: 2, unit: 'epoch' }],
    ['gradmag:0.01', { name: 'gradmag', c: 0.01 }],
    ['warmup:iters=5,start=0.1 + poly:iters=50,power=2', { name: 'warmup', total_iters: 5, start_factor: 0.1, then: { name: 'poly', total_iters: 50, power: 2 } }],
  ];
  it.each(cases)('%s', (spec, want) => {
    expect(parseSpec(spec)).toEqual(want);
  });
});

describe('scheduleFromSpec', () => {
  it('builds the schedules with the parsed arguments and torch defaults, taking the base rate from options', () => {
    const w = scheduleFromSpec('warmup:100+step:size=1000,gamma=0.5', { lr: 0.2 });
    expect(w).toBeInstanceOf(LinearWarmup);
    const inner = (w as LinearWarmup).inner as StepLR;
    expect([inner.baseLr, inner.step_size, inner.gamma, (w as LinearWarmup).start_factor]).toEqual([0.2, 1000, 0.5, 1 / 3]);
    const c = scheduleFromSpec('cosine:T=1000,min=1e-5,lr=0.3') as CosineAnnealingLR;
    expect([c.baseLr, c.T_max, c.eta_min, c.unit]).toEqual([0.3, 1000, 1e-5, 'step']);
    const p = scheduleFromSpec('plateau:factor=0.5,patience=3', { lr: 0.1 }) as ReduceLROnPlateau;
    expect([p.factor, p.patience, p.threshold, p.threshold_mode, p.cooldown, p.min_lr, p.eps, p.unit]).toEqual([0.5, 3, 1e-4, 'rel', 0, 0, 1e-8, 'epoch']);
    const o = scheduleFromSpec('onecycle:total=100', { lr: 0.4 }) as OneCycleLR;
    expect([o.max_lr, o.pct_start, o.div_factor, o.final_div_factor, o.anneal_strategy]).toEqual([0.4, 0.3, 25, 1e4, 'cos']);
    expect(scheduleFromSpec('exp:0.5', { lr: 1 }).lrAt(3)).toBe(0.125);
    expect(scheduleFromSpec('cosine:T=10,per=EPOCH', { lr: 1 }).unit).toBe('epoch');
  });

  it('accepts the object form and round-trips config()', () => {
    const config = { name: 'warmup', total_iters: 3, then: { name: 'cosine', T_max: 20, eta_min: 0.001 } };
    const s = scheduleFromSpec(config, { lr: 0.1 });
    expect(s.config()).toEqual({
      name: 'warmup',
      total_iters: 3,
      start_factor: 1 / 3,
      then: { name: 'cosine', lr: 0.1, T_max: 20, eta_min: 0.001, unit: 'step' },
    });
    expect(scheduleFromSpec(s.config()).config()).toEqual(s.config());
  });

  it('lists every schedule in specHelp', () => {
    const help = specHelp();
    for (const n of ['constant', 'step', 'multistep', 'exp', 'invtime', 'linear', 'poly', 'cosine', 'sgdr', 'warmup', 'onecycle', 'plateau', 'gradmag']) {
      expect(help).toMatch(new RegExp(`^  ${n}\\b`, 'm'));
    }
  });
});

describe('spec errors name what is wrong', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['empty', () => parseSpec('  '), /empty spec; write e\.g\. cosine:T=1000/],
    ['unknown name', () => parseSpec('cosin:T=10'), /unknown schedule "cosin"; known: constant, step, multistep/],
    ['unknown field', () => parseSpec('cosine:Tmax=10'), /cosine: unknown field "Tmax"; known fields: lr, unit \(per\), T_max \(T\), eta_min \(min\)/],
    ['bad number', () => parseSpec('cosine:T=ten'), /cosine: T_max must be a number, got "ten"/],
    ['empty value', () => parseSpec('exp:gamma='), /exp: gamma must be a number, got ""/],
    ['non-integer', () => parseSpec('step:size=2.5'), /step: step_size must be an integer, got "2.5"/],
    ['bad list', () => parseSpec('multistep:milestones=30,80'), /multistep: "80" has no key; only the first value may omit its key/],
    ['bad list item', () => parseSpec('multistep:milestones=30/x'), /milestones must be integers separated by '\/', like 30\/80, got "30\/x"/],
    ['bad bool', () => parseSpec('onecycle:three_phase=yes'), /three_phase must be true or false \(or 1\/0\), got "yes"/],
    ['no positional', () => parseSpec('plateau:3'), /plateau: "3" has no key; write key=value/],
    ['twice', () => parseSpec('cosine:T=10,T_max=20'), /cosine: T_max is given twice/],
    ['plus after non-warmup', () => parseSpec('cosine:T=10+step:size=3'), /'\+' puts a warm-up in front of a schedule .* "cosine:T=10" is not a warmup/],
    ['trailing warmup', () => parseSpec('warmup:10'), /a warmup needs the schedule it hands over to after '\+', e\.g\. warmup:10\+constant/],
    ['no name', () => parseSpec(':T=10'), /missing schedule name/],
    ['no lr', () => scheduleFromSpec('cosine:T=10'), /cosine: no base learning rate; pass \{ lr \}/],
    ['lr twice', () => scheduleFromSpec('cosine:T=10,lr=0.2', { lr: 0.1 }), /lr=0\.2 in the spec disagrees with the optimizer's lr 0\.1/],
    ['onecycle no max_lr', () => scheduleFromSpec('onecycle:total=10'), /onecycle: no max_lr/],
    ['range from the constructor', () => scheduleFromSpec('step:size=0', { lr: 1 }), /StepLR: step_size must be a positive integer, got 0/],
    ['bad unit', () => scheduleFromSpec('exp:0.9,per=batch', { lr: 1 }), /unit must be 'step' or 'epoch', got "batch"/],
    ['missing required', () => scheduleFromSpec('exp', { lr: 1 }), /ExponentialLR: gamma must be a finite number > 0, got undefined/],
    ['object alias', () => scheduleFromSpec({ name: 'cosine', T: 10 }, { lr: 1 }), /cosine: unknown field "T"; in the object form write T_max/],
    ['object type', () => scheduleFromSpec({ name: 'cosine', T_max: '10' }, { lr: 1 }), /cosine: T_max must be a number, got "10"/],
    ['object no name', () => scheduleFromSpec({} as never, { lr: 1 }), /needs a string name/],
    ['object then', () => scheduleFromSpec({ name: 'warmup', total_iters: 3, then: 5 }, { lr: 1 }), /warmup: then must be a schedule, got 5/],
    ['warmup without then', () => scheduleFromSpec({ name: 'warmup', total_iters: 3 }, { lr: 1 }), /warmup: `then` must be the schedule that follows/],
  ];
  it.each(cases)('%s', (_label, make, message) => {
    expect(make).toThrow(ScheduleError);
    expect(make).toThrow(message);
  });
});
