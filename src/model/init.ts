/**
 * Weight initialisers (torch.nn.init formulas), seeded through the documented Philox generator of src/random.ts.
 *
 *   glorot_uniform (xavier_uniform_)   U(−a, a),  a   = gain · sqrt(6 / (fanIn + fanOut))          gain default 1
 *   glorot_normal  (xavier_normal_)    N(0, σ²),  σ   = gain · sqrt(2 / (fanIn + fanOut))          gain default 1
 *   he_uniform     (kaiming_uniform_)  U(−a, a),  a   = gain · sqrt(3 / fanIn)     (fan_in mode)   gain of `nonlinearity`
 *   he_normal      (kaiming_normal_)   N(0, σ²),  σ   = gain / sqrt(fanIn)         (fan_in mode)   default relu: √2
 *   lecun_normal                       N(0, σ²),  σ   = 1 / sqrt(fanIn)   (plain normal; Keras truncates its normal)
 *   zeros, constant(value)             no random numbers drawn
 * Gains (`calculateGain`, as torch.nn.init.calculate_gain): linear / identity / sigmoid 1, tanh 5/3, relu √2,
 * leaky_relu √(2 / (1 + a²)) with negative slope a (default 0.01, torch's default for calculate_gain and
 * wgtrain's leaky_relu), selu 3/4.
 * Biases are zero by default (`DEFAULT_BIAS_INIT`; torch's nn.Linear draws them from U(±1/√fanIn) instead).
 *
 * Reproducibility contract (changing any of it changes every initialised model):
 *   values come from `new Random(seed, { stream, step })` (stream default Streams.init = 1, step default 0), drawn in
 *   order: out[i] is the i-th draw. A uniform element costs 1 word (low + (high − low)·u, u with 24 random bits,
 *   computed in float64 and rounded once to float32); a normal element 2 words (Box–Muller cosine branch, |z| ≤ 5.77).
 *   Recommended use in a model: stream = Streams.init and step = the index of the parameter tensor in the model's
 *   parameter list, so every tensor has its own words and resizing one layer never changes another's values.
 * The functions are pure: same (spec, fanIn, fanOut, seed, stream, step, length) → the same Float32Array.
 */
import { Random, Streams } from '../random.js';

export type Nonlinearity = 'linear' | 'identity' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'selu';

/** torch.nn.init.calculate_gain; `negativeSlope` is leaky_relu's a (default 0.01). */
export function calculateGain(nonlinearity: Nonlinearity, negativeSlope = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'identity':
    case 'sigmoid':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      if (!Number.isFinite(negativeSlope)) throw new RangeError(`calculateGain: negative slope ${negativeSlope} must be finite`);
      return Math.sqrt(2 / (1 + negativeSlope * negativeSlope));
    case 'selu':
      return 3 / 4;
    default:
      throw new RangeError(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

export type InitSpec =
  | { kind: 'glorot_uniform' | 'glorot_normal'; gain?: number }
  | { kind: 'he_uniform' | 'he_normal'; nonlinearity?: Nonlinearity; negativeSlope?: number }
  | { kind: 'lecun_normal' }
  | { kind: 'zeros' }
  | { kind: 'constant'; value: number };

export type InitKind = InitSpec['kind'];

export const DEFAULT_WEIGHT_INIT: InitSpec = { kind: 'he_uniform', nonlinearity: 'relu' };
export const DEFAULT_BIAS_INIT: InitSpec = { kind: 'zeros' };

export interface InitContext {
  /** Inputs per output unit (Dense: input features). */
  fanIn: number;
  /** Outputs (Dense: output features); used by the Glorot forms only. */
  fanOut: number;
  /** Run seed, an integer in [0, 2^53). */
  seed: number;
  /** Philox stream; default Streams.init. */
  stream?: number;
  /** Philox step; default 0. Recommended: the parameter tensor's index (see the module comment). */
  step?: number;
}

/** The distribution a spec gives for (fanIn, fanOut). */
export type InitDistribution = { dist: 'uniform'; bound: number } | { dist: 'normal'; std: number } | { dist: 'constant'; value: number };

export function initDistribution(spec: InitSpec, fanIn: number, fanOut: number): InitDistribution {
  const needFanIn = () => {
    if (!Number.isInteger(fanIn) || fanIn < 1) throw new RangeError(`init ${spec.kind}: fanIn ${fanIn} must be a positive integer`);
  };
  const needFans = () => {
    needFanIn();
    if (!Number.isInteger(fanOut) || fanOut < 1) throw new RangeError(`init ${spec.kind}: fanOut ${fanOut} must be a positive integer`);
  };
  switch (spec.kind) {
    case 'glorot_uniform':
      needFans();
      return { dist: 'uniform', bound: (spec.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut)) };
    case 'glorot_normal':
      needFans();
      return { dist: 'normal', std: (spec.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)) };
    case 'he_uniform':
      needFanIn();
      return { dist: 'uniform', bound: calculateGain(spec.nonlinearity ?? 'relu', spec.negativeSlope) * Math.sqrt(3 / fanIn) };
    case 'he_normal':
      needFanIn();
      return { dist: 'normal', std: calculateGain(spec.nonlinearity ?? 'relu', spec.negativeSlope) / Math.sqrt(fanIn) };
    case 'lecun_normal':
      needFanIn();
      return { dist: 'normal', std: 1 / Math.sqrt(fanIn) };
    case 'zeros':
      return { dist: 'constant', value: 0 };
    case 'constant':
      if (!Number.isFinite(spec.value)) throw new RangeError(`init constant: value ${spec.value} must be finite`);
      return { dist: 'constant', value: spec.value };
    default:
      throw new RangeError(`init: unknown kind '${(spec as { kind: unknown }).kind}'`);
  }
}

/** Fills `out` (all of it) according to `spec`; returns `out`. See the module comment for the exact draws. */
export function initialize(out: Float32Array, spec: InitSpec, ctx: InitContext): Float32Array {
  const d = initDistribution(spec, ctx.fanIn, ctx.fanOut);
  if (d.dist === 'constant') return out.fill(d.value);
  const rand = new Random(ctx.seed, { stream: ctx.stream ?? Streams.init, step: ctx.step ?? 0 });
  if (d.dist === 'uniform') return rand.fillUniform(out, -d.bound, d.bound);
  return rand.fillNormal(out, 0, d.std);
}

type Gain = { gain?: number };
type He = { nonlinearity?: Nonlinearity; negativeSlope?: number };

export const glorotUniform = (out: Float32Array, ctx: InitContext & Gain) => initialize(out, { kind: 'glorot_uniform', gain: ctx.gain ?? 1 }, ctx);
export const glorotNormal = (out: Float32Array, ctx: InitContext & Gain) => initialize(out, { kind: 'glorot_normal', gain: ctx.gain ?? 1 }, ctx);
export const heUniform = (out: Float32Array, ctx: InitContext & He) =>
  initialize(out, { kind: 'he_uniform', nonlinearity: ctx.nonlinearity ?? 'relu', negativeSlope: ctx.negativeSlope ?? 0.01 }, ctx);
export const heNormal = (out: Float32Array, ctx: InitContext & He) =>
  initialize(out, { kind: 'he_normal', nonlinearity: ctx.nonlinearity ?? 'relu', negativeSlope: ctx.negativeSlope ?? 0.01 }, ctx);
export const lecunNormal = (out: Float32Array, ctx: InitContext) => initialize(out, { kind: 'lecun_normal' }, ctx);
export const zeros = (out: Float32Array) => out.fill(0);
export const constant = (out: Float32Array, value: number) => initialize(out, { kind: 'constant', value }, { fanIn: 1, fanOut: 1, seed: 0 });
