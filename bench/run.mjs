#!/usr/bin/env node
/**
 * `npm run bench`: builds dist/, then runs each benchmark in its own Node process, one after the other (never in
 * parallel: they would time each other), each under a wall-clock limit. Every benchmark prints its table as it goes
 * and writes JSON to bench/results/<name>.json (git-ignored). Benchmarks time; they never check results (tests do).
 *
 *   step      bench/step.mjs       one training step (forward, softmax-CE, backward, Adam) — wgtrain, tfjs, jax-js
 *   torch     bench/torch_step.py  the same step in PyTorch, eager and as a CUDA graph (TF32 off), plus cuBLAS f32
 *                                  GFLOP/s — only where python3 has torch and a CUDA GPU; skipped otherwise
 *   kernels   bench/kernels.mjs    matmul GFLOP/s — wgtrain's variants and its tuned choice, tfjs, jax-js
 *   conv      bench/conv.mjs       each op of the CNN preset's convolutions (im2col, products, col2im) beside a
 *                                  direct convolution and TF.js's conv2d
 * At the end, the step rows of wgtrain and PyTorch side by side (when both ran).
 *
 *   npm run bench [-- NAME_FILTER] [-- --repeats 3 ...]   (arguments after the filter go to every benchmark)
 *   WGTRAIN_ADAPTER=hardware npm run bench                 (refuse the SwiftShader fallback)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const BENCHES = [
  { name: 'step', file: 'step.mjs', limitS: 420 },
  { name: 'torch', file: 'torch_step.py', limitS: 300, python: true },
  { name: 'kernels', file: 'kernels.mjs', limitS: 300 },
  { name: 'conv', file: 'conv.mjs', limitS: 300 },
];
const argv = process.argv.slice(2);
const filter = argv[0] && !argv[0].startsWith('--') ? new RegExp(argv.shift()) : null;
const extra = argv;
const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });

function configsOnly(argv) {
  const i = argv.indexOf('--configs');
  return i >= 0 && argv[i + 1] ? ['--configs', argv[i + 1]] : [];
}

const runStart = Date.now();
let failed = 0;
for (const b of BENCHES.filter((b) => !filter || filter.test(b.name))) {
  const t0 = performance.now();
  const json = join(outDir, `${b.name}.json`);
  console.log(`\n== bench ${b.name} (limit ${b.limitS} s) ==`);
  const code = await new Promise((resolve) => {
    // PyTorch's step takes the same --configs as step.mjs; other step flags mean nothing to it.
    const args = b.python ? ['--json', json, ...configsOnly(extra)] : ['--json', json, ...extra];
    const child = b.python
      ? spawn(process.env.PYTHON ?? 'python3', [join(here, b.file), ...args], { stdio: 'inherit' })
      : spawn(process.execPath, [join(here, b.file), ...args], { stdio: 'inherit' });
    child.on('error', (e) => {
      console.log(`bench ${b.name}: cannot start (${e.message}); skipped`);
      resolve(b.python ? 0 : 1);
    });
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
// The step side by side: wgtrain (and the other WebGPU frameworks) next to PyTorch, same configs.
try {
  // Only results written by this run.
  const fresh = (f) => existsSync(join(outDir, f)) && statSync(join(outDir, f)).mtimeMs >= runStart;
  const step = fresh('step.json') ? JSON.parse(readFileSync(join(outDir, 'step.json'), 'utf8')) : null;
  const torch = fresh('torch.json') ? JSON.parse(readFileSync(join(outDir, 'torch.json'), 'utf8')) : null;
  if (step && torch) {
    const rows = [...step.results, ...torch.results].filter((r) => r.msPerStep !== undefined);
    const configs = [...new Set(rows.map((r) => r.config))];
    const fws = [...new Set(rows.map((r) => r.framework))];
    console.log(`\n== step, ms per step (steps/s): ${step.adapter}; ${torch.device} ==`);
    console.log(['config', ...fws].join(' | '));
    for (const c of configs) {
      console.log([c, ...fws.map((f) => {
        const r = rows.find((x) => x.config === c && x.framework === f);
        return r ? `${r.msPerStep} (${Math.round(r.stepsPerSec)})` : '—';
      })].join(' | '));
    }
  }
} catch {
  // a benchmark did not run or wrote no JSON: its own output above says why
}
process.exit(failed ? 1 : 0);
