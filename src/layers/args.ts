/**
 * Reading a layer's text arguments (`dense(256, bias=false)`) against a small declaration, for the kinds' `syntax`:
 * positional arguments fill the declared keys in order, `key=value` ones by name; each value is checked and
 * converted by its type. Errors name the layer and the argument.
 */
import type { LayerArgs } from './layer.js';

export type ArgType =
  /** Integer ≥ 1. */
  | 'count'
  /** Finite number. */
  | 'number'
  | 'bool'
  /** A pair of integers ≥ 1 for (rows, columns): `3` (both) or `3x5`. */
  | 'pair'
  /** A pair of integers ≥ 0: `1` or `1x2`. */
  | 'pair0'
  /** Padding: a 'pair0', or the word `same` or `valid`. */
  | 'padding'
  /** One of the listed words. */
  | readonly string[];

export interface ArgDecl {
  key: string;
  type: ArgType;
  /** May be given without its key, in declaration order. */
  positional?: boolean;
}

export type ArgValue = number | boolean | string | readonly [number, number];

function convert(layer: string, key: string, raw: string, type: ArgType): ArgValue {
  const bad = (want: string): never => {
    throw new Error(`${layer}: ${key}=${raw} must be ${want}`);
  };
  if (type === 'count') {
    const v = Number(raw);
    return Number.isInteger(v) && v >= 1 ? v : bad('a positive integer');
  }
  if (type === 'number') {
    const v = raw.trim() === '' ? NaN : Number(raw);
    return Number.isFinite(v) ? v : bad('a finite number');
  }
  if (type === 'bool') return raw === 'true' ? true : raw === 'false' ? false : bad('true or false');
  if (type === 'padding' && (raw === 'same' || raw === 'valid')) return raw;
  if (type === 'pair' || type === 'pair0' || type === 'padding') {
    const min = type === 'pair' ? 1 : 0;
    const parts = raw.split('x').map((t) => (t.trim() === '' ? NaN : Number(t)));
    const ok = (parts.length === 1 || parts.length === 2) && parts.every((v) => Number.isInteger(v) && v >= min);
    const want = `${min ? 'a positive integer' : 'an integer ≥ 0'} or two as HxW (e.g. ${min ? '3 or 3x5' : '1 or 1x2'})${type === 'padding' ? ', or same or valid' : ''}`;
    return ok ? ([parts[0]!, parts[parts.length - 1]!] as const) : bad(want);
  }
  return type.includes(raw) ? raw : bad(`one of ${type.join(', ')}`);
}

/** The arguments as a record by key; unknown keys, extra positionals and repeats are errors. */
export function bindArgs(layer: string, args: LayerArgs, decls: readonly ArgDecl[]): Record<string, ArgValue> {
  const out: Record<string, ArgValue> = {};
  const positional = decls.filter((d) => d.positional);
  if (args.positional.length > positional.length) {
    const takes = positional.length ? `takes at most ${positional.length} positional argument${positional.length > 1 ? 's' : ''} (${positional.map((d) => d.key).join(', ')})` : 'takes no positional arguments';
    throw new Error(`${layer}: ${takes}, got ${args.positional.length}`);
  }
  args.positional.forEach((raw, i) => {
    const d = positional[i]!;
    out[d.key] = convert(layer, d.key, raw, d.type);
  });
  for (const [key, raw] of Object.entries(args.named)) {
    const d = decls.find((x) => x.key === key);
    if (!d) throw new Error(`${layer}: unknown argument '${key}' (${decls.length ? `it takes ${decls.map((x) => x.key).join(', ')}` : 'it takes none'})`);
    if (key in out) throw new Error(`${layer}: ${key} is given twice`);
    out[key] = convert(layer, key, raw, d.type);
  }
  return out;
}

/** A pair as the text form writes it: `3` when both are equal, else `3x5`. */
export function formatPair(p: readonly [number, number]): string {
  return p[0] === p[1] ? String(p[0]) : `${p[0]}x${p[1]}`;
}

/** `name` or `name(a,b,k=v)` from the given arguments (those undefined left out; pairs as formatPair). */
export function formatCall(name: string, positional: readonly (ArgValue | undefined)[], named: Record<string, ArgValue | undefined> = {}): string {
  const show = (v: ArgValue): string => (Array.isArray(v) ? formatPair(v as readonly [number, number]) : String(v));
  const parts = [
    ...positional.filter((v) => v !== undefined).map((v) => show(v!)),
    ...Object.entries(named).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${show(v!)}`),
  ];
  return parts.length ? `${name}(${parts.join(',')})` : name;
}
