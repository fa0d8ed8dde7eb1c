#!/usr/bin/env node
/**
 * One full training step of an MLP or a CNN on MNIST batches — forward, softmax cross-entropy, backward, Adam update
 * — timed for wgtrain's GPU runner, TensorFlow.js (WebGPU backend) and jax-js (WebGPU backend, `jit`), side by side on
 * the same adapter in the same process. Benchmarks do not check results; the last loss is printed only as a sign
 * that each framework really trains.
 *
 * The same work in each framework:
 *   - training set: the first `--examples` MNIST images (bytes for wgtrain, normalised on the device; pre-normalised
 *     f32 for the others), uploaded once; a fixed permutation; every step gathers its batch on the device from it
 *     (wgtrain: its gather kernel; tfjs: tf.gather of index tensors made once; jax-js: np.take inside the jit);
 *   - model: `784-…-10@B` Dense+ReLU layers, a final Dense; `cnn@B` the built-in CNN (`wgtrain train --model cnn`):
 *     two blocks of two 3×3 convolutions (32, 64 filters, padding 1, no bias) each with BatchNorm (batch
 *     statistics) and ReLU, 2×2 max pooling after each block, dense 128 + ReLU, dropout 0.25, dense 10. tfjs runs it
 *     NHWC (its native layout: tf.conv2d, tf.moments + tf.batchNorm, tf.maxPool, tf.dropout), jax-js NCHW
 *     (lax.conv, BatchNorm from np.mean / np.var_, 2×2 max pooling as a reshape and np.max, dropout from
 *     random.bernoulli with a key per step); neither updates running statistics (wgtrain does, in the same pass);
 *   - softmax cross-entropy (mean over the batch);
 *   - Adam, lr 1e-3, betas (0.9, 0.999), eps 1e-8 (torch's defaults; tfjs's own default eps is 1e-7, set here).
 * Differences that belong to each framework's normal use: wgtrain also runs its non-finite guard (default on)
 * and accumulates loss/accuracy on the device (read back every 50 steps); tfjs trains through `optimizer.minimize`
 * with `tf.fused.matMul` (bias + ReLU fused, as tfjs-layers' Dense does); jax-js's step is one `jit` of
 * valueAndGrad + a hand-written Adam (optax is not installed), with the per-step bias-correction scalars as inputs.
 *
 * Timing: see common.mjs. Sync at the end of each repeat: wgtrain `runner.flushMetrics()` (maps the metrics and
 * awaits the queue), tfjs `await cost.data()` of the last step (a map after all submitted work), jax-js
 * `blockUntilReady` of the new parameters, Adam moments and loss. Repeats of the frameworks are interleaved
 * (A B C A B C ...) so that the machine's load changes hit all of them alike.
 *
 *   node bench/step.mjs [--configs 784-128-10@64,784-256-256-10@128,cnn@128] [--repeats 5] [--target-ms 800]
 *                       [--frameworks wgtrain,wgtrain-noguard,tfjs,jax] [--examples 2048] [--breakdown] [--json out.json]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { counters, gitState, load1, machine, median, parseArgs, setupGpu, timeIt, unitsFor, withTimeout } from './common.mjs';

const args = parseArgs(process.argv.slice(2));
const CONFIGS = (args.configs ?? '784-128-10@64,784-128-10@128,784-256-256-10@64,784-256-256-10@128').split(',').map((c) => {
  const [spec, batch] = c.split('@');
  if (spec === 'cnn') return { spec, cnn: true, batch: Number(batch) };
  if (!/^\d+(-\d+)+$/.test(spec) || !(Number(batch) >= 1)) throw new Error(`--configs: '${c}' is not SIZES@BATCH (784-256-10@128) or cnn@BATCH`);
  return { spec, widths: spec.split('-').map(Number), batch: Number(batch) };
});
const REPEATS = Number(args.repeats ?? 5);
const TARGET_MS = Number(args['target-ms'] ?? 800);
const WARMUP = Number(args.warmup ?? 3);
const EXAMPLES = Number(args.examples ?? 2048);
const FRAMEWORKS = (args.frameworks ?? 'wgtrain,wgtrain-noguard,tfjs,jax').split(',');
const LR = 1e-3;
const [BETA1, BETA2, EPS] = [0.9, 0.999, 1e-8];
const SETUP_TIMEOUT_MS = 180_000;

const { adapter } = await setupGpu();
counters.install();
const wg = await import('../dist/index.js');

// ---- data: the same examples and permutation for everyone --------------------------------------------------------
const mnist = await wg.loadMnist();
const ds = mnist.train.subset(Uint32Array.from({ length: EXAMPLES }, (_, i) => i), `mnist-${EXAMPLES}`);
const perm = (() => {
  const p = Uint32Array.from({ length: EXAMPLES }, (_, i) => i);
  let s = 12345;
  for (let i = p.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
})();
const { scale: NORM_SCALE, shift: NORM_SHIFT } = { scale: 1 / 255 / 0.3081, shift: -0.1307 / 0.3081 };
const xNorm = Float32Array.from(ds.inputs, (v) => v * NORM_SCALE + NORM_SHIFT);
const yInt = Int32Array.from(ds.labels);

/** tfjs Dense+ReLU layers, He-normal weights: { vars, forward(x) → logits }. */
function tfjsMlp(tf, widths) {
  const layers = [];
  for (let i = 0; i + 1 < widths.length; i++) {
    const [fin, fout] = [widths[i], widths[i + 1]];
    layers.push({ w: tf.variable(tf.randomNormal([fin, fout], 0, Math.sqrt(2 / fin)), true, `w${i}`), b: tf.variable(tf.zeros([fout]), true, `b${i}`) });
  }
  const forward = (x) => {
    let h = x;
    layers.forEach((l, i) => {
      h = tf.fused.matMul({ a: h, b: l.w, bias: l.b, activation: i + 1 < layers.length ? 'relu' : 'linear' });
    });
    return h;
  };
  return { vars: layers.flatMap((l) => [l.w, l.b]), forward };
}

/** The CNN of `wgtrain train --model cnn` in tfjs, NHWC (see the header): { vars, forward(x [B, 28, 28, 1]) → logits }. */
function tfjsCnn(tf) {
  const vars = [];
  const v = (t, name) => (vars.push(tf.variable(t, true, name)), vars.at(-1));
  const convs = [[1, 32], [32, 32], [32, 64], [64, 64]].map(([cin, cout], i) => ({
    k: v(tf.randomNormal([3, 3, cin, cout], 0, Math.sqrt(2 / (9 * cin))), `conv${i}`),
    gamma: v(tf.ones([cout]), `gamma${i}`),
    beta: v(tf.zeros([cout]), `beta${i}`),
  }));
  const w1 = v(tf.randomNormal([3136, 128], 0, Math.sqrt(2 / 3136)), 'w1');
  const b1 = v(tf.zeros([128]), 'b1');
  const w2 = v(tf.randomNormal([128, 10], 0, Math.sqrt(1 / 128)), 'w2');
  const b2 = v(tf.zeros([10]), 'b2');
  const forward = (x) => {
    let h = x;
    convs.forEach((c, i) => {
      h = tf.conv2d(h, c.k, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.relu(tf.batchNorm(h, mean, variance, c.beta, c.gamma, 1e-5));
      if (i % 2 === 1) h = tf.maxPool(h, 2, 2, 'valid');
    });
    h = tf.fused.matMul({ a: tf.reshape(h, [h.shape[0], 3136]), b: w1, bias: b1, activation: 'relu' });
    return tf.fused.matMul({ a: tf.dropout(h, 0.25), b: w2, bias: b2 });
  };
  return { vars, forward };
}

/** Each framework: `make(cfg)` → { steps(n) (enqueue n steps, then sync), lastLoss(), dispatchesPerStep?, destroy() }. */
const cache = {}; // framework modules / the wgtrain engine, loaded once
const makers = {
  /** wgtrain with its non-finite guard off (`guard: false`): no gradient-statistics dispatch; shows the guard's cost. */
  async 'wgtrain-noguard'(cfg) {
    const r = await makers.wgtrain(cfg, { guard: false });
    delete r.breakdown;
    return r;
  },
  async wgtrain(cfg, extra = {}) {
    const engine = (cache.engine ??= await wg.createEngine({ log: false }));
    const runner = await wg.createGpuRunner(engine, {
      model: wg.parseModelSpec(cfg.cnn ? wg.presetByName('cnn').model : `${cfg.spec}:relu`),
      batchSize: cfg.batch,
      optimizer: { name: 'Adam', hyperparams: { lr: LR, betas: [BETA1, BETA2], eps: EPS } },
      seed: 1,
      ...extra,
    });
    let loss = NaN;
    runner.onMetrics((m) => (loss = m.lossSum / m.rows));
    await runner.setTrainingData(ds);
    runner.beginEpoch(perm);
    const perEpoch = Math.floor(EXAMPLES / cfg.batch);
    let s = 0;
    let hostMs = 0;
    let hostSteps = 0;
    return {
      label: `wgtrain${extra.guard === false ? ' guard off' : ''} (${engine.describe()})`,
      async steps(n) {
        for (let k = 0; k < n; k++, s++) {
          const t0 = performance.now();
          runner.step({ step: s, start: (s % perEpoch) * cfg.batch, rows: cfg.batch, lr: LR });
          hostMs += performance.now() - t0;
          // As the trainer does: bounded run-ahead (awaits only when ~16 steps are queued).
          await runner.ready();
        }
        hostSteps += n;
        await runner.flushMetrics();
      },
      /** Host milliseconds per step spent in runner.step() (encoding and submitting), not waiting: the CPU's share. */
      hostMsPerStep: () => hostMs / Math.max(hostSteps, 1),
      resetHost: () => { hostMs = 0; hostSteps = 0; },
      lastLoss: () => loss,
      totalSteps: () => s,
      dispatchesPerStep: () => runner.dispatchesPerStep,
      /**
       * Where a wgtrain step's time goes: each op of the step (GpuRunner.stepOps) encoded n times alone in one pass
       * (n: ~200 ms of work, or --target-ms if less), submitted, awaited; median of 3. Ops run out of their order and
       * repeat on the same data, so this shows cost per dispatch, not a valid training step.
       */
      async breakdown() {
        // The step's ops one by one (GpuRunner.stepOps), then the optimizer's dispatches all together.
        const ops = [
          ...(await runner.stepOps(cfg.batch)).map((o) => [o.where, o]),
          ['optimizer', { op: 'all dispatches', encode: (pass) => runner.optimizer.encode(pass) }],
        ];
        const rows = [];
        for (const [where, op] of ops) {
          const run = async (n) => {
            const enc = engine.device.createCommandEncoder();
            const pass = enc.beginComputePass();
            for (let k = 0; k < n; k++) op.encode(pass);
            pass.end();
            engine.device.queue.submit([enc.finish()]);
            await engine.device.queue.onSubmittedWorkDone();
          };
          await run(1);
          const n = unitsFor(await timeIt(1, run), Math.min(200, TARGET_MS), 1, 100);
          const times = [];
          for (let r = 0; r < 3; r++) times.push((await timeIt(n, run)) / n);
          rows.push({ op: `${where} ${op.op}${op.detail ? ` [${op.detail}]` : ''}`, ms: +median(times).toFixed(3) });
        }
        // Reference for the optimizer's bandwidth: a vec4 copy kernel (bench/copy.wgsl) over the gradients' floats.
        const n = runner.layout.n - (runner.layout.n % 4);
        const scratch = engine.storage('bench.copy', n * 4);
        const device = engine.device;
        const module = device.createShaderModule({ code: readFileSync(new URL('./copy.wgsl', import.meta.url), 'utf8') });
        const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'copy' } });
        const bg = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [
          { binding: 0, resource: { buffer: runner.grads, size: n * 4 } }, { binding: 1, resource: { buffer: scratch } }] });
        const groups = Math.min(Math.ceil(n / 4 / 256), 4096);
        const copy = async (k) => {
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bg);
          for (let i = 0; i < k; i++) pass.dispatchWorkgroups(groups);
          pass.end();
          device.queue.submit([enc.finish()]);
          await device.queue.onSubmittedWorkDone();
        };
        await copy(1);
        const k = unitsFor(await timeIt(1, copy), Math.min(200, TARGET_MS), 1, 100);
        const ct = [];
        for (let r = 0; r < 3; r++) ct.push((await timeIt(k, copy)) / k);
        const ms = median(ct);
        rows.push({ op: `reference: copy of ${n} floats (${((8 * n) / ms / 1e6).toFixed(0)} GB/s read+write)`, ms: +ms.toFixed(3) });
        scratch.destroy();
        return rows;
      },
      destroy: () => runner.destroy(),
    };
  },

  async tfjs(cfg) {
    const tf = (cache.tf ??= await (async () => {
      const { loadTfjs } = await import('./tfjs.mjs');
      const tf = await loadTfjs();
      if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
      await tf.ready();
      return tf;
    })());
    const xAll = cfg.cnn ? tf.tensor4d(xNorm, [EXAMPLES, 28, 28, 1]) : tf.tensor2d(xNorm, [EXAMPLES, cfg.widths[0]]);
    const yAll = tf.tensor1d(yInt, 'int32');
    const perEpoch = Math.floor(EXAMPLES / cfg.batch);
    const idx = Array.from({ length: perEpoch }, (_, b) => tf.tensor1d(Int32Array.from(perm.subarray(b * cfg.batch, (b + 1) * cfg.batch)), 'int32'));
    const { vars, forward } = cfg.cnn ? tfjsCnn(tf) : tfjsMlp(tf, cfg.widths);
    const opt = tf.train.adam(LR, BETA1, BETA2, EPS);
    const lossOf = (batchIdx) => () => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.gather(yAll, batchIdx), 10), forward(tf.gather(xAll, batchIdx)));
    let s = 0;
    let loss = NaN;
    return {
      label: `tfjs ${tf.version_core} webgpu`,
      async steps(n) {
        let cost = null;
        for (let k = 0; k < n; k++, s++) cost = opt.minimize(lossOf(idx[s % perEpoch]), k === n - 1);
        loss = (await cost.data())[0];
        cost.dispose();
      },
      lastLoss: () => loss,
      totalSteps: () => s,
      destroy() {
        opt.dispose();
        for (const t of [xAll, yAll, ...idx, ...vars]) t.dispose();
      },
    };
  },

  async jax(cfg) {
    const jax = (cache.jax ??= await (async () => {
      const jax = await import('@jax-js/jax');
      const devs = await jax.init('webgpu');
      if (!devs.includes('webgpu')) throw new Error(`jax-js: init('webgpu') gave only [${devs}]`);
      jax.defaultDevice('webgpu');
      return jax;
    })());
    const { numpy: np, nn, tree } = jax;
    const xAll = np.array(xNorm).reshape(cfg.cnn ? [EXAMPLES, 1, 28, 28] : [EXAMPLES, cfg.widths[0]]);
    const yAll = np.array(yInt, { dtype: np.int32 });
    const perEpoch = Math.floor(EXAMPLES / cfg.batch);
    const idx = Array.from({ length: perEpoch }, (_, b) => np.array(Int32Array.from(perm.subarray(b * cfg.batch, (b + 1) * cfg.batch)), { dtype: np.int32 }));
    const classes = 10;
    // He-normal weights from a host RNG (the timing does not depend on the values).
    let seed = 7;
    const randn = (n, std) => {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        const u1 = (seed + 1) / 4294967297;
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        out[i] = std * Math.sqrt(-2 * Math.log(u1)) * Math.cos((2 * Math.PI * seed) / 4294967296);
      }
      return out;
    };
    let params = [];
    const dense = (fin, fout) => params.push(np.array(randn(fin * fout, Math.sqrt(2 / fin))).reshape([fin, fout]), np.zeros([fout]));
    if (cfg.cnn) {
      // Per convolution: kernel [F, C, 3, 3] (OIHW), γ, β; then dense 3136→128 and 128→10.
      for (const [cin, cout] of [[1, 32], [32, 32], [32, 64], [64, 64]]) {
        params.push(np.array(randn(cout * cin * 9, Math.sqrt(2 / (9 * cin)))).reshape([cout, cin, 3, 3]), np.ones([cout]), np.zeros([cout]));
      }
      dense(3136, 128);
      dense(128, 10);
    } else for (let i = 0; i + 1 < cfg.widths.length; i++) dense(cfg.widths[i], cfg.widths[i + 1]);
    let m = params.map((p) => np.zeros(p.shape));
    let v = params.map((p) => np.zeros(p.shape));

    // jax-js owns arguments: each use consumes one reference (`.ref` adds one). See its README.
    const mlpLogits = (ps, x) => {
      let h = x;
      for (let i = 0; i < ps.length; i += 2) {
        h = np.matmul(h, ps[i]).add(ps[i + 1]);
        if (i + 2 < ps.length) h = nn.relu(h);
      }
      return h;
    };
    const cnnLogits = (ps, x, key) => {
      let h = x;
      for (let i = 0; i < 4; i++) {
        const [k, gamma, beta] = ps.slice(3 * i, 3 * i + 3);
        h = jax.lax.conv(h, k, [1, 1], 'SAME');
        const [B, C, H, W] = h.shape;
        const centered = h.ref.sub(np.mean(h, [0, 2, 3], { keepdims: true }));
        const variance = np.mean(np.square(centered.ref), [0, 2, 3], { keepdims: true });
        h = nn.relu(centered.div(np.sqrt(variance.add(1e-5))).mul(gamma.reshape([1, C, 1, 1])).add(beta.reshape([1, C, 1, 1])));
        if (i % 2 === 1) h = np.max(h.reshape([B, C, H / 2, 2, W / 2, 2]), [3, 5]);
      }
      const B = h.shape[0];
      h = nn.relu(np.matmul(h.reshape([B, 3136]), ps[12]).add(ps[13]));
      const keep = jax.random.bernoulli(key, 0.75, [B, 128]).astype(np.float32);
      return np.matmul(h.mul(keep).mul(1 / 0.75), ps[14]).add(ps[15]);
    };
    const lossFn = (ps, x, y1h, key) => {
      const h = cfg.cnn ? cnnLogits(ps, x, key) : mlpLogits(ps, x);
      return np.mean(np.sum(nn.logSoftmax(h, -1).mul(y1h), -1)).mul(-1);
    };
    // The CNN's step takes a PRNG key (its dropout mask) as a ninth argument.
    const stepFn = (ps, ms, vs, xs, ys, bi, c1, c2, ...key) => {
      const x = np.take(xs, bi.ref, 0);
      const y1h = nn.oneHot(np.take(ys, bi, 0), classes);
      const [loss, grads] = jax.valueAndGrad(lossFn)(tree.ref(ps), x, y1h, ...key);
      const newP = [];
      const newM = [];
      const newV = [];
      for (let i = 0; i < ps.length; i++) {
        const g = grads[i];
        const mi = ms[i].mul(BETA1).add(g.ref.mul(1 - BETA1));
        const vi = vs[i].mul(BETA2).add(np.square(g).mul(1 - BETA2));
        // torch: p -= lr/(1-β1ᵗ) · m / (sqrt(v)/sqrt(1-β2ᵗ) + eps); c1 = lr/(1-β1ᵗ), c2 = 1/sqrt(1-β2ᵗ).
        newP.push(ps[i].sub(mi.ref.mul(c1.ref).div(np.sqrt(vi.ref).mul(c2.ref).add(EPS))));
        newM.push(mi);
        newV.push(vi);
      }
      c1.dispose();
      c2.dispose();
      return [newP, newM, newV, loss];
    };
    const step = jax.jit(cfg.cnn ? (ps, ms, vs, xs, ys, bi, c1, c2, key) => stepFn(ps, ms, vs, xs, ys, bi, c1, c2, key) : (ps, ms, vs, xs, ys, bi, c1, c2) => stepFn(ps, ms, vs, xs, ys, bi, c1, c2));
    let s = 0;
    let loss = NaN;
    return {
      label: 'jax-js webgpu (jit)',
      async steps(n) {
        // Every step's loss stays alive until the sync: jax-js arrays are lazy, and one disposed before it is
        // realised may never be computed (the other frameworks compute every step's loss too).
        const losses = [];
        for (let k = 0; k < n; k++, s++) {
          const t = s + 1;
          const c1 = np.array(new Float32Array([LR / (1 - BETA1 ** t)]));
          const c2 = np.array(new Float32Array([1 / Math.sqrt(1 - BETA2 ** t)]));
          let l;
          const key = cfg.cnn ? [jax.random.key(s)] : [];
          [params, m, v, l] = step(params, m, v, xAll.ref, yAll.ref, idx[s % perEpoch].ref, c1, c2, ...key);
          losses.push(l);
        }
        await jax.blockUntilReady([params, m, v, losses]);
        loss = (await losses.at(-1).ref.data())[0];
        tree.dispose(losses);
      },
      lastLoss: () => loss,
      totalSteps: () => s,
      destroy() {
        tree.dispose([params, m, v, xAll, yAll, idx]);
        step.dispose?.();
      },
    };
  },
};

// ---- run -----------------------------------------------------------------------------------------------------------
const results = [];
const log = (line) => process.stdout.write(line + '\n');
log(`step bench: adapter ${adapter}; ${JSON.stringify(machine())}; git ${JSON.stringify(gitState())}; ${REPEATS} repeats of ~${TARGET_MS} ms, warm-up ${WARMUP} steps`);

for (const cfg of CONFIGS) {
  const runs = [];
  for (const fw of FRAMEWORKS) {
    try {
      const t0 = performance.now();
      const r = await withTimeout(makers[fw](cfg), SETUP_TIMEOUT_MS, `${fw} setup`);
      await withTimeout(r.steps(WARMUP), SETUP_TIMEOUT_MS, `${fw} warm-up`); // pipelines compile here
      const setupMs = performance.now() - t0;
      // Calibrate, counting dispatches / submits / buffer writes over the window.
      const snap = counters.snapshot();
      const one = await timeIt(2, (n) => r.steps(n));
      const c = counters.since(snap);
      runs.push({ fw, r, n: unitsFor(one / 2, TARGET_MS), times: [], setupMs, counts: { dispatch: c.dispatch / 2, submit: c.submit / 2, writeBuffer: c.writeBuffer / 2 } });
    } catch (e) {
      log(`  ${cfg.spec} batch ${cfg.batch}: ${fw} failed: ${e.message?.split('\n')[0] ?? e}`);
      results.push({ config: `${cfg.spec}@${cfg.batch}`, framework: fw, error: String(e.message ?? e).split('\n')[0] });
    }
  }
  const loadBefore = load1();
  for (const run of runs) run.r.resetHost?.();
  for (let rep = 0; rep < REPEATS; rep++) {
    for (const run of runs) run.times.push((await timeIt(run.n, (n) => run.r.steps(n))) / run.n);
  }
  const loadAfter = load1();
  for (const run of runs) {
    const ms = median(run.times);
    const row = {
      config: `${cfg.spec}@${cfg.batch}`,
      framework: run.fw,
      label: run.r.label,
      msPerStep: +ms.toFixed(2),
      stepsPerSec: +(1000 / ms).toFixed(2),
      minMs: +Math.min(...run.times).toFixed(2),
      maxMs: +Math.max(...run.times).toFixed(2),
      stepsPerRepeat: run.n,
      repeats: REPEATS,
      dispatchesPerStep: run.counts.dispatch,
      runnerDispatchesPerStep: run.r.dispatchesPerStep?.(),
      submitsPerStep: run.counts.submit,
      writeBuffersPerStep: run.counts.writeBuffer,
      setupMs: Math.round(run.setupMs),
      hostMsPerStep: run.r.hostMsPerStep ? +run.r.hostMsPerStep().toFixed(4) : undefined,
      lastLoss: +run.r.lastLoss().toFixed(4),
      load1: [loadBefore, loadAfter],
    };
    row.totalSteps = run.r.totalSteps?.();
    results.push(row);
    log(
      `  ${row.config.padEnd(20)} ${run.fw.padEnd(15)} ${String(row.msPerStep).padStart(9)} ms/step  ${String(row.stepsPerSec).padStart(7)} steps/s` +
        `  [${row.minMs}..${row.maxMs}]  ${row.dispatchesPerStep} dispatches, ${row.submitsPerStep} submits/step${row.hostMsPerStep !== undefined ? `, host ${row.hostMsPerStep} ms/step` : ''}  loss ${row.lastLoss} after ${row.totalSteps} steps  setup ${row.setupMs} ms  load ${loadBefore}→${loadAfter}`,
    );
    if (run.r.breakdown && args.breakdown === 'true') {
      const b = await run.r.breakdown();
      row.breakdown = b;
      const total = b.reduce((a, x) => a + x.ms, 0);
      log(`    wgtrain per op, alone (sum ${total.toFixed(1)} ms): ${b.map((x) => `${x.op} ${x.ms}`).join('; ')}`);
    }
    run.r.destroy();
  }
}

const out = { bench: 'step', date: new Date().toISOString(), git: gitState(), adapter, machine: machine(), repeats: REPEATS, targetMs: TARGET_MS, examples: EXAMPLES, results };
if (args.json) writeFileSync(args.json, JSON.stringify(out, null, 2));
process.exit(0); // Dawn / tfjs keep handles open
