/**
 * CPU reference of shaders/dropout.wgsl: inverted dropout whose mask is word i of the Philox stream
 * (seed, stream, step) — the same words the GPU computes, so the masks are bit-identical.
 */
import { philox4x32_10, seedToKey } from '../random.js';
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';

const TWO_POW_24 = 16777216;

/** Rejects p outside [0, 1) with a message saying why. */
export function checkDropoutP(p: number): void {
  if (!(typeof p === 'number' && p >= 0 && p < 1)) {
    throw new RangeError(
      `dropout: p = ${p} must be in [0, 1). p = 1 would drop every element and scale by 1/(1 − p) = ∞; ` +
        'to switch a layer off use p = 0 or evaluation mode.',
    );
  }
}

/** keep iff (word >> 8) ≥ ceil(p·2^24), i.e. uniformAt(seed, stream, step, i) ≥ p exactly. */
export function dropoutThreshold(p: number): number {
  checkDropoutP(p);
  return Math.ceil(p * TWO_POW_24);
}

/** The probability of keeping an element: 1 − ceil(p·2^24)/2^24 (1 − p up to 2^-24). */
export function dropoutKeepProbability(p: number): number {
  return 1 - dropoutThreshold(p) / TWO_POW_24;
}

/** keep[i] ∈ {0, 1} for i < n, from the words of (seed, stream, step). */
export function dropoutMaskRef(seed: number, stream: number, step: number, n: number, p: number): Uint8Array {
  const threshold = dropoutThreshold(p);
  const mask = new Uint8Array(n);
  if (threshold === 0) return mask.fill(1);
  const [k0, k1] = seedToKey(seed);
  const block = new Uint32Array(4);
  for (let i = 0; i < n; i++) {
    if ((i & 3) === 0) philox4x32_10(i >>> 2, step, stream, 0, k0, k1, block);
    mask[i] = block[i & 3]! >>> 8 >= threshold ? 1 : 0;
  }
  return mask;
}

/** v[i] · (keep[i] ? 1/(1 − p) : 0): the forward (v = x) and the backward (v = dy) of inverted dropout. */
export function dropoutApplyRef(v: ArrayLike<number>, mask: Uint8Array, p: number, dtype: Dtype): FloatArray {
  checkDropoutP(p);
  const r = rounder(dtype);
  const scale = r(1 / (1 - p));
  const out = allocate(dtype, v.length);
  for (let i = 0; i < v.length; i++) out[i] = r(v[i]! * (mask[i] ? scale : 0));
  return out;
}
