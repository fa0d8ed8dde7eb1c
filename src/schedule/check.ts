/**
 * Argument checks shared by the learning-rate schedules. Each check throws a ScheduleError that names the schedule,
 * the argument and the value it got, and says what would be accepted, so a bad CLI spec or config file fails at
 * construction instead of producing a NaN learning rate a thousand steps later.
 */

/** Any invalid schedule argument, spec string, feed or checkpoint state. */
export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

function fail(owner: string, name: string, want: string, got: unknown, hint?: string): never {
  const shown = typeof got === 'string' ? JSON.stringify(got) : String(got);
  throw new ScheduleError(`${owner}: ${name} must be ${want}, got ${shown}${hint ? ` (${hint})` : ''}`);
}

export function finite(owner: string, name: string, v: unknown, hint?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(owner, name, 'a finite number', v, hint);
  return v;
}

export function nonNegative(owner: string, name: string, v: unknown, hint?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(owner, name, 'a finite number >= 0', v, hint);
  return v;
}

export function positive(owner: string, name: string, v: unknown, hint?: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(owner, name, 'a finite number > 0', v, hint);
  return v;
}

export function positiveInt(owner: string, name: string, v: unknown, hint?: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) fail(owner, name, 'a positive integer', v, hint);
  return v;
}

export function nonNegativeInt(owner: string, name: string, v: unknown, hint?: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(owner, name, 'an integer >= 0', v, hint);
  return v;
}

/** lo <= v <= hi, with either end optionally open. */
export function inRange(
  owner: string,
  name: string,
  v: unknown,
  lo: number,
  hi: number,
  open: { lo?: boolean; hi?: boolean } = {},
  hint?: string,
): number {
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (open.lo ? v > lo : v >= lo) &&
    (open.hi ? v < hi : v <= hi);
  if (!ok) fail(owner, name, `in ${open.lo ? '(' : '['}${lo}, ${hi}${open.hi ? ')' : ']'}`, v, hint);
  return v as number;
}

export function oneOf<T extends string>(owner: string, name: string, v: unknown, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    fail(owner, name, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, v);
  }
  return v as T;
}

export function bool(owner: string, name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(owner, name, 'true or false', v);
  return v;
}
