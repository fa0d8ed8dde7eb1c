/**
 * One fault test per layer, each checking what is left behind:
 * - checkpoint files: a save SIGKILLed at each point of its write leaves the previous checkpoint intact and loadable
 *   (or the new one, once renamed); its leftover temporary is removed by the next successful save;
 * - the device: a device lost mid-epoch (device.destroy(), as a driver reset) makes fit reject with a
 *   DeviceLostError naming the last checkpoint, and resuming from that checkpoint on a new engine ends with exactly
 *   the parameters of an uninterrupted run;
 * - memory: a model too large for the adapter is refused before anything is allocated, with the limit named; an
 *   allocation the device refuses anyway is caught and everything made so far freed, and the engine stays usable;
 *   on the CPU runner a model too large for the host's memory is refused the same way, up front;
 * - long runs: 2,000 steps with evaluation, prediction, state export and runner re-creation in between keep the GPU
 *   buffer count and bytes flat.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpointFile, saveCheckpointFile, type SavePhase } from '../src/checkpoint/file.js';
import { Dataset } from '../src/data/dataset.js';
import { DeviceLostError, GpuError, type Engine } from '../src/gpu/index.js';
import { createEngine } from '../src/gpu/node.js';
import { setMatmulAutotune } from '../src/kernels/matmul-tune.js';
import { layoutModel } from '../src/model/layout.js';
import { parseModelSpec } from '../src/model/spec.js';
import { checkGpuRunnerFits } from '../src/train/gpu-limits.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner, type GpuRunner } from '../src/train/gpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { Trainer, type FitOptions } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-faults-'));
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  (await gpu()).destroy();
});

/** n examples of d float features in k classes (a fixed, learnable pattern). */
function synthetic(n: number, d: number, k: number, name: string): Dataset {
  const inputs = Float32Array.from({ length: n * d }, (_, i) => Math.sin(0.37 * i + 0.11 * (i % d)));
  const labels = Uint8Array.from({ length: n }, (_, i) => (inputs[i * d]! > 0 ? 1 : 0) + (i % k === 2 ? 1 : 0));
  return new Dataset({ name, inputs, inputShape: [d], labels, numClasses: k });
}

describe('checkpoint files under SIGKILL', () => {
  it('a save killed at every point of its write leaves a loadable checkpoint; the next save removes the leftovers', async () => {
    // The child saves a 12 MB checkpoint (written in several chunks) and kills itself at the given phase.
    const child = join(dir, 'save-child.mjs');
    await build({
      stdin: {
        contents: `
          import { saveCheckpointFile } from ${JSON.stringify(resolve('src/checkpoint/file.ts'))};
          const [path, phase, step] = process.argv.slice(2);
          const n = 3_000_000;
          await saveCheckpointFile(path, { tensors: { w: { data: new Float32Array(n).fill(Number(step)), shape: [n] } }, meta: { step: Number(step) } }, {
            onPhase: (p) => { if (p === phase) process.kill(process.pid, 'SIGKILL'); },
          });`,
        resolveDir: process.cwd(),
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      outfile: child,
      logLevel: 'silent',
    });
    const path = join(dir, 'killed.safetensors');
    const n = 3_000_000;
    const save = (step: number) => saveCheckpointFile(path, { tensors: { w: { data: new Float32Array(n).fill(step), shape: [n] } }, meta: { step } });
    await save(1);
    let expected = 1;
    const phases: SavePhase[] = ['created', 'partial', 'written', 'synced', 'renamed'];
    phases.forEach((phase, k) => {
      const step = 10 + k;
      const r = spawnSync(process.execPath, [child, path, phase, String(step)], { encoding: 'utf8' });
      expect(r.signal, `${phase}: ${r.stderr}`).toBe('SIGKILL');
      if (phase === 'renamed') expected = step; // killed after the rename: the new file is complete
    });
    // Every kill left the checkpoint complete and verified (checksums), holding the last save that got renamed.
    const back = await loadCheckpointFile(path);
    expect(back.meta.step).toBe(expected);
    expect(back.tensors.w!.data[n - 1]).toBe(expected);
    const leftovers = readdirSync(dir).filter((f) => f.startsWith('killed.safetensors.tmp-'));
    expect(leftovers).toHaveLength(4); // created, partial, written, synced
    await save(2);
    expect(readdirSync(dir).filter((f) => f.startsWith('killed.'))).toEqual(['killed.safetensors']);
    expect((await loadCheckpointFile(path)).meta.step).toBe(2);
  });
});

describe('device loss mid-epoch', () => {
  it('fit reports it with the last checkpoint; resuming from that checkpoint on a new engine continues exactly', async () => {
    const train = synthetic(96, 20, 3, 'synthetic-96');
    const validation = synthetic(40, 20, 3, 'synthetic-40');
    // Dropout masks depend on (seed, step): a resume that lost its place would draw different ones.
    const config: RunnerConfig = { model: parseModelSpec('20-16-3:relu,dropout=0.1'), batchSize: 32, optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } }, seed: 4, metricsEvery: 2 };
    const opts = (path: string): FitOptions => ({ epochs: 4, seed: 2, schedule: 'cosine:T=12', validation, checkpoint: { path } });

    // Plan-time tuning picks matmul kernels by timing, so two engines of one hardware adapter may round differently;
    // the fixed rule (what software adapters always use) makes the comparison exact on any adapter.
    const engine = await gpu();
    setMatmulAutotune(engine, false);
    const reference = await createGpuRunner(engine, config);
    await new Trainer(reference, config, { writeCheckpoint: saveTrainingCheckpoint }).fit(train, opts(join(dir, 'reference.safetensors')));
    const expected = await reference.exportState();
    reference.destroy();

    const path = join(dir, 'lost.safetensors');
    const doomed: Engine = await createEngine({ log: false });
    setMatmulAutotune(doomed, false);
    const runner = await createGpuRunner(doomed, config);
    const trainer = new Trainer(runner, config, { writeCheckpoint: saveTrainingCheckpoint });
    const error = await trainer
      .fit(train, { ...opts(path), callbacks: { onStep: (s) => void (s.step === 7 && doomed.device.destroy()) } })
      .then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceLostError);
    expect((error as Error).message).toMatch(
      new RegExp(`the GPU device was lost .*resume from its last checkpoint.*lost by step \\d+; the last checkpoint, ${path.replace(/[.]/g, '\\.')}, holds step 6\\)`, 's'),
    );
    runner.destroy();
    doomed.destroy();

    const snapshot = await loadTrainingCheckpoint(path);
    expect(snapshot.position).toEqual({ step: 6, epoch: 2, batch: 0 });
    const resumed = await createGpuRunner(engine, config);
    const again = new Trainer(resumed, config, { writeCheckpoint: saveTrainingCheckpoint });
    await again.restore(snapshot);
    const result = await again.fit(train, opts(path));
    expect(result.steps).toBe(6);
    const state = await resumed.exportState();
    expect(state.params).toEqual(expected.params);
    expect(state.optimizer!.state).toEqual(expected.optimizer!.state);
    resumed.destroy();
  });
});

describe('out of GPU memory', () => {
  it('a model larger than the adapter allows is refused before any allocation, naming the limit', async () => {
    const engine = await gpu();
    const before = engine.memory();
    const limit = Math.min(engine.limits.maxBufferSize, engine.limits.maxStorageBufferBindingSize);
    const hidden = Math.ceil(limit / (784 * 4)) + 1; // the first weight matrix alone exceeds the limit
    const config: RunnerConfig = { model: parseModelSpec(`784-${hidden}-10`), batchSize: 8, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } }, seed: 0 };
    await expect(createGpuRunner(engine, config)).rejects.toThrow(
      /^the model \([\d,]+ parameters\) needs [\d.]+ GiB in one GPU buffer, but this adapter's (maxBufferSize|maxStorageBufferBindingSize) is [\d.]+ (GiB|MiB); use a smaller model$/,
    );
    const wide: RunnerConfig = { ...config, model: parseModelSpec('784-10'), batchSize: Math.ceil(limit / (784 * 4)) + 1 };
    await expect(createGpuRunner(engine, wide)).rejects.toThrow(/^a layer of width 784 for batch size \d+ needs .* in one GPU buffer.*; use a smaller batch size$/);
    expect(engine.memory()).toEqual(before);
  });

  it('a convolution whose im2col scratch exceeds one binding runs in chunks; one whose single example does not fit is refused, saying so', () => {
    const limits = (bytes: number) => ({ maxBufferSize: bytes, maxStorageBufferBindingSize: bytes }) as GPUSupportedLimits;
    // The CNN preset's 32→32 3×3 layer at 28×28: cols would hold 462 MB for a batch of 512, 904 KiB per example.
    const model = parseModelSpec('32x28x28-conv(32,3,pad=1)-relu-flatten-dense(2)');
    const config: RunnerConfig = { model, batchSize: 512, optimizer: { name: 'SGD', hyperparams: { lr: 0.1 } }, seed: 0 };
    const layout = layoutModel(model);
    expect(() => checkGpuRunnerFits(limits(128 * 2 ** 20), config, layout)).not.toThrow();
    expect(() => checkGpuRunnerFits(limits(800 * 1024), { ...config, batchSize: 2 }, layout)).toThrow(
      /^layers\[0\] \(conv2d\)'s scratch buffer 'cols' for batch size 2 needs 882 KiB in one GPU buffer, but this adapter's maxBufferSize is 800 KiB; a smaller batch does not help \(the batch runs in chunks of examples that fit\): even one example's 882 KiB of im2col scratch \(784 output pixels × max\(288 taps, 32 filters\) floats\) does not fit; use fewer channels or filters, a smaller kernel or image, or a stride$/,
    );
  });

  it('an allocation the device refuses is caught: a clear error, everything freed, the engine still usable', async () => {
    // Pretend the adapter allowed twice its real limit, so the runner asks for a buffer the device must refuse.
    const engine = await createEngine({ log: false });
    const real = engine.limits;
    const limit = Math.min(real.maxBufferSize, real.maxStorageBufferBindingSize);
    const fake = new Proxy(real, {
      get: (t, k) => (k === 'maxBufferSize' || k === 'maxStorageBufferBindingSize' ? 2 * limit : Reflect.get(t, k)),
    });
    (engine as { limits: GPUSupportedLimits }).limits = fake;
    const before = engine.memory();
    const config: RunnerConfig = { model: parseModelSpec('784-10'), batchSize: Math.ceil(limit / (784 * 4)) + 1, optimizer: { name: 'Adam' }, seed: 0 };
    const error = await createGpuRunner(engine, config).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(GpuError);
    expect((error as Error).message).toMatch(/^createGpuRunner: the GPU refused the runner's buffers \(about [\d.]+ GiB in all; everything allocated was freed again\): wgtrain: GPU (validation|out-of-memory) error: /);
    expect(engine.memory()).toEqual(before);
    (engine as { limits: GPUSupportedLimits }).limits = real;
    // The device survived: a small runner trains on it.
    const small = await createGpuRunner(engine, { model: parseModelSpec('6-4-3'), batchSize: 8, optimizer: { name: 'Adam' }, seed: 0 });
    const ds = synthetic(16, 6, 3, 'synthetic-16');
    await small.setTrainingData(ds);
    small.beginEpoch(Uint32Array.from({ length: 16 }, (_, i) => i));
    small.step({ step: 0, start: 0, rows: 8, lr: 1e-3 });
    await small.flushMetrics();
    small.destroy();
    expect(engine.memory()).toEqual(before);
    engine.destroy();
  });
});

describe('out of host memory (CPU runner)', () => {
  const config = (spec: string): RunnerConfig => ({ model: parseModelSpec(spec), batchSize: 128, optimizer: { name: 'Adam' }, seed: 0 });
  const need = String.raw`the model \([\d,]+ parameters\) needs about [\d.]+ [GT]iB of host memory on the CPU runner in float(32|64) ` +
    String.raw`\(parameters, gradients and 2 Adam state slots: [\d.]+ [GT]iB; activations for a batch of 128: [\d.]+ [MGT]iB\)`;

  it("a model larger than the machine's memory is refused up front, naming its size, the memory and the fixes", async () => {
    // 7.95e11 parameters: about 17,000 GiB with Adam, more than any host (and beyond V8's largest typed array).
    const t0 = performance.now();
    await expect(createCpuRunner(config('784-1000000000-10'))).rejects.toThrow(
      new RegExp(`^${need}, but this (machine's memory|process's memory limit \\(cgroup\\)) is [\\d.]+ [GT]iB; use a smaller model or batch size, or train on the GPU`),
    );
    expect(performance.now() - t0).toBeLessThan(5_000); // nothing was allocated or initialised first
    // memoryLimit bounds it further; float64 doubles the estimate and suggests float32.
    await expect(createCpuRunner(config('784-100000-10'), { dtype: 'float64', memoryLimit: 2 ** 30 })).rejects.toThrow(
      new RegExp(`^${need}, but the memoryLimit given is 1\\.00 GiB; use a smaller model or batch size, float32, or train on the GPU`),
    );
    const fits = await createCpuRunner(config('784-32-10'), { memoryLimit: 64 * 2 ** 20 });
    fits.destroy();
  });

  it('an allocation the JavaScript engine refuses anyway is reported the same way', async () => {
    // No limit: the estimate passes, and V8 refuses the 7.95e11-element parameter array.
    await expect(createCpuRunner(config('784-1000000000-10'), { memoryLimit: Infinity })).rejects.toThrow(
      new RegExp(`^${need}, and the JavaScript engine refused it \\(.+\\); use a smaller model or batch size`),
    );
  });
});

describe('a long run holds GPU memory flat', () => {
  it('2,000 steps with evaluation, prediction, export and runner re-creation in between', async () => {
    const engine = await gpu();
    const baseline = engine.memory();
    const train = synthetic(64, 8, 4, 'synthetic-64');
    const val = synthetic(24, 8, 4, 'synthetic-24');
    const config: RunnerConfig = { model: parseModelSpec('8-8-4'), batchSize: 16, optimizer: { name: 'Adam', hyperparams: { lr: 1e-2 } }, seed: 1 };
    const open = async (): Promise<GpuRunner> => {
      const r = await createGpuRunner(engine, config);
      await r.setTrainingData(train);
      return r;
    };
    const memory = () => {
      const m = engine.memory();
      return { buffers: m.buffers, bytes: m.bytes, labels: [...m.labels].sort() };
    };
    let r = await open();
    let steady: ReturnType<typeof memory> | null = null;
    const perm = Uint32Array.from({ length: 64 }, (_, i) => (i * 5) % 64);
    for (let step = 0; step < 2000; step++) {
      if (step % 4 === 0) r.beginEpoch(perm);
      r.step({ step, start: (step % 4) * 16, rows: 16, lr: 1e-2 });
      if (step % 16 === 15) await r.ready();
      if (step % 250 === 249) {
        await r.flushMetrics();
        expect((await r.evaluate(val)).count).toBe(24);
        expect((await r.predict(val, 3, 10)).length).toBe(40);
        const state = await r.exportState();
        steady ??= memory();
        expect(memory(), `after step ${step}`).toEqual(steady);
        if (step % 500 === 499 && step < 1999) {
          // Destroy and rebuild from the exported state: everything of the old runner is gone.
          r.destroy();
          expect(memory(), `destroyed after step ${step}`).toEqual({ ...baseline, labels: [...baseline.labels].sort() });
          r = await open();
          await r.importState(state);
        }
      }
    }
    expect((await r.exportState()).optimizer!.step).toBe(2000);
    r.destroy();
    expect(engine.memory()).toEqual(baseline);
  });
});
