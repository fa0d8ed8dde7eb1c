/** The `wgtrain` command run in-process: main() with its output captured (no terminal, so no progress bars). */
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
