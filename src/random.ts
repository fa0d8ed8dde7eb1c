/**
 * Seeded, counter-based random numbers that a WGSL kernel can reproduce bit for bit.
 *
 * Generator: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC'11;
 * the Random123 library). It is a keyed bijection of a 128-bit counter, so the n-th number of a stream is a pure
 * function of (seed, stream, step, n): a GPU thread computes its own numbers with no shared state, and a CPU loop
 * that walks the same counters gets the same u32 words. `shaders/random.wgsl` is the WGSL twin of this file;
 * both use only wrapping u32 multiply, xor, add and shifts (the 32×32→64 product is built from 16-bit halves).
 *
 * Counter layout (one Philox block = 4 u32 words):
 *   key     = (seed mod 2^32, floor(seed / 2^32))
 *   counter = (block, step, stream, 0)
 *   word w of (seed, stream, step) = output[w mod 4] of philox(counter with block = floor(w / 4))
 * A GPU kernel that needs one number per element i (dropout masks) takes word i of (seed, stream, step) with
 * step = the training step, so every step draws fresh, non-overlapping numbers. The CPU `Random` walks the same
 * words in order; running past word 2^34 - 1 of a step carries into the next step (a 64-bit block counter).
 *
 * Conversions, identical on CPU and GPU:
 *   uniform: u32 x → (x >> 8) · 2^-24 in [0, 1 - 2^-24]; exact in f32, so CPU and GPU floats are bit-equal.
 *   normal (Box–Muller): u1 = ((a >> 8) + 1) · 2^-24 in (0, 1], u2 = uniform(b), θ = π (2 u2 - 1) in [-π, π),
 *           z0 = sqrt(-2 ln u1) · cos θ, z1 = sqrt(-2 ln u1) · sin θ.
 *           θ is centred on 0 because WGSL bounds the error of cos/sin (2^-11 absolute) only on [-π, π]. The GPU
 *           evaluates log/cos/sin in f32, so GPU normals match the CPU to about 3e-3 absolute, not bit for bit.
 *           |z| never exceeds sqrt(2 ln 2^24) ≈ 5.77 (the 24-bit uniform truncates the tail).
 */

export const PHILOX_ALGORITHM = 'philox4x32-10';

/**
 * Stream ids that separate independent uses of one seed, so a change in how many numbers one use draws never
 * shifts another. The GPU side receives the stream id through a uniform, so these values are part of the format.
 */
export const Streams = {
  /** Default stream for user code. */
  default: 0,
  /** Weight initialisation. */
  init: 1,
  /** Per-epoch shuffling of training examples; step = epoch. */
  shuffle: 2,
  /** Train / validation / test split. */
  split: 3,
  /** Dropout masks; step = training step, word = element index. */
  dropout: 4,
} as const;

/** Philox key: two u32 words derived from the seed. */
export type RandomKey = readonly [number, number];

/** JSON-serialisable position of a `Random`; `Random.fromState` restores it exactly. */
export interface RandomState {
  algorithm: typeof PHILOX_ALGORITHM;
  /** Seed as given (integer in [0, 2^53)). */
  seed: number;
  stream: number;
  step: number;
  /** Index of the next u32 word within the step, in [0, 2^34). */
  offset: number;
}

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_POW_32 = 0x1_0000_0000;
const WORDS_PER_STEP = 4 * TWO_POW_32;
const UNIT = 1 / 16777216; // 2^-24

/** High 32 bits of the 64-bit product a·b, from 16-bit halves exactly as the WGSL twin computes it. */
export function mulhi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const p00 = a0 * b0;
  const p01 = a0 * b1;
  const p10 = a1 * b0;
  const p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0;
}

/**
 * One Philox4x32-10 block: 10 rounds, key bumped by the Weyl constants between rounds (Random123 order).
 * Writes the 4 output words into `out` (allocated when omitted) and returns it.
 */
export function philox4x32_10(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array = new Uint32Array(4),
): Uint32Array {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
  return out;
}

/** Philox key for an integer seed in [0, 2^53). */
export function seedToKey(seed: number): RandomKey {
  checkSeed(seed);
  return [seed % TWO_POW_32 >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
}

/** Word `index` (u32) of (seed, stream, step): the value a GPU thread computes with `rng_u32_at`. */
export function randomU32At(seed: number, stream: number, step: number, index: number): number {
  const [k0, k1] = seedToKey(seed);
  checkU32(stream, 'stream');
  checkU32(step, 'step');
  checkU32(index, 'index');
  return philox4x32_10(index >>> 2, step, stream, 0, k0, k1)[index & 3]!;
}

/** Uniform float in [0, 1) from word `index` of (seed, stream, step): the GPU's `rng_uniform_at`. */
export function uniformAt(seed: number, stream: number, step: number, index: number): number {
  return u32ToUnit(randomU32At(seed, stream, step, index));
}

/** u32 → [0, 1 - 2^-24] using the top 24 bits; exact in f32. */
export function u32ToUnit(x: number): number {
  return (x >>> 8) * UNIT;
}

/** Box–Muller on two u32 words; returns [z0, z1], both standard normal. */
export function boxMuller(a: number, b: number): [number, number] {
  const u1 = ((a >>> 8) + 1) * UNIT;
  const u2 = (b >>> 8) * UNIT;
  const r = Math.sqrt(-2 * Math.log(u1));
  const theta = Math.PI * (2 * u2 - 1);
  return [r * Math.cos(theta), r * Math.sin(theta)];
}

/**
 * Sequential generator over the words of (seed, stream, step). All draws go through `nextU32`, so a state saved
 * with `state()` and restored with `Random.fromState` continues with exactly the same numbers.
 *
 * Word cost of each draw (part of the reproducibility contract): nextU32, uniform, int(n) for n a power of two:
 * 1 word; int(n) otherwise: 1 word plus one more per rejection (probability < n / 2^32); normal: 2 words (the
 * cosine branch of Box–Muller, the sine branch is discarded so `normal` keeps no hidden cache).
 */
export class Random {
  readonly seed: number;
  readonly stream: number;
  private readonly k0: number;
  private readonly k1: number;
  private step: number;
  private offset: number;
  private readonly block = new Uint32Array(4);
  private blockIndex = -1;
  private blockStep = -1;

  constructor(seed: number, options: { stream?: number; step?: number; offset?: number } = {}) {
    [this.k0, this.k1] = seedToKey(seed);
    this.seed = seed;
    this.stream = options.stream ?? Streams.default;
    this.step = options.step ?? 0;
    this.offset = options.offset ?? 0;
    checkU32(this.stream, 'stream');
    checkU32(this.step, 'step');
    if (!Number.isInteger(this.offset) || this.offset < 0 || this.offset >= WORDS_PER_STEP) {
      throw new RangeError(`Random: offset ${this.offset} must be an integer in [0, 2^34).`);
    }
  }

  /** Restores a generator from `state()` output (possibly after a JSON round trip), validating every field. */
  static fromState(state: unknown): Random {
    if (typeof state !== 'object' || state === null) {
      throw new TypeError(`Random.fromState: expected an object from Random.state(), got ${describe(state)}.`);
    }
    const s = state as Record<string, unknown>;
    if (s.algorithm !== PHILOX_ALGORITHM) {
      throw new TypeError(
        `Random.fromState: algorithm is ${JSON.stringify(s.algorithm)}, expected "${PHILOX_ALGORITHM}"; ` +
          'this state was not written by wgtrain Random.',
      );
    }
    for (const field of ['seed', 'stream', 'step', 'offset'] as const) {
      if (typeof s[field] !== 'number') {
        throw new TypeError(`Random.fromState: field "${field}" is ${describe(s[field])}, expected a number.`);
      }
    }
    return new Random(s.seed as number, {
      stream: s.stream as number,
      step: s.step as number,
      offset: s.offset as number,
    });
  }

  state(): RandomState {
    return { algorithm: PHILOX_ALGORITHM, seed: this.seed, stream: this.stream, step: this.step, offset: this.offset };
  }

  clone(): Random {
    return Random.fromState(this.state());
  }

  /** Next u32 word of the stream. */
  nextU32(): number {
    const index = Math.floor(this.offset / 4);
    if (index !== this.blockIndex || this.step !== this.blockStep) {
      philox4x32_10(index, this.step, this.stream, 0, this.k0, this.k1, this.block);
      this.blockIndex = index;
      this.blockStep = this.step;
    }
    const word = this.block[this.offset % 4]!;
    this.offset++;
    if (this.offset === WORDS_PER_STEP) {
      if (this.step === TWO_POW_32 - 1) {
        throw new RangeError(`Random: stream ${this.stream} of seed ${this.seed} is exhausted (2^66 words drawn).`);
      }
      this.offset = 0;
      this.step++;
    }
    return word;
  }

  /** Uniform in [0, 1) with 24 random bits, equal to the f32 value the GPU produces for the same word. */
  uniform(): number {
    return u32ToUnit(this.nextU32());
  }

  /** Uniform in [low, high), computed in f64. */
  uniformRange(low: number, high: number): number {
    if (!(Number.isFinite(low) && Number.isFinite(high) && low <= high)) {
      throw new RangeError(`Random.uniformRange: need finite low <= high, got low=${low}, high=${high}.`);
    }
    return low + (high - low) * this.uniform();
  }

  /** Normal with the given mean and standard deviation (Box–Muller cosine branch, 2 words). */
  normal(mean = 0, std = 1): number {
    const a = this.nextU32();
    const b = this.nextU32();
    return mean + std * boxMuller(a, b)[0];
  }

  /** Uniform integer in [0, n) for an integer 1 <= n <= 2^32, without modulo bias (rejection sampling). */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Random.int: n = ${n} must be an integer in [1, 2^32].`);
    }
    // The largest multiple of n that fits in 32 bits; words at or above it would favour small results.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** In-place Fisher–Yates shuffle (Durstenfeld): i from n-1 down to 1 swaps a[i] with a[int(i + 1)]. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }

  /** A uniformly random permutation of 0..n-1 (identity, then `shuffle`). */
  permutation(n: number): Uint32Array {
    if (!Number.isInteger(n) || n < 0 || n >= TWO_POW_32) {
      throw new RangeError(`Random.permutation: n = ${n} must be an integer in [0, 2^32).`);
    }
    const p = new Uint32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /** Fills `out` with uniform values in [low, high). */
  fillUniform<T extends Float32Array | Float64Array>(out: T, low = 0, high = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.uniformRange(low, high);
    return out;
  }

  /** Fills `out` with normal values; each element costs 2 words, as `normal()` does. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = this.normal(mean, std);
    return out;
  }
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new RangeError(
      `Random: seed ${describe(seed)} must be an integer in [0, 2^53); hash strings or large values to such an integer first.`,
    );
  }
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    throw new RangeError(`Random: ${what} ${describe(value)} must be an integer in [0, 2^32).`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : typeof value;
}
