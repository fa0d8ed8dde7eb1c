/**
 * A small strict command-line parser for the wgtrain subcommands.
 *
 * Flags are declared once (`FlagSpecs`: name → type, help, default, choices); the parser accepts `--name value` and
 * `--name=value`, boolean flags as `--name` (or `--name=true|false`), and `-h` / `--help`. Anything else is an
 * `ArgError` whose message names the offending argument and lists the valid flags: an unknown flag (with a
 * "did you mean" when one is close), a missing or malformed value, a value outside `choices`, a flag given twice,
 * an empty string value, a positional argument. The same declarations produce the help text (`usage`).
 */

export type FlagType = 'string' | 'number' | 'int' | 'boolean';

export interface FlagSpec {
  type: FlagType;
  help: string;
  /** Value name in the help text, e.g. 'FILE' (default: the type in capitals). */
  value?: string;
  default?: string | number | boolean;
  /** Allowed values of a string flag (matched case-insensitively; the canonical spelling is returned). */
  choices?: readonly string[];
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

type ValueOf<F extends FlagSpec> = F['type'] extends 'boolean' ? boolean : F['type'] extends 'string' ? string : number;

/** Parsed values by flag name (defaults filled in), `help`, and the set of flags actually given. */
export type ParsedArgs<S extends FlagSpecs> = { values: { [K in keyof S]: ValueOf<S[K]> | undefined }; given: Set<keyof S & string>; help: boolean };

export class ArgError extends Error {
  override name = 'ArgError';
}

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

function convert(command: string, name: string, spec: FlagSpec, text: string): string | number | boolean {
  const bad = (want: string): never => {
    throw new ArgError(`${command}: --${name} must be ${want}, got ${JSON.stringify(text)}`);
  };
  switch (spec.type) {
    case 'boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      return bad('true or false');
    case 'number': {
      const x = text.trim() === '' ? NaN : Number(text);
      return Number.isFinite(x) ? x : bad('a number');
    }
    case 'int': {
      const x = text.trim() === '' ? NaN : Number(text);
      return Number.isInteger(x) ? x : bad('an integer');
    }
    case 'string': {
      if (text === '') return bad(`a non-empty ${spec.value ?? 'string'}`);
      if (!spec.choices) return text;
      const hit = spec.choices.find((c) => c.toLowerCase() === text.toLowerCase());
      return hit ?? bad(`one of ${spec.choices.join(', ')}`);
    }
  }
}

/** Parses `argv` (the arguments after the subcommand) against `specs`; `command` prefixes error messages. */
export function parseArgs<S extends FlagSpecs>(argv: readonly string[], specs: S, command: string): ParsedArgs<S> {
  const names = Object.keys(specs);
  const valid = () => names.map((n) => `--${n}`).join(', ');
  const values: Record<string, string | number | boolean | undefined> = {};
  const given = new Set<string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--') || arg === '--') {
      const hint = arg.startsWith('-') ? ' (flags start with --)' : '';
      throw new ArgError(`${command}: unexpected argument ${JSON.stringify(arg)}${hint}; valid flags: ${valid()}`);
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) {
      const close = names.map((n) => [n, distance(n, name)] as const).sort((a, b) => a[1] - b[1])[0];
      const hint = close && close[1] <= Math.max(2, Math.floor(name.length / 3)) ? ` (did you mean --${close[0]}?)` : '';
      throw new ArgError(`${command}: unknown flag --${name}${hint}; valid flags: ${valid()}`);
    }
    if (given.has(name)) throw new ArgError(`${command}: --${name} is given twice`);
    given.add(name);
    let text: string;
    if (eq >= 0) text = arg.slice(eq + 1);
    else if (spec.type === 'boolean') text = 'true';
    else {
      const next = argv[i + 1];
      // A following flag is not a value (negative numbers such as -1 are).
      if (next === undefined || next.startsWith('--')) {
        throw new ArgError(`${command}: --${name} needs a value (${spec.value ?? spec.type.toUpperCase()}): ${spec.help}`);
      }
      text = next;
      i++;
    }
    values[name] = convert(command, name, spec, text);
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (values[name] === undefined && spec.default !== undefined) values[name] = spec.default;
  }
  return { values: values as ParsedArgs<S>['values'], given: given as Set<keyof S & string>, help };
}

/** Help text: the usage line, then one line per flag with its value name, help, choices and default. */
export function usage(specs: FlagSpecs, line: string): string {
  const rows = Object.entries(specs).map(([name, s]) => {
    const left = `--${name}${s.type === 'boolean' ? '' : ` ${s.value ?? s.type.toUpperCase()}`}`;
    const extra = [s.choices ? `one of ${s.choices.join('|')}` : '', s.default !== undefined ? `default ${s.default}` : '']
      .filter(Boolean)
      .join('; ');
    return [left, extra ? `${s.help} (${extra})` : s.help] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [`usage: ${line}`, '', ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`)].join('\n');
}

/** Where a subcommand writes: injectable so tests can run the CLI in-process and read its output. */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Whether stdout / stderr are terminals (progress bars are drawn only there). */
  stdoutIsTTY: boolean;
  stderrIsTTY: boolean;
  columns?: number;
}

export function processIO(): CliIO {
  return {
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
    stdoutIsTTY: !!process.stdout.isTTY,
    stderrIsTTY: !!process.stderr.isTTY,
    columns: process.stderr.columns ?? process.stdout.columns,
  };
}
