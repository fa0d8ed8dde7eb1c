/**
 * JSON that keeps every number. JSON has no NaN or ±Infinity, and JSON.stringify writes null for them, so a loss that
 * overflowed, a diverged loss and the NaN accuracy of a regression model would all read back as null (or as NaN) and
 * could not be told apart. Wherever wgtrain writes numbers as JSON (the CLI's `--json` lines, the epoch history and
 * the schedule state in checkpoints) it writes them as the strings "NaN", "Infinity" and "-Infinity", which are
 * what String(x) gives, what Number(s) and Python's float(s) read back; its own readers turn them into numbers again:
 *
 *   toJson({ loss: Infinity, accuracy: NaN })    '{"loss":"Infinity","accuracy":"NaN"}'
 *   fromJson('{"loss":"Infinity"}')              { loss: Infinity }
 *
 * Reading is by value: a string that is exactly one of the three words is a number, wherever it stands. No field
 * wgtrain writes holds such a string otherwise (names, reasons and adapter descriptions are longer).
 * Browser-safe, no dependencies.
 */

/** How the three numbers JSON lacks are written, as String(x) writes them. */
export const NON_FINITE_JSON = ['NaN', 'Infinity', '-Infinity'] as const;

/** `x` itself when finite, else its string ("NaN", "Infinity", "-Infinity"). */
export function encodeNumber(x: number): number | string {
  return Number.isFinite(x) ? x : String(x);
}

/** The number a JSON value stands for: a number as it is, one of NON_FINITE_JSON as its number, anything else as it is. */
export function decodeNumber(v: unknown): unknown {
  return typeof v === 'string' && (NON_FINITE_JSON as readonly string[]).includes(v) ? Number(v) : v;
}

/** JSON.stringify with non-finite numbers written as strings (see the module comment). */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'number' ? encodeNumber(v) : v), space);
}

/** JSON.parse that reads "NaN", "Infinity" and "-Infinity" back as numbers. */
export function fromJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => decodeNumber(v));
}

/** The same as fromJson, for a value already parsed by plain JSON.parse (a copy; the input is not changed). */
export function reviveNumbers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reviveNumbers);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reviveNumbers(v)]));
  }
  return decodeNumber(value);
}
