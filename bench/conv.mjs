#!/usr/bin/env node
/**
 * Conv2D on one adapter, per layer of the CNN preset (`wgtrain train --model cnn`): wgtrain's im2col + matmul — each
 * op of the layer's forward and backward plan timed alone — beside a direct convolution (bench/direct-conv.wgsl: one
 * output per invocation, the taps read straight from x and W; an implicit GEMM without register blocking) and
 * TensorFlow.js's conv2d forward (WebGPU backend, NHWC). GFLOP/s counts 2·N·P·F·K multiply-adds per product (P output
 * pixels, K = C·kh·kw taps); im2col, col2im and the transpose are data movement (0 FLOP) and shown in ms.
 * What it is for: the choice between im2col and an implicit GEMM in shaders/conv2d.wgsl's header. After each layer's
 * convolution, its BatchNorm2d (training forward with the fused ReLU, and backward) in both reduction forms, each
 * forced (kernels/batchnorm2d.ts: 'single', one workgroup per channel; 'split', K chunks per channel and one more
 * dispatch), with the form the adapter picks by default marked: the rule's thresholds are estimates until a GPU
 * has timed both. GB/s counts the bytes the op must move (forward: x read, y and out written; backward: x, dy read,
 * dx written), so compare it with the copy bandwidth.
 *
 *   node bench/conv.mjs [--batch 8] [--repeats 3] [--target-ms 300] [--tfjs false] [--json out.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gitState, machine, median, parseArgs, setupGpu, timeIt, unitsFor } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const BATCH = Number(args.batch ?? 8);
const REPEATS = Number(args.repeats ?? 3);
const TARGET_MS = Number(args['target-ms'] ?? 300);
const { adapter } = await setupGpu();
const wg = await import('../dist/index.js');
const engine = await wg.createEngine({ log: false });
const device = engine.device;

const LAYERS = [[1, 32, 28], [32, 32, 28], [32, 64, 14], [64, 64, 14]].map(([c, f, s]) => ({
  channels: c, height: s, width: s, filters: f, kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1],
}));

/** ms per run of `encode(pass)` alone: n runs in one pass, submitted, awaited; median of REPEATS. */
async function timeOp(encode) {
  const run = async (n) => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (let k = 0; k < n; k++) encode(pass);
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(1);
  const n = unitsFor(await timeIt(1, run), TARGET_MS, 1, 50);
  const t = [];
  for (let r = 0; r < REPEATS; r++) t.push((await timeIt(n, run)) / n);
  return median(t);
}

const direct = (() => {
  const module = device.createShaderModule({ code: readFileSync(new URL('./direct-conv.wgsl', import.meta.url), 'utf8') });
  return device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
})();

let tf = null;
if (args.tfjs !== 'false') {
  const { loadTfjs } = await import('./tfjs.mjs');
  tf = await loadTfjs();
  if (!(await tf.setBackend('webgpu'))) tf = null;
  else await tf.ready();
}

/** BatchNorm2d of the convolution's output x [BATCH, C, P] in each reduction form: forward (+ReLU into z), backward. */
async function batchnormRows(what, C, P, x, z, dy) {
  const buf = (n, label, fill) => engine.storage(label, Float32Array.from({ length: n }, (_, i) => fill(i)));
  const n = BATCH * C * P;
  const p = {
    gamma: buf(C, 'gamma', () => 1), beta: buf(C, 'beta', () => 0), running: buf(2 * C, 'running', (i) => (i < C ? 0 : 1)), saved: buf(2 * C, 'saved', () => 1),
    dgamma: buf(C, 'dgamma', () => 0), dbeta: buf(C, 'dbeta', () => 0), y: buf(n, 'bn y', () => 0), dx: buf(n, 'bn dx', () => 0),
  };
  const shape = { batch: BATCH, channels: C, plane: P };
  const auto = wg.batchnorm2dReduction(engine, shape).form;
  const bytes = 4 * n;
  const out = [];
  for (const reduction of ['single', 'split']) {
    const f = await wg.BatchNorm2dOp.forwardTrain(engine, { ...shape, reduction, x, y: p.y, gamma: p.gamma, beta: p.beta, running: p.running, saved: p.saved, epilogue: { activation: 'relu', out: z } });
    const bw = await wg.BatchNorm2dOp.backward(engine, { ...shape, reduction, x, dy, gamma: p.gamma, saved: p.saved, dx: p.dx, dgamma: p.dgamma, dbeta: p.dbeta });
    const form = `${f.detail}${reduction === auto ? ', default here' : ''}`;
    for (const [name, op, moved] of [['bn2d+relu forward', f, 3 * bytes], ['bn2d backward', bw, 3 * bytes]]) {
      const ms = await timeOp((pass) => op.encode(pass));
      out.push({ layer: what, impl: `wgtrain ${name} (${form})`, ms: +ms.toFixed(3), gbps: +(moved / ms / 1e6).toPrecision(3) });
    }
    f.destroy();
    bw.destroy();
  }
  for (const v of Object.values(p)) v.destroy();
  return out;
}

const rows = [];
const log = (l) => process.stdout.write(l + '\n');
log(`conv bench: adapter ${adapter}; batch ${BATCH}; ${JSON.stringify(machine())}`);
for (const g of LAYERS) {
  const s = wg.conv2dSizes(g, BATCH);
  const flop = 2 * BATCH * s.P * g.filters * s.K;
  const buf = (n, label) => engine.storage(label, Float32Array.from({ length: n }, (_, i) => Math.sin(i)));
  const b = { x: buf(s.x, 'x'), w: buf(s.K * g.filters, 'w'), y: buf(s.y, 'y'), z: buf(s.y, 'z'), dy: buf(s.y, 'dy'), dw: buf(s.K * g.filters, 'dw'), dx: buf(s.x, 'dx'), cols: buf(s.cols, 'cols'), rows: buf(s.rowsF, 'rows') };
  const what = `C=${g.channels} F=${g.filters} ${g.height}×${g.width}`;
  const fwd = await wg.conv2dForwardOps(engine, { geometry: g, rows: BATCH, x: b.x, weight: b.w, y: b.y, cols: b.cols });
  const bwd = await wg.conv2dBackwardOps(engine, { geometry: g, rows: BATCH, weight: b.w, dy: b.dy, dweight: b.dw, dx: b.dx, cols: b.cols, rowsBuf: b.rows });
  for (const o of [...fwd, ...bwd]) {
    const ms = await timeOp((pass) => o.op.encode(pass));
    const isProduct = o.name === 'forward' || o.name === 'dW' || o.name === 'dcols';
    rows.push({ layer: what, impl: `wgtrain ${o.name}${o.op.detail ? ` (${o.op.detail})` : ''}`, ms: +ms.toFixed(3), gflops: isProduct ? +(flop / ms / 1e6).toFixed(2) : undefined });
  }
  // im2col in each form (the plan above used the adapter's default), interleaved so that load hits both alike.
  const forms = await Promise.all(['elements', 'rows'].map((form) => wg.ConvDataOp.im2col(engine, { geometry: g, rows: BATCH, x: b.x, cols: b.cols, form })));
  const formMs = [[], []];
  for (let r = 0; r < REPEATS; r++) for (const [i, op] of forms.entries()) formMs[i].push(await timeOp((pass) => op.encode(pass)));
  for (const [i, form] of ['elements', 'rows'].entries()) rows.push({ layer: what, impl: `wgtrain im2col by ${form}`, ms: +median(formMs[i]).toFixed(3) });
  for (const op of forms) op.destroy();
  const u = device.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(u, 0, new Uint32Array([BATCH, g.channels, g.height, g.width, g.filters, 3, 3, 1, 1, g.height, g.width, s.y]));
  const bg = device.createBindGroup({ layout: direct.getBindGroupLayout(0), entries: [u, b.x, b.w, b.y].map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const groups = Math.ceil(s.y / 64);
  const ms = await timeOp((pass) => {
    pass.setPipeline(direct);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(Math.min(groups, 65535), Math.ceil(groups / 65535));
  });
  rows.push({ layer: what, impl: 'direct conv forward (bench/direct-conv.wgsl)', ms: +ms.toFixed(3), gflops: +(flop / ms / 1e6).toFixed(2) });
  if (tf) {
    const x = tf.randomNormal([BATCH, g.height, g.width, g.channels]);
    const k = tf.randomNormal([3, 3, g.channels, g.filters]);
    const once = async (n) => {
      let y = null;
      for (let i = 0; i < n; i++) {
        y?.dispose();
        y = tf.conv2d(x, k, 1, 'same');
      }
      await y.data();
      y.dispose();
    };
    await once(2);
    const n = unitsFor(await timeIt(1, once), TARGET_MS, 1, 50);
    const t = [];
    for (let r = 0; r < REPEATS; r++) t.push((await timeIt(n, once)) / n);
    rows.push({ layer: what, impl: 'tfjs conv2d forward (NHWC, includes a readback per repeat)', ms: +median(t).toFixed(3), gflops: +(flop / median(t) / 1e6).toFixed(2) });
    x.dispose();
    k.dispose();
  }
  rows.push(...(await batchnormRows(what, g.filters, s.y / (BATCH * g.filters), b.y, b.z, b.dy)));
  for (const o of [...fwd, ...bwd]) o.op.destroy();
  for (const x of Object.values(b)) x.destroy();
  u.destroy();
  for (const r of rows.filter((r) => r.layer === what)) {
    const rate = r.gflops !== undefined ? `  ${r.gflops} GFLOP/s` : r.gbps !== undefined ? `  ${r.gbps} GB/s` : '';
    log(`  ${what.padEnd(22)} ${r.impl.padEnd(58)} ${String(r.ms).padStart(9)} ms${rate}`);
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'conv', date: new Date().toISOString(), git: gitState(), adapter, batch: BATCH, rows }, null, 2));
process.exit(0);
