/**
 * Checkpoints of full-batch training (src/train/full-batch.ts, the method state of src/minimize/state.ts in the
 * checkpoint layout of src/train/checkpoint.ts):
 * - 2 epochs + checkpoint file + load into a fresh runner + 2 more epochs equals 4 uninterrupted epochs, bit for bit:
 *   L-BFGS (strong Wolfe) and nonlinear CG on the CPU runner in float64 and float32, and on the GPU runner (one engine:
 *   its kernels are deterministic); parameters, the method's whole state and the epoch records. Two fits of one
 *   Trainer (2, then to 4) and Trainer.save() → loadTrainer() continue the method the same way.
 * - a step cut in the middle of its iterations — by the signal (Ctrl-C) or by the `steps` limit — is recorded as a
 *   partial epoch; its checkpoint holds the point after the last completed iteration with the method's state and the
 *   step's counters, and a resumed fit finishes the step and goes on exactly as the uninterrupted run: L-BFGS,
 *   nonlinear CG and Newton on the CPU runner (float64), L-BFGS in float32 and on the GPU runner; the progress
 *   callback reports every iteration, counting on across the cut.
 * - what does not fit is refused, naming both sides: a full-batch checkpoint restored into a first-order trainer and
 *   the other way round, into another method, or (at fit) with a history longer than history_size; a runner importing
 *   a full-batch state; a corrupted file (checksum); metadata naming another method than the configuration.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/safetensors.js';
import type { Dataset } from '../src/data/dataset.js';
import type { Engine } from '../src/gpu/index.js';
import { parseModelSpec } from '../src/model/spec.js';
import { snapshotFromCheckpoint, snapshotToCheckpoint } from '../src/train/checkpoint.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';
import { createGpuRunner } from '../src/train/gpu-runner.js';
import { loadTrainer } from '../src/train/load.js';
import type { Runner, RunnerConfig } from '../src/train/runner.js';
import { Trainer, type EpochRecord, type FitOptions, type IterationRecord } from '../src/train/trainer.js';
import { gpu } from './helpers/gpu.js';
import { mnistSubsets } from './helpers/mnist.js';

let train: Dataset;
let validation: Dataset;
let dir: string;

beforeAll(async () => {
  ({ train, validation } = await mnistSubsets(150, 60));
  dir = mkdtempSync(join(tmpdir(), 'wgtrain-full-batch-ckpt-'));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  (await gpu()).destroy();
});

const LBFGS: RunnerConfig['optimizer'] = { name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 3, history_size: 4 } };
const NCG: RunnerConfig['optimizer'] = { name: 'NonlinearCG', hyperparams: { max_iter: 3 } };
/**
 * A trust region too large at first: the steps of epochs 1 and 2 are rejected, so each ends by moving x back (on the
 * GPU a queued copy, which the checkpoint after epoch 2 must see), then epochs 3 and 4 decrease the loss.
 */
const NEWTON: RunnerConfig['optimizer'] = { name: 'Newton', hyperparams: { max_iter: 1, radius: 5, eta: 0.2, cg_max_iter: 20 } };
/** A tanh MLP over 3 chunks of the 150 examples (64 + 64 + 22). */
const config = (optimizer: RunnerConfig['optimizer']): RunnerConfig => ({ model: parseModelSpec('784-8-10:tanh'), batchSize: 64, optimizer, seed: 7 });
const fitOptions = (epochs: number, path?: string): FitOptions => ({ epochs, seed: 1, validation, ...(path ? { checkpoint: { path } } : {}) });
const timeless = (h: EpochRecord[]) => h.map((r) => ({ ...r, seconds: 0, stepsPerSecond: 0, valSeconds: 0 }));

type Make = (c: RunnerConfig) => Promise<Runner>;

/** The 4-epoch run, and 2 epochs + checkpoint file + a fresh runner + 2 more; returns both trainers. */
async function wholeAndResumed(make: Make, cfg: RunnerConfig, file: string) {
  const whole = new Trainer(await make(cfg), cfg);
  await whole.fit(train, fitOptions(4));
  const path = join(dir, file);
  const first = new Trainer(await make(cfg), cfg, { writeCheckpoint: saveTrainingCheckpoint });
  await first.fit(train, fitOptions(2, path));
  first.runner.destroy();
  const snap = await loadTrainingCheckpoint(path);
  expect(snap.position).toEqual({ step: first.position.step, epoch: 2, batch: 0 });
  expect(snap.method?.method).toBe(cfg.optimizer.name);
  const resumed = new Trainer(await make(snap.config), snap.config);
  await resumed.restore(snap);
  await resumed.fit(train, fitOptions(4));
  return { whole, resumed };
}

async function expectSameRun(a: Trainer, b: Trainer, label: string): Promise<void> {
  const [sa, sb] = [await a.snapshot(), await b.snapshot()];
  expect(sb.state.params, `${label}: parameters`).toEqual(sa.state.params);
  expect(sb.method, `${label}: method state`).toEqual(sa.method);
  expect(timeless(b.history), `${label}: epoch records`).toEqual(timeless(a.history));
  // It trained: 4 epochs of iterations, the loss fell.
  expect(a.history).toHaveLength(4);
  expect(a.history[3]!.lossAfter!, label).toBeLessThan(a.history[0]!.trainLoss);
}

describe('full-batch checkpoints: 2 epochs + checkpoint + 2 epochs = 4 epochs exactly', () => {
  for (const dtype of ['float64', 'float32'] as const) {
    it(`CPU ${dtype}: L-BFGS (strong Wolfe) and nonlinear CG; also two fits of one trainer, and save() → loadTrainer()`, async () => {
      const make: Make = (c) => createCpuRunner(c, { dtype });
      for (const opt of [LBFGS, NCG]) {
        const cfg = config(opt);
        const { whole, resumed } = await wholeAndResumed(make, cfg, `cpu-${dtype}-${opt.name}.safetensors`);
        await expectSameRun(whole, resumed, `${opt.name} cpu ${dtype}`);
        if (opt === LBFGS) {
          const s = await whole.snapshot();
          expect(s.method!.vectors.old_dirs!.length).toBe(4); // the history is full: what the resume had to carry
          expect(s.state.params).toBeInstanceOf(dtype === 'float64' ? Float64Array : Float32Array);
          // One trainer, two fits: the method's state carries over in memory.
          const twice = new Trainer(await make(cfg), cfg);
          await twice.fit(train, fitOptions(2));
          await twice.fit(train, fitOptions(4));
          await expectSameRun(whole, twice, `${opt.name} cpu ${dtype}, two fits`);
          // Bytes in memory (what a browser keeps in IndexedDB) continue the same way.
          const half = new Trainer(await make(cfg), cfg);
          await half.fit(train, fitOptions(2));
          const loaded = await loadTrainer(await half.save(), { dtype });
          await loaded.fit(train, fitOptions(4));
          await expectSameRun(whole, loaded, `${opt.name} cpu ${dtype}, save() → loadTrainer()`);
        }
      }
    });
  }

  it('GPU: L-BFGS (strong Wolfe), nonlinear CG and Newton, on one engine; no buffer left behind', async () => {
    const engine: Engine = await gpu();
    const before = engine.memory().buffers;
    for (const opt of [LBFGS, NCG, NEWTON]) {
      const { whole, resumed } = await wholeAndResumed((c) => createGpuRunner(engine, c), config(opt), `gpu-${opt.name}.safetensors`);
      await expectSameRun(whole, resumed, `${opt.name} gpu`);
      whole.runner.destroy();
      resumed.runner.destroy();
    }
    expect(engine.memory().buffers).toBe(before);
  });
});

/** Records without their wall times. */
const timeless1 = (r: EpochRecord) => timeless([r])[0]!;

/**
 * `cfg` for 3 epochs, and the same run interrupted (signal) after iteration 2 of epoch 2 with a checkpoint file,
 * loaded into a fresh runner and fitted to 3 epochs: the same weights and method state (but the one repeated
 * evaluation), the cut epoch's two records adding up to the whole one's.
 */
async function interruptedAndResumed(make: Make, cfg: RunnerConfig, file: string): Promise<void> {
  const label = `${cfg.optimizer.name} ${file}`;
  const whole = new Trainer(await make(cfg), cfg);
  await whole.fit(train, fitOptions(3));
  const [w1, w2, w3] = whole.history as [EpochRecord, EpochRecord, EpochRecord];
  expect(w2.steps, label).toBeGreaterThan(2);

  const path = join(dir, file);
  const cut = new Trainer(await make(cfg), cfg, { writeCheckpoint: saveTrainingCheckpoint });
  const controller = new AbortController();
  const seen: IterationRecord[] = [];
  const result = await cut.fit(train, {
    ...fitOptions(3, path),
    signal: controller.signal,
    callbacks: { onIteration: (r) => void (seen.push(r), r.epoch === 2 && r.iteration === 2 && controller.abort()) },
  });
  expect(result.interrupted, label).toBe(true);
  expect(cut.history, label).toHaveLength(2);
  const part = cut.history[1]!;
  expect(timeless1(cut.history[0]!), label).toEqual(timeless1(w1));
  expect(part, label).toMatchObject({ epoch: 2, steps: 2, totalSteps: w1.steps + 2, partial: true, stop: 'interrupted', trainLoss: w2.trainLoss });
  expect(part.valLoss, `${label}: the cut epoch is validated`).toBeGreaterThan(0);
  expect(seen.map((r) => [r.epoch, r.iteration, r.totalSteps]), label).toEqual([
    ...Array.from({ length: w1.steps }, (_, i) => [1, i + 1, i + 1]),
    [2, 1, w1.steps + 1],
    [2, 2, w1.steps + 2],
  ]);
  expect(seen.at(-1), label).toMatchObject({ loss: part.lossAfter, gradMax: part.gradMax, evals: part.evals });
  cut.runner.destroy();

  const snap = await loadTrainingCheckpoint(path);
  expect(snap.position, label).toEqual({ step: w1.steps + 2, epoch: 1, batch: 2 });
  expect(snap.method!.scalars, label).toMatchObject({ step_iter: 2, step_evals: part.evals });
  const resumed = new Trainer(await make(snap.config), snap.config);
  await resumed.restore(snap);
  const after: IterationRecord[] = [];
  await resumed.fit(train, { ...fitOptions(3), callbacks: { onIteration: (r) => void after.push(r) } });
  expect(after[0], `${label}: the resumed step counts on`).toMatchObject({ epoch: 2, iteration: 3, totalSteps: w1.steps + 3 });
  const [, , rest, last] = resumed.history as EpochRecord[];
  expect(resumed.history, label).toHaveLength(4);
  // The rest of epoch 2 starts where the cut left it and ends where the whole epoch ended; epoch 3 is the same.
  expect(rest, label).toMatchObject({ epoch: 2, steps: w2.steps - 2, totalSteps: w2.totalSteps, trainLoss: part.lossAfter, lossAfter: w2.lossAfter, stop: w2.stop });
  expect(rest!.partial, label).toBeUndefined();
  expect(rest!.lossAfter!, `${label}: the loss goes on falling`).toBeLessThan(part.lossAfter!);
  expect(timeless1(last!), label).toEqual(timeless1(w3));
  const [sa, sb] = [await whole.snapshot(), await resumed.snapshot()];
  expect(sb.state.params, `${label}: parameters`).toEqual(sa.state.params);
  expect({ ...sb.method!.scalars, func_evals: sb.method!.scalars.func_evals! as number - 1 }, label).toEqual(sa.method!.scalars);
  expect(sb.method!.vectors, label).toEqual(sa.method!.vectors);
  whole.runner.destroy();
  resumed.runner.destroy();
}

/** Steps of 3-5 iterations (nonlinear CG's line search needs more evaluations than max_eval's default), so a cut after 2 leaves some. */
const CUT = {
  LBFGS: { name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 5, history_size: 4 } },
  NCG: { name: 'NonlinearCG', hyperparams: { max_iter: 3, max_eval: 30 } },
  Newton: { name: 'Newton', hyperparams: { max_iter: 3, cg_max_iter: 4 } },
} satisfies Record<string, RunnerConfig['optimizer']>;

describe('full-batch: a step cut in the middle of its iterations checkpoints and resumes exactly', () => {
  it('CPU: Ctrl-C (the signal) after iteration 2 of epoch 2: L-BFGS, nonlinear CG and Newton in float64, L-BFGS in float32', async () => {
    for (const opt of [CUT.LBFGS, CUT.NCG, CUT.Newton]) await interruptedAndResumed((c) => createCpuRunner(c, { dtype: 'float64' }), config(opt), `cut-${opt.name}.safetensors`);
    await interruptedAndResumed((c) => createCpuRunner(c, { dtype: 'float32' }), config(CUT.LBFGS), 'cut-lbfgs-f32.safetensors');
  });

  it('CPU: a steps limit ends the fit exactly there (a partial epoch); the next fit of the same trainer finishes the step', async () => {
    const cfg = config(CUT.LBFGS);
    const whole = new Trainer(await createCpuRunner(cfg), cfg);
    await whole.fit(train, fitOptions(2));
    const w1 = whole.history[0]!;
    const t = new Trainer(await createCpuRunner(cfg), cfg);
    const r = await t.fit(train, { ...fitOptions(2), epochs: undefined, steps: w1.steps + 1 });
    expect(r).toMatchObject({ interrupted: false, steps: w1.steps + 1, position: { step: w1.steps + 1, epoch: 1, batch: 1 } });
    expect(t.history[1]).toMatchObject({ epoch: 2, steps: 1, partial: true, stop: 'steps' });
    await t.fit(train, fitOptions(2));
    expect(t.position).toEqual(whole.position);
    expect((await t.snapshot()).state.params).toEqual((await whole.snapshot()).state.params);
  });

  it('GPU: L-BFGS cut by the signal, checkpointed and resumed on one engine; no buffer left behind', async () => {
    const engine: Engine = await gpu();
    const before = engine.memory().buffers;
    await interruptedAndResumed((c) => createGpuRunner(engine, c), config(CUT.LBFGS), 'cut-gpu-lbfgs.safetensors');
    expect(engine.memory().buffers).toBe(before);
  });
});

describe('full-batch checkpoints that do not fit are refused, naming both sides', () => {
  it('another optimizer (either way), another method, a longer history, a runner import, a corrupted file, tampered metadata', async () => {
    const cfg = config({ name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 6, max_eval: 30, history_size: 4 } });
    const path = join(dir, 'lbfgs.safetensors');
    const t = new Trainer(await createCpuRunner(cfg), cfg, { writeCheckpoint: saveTrainingCheckpoint });
    await t.fit(train, { epochs: 1, seed: 1, checkpoint: { path } });
    const snap = await loadTrainingCheckpoint(path);
    const k = snap.method!.vectors.old_dirs!.length;
    expect(k).toBeGreaterThan(2);

    const adam = config({ name: 'Adam', hyperparams: { lr: 1e-3 } });
    const adamTrainer = new Trainer(await createCpuRunner(adam), adam);
    await expect(adamTrainer.restore(snap)).rejects.toThrow(
      'restore: the checkpoint was trained with LBFGS (a full-batch method) but this trainer\'s optimizer is Adam (a first-order optimizer)',
    );
    await expect(adamTrainer.runner.importState(snap.state)).rejects.toThrow(
      "importState: the state holds no optimizer state (it is a full-batch method's, whose state is kept by the Trainer) but this runner's optimizer is the first-order optimizer Adam",
    );
    const adamSnap = await adamTrainer.snapshot();
    await expect(new Trainer(await createCpuRunner(cfg), cfg).restore(adamSnap)).rejects.toThrow(
      "restore: the checkpoint was trained with Adam (a first-order optimizer) but this trainer's optimizer is LBFGS (a full-batch method)",
    );
    const ncg = config(NCG);
    await expect(new Trainer(await createCpuRunner(ncg), ncg).restore(snap)).rejects.toThrow(
      "restore: the checkpoint was trained with LBFGS (a full-batch method) but this trainer's optimizer is NonlinearCG (a full-batch method)",
    );

    // The same method with a shorter history: refused when the fit imports the state, naming the field.
    const short = config({ name: 'LBFGS', hyperparams: { line_search_fn: 'strong_wolfe', max_iter: 3, history_size: 2 } });
    const shortTrainer = new Trainer(await createCpuRunner(short), short);
    await shortTrainer.restore(snap);
    await expect(shortTrainer.fit(train, { epochs: 2, seed: 1 })).rejects.toThrow(
      `fit: the saved LBFGS state does not fit this run: LBFGS state: vectors.old_dirs holds ${k} (s, y) pairs but history_size is 2`,
    );

    // A flipped byte in a method tensor: the checksum names the file and the tensor.
    const bytes = readFileSync(path);
    const file = decodeCheckpoint(new Uint8Array(bytes), { source: path });
    expect(file.tensors['method.old_dirs']!.shape).toEqual([k, snap.method!.n]);
    const broken = join(dir, 'broken.safetensors');
    const header = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
    const corrupt = Uint8Array.from(bytes);
    corrupt[header + 5] ^= 0x10;
    writeFileSync(broken, corrupt);
    await expect(loadTrainingCheckpoint(broken)).rejects.toThrow(new RegExp(`${broken.replace(/[.]/g, '\\.')}.*(CRC|checksum)`, 'i'));

    // Metadata whose method state names another method than the configuration.
    const ckpt = snapshotToCheckpoint(snap);
    const meta = structuredClone(ckpt.meta!) as { optimizer: { method: { method: string } } };
    meta.optimizer.method.method = 'NonlinearCG';
    const tampered = decodeCheckpoint(encodeCheckpoint({ tensors: ckpt.tensors, meta }), { source: 'tampered' });
    expect(() => snapshotFromCheckpoint(tampered, 'tampered')).toThrow(
      'tampered: metadata.optimizer.method.method: the state was saved by "NonlinearCG" but the optimizer is LBFGS',
    );
    // A method tensor of the wrong width.
    const wide = { ...ckpt.tensors, 'method.d': { shape: [1, 3], data: new Float32Array(3) } };
    expect(() => snapshotFromCheckpoint(decodeCheckpoint(encodeCheckpoint({ tensors: wide, meta: ckpt.meta! }), { source: 'wide' }), 'wide')).toThrow(
      `wide: tensor method.d: shape [1,3], expected [k, ${snap.method!.n}]`,
    );
  });
});
