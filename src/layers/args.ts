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
  /** One of the listed words. */
  | readonly string[];

export interface ArgDecl {
  key: string;
  type: ArgType;
  /** May be given without its key, in declaration order. */
  positional?: boolean;
}

export type ArgValue = number | boolean | string;

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

/** `name` or `name(a,b,k=v)` from the given arguments (those undefined left out). */
export function formatCall(name: string, positional: readonly (ArgValue | undefined)[], named: Record<string, ArgValue | undefined> = {}): string {
  const parts = [
    ...positional.filter((v) => v !== undefined).map(String),
    ...Object.entries(named).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`),
  ];
  return parts.length ? `${name}(${parts.join(',')})` : name;
}
