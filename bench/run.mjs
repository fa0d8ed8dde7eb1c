#!/usr/bin/env node
/**
 * `npm run bench`: builds dist/, then runs each benchmark in its own Node process, one after the other (never in
 * parallel: they would time each other), each under a wall-clock limit. Every benchmark prints its table as it goes
 * and writes JSON to bench/results/<name>.json (git-ignored). Benchmarks time; they never check results (tests do).
 *
 *   step      bench/step.mjs     one training step (forward, softmax-CE, backward, Adam) — wgtrain, tfjs, jax-js
 *   kernels   bench/kernels.mjs  matmul GFLOP/s — wgtrain 'registers' and 'tiled', tfjs, jax-js
 *
 *   npm run bench [-- NAME_FILTER] [-- --repeats 3 ...]   (arguments after the filter go to every benchmark)
 *   WGTRAIN_ADAPTER=hardware npm run bench                 (refuse the SwiftShader fallback)
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const BENCHES = [
  { name: 'step', file: 'step.mjs', limitS: 420 },
  { name: 'kernels', file: 'kernels.mjs', limitS: 300 },
];
const argv = process.argv.slice(2);
const filter = argv[0] && !argv[0].startsWith('--') ? new RegExp(argv.shift()) : null;
const extra = argv;
const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });

let failed = 0;
for (const b of BENCHES.filter((b) => !filter || filter.test(b.name))) {
  const t0 = performance.now();
  const json = join(outDir, `${b.name}.json`);
  console.log(`\n== bench ${b.name} (limit ${b.limitS} s) ==`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(here, b.file), '--json', json, ...extra], { stdio: 'inherit' });
    const timer = setTimeout(() => {
      console.error(`bench ${b.name}: over ${b.limitS} s, stopping it`);
      child.kill('SIGKILL');
    }, b.limitS * 1000);
    child.on('exit', (c, sig) => {
      clearTimeout(timer);
      resolve(c ?? (sig ? 1 : 0));
    });
  });
  console.log(`== ${b.name}: ${code === 0 ? `done in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${json}` : `FAILED (exit ${code})`} ==`);
  if (code !== 0) failed++;
}
process.exit(failed ? 1 : 0);
