#!/usr/bin/env node
/**
 * The host's share of a wgtrain training step: the time `runner.step()` takes to return (JavaScript, and Dawn's
 * encoding and submit), apart from the GPU's work. Where the GPU is fast (the small MLP on an H200) this is the step.
 *
 * bench/step.mjs reports the mean of the same interval. On a shared machine, and on SwiftShader, whose worker threads
 * share the cores with the main thread, a few steps that lost the CPU to another thread dominate a mean; the median of
 * many steps is the cost of the code. Both are printed here, with the 10th and 90th percentiles.
 *
 * The loop is the trainer's: `runner.step(...)`, then `await runner.ready()` (bounded run-ahead), the metrics read
 * back every 50 steps; Adam with the non-finite guard (the default config), batches gathered on the device.
 *
 *   node bench/host-step.mjs [--configs 784-128-10@64,784-256-256-10@128,cnn@8] [--seconds 6] [--examples 1024]
 *                            [--json out.json]
 */
import { writeFileSync } from 'node:fs';
import { gitState, load1, machine, median, parseArgs, setupGpu } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const CONFIGS = (args.configs ?? '784-128-10@64,784-256-256-10@128,cnn@8').split(',');
const SECONDS = Number(args.seconds ?? 6);
const EXAMPLES = Number(args.examples ?? 1024);
const WARMUP = 5;
const MIN_STEPS = 10;

const { adapter } = await setupGpu();
const wg = await import('../dist/index.js');

const mnist = await wg.loadMnist();
const ds = mnist.train.subset(Uint32Array.from({ length: EXAMPLES }, (_, i) => i), `mnist-${EXAMPLES}`);
const engine = await wg.createEngine({ log: false });
const log = (line) => process.stdout.write(line + '\n');
log(`host-step bench: adapter ${adapter}; ${JSON.stringify(machine())}; git ${JSON.stringify(gitState())}; ~${SECONDS} s per config`);

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
const results = [];
for (const cfg of CONFIGS) {
  const [spec, b] = cfg.split('@');
  const batch = Number(b);
  const model = wg.parseModelSpec(spec === 'cnn' ? wg.presetByName('cnn').model : `${spec}:relu`);
  const runner = await wg.createGpuRunner(engine, { model, batchSize: batch, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 1 });
  await runner.setTrainingData(ds);
  runner.beginEpoch(ds.batches({ batchSize: batch, seed: 1 }).permutation(0));
  const perEpoch = Math.floor(EXAMPLES / batch);
  let s = 0;
  const input = () => ({ step: s, start: (s % perEpoch) * batch, rows: batch, lr: 1e-3 });
  for (; s < WARMUP; s++) {
    runner.step(input());
    await runner.ready();
  }
  await runner.flushMetrics();
  const us = [];
  const load = load1();
  const t0 = performance.now();
  while (us.length < MIN_STEPS || performance.now() - t0 < SECONDS * 1000) {
    const step = input();
    const w0 = performance.now();
    runner.step(step);
    us.push((performance.now() - w0) * 1e3);
    s++;
    await runner.ready();
  }
  await runner.flushMetrics();
  const msPerStep = (performance.now() - t0) / us.length;
  const sorted = [...us].sort((x, y) => x - y);
  const row = {
    config: cfg,
    steps: us.length,
    dispatchesPerStep: runner.dispatchesPerStep,
    hostUsMedian: +median(us).toFixed(1),
    hostUsMean: +(us.reduce((a, x) => a + x, 0) / us.length).toFixed(1),
    hostUsP10: +quantile(sorted, 0.1).toFixed(1),
    hostUsP90: +quantile(sorted, 0.9).toFixed(1),
    msPerStep: +msPerStep.toFixed(3),
    load1: [load, load1()],
  };
  results.push(row);
  log(`  ${cfg.padEnd(20)} ${String(row.dispatchesPerStep).padStart(3)} dispatches  runner.step(): ${row.hostUsMedian} µs median, ${row.hostUsMean} mean ` +
    `[p10 ${row.hostUsP10}, p90 ${row.hostUsP90}] over ${row.steps} steps; ${row.msPerStep} ms/step  load ${row.load1.join('→')}`);
  runner.destroy();
}
engine.destroy();
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'host-step', date: new Date().toISOString(), git: gitState(), adapter, machine: machine(), results }, null, 2));
process.exit(0); // Dawn keeps handles open
