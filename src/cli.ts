/**
 * The `wgtrain` command: dispatches to the subcommands.
 *
 *   wgtrain train [flags]                 train an MLP on MNIST (src/cli/train.ts)
 *   wgtrain evaluate --checkpoint FILE    test accuracy of a checkpoint (src/cli/evaluate.ts)
 *   wgtrain trace --spec SPEC.json        optimizer trace for comparison with torch (src/cli/trace.ts)
 *   wgtrain minimize --function F --method M   a method on a test function, its iterates (src/cli/minimize.ts)
 *   wgtrain selftest [--adapter ...]      GPU-vs-CPU self-checks of every kernel family (src/selftest)
 *   wgtrain --help | --version
 *
 * Exit status: 0 success, 1 failure, 2 bad arguments (checked before any data loads or the GPU starts), 3 a training
 * run that diverged, 130 after Ctrl-C in train.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pkg from '../package.json';
import { ArgError, parseArgs, processIO, usage, type CliIO, type FlagSpecs } from './cli/args.js';
import { evaluateMain } from './cli/evaluate.js';
import { minimizeMain } from './cli/minimize.js';
import { traceMain } from './cli/trace.js';
import { ADAPTER_FLAG, trainMain } from './cli/train.js';
import { adapterChoice } from './cli/checks.js';
import { createEngine } from './gpu/node.js';
import { describeWorst, selfTest } from './selftest/index.js';
import { toJson } from './json-numbers.js';

export const VERSION: string = pkg.version;

const COMMANDS = ['train', 'evaluate', 'trace', 'selftest', 'minimize'] as const;

const HELP = `wgtrain ${VERSION}: neural-network training on WebGPU

usage: wgtrain <command> [flags]

commands:
  train      train an MLP on MNIST (default 784-256-256-10 relu, Adam, 5 epochs: >= 98% test accuracy)
  evaluate   loss and accuracy of a checkpoint on the MNIST test set
  trace      run an optimizer on given gradients or a test function (compare with torch.optim)
  selftest   GPU-vs-CPU checks of every kernel on this machine's adapter
  minimize   minimise a test function with L-BFGS, CG, Newton, Levenberg-Marquardt or any optimizer

  wgtrain <command> --help   flags of a command
  wgtrain --version
`;

const SELFTEST_FLAGS = {
  adapter: ADAPTER_FLAG,
  filter: { type: 'string', value: 'REGEX', help: 'only checks whose name matches' },
  seed: { type: 'int', value: 'S', help: 'seed of the random inputs (default: time-based)' },
  json: { type: 'boolean', help: 'one JSON list of results on stdout' },
} as const satisfies FlagSpecs;

export async function selftestMain(argv: string[], io: CliIO = processIO()): Promise<number> {
  let args;
  let filter: RegExp | undefined;
  let adapter;
  try {
    args = parseArgs(argv, SELFTEST_FLAGS, 'wgtrain selftest');
    adapter = adapterChoice(args.values.adapter, 'wgtrain selftest');
    if (args.values.filter !== undefined) {
      try {
        filter = new RegExp(args.values.filter);
      } catch (e) {
        throw new ArgError(`wgtrain selftest: --filter: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    if (!(e instanceof ArgError)) throw e;
    io.stderr(`${e.message}\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(usage(SELFTEST_FLAGS, 'wgtrain selftest [flags]') + '\n');
    return 0;
  }
  const v = args.values;
  const log = (line: string) => (v.json ? io.stderr : io.stdout)(line + '\n');
  let engine;
  try {
    engine = await createEngine({ ...(adapter ? { adapter } : {}), log });
    const results = await selfTest(engine, { ...(v.seed !== undefined ? { seed: v.seed } : {}), ...(filter ? { filter } : {}) });
    const failed = results.filter((r) => !r.ok);
    if (v.json) io.stdout(toJson(results) + '\n');
    else {
      for (const r of results) log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name} (${r.ms.toFixed(0)} ms)${r.ok ? (r.worst ? `  ${describeWorst(r)}` : '') : `\n     ${r.error}`}`);
      log(`${results.length - failed.length}/${results.length} checks passed`);
    }
    if (results.length === 0) {
      io.stderr('wgtrain selftest: no check matched\n');
      return 1;
    }
    return failed.length ? 1 : 0;
  } catch (e) {
    io.stderr(`wgtrain selftest: ${(e as Error).message}\n`);
    return 1;
  } finally {
    engine?.destroy();
  }
}

/** Runs the command line `argv` (without node and the script); resolves to the exit status. */
export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      return trainMain(rest, io);
    case 'evaluate':
    case 'eval':
      return evaluateMain(rest, io);
    case 'trace':
      return traceMain(rest, io);
    case 'minimize':
      return minimizeMain(rest, io);
    case 'selftest':
      return selftestMain(rest, io);
    case '--help':
    case '-h':
    case 'help':
      io.stdout(HELP);
      return 0;
    case '--version':
    case '-V':
    case 'version':
      io.stdout(`wgtrain ${VERSION}\n`);
      return 0;
    case undefined:
      io.stderr(HELP);
      return 2;
    default:
      io.stderr(`wgtrain: unknown command ${JSON.stringify(command)}; commands: ${COMMANDS.join(', ')} (wgtrain --help)\n`);
      return 2;
  }
}

/** True when this module is the program being run (dist/cli.js, possibly through a bin symlink), not an import. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`wgtrain: ${(e as Error).stack ?? e}\n`);
      process.exit(1);
    },
  );
}
