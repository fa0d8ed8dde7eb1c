/**
 * What the layers over images (N, C, H, W) share: reading their input shape, and their window options (kernel,
 * stride, padding, dilation) as (rows, columns) pairs that users may write as one number.
 */
import { pool2dOutputSize, type Pool2dGeometry } from '../ref/pool2d.js';
import { bindArgs, formatCall } from './args.js';
import { showShape, type LayerArgs, type LayerSite, type Shape } from './layer.js';

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

/** A pooling window as users write it: the kernel, and a stride (default: the kernel) and padding (default 0). */
export interface PoolWindowInput {
  kernel: number | Pair;
  stride?: number | Pair;
  padding?: number | Pair;
}

/** A pooling window, complete. */
export interface PoolWindow {
  kernel: Pair;
  stride: Pair;
  padding: Pair;
}

/**
 * The complete window of a pooling layer over `site`'s (C, H, W) input, checked as torch checks it: padding at most
 * half the kernel (so no window lies wholly in the padding), and at least one output.
 */
export function resolvePoolWindow(l: PoolWindowInput, site: LayerSite): PoolWindow & { input: [number, number, number] } {
  const input = imageInput(site);
  const [C, H, W] = input;
  const kernel = toPair('kernel', l.kernel, 1);
  const stride = toPair('stride', l.stride ?? kernel, 1);
  const padding = toPair('padding', l.padding ?? 0, 0);
  if (2 * padding[0] > kernel[0] || 2 * padding[1] > kernel[1]) {
    throw new Error(`padding ${showPair(padding)} must be at most half the kernel ${showPair(kernel)} (as torch requires)`);
  }
  if (H + 2 * padding[0] < kernel[0] || W + 2 * padding[1] < kernel[1]) {
    throw new Error(`its kernel ${showPair(kernel)} is larger than its padded input ${H + 2 * padding[0]}×${W + 2 * padding[1]} (input ${showImage(C, H, W)}, padding ${showPair(padding)})`);
  }
  return { kernel, stride, padding, input };
}

/** The text arguments of a pooling layer: `maxpool(K[,S][,pad=P])`. */
export const POOL_ARGS = [
  { key: 'kernel', type: 'pair', positional: true },
  { key: 'stride', type: 'pair', positional: true },
  { key: 'pad', type: 'pair0' },
] as const;

/** The window options given in a pooling layer's text arguments (bound by bindArgs against POOL_ARGS). */
export function poolWindowInput(name: string, a: Record<string, unknown>): PoolWindowInput {
  if (a.kernel === undefined) throw new Error(`${name}: give the kernel size, e.g. ${name}(2)`);
  return { kernel: a.kernel as Pair, ...(a.stride !== undefined ? { stride: a.stride as Pair } : {}), ...(a.pad !== undefined ? { padding: a.pad as Pair } : {}) };
}

/** `maxpool(2)`, `maxpool(3,2,pad=1)`: the stride left out when it equals the kernel, the padding when 0. */
export function formatPoolWindow(name: string, s: PoolWindow): string {
  const same = s.stride[0] === s.kernel[0] && s.stride[1] === s.kernel[1];
  return formatCall(name, [s.kernel, same ? undefined : s.stride], { pad: s.padding[0] || s.padding[1] ? s.padding : undefined });
}

/** The pooling geometry of a window over a (C, H, W) input. */
export function poolGeometry(s: PoolWindow, input: Shape): Pool2dGeometry {
  return { channels: input[0]!, height: input[1]!, width: input[2]!, kernel: s.kernel, stride: s.stride, padding: s.padding };
}

/**
 * What the pooling kinds share: reading `name(K[,S][,pad=P])`, writing it back, the complete window and the output
 * shape (N, C, OH, OW).
 */
export function poolWindowKind<T extends string>(type: T, name: string) {
  type Spec = PoolWindow & { type: T };
  return {
    parse: (n: string, args: LayerArgs): PoolWindowInput & { type: T } => ({ type, ...poolWindowInput(n, bindArgs(n, args, POOL_ARGS)) }),
    format: (s: Spec) => formatPoolWindow(name, s),
    resolve(l: PoolWindowInput, site: LayerSite): Spec {
      const { kernel, stride, padding } = resolvePoolWindow(l, site);
      return { type, kernel, stride, padding } as Spec;
    },
    outputShape(s: Spec, input: Shape): Shape {
      const [OH, OW] = pool2dOutputSize(poolGeometry(s, input));
      return [input[0]!, OH, OW];
    },
  };
}
