/**
 * What the layers over images (N, C, H, W) share: reading their input shape, and their window options (kernel,
 * stride, padding, dilation) as (rows, columns) pairs that users may write as one number.
 */
import { showShape, type LayerSite, type Shape } from './layer.js';

export type Pair = readonly [number, number];

/** (C, H, W) of the input, or an Error saying how to get an image input. */
export function imageInput(site: LayerSite): [number, number, number] {
  const s = site.input;
  if (s.length === 3) return [s[0]!, s[1]!, s[2]!];
  const n = s.reduce((a, b) => a * b, 1);
  const side = Math.round(Math.sqrt(n));
  const hint = side * side === n ? ` (for ${n} values: reshape(1,${side},${side}), or an input shape 1x${side}x${side})` : '';
  throw new Error(`takes (N, C, H, W) input but its input is ${showShape(s)}: give the model a C×H×W input shape or reshape to one first${hint}`);
}

/** A (rows, columns) pair from a number or a pair, every entry an integer ≥ min; `what` names the option. */
export function toPair(what: string, v: unknown, min: number): [number, number] {
  const p = typeof v === 'number' ? [v, v] : v;
  if (!Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new Error(`${what} must be ${min === 0 ? 'an integer ≥ 0' : 'an integer ≥ 1'} or a pair [rows, columns] of them (got ${JSON.stringify(v)})`);
  }
  return [p[0], p[1]];
}

/** `3×3`, `2×5`: a pair in messages. */
export function showPair(p: Pair): string {
  return `${p[0]}×${p[1]}`;
}

/** The per-example shape (C, H, W) as messages show it with the batch. */
export function showImage(c: number, h: number, w: number): string {
  return showShape([c, h, w] as Shape);
}
