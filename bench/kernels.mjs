#!/usr/bin/env node
/**
 * Matmul throughput (GFLOP/s = 2·M·N·K per product) of wgtrain's MatmulOp variants — 'registers' (4×4 outputs
 * per invocation, no workgroup memory), 'registers-vec4' (8×8 per invocation, vec4 loads; what software adapters
 * get by default since cacca5b) and 'tiled' (workgroup tiles, barriers) — and, for reference, of
 * TensorFlow.js's and jax-js's WebGPU matmul on the same adapter in the same process. Shapes are those of the
 * MNIST MLP step (a batch through a layer, a weight gradient Xᵀ·dZ) plus square ones.
 *
 * wgtrain: n dispatches of one planned MatmulOp in one compute pass, one submit, then
 * `await queue.onSubmittedWorkDone()`. tfjs: n `tf.matMul` calls, then `await data()` of the last product.
 * jax-js: n calls of `jit(np.matmul)`, then `blockUntilReady` of all n products. Median over repeats (common.mjs).
 *
 *   node bench/kernels.mjs [--shapes 64x784x128,256x256x256] [--repeats 5] [--target-ms 500]
 *                          [--impls registers,registers-vec4,tiled,tfjs,jax] [--json out.json]
 *   (any other name in --impls is passed to MatmulOp as its `variant`, e.g. 'tiled8'; 'tuned' lets MatmulOp tune the
 *   variant and tile for the shape, as a training plan does on hardware adapters)
 */
import { writeFileSync } from 'node:fs';
import { counters, gitState, load1, machine, median, parseArgs, setupGpu, timeIt, unitsFor, withTimeout } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
// MxNxK, optional 'tA' / 'tB' suffix: A stored K×M (the weight gradient dW = Xᵀ·dZ), B stored N×K (dX = dZ·Wᵀ).
const SHAPES = (args.shapes ?? '64x784x128,128x784x256,784x128x64tA,256x256x256,512x512x512').split(',').map((s) => {
  const transA = s.endsWith('tA');
  const transB = s.endsWith('tB');
  const [M, N, K] = s.replace(/t[AB]$/, '').split('x').map(Number);
  return { name: s, M, N, K, transA, transB };
});
const REPEATS = Number(args.repeats ?? 5);
const TARGET_MS = Number(args['target-ms'] ?? 500);
const IMPLS = (args.impls ?? 'registers,registers-vec4,tiled,tiled8,tuned,tfjs,jax').split(',');
/** A first (warm) product slower than this is timed once more and not repeated: 'tiled' on SwiftShader is that slow. */
const SLOW_MS = Number(args['slow-ms'] ?? 2000);

const { adapter } = await setupGpu();
counters.install();
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

const cache = {};
const impls = {
  async registers(sh) {
    return wgtrainImpl(sh, 'registers');
  },
  async tiled(sh) {
    return wgtrainImpl(sh, 'tiled');
  },
  async tfjs(sh) {
    const tf = (cache.tf ??= await (async () => {
      const { loadTfjs } = await import('./tfjs.mjs');
      const tf = await loadTfjs();
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
      return tf;
    })());
    const a = tf.tensor2d(rand(sh.M * sh.K, 1), sh.transA ? [sh.K, sh.M] : [sh.M, sh.K]);
    const b = tf.tensor2d(rand(sh.K * sh.N, 2), sh.transB ? [sh.N, sh.K] : [sh.K, sh.N]);
    return {
      async run(n) {
        let c = null;
        for (let i = 0; i < n; i++) {
          c?.dispose();
          c = tf.matMul(a, b, sh.transA, sh.transB);
        }
        await c.data();
        c.dispose();
      },
      destroy: () => (a.dispose(), b.dispose()),
    };
  },
  async jax(sh) {
    const jax = (cache.jax ??= await (async () => {
      const jax = await import('@jax-js/jax');
      if (!(await jax.init('webgpu')).includes('webgpu')) throw new Error("jax-js: init('webgpu') failed");
      jax.defaultDevice('webgpu');
      return jax;
    })());
    const np = jax.numpy;
    const a = np.array(rand(sh.M * sh.K, 1)).reshape(sh.transA ? [sh.K, sh.M] : [sh.M, sh.K]);
    const b = np.array(rand(sh.K * sh.N, 2)).reshape(sh.transB ? [sh.N, sh.K] : [sh.K, sh.N]);
    const mm = jax.jit((x, y) => np.matmul(sh.transA ? x.transpose() : x, sh.transB ? y.transpose() : y));
    return {
      async run(n) {
        // All n products stay alive until the sync: jax-js arrays are lazy, and one disposed before it is
        // realised may never be computed.
        const cs = [];
        for (let i = 0; i < n; i++) cs.push(mm(a.ref, b.ref));
        await jax.blockUntilReady(cs);
        jax.tree.dispose(cs);
      },
      destroy: () => (a.dispose(), b.dispose(), mm.dispose?.()),
    };
  },
};

async function wgtrainImpl(sh, variant) {
  const { M, N, K, transA, transB } = sh;
  const a = engine.storage(`bench.a`, rand(M * K, 1));
  const b = engine.storage(`bench.b`, rand(K * N, 2));
  const c = engine.storage(`bench.c`, M * N * 4);
  if (variant === 'tuned') wg.setMatmulAutotune(engine, true);
  const op = await wg.MatmulOp.create(engine, { M, N, K, transA, transB, a, b, c, variant: variant === 'tuned' ? undefined : variant });
  if (variant === 'tuned') log(`    tuned ${sh.name}: ${op.variant} ${JSON.stringify(op.tile)}`);
  return {
    async run(n) {
      const enc = engine.device.createCommandEncoder({ label: `bench matmul ${variant}` });
      const pass = enc.beginComputePass();
      for (let i = 0; i < n; i++) op.encode(pass);
      pass.end();
      engine.device.queue.submit([enc.finish()]);
      await engine.device.queue.onSubmittedWorkDone();
    },
    destroy() {
      op.destroy();
      for (const x of [a, b, c]) x.destroy();
    },
  };
}

const log = (line) => process.stdout.write(line + '\n');
log(`kernel bench: adapter ${adapter}; ${JSON.stringify(machine())}; git ${JSON.stringify(gitState())}; ${REPEATS} repeats of ~${TARGET_MS} ms`);
const results = [];
for (const sh of SHAPES) {
  const flop = 2 * sh.M * sh.N * sh.K;
  for (const name of IMPLS) {
    try {
      const impl = await withTimeout(impls[name] ? impls[name](sh) : wgtrainImpl(sh, name), 120_000, `${name} setup`);
      await withTimeout(impl.run(1), 120_000, `${name} first run`); // compile + first product
      const one = await timeIt(1, (n) => impl.run(n));
      const slow = one > SLOW_MS;
      const n = slow ? 1 : unitsFor(one, TARGET_MS, 1, 500);
      const times = [];
      const l0 = load1();
      for (let r = 0; r < (slow ? 1 : REPEATS); r++) times.push((await timeIt(n, (k) => impl.run(k))) / n);
      impl.destroy();
      const ms = median(times);
      const row = { shape: sh.name, impl: name, msPerProduct: +ms.toFixed(3), gflops: +(flop / ms / 1e6).toFixed(3), productsPerRepeat: n, repeats: times.length, load1: [l0, load1()] };
      results.push(row);
      log(`  ${sh.name.padEnd(14)} ${name.padEnd(15)} ${String(row.msPerProduct).padStart(10)} ms  ${String(row.gflops).padStart(8)} GFLOP/s  (${n}×${times.length}${slow ? ', slow: one repeat' : ''})  load ${row.load1.join('→')}`);
    } catch (e) {
      results.push({ shape: sh.name, impl: name, error: String(e.message ?? e).split('\n')[0] });
      log(`  ${sh.name.padEnd(14)} ${name.padEnd(15)} failed: ${String(e.message ?? e).split('\n')[0]}`);
    }
  }
}
engine.destroy();
if (args.json) writeFileSync(args.json, JSON.stringify({ bench: 'kernels', date: new Date().toISOString(), git: gitState(), adapter, machine: machine(), repeats: REPEATS, results }, null, 2));
process.exit(0);
