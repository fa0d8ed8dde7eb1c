#!/usr/bin/env node
/**
 * Every matmul candidate the autotuner considers (src/kernels/matmul-tune.ts), timed on each shape with GPU timestamps
 * exactly as the tuner times them, best first, with GFLOP/s: to see what wins where, and by how much, on a new GPU.
 * Shapes are those of the benchmark MLPs' steps (forward NN, weight gradient TN, input gradient NT) and 4096³.
 *
 *   node bench/matmul-sweep.mjs [--shapes 4096x4096x4096,784x256x128tA,...] [--top 6] [--json out.json]
 *                               [--max-candidates N]   (the first N candidates only: a quick run of the script itself)
 */
import { writeFileSync } from 'node:fs';
import { gitState, parseArgs, setupGpu } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const DEFAULT = [
  '4096x4096x4096',
  // 784-256-256-10 @ 128
  '128x256x784', '128x256x256', '128x10x256', '784x256x128tA', '256x256x128tA', '256x10x128tA', '128x256x10tB', '128x256x256tB', '1x256x128',
  // 784-1024-1024-10 @ 512
  '512x1024x784', '512x1024x1024', '784x1024x512tA', '1024x1024x512tA', '512x1024x1024tB', '512x1024x10tB', '1x1024x512',
  // 784-4096-4096-10 @ 1024
  '1024x4096x784', '1024x4096x4096', '784x4096x1024tA', '4096x4096x1024tA', '1024x4096x4096tB', '1024x4096x10tB', '4096x10x1024tA',
];
const SHAPES = (args.shapes ?? DEFAULT.join(',')).split(',').map((s) => {
  const transA = s.endsWith('tA');
  const transB = s.endsWith('tB');
  const [M, N, K] = s.replace(/t[AB]$/, '').split('x').map(Number);
  return { name: s, M, N, K, transA, transB };
});
const TOP = Number(args.top ?? 6);
const MAX_CANDIDATES = Number(args['max-candidates'] ?? Infinity);

const { adapter } = await setupGpu();
const wg = await import('../dist/index.js');
const engine = await wg.createEngine({ log: false });
const rand = (n, seed) => {
  const a = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 4294967296 - 0.5;
  }
  return a;
};
const log = (line) => process.stdout.write(line + '\n');
log(`matmul sweep: adapter ${adapter}; git ${JSON.stringify(gitState())}`);
const results = [];
for (const sh of SHAPES) {
  const { M, N, K, transA, transB } = sh;
  const a = engine.storage('sweep.a', rand(M * K, 1));
  const b = engine.storage('sweep.b', rand(K * N, 2));
  const bias = engine.storage('sweep.bias', rand(N, 3));
  const c = engine.storage('sweep.c', M * N * 4);
  const o = { M, N, K, transA, transB, a, b, c, bias: transA || transB ? undefined : bias };
  const t0 = performance.now();
  const rows = await wg.timeMatmulCandidates(engine, o, wg.matmulCandidates(engine, o).slice(0, MAX_CANDIDATES));
  const took = performance.now() - t0;
  rows.sort((x, y) => x.ms - y.ms);
  const flop = 2 * M * N * K;
  const fmt = (r) => `${r.config.variant}${JSON.stringify(r.config.tile).replace(/"/g, '')} ${Number.isFinite(r.ms) ? `${(r.ms * 1000).toFixed(1)}µs ${(flop / r.ms / 1e9).toFixed(2)}TF` : `failed: ${r.error}`}`;
  log(`${sh.name.padEnd(18)} (${rows.length} candidates, ${took.toFixed(0)} ms): ${rows.slice(0, TOP).map(fmt).join(' | ')}`);
  const failed = rows.filter((r) => !Number.isFinite(r.ms));
  if (failed.length) log(`    failed: ${failed.map(fmt).join(' | ')}`);
  results.push({ shape: sh.name, rows: rows.map((r) => ({ ...r.config, ms: r.ms, tflops: flop / r.ms / 1e9, error: r.error })) });
  for (const x of [a, b, bias, c]) x.destroy();
}
engine.destroy();
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'matmul-sweep', date: new Date().toISOString(), adapter, results }, null, 2));
process.exit(0);
