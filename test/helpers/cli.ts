/** The `wgtrain` command run in-process: main() with its output captured (no terminal, so no progress bars). */
import { expect, type MockInstance } from 'vitest';
import { main } from '../../src/cli.js';
import type { CliIO } from '../../src/cli/args.js';

export async function runCli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const io: CliIO & { out: string; err: string } = {
    out: '',
    err: '',
    stdout: (t: string) => void (io.out += t),
    stderr: (t: string) => void (io.err += t),
    stdoutIsTTY: false,
    stderrIsTTY: false,
  };
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

/**
 * `wgtrain argv` exits 2 with `message` on stderr, under one "wgtrain <command>:" prefix, and none of `untouched` (the
 * test's spies on work that must not start: loading the data, creating a GPU engine) was called. Returns stderr.
 */
export async function expectRefusedEarly(argv: string[], message: string | RegExp, untouched: readonly MockInstance[]): Promise<string> {
  const r = await runCli(argv);
  expect(r.code, r.err).toBe(2);
  if (typeof message === 'string') expect(r.err).toContain(message);
  else expect(r.err).toMatch(message);
  expect(r.err).not.toMatch(/wgtrain \w+: wgtrain \w+:/);
  for (const spy of untouched) expect(spy).not.toHaveBeenCalled();
  return r.err;
}
