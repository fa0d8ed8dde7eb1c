/**
 * Schedules from a spec: the CLI's string form and the object form that `config()` returns and checkpoints hold.
 *
 * String form:  spec    = segment ('+' segment)*        every segment but the last is a warm-up
 *               segment = name [':' field (',' field)*]
 *               field   = key '=' value | value         a bare value only first, for the name's positional field
 *               list    = int ('/' int)*                (milestones=30/80)
 *
 *   cosine:T=1000,min=1e-5        warmup:100+step:size=1000,gamma=0.5      plateau:factor=0.5,patience=3
 *   exp:gamma=0.999               invtime:decay=0.01                        onecycle:max_lr=0.1,total=5000
 *
 * Keys are torch's argument names (T_max, eta_min, step_size, ...) or the short aliases in KINDS. Every schedule
 * but warmup and onecycle takes `lr=` (the base rate) and `unit=`/`per=` ('step' or 'epoch'). The base rate
 * normally comes from the optimizer as `options.lr`; writing it in the spec as well is an error unless the two agree.
 * onecycle takes `max_lr`, which defaults to `options.lr`.
 *
 * Object form: `{ name: 'cosine', T_max: 1000, eta_min: 1e-5 }`, canonical keys only; a warm-up holds the schedule
 * after it in `then`: `{ name: 'warmup', total_iters: 100, then: { name: 'step', step_size: 1000 } }`.
 */
import { ScheduleError } from './check.js';
import { FixedLR } from './constant.js';
import { CosineAnnealingLR, CosineAnnealingWarmRestarts } from './cosine.js';
import { ExponentialLR } from './exponential.js';
import { GradMagnitudeLR } from './grad-magnitude.js';
import { InverseTimeLR } from './inverse-time.js';
import { LinearLR } from './linear.js';
import { OneCycleLR } from './one-cycle.js';
import { PolynomialLR } from './polynomial.js';
import { ReduceLROnPlateau } from './plateau.js';
import type { Json, Schedule, ScheduleConfig, ScheduleState } from './schedule.js';
import { MultiStepLR, StepLR } from './step.js';
import { LinearWarmup } from './warmup.js';

type FieldType = 'number' | 'int' | 'bool' | 'string' | 'intList' | 'schedule';

interface Field {
  type: FieldType;
  aliases?: string[];
}

/**
 * Arguments whose names and JSON types `build` has checked against the kind's fields; the constructors check
 * presence, ranges and defaults at run time, so the static type adds nothing here.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type CheckedArgs = any;

interface Kind {
  aliases?: string[];
  /** Field a bare first value fills (`warmup:100`). */
  positional?: string;
  fields: Record<string, Field>;
  build(args: CheckedArgs): Schedule;
}

const LR: Record<string, Field> = { lr: { type: 'number' }, unit: { type: 'string', aliases: ['per'] } };

/** Every schedule by spec name, with its fields (torch names) and their aliases. */
const KINDS: Record<string, Kind> = {
  constant: { fields: { ...LR }, build: (a) => new FixedLR(a) },
  step: {
    positional: 'step_size',
    fields: { ...LR, step_size: { type: 'int', aliases: ['size'] }, gamma: { type: 'number' } },
    build: (a) => new StepLR(a),
  },
  multistep: {
    positional: 'milestones',
    fields: { ...LR, milestones: { type: 'intList' }, gamma: { type: 'number' } },
    build: (a) => new MultiStepLR(a),
  },
  exp: { aliases: ['exponential'], positional: 'gamma', fields: { ...LR, gamma: { type: 'number' } }, build: (a) => new ExponentialLR(a) },
  invtime: { positional: 'decay', fields: { ...LR, decay: { type: 'number' } }, build: (a) => new InverseTimeLR(a) },
  linear: {
    positional: 'total_iters',
    fields: {
      ...LR,
      start_factor: { type: 'number', aliases: ['start'] },
      end_factor: { type: 'number', aliases: ['end'] },
      total_iters: { type: 'int', aliases: ['iters'] },
    },
    build: (a) => new LinearLR(a),
  },
  poly: {
    aliases: ['polynomial'],
    positional: 'total_iters',
    fields: { ...LR, total_iters: { type: 'int', aliases: ['iters'] }, power: { type: 'number' } },
    build: (a) => new PolynomialLR(a),
  },
  cosine: {
    positional: 'T_max',
    fields: { ...LR, T_max: { type: 'number', aliases: ['T'] }, eta_min: { type: 'number', aliases: ['min'] } },
    build: (a) => new CosineAnnealingLR(a),
  },
  sgdr: {
    aliases: ['cosine_restarts'],
    positional: 'T_0',
    fields: {
      ...LR,
      T_0: { type: 'int', aliases: ['T'] },
      T_mult: { type: 'int', aliases: ['mult'] },
      eta_min: { type: 'number', aliases: ['min'] },
    },
    build: (a) => new CosineAnnealingWarmRestarts(a),
  },
  warmup: {
    positional: 'total_iters',
    fields: {
      total_iters: { type: 'int', aliases: ['iters'] },
      start_factor: { type: 'number', aliases: ['start'] },
      then: { type: 'schedule' },
    },
    build: (a) => new LinearWarmup(a),
  },
  onecycle: {
    positional: 'max_lr',
    fields: {
      unit: LR.unit!,
      max_lr: { type: 'number', aliases: ['max'] },
      total_steps: { type: 'int', aliases: ['total'] },
      epochs: { type: 'int' },
      steps_per_epoch: { type: 'int' },
      pct_start: { type: 'number', aliases: ['pct'] },
      anneal_strategy: { type: 'string', aliases: ['anneal'] },
      div_factor: { type: 'number', aliases: ['div'] },
      final_div_factor: { type: 'number', aliases: ['final_div'] },
      three_phase: { type: 'bool' },
      cycle_momentum: { type: 'bool' },
      base_momentum: { type: 'number' },
      max_momentum: { type: 'number' },
    },
    build: (a) => new OneCycleLR(a),
  },
  plateau: {
    fields: {
      ...LR,
      mode: { type: 'string' },
      factor: { type: 'number' },
      patience: { type: 'int' },
      threshold: { type: 'number' },
      threshold_mode: { type: 'string' },
      cooldown: { type: 'int' },
      min_lr: { type: 'number', aliases: ['min'] },
      eps: { type: 'number' },
    },
    build: (a) => new ReduceLROnPlateau(a),
  },
  gradmag: { positional: 'c', fields: { ...LR, c: { type: 'number' } }, build: (a) => new GradMagnitudeLR(a) },
};

const NAMES = Object.keys(KINDS);

function kindOf(name: string): [string, Kind] {
  const key = name.toLowerCase();
  for (const [n, k] of Object.entries(KINDS)) if (n === key || k.aliases?.includes(key)) return [n, k];
  throw new ScheduleError(`schedule: unknown schedule ${JSON.stringify(name)}; known: ${NAMES.join(', ')}`);
}

function fieldList(kind: Kind): string {
  return Object.entries(kind.fields)
    .map(([k, f]) => (f.aliases ? `${k} (${f.aliases.join(', ')})` : k))
    .join(', ');
}

/** Canonical field name for `key` (a torch name or an alias). */
function fieldOf(name: string, kind: Kind, key: string, allowAliases: boolean): string {
  if (key in kind.fields) return key;
  const canonical = Object.entries(kind.fields).find(([, f]) => f.aliases?.includes(key))?.[0];
  if (canonical && allowAliases) return canonical;
  const hint = canonical ? `; in the object form write ${canonical}` : `; known fields: ${fieldList(kind)}`;
  throw new ScheduleError(`${name}: unknown field ${JSON.stringify(key)}${hint}`);
}

/** A spec-string value converted to the field's type. */
function parseValue(name: string, key: string, type: FieldType, text: string): Json {
  const bad = (want: string): never => {
    throw new ScheduleError(`${name}: ${key} must be ${want}, got ${JSON.stringify(text)}`);
  };
  const num = (s: string, want: string): number => {
    const x = s.trim() === '' ? NaN : Number(s);
    if (!Number.isFinite(x)) bad(want);
    return x;
  };
  switch (type) {
    case 'number':
      return num(text, 'a number');
    case 'int': {
      const x = num(text, 'an integer');
      return Number.isInteger(x) ? x : bad('an integer');
    }
    case 'bool':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return bad('true or false (or 1/0)');
    case 'string':
      return text;
    case 'intList':
      return text.split('/').map((s) => {
        const x = num(s, "integers separated by '/', like 30/80");
        return Number.isInteger(x) ? x : bad("integers separated by '/', like 30/80");
      });
    case 'schedule':
      return bad("a schedule: write it after '+' (warmup:100+cosine:T=1000)");
  }
}

function parseSegment(segment: string): ScheduleConfig {
  const colon = segment.indexOf(':');
  const rawName = (colon < 0 ? segment : segment.slice(0, colon)).trim();
  if (rawName === '') throw new ScheduleError(`schedule: missing schedule name in ${JSON.stringify(segment)}`);
  const [name, kind] = kindOf(rawName);
  const config: ScheduleConfig = { name };
  if (colon < 0) return config;
  const body = segment.slice(colon + 1).trim();
  if (body === '') return config;
  body.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    let key: string;
    if (eq < 0) {
      if (i > 0 || !kind.positional) {
        const how = kind.positional ? `only the first value may omit its key (${kind.positional})` : 'write key=value';
        throw new ScheduleError(`${name}: ${JSON.stringify(part.trim())} has no key; ${how}; known fields: ${fieldList(kind)}`);
      }
      key = kind.positional;
    } else {
      key = fieldOf(name, kind, part.slice(0, eq).trim(), true);
    }
    if (key in config) throw new ScheduleError(`${name}: ${key} is given twice in ${JSON.stringify(segment)}`);
    config[key] = parseValue(name, key, kind.fields[key]!.type, (eq < 0 ? part : part.slice(eq + 1)).trim());
  });
  return config;
}

/** The object form of a spec string (see the module comment), checked for names, keys and value types. */
export function parseSpec(spec: string): ScheduleConfig {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new ScheduleError(`schedule: empty spec; write e.g. cosine:T=1000,min=1e-5 (known: ${NAMES.join(', ')})`);
  }
  const configs = spec.split('+').map(parseSegment);
  for (let i = 0; i < configs.length - 1; i++) {
    if (configs[i]!.name !== 'warmup') {
      throw new ScheduleError(
        `schedule: '+' puts a warm-up in front of a schedule (warmup:100+cosine:T=1000), but ` +
          `${JSON.stringify(spec.split('+')[i]!.trim())} is not a warmup`,
      );
    }
  }
  const last = configs[configs.length - 1]!;
  if (last.name === 'warmup') {
    throw new ScheduleError(`schedule: a warmup needs the schedule it hands over to after '+', e.g. ${spec.trim()}+constant`);
  }
  return configs.reduceRight((then, c) => ({ ...c, then }));
}

export interface SpecOptions {
  /** Base learning rate (the optimizer's lr); onecycle's default max_lr. */
  lr?: number;
}

function checkType(name: string, key: string, type: FieldType, v: Json): void {
  const ok =
    type === 'number' ? typeof v === 'number'
    : type === 'int' ? typeof v === 'number' && Number.isInteger(v)
    : type === 'bool' ? typeof v === 'boolean'
    : type === 'string' ? typeof v === 'string'
    : type === 'intList' ? Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x))
    : typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!ok) throw new ScheduleError(`${name}: ${key} must be ${type === 'intList' ? 'a list of integers' : `a ${type}`}, got ${JSON.stringify(v)}`);
}

function build(config: ScheduleConfig, options: SpecOptions): Schedule {
  if (typeof config !== 'object' || config === null || typeof config.name !== 'string') {
    throw new ScheduleError(`schedule: a spec object needs a string name (one of ${NAMES.join(', ')}), got ${JSON.stringify(config)}`);
  }
  const [name, kind] = kindOf(config.name);
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'name' || v === undefined) continue;
    const key = fieldOf(name, kind, k, false);
    checkType(name, key, kind.fields[key]!.type, v);
    args[key] = key === 'then' ? build(v as ScheduleConfig, options) : v;
  }
  if ('lr' in kind.fields) {
    if (args.lr === undefined) args.lr = options.lr;
    else if (options.lr !== undefined && args.lr !== options.lr) {
      throw new ScheduleError(
        `${name}: lr=${String(args.lr)} in the spec disagrees with the optimizer's lr ${options.lr}; give the base rate in one place`,
      );
    }
    if (args.lr === undefined) {
      throw new ScheduleError(`${name}: no base learning rate; pass { lr } (the optimizer's lr) or write lr=... in the spec`);
    }
  }
  if (name === 'onecycle' && args.max_lr === undefined) {
    if (options.lr === undefined) throw new ScheduleError('onecycle: no max_lr; write max_lr=... or pass { lr } as its default');
    args.max_lr = options.lr;
  }
  if (typeof args.unit === 'string') args.unit = args.unit.toLowerCase();
  return kind.build(args);
}

/**
 * A fresh schedule (t = 0) from a spec string or its object form. `options.lr` is the base rate for every schedule
 * that takes one; throws a ScheduleError naming the schedule and field for anything malformed or out of range.
 */
export function scheduleFromSpec(spec: string | ScheduleConfig, options: SpecOptions = {}): Schedule {
  return build(typeof spec === 'string' ? parseSpec(spec) : spec, options);
}

/** The schedule that saved `state`, rebuilt from its config and resumed at its t. */
export function restoreSchedule(state: ScheduleState): Schedule {
  if (typeof state !== 'object' || state === null || typeof state.config !== 'object') {
    throw new ScheduleError(`schedule: restoreSchedule needs an object from schedule.state(), got ${JSON.stringify(state)}`);
  }
  const schedule = build(state.config, {});
  schedule.load(state);
  return schedule;
}

/** One line per schedule: name, aliases, positional field and fields, for the CLI's help. */
export function specHelp(): string {
  return Object.entries(KINDS)
    .map(([n, k]) => {
      const aka = k.aliases ? ` (${k.aliases.join(', ')})` : '';
      const pos = k.positional ? ` [${k.positional}]` : '';
      return `  ${n}${aka}${pos}: ${fieldList(k)}`;
    })
    .join('\n');
}
