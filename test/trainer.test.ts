/**
 * The Trainer's loop logic over a deterministic fake Runner (no model math): step and epoch counting, partial
 * batches, schedules per step and per epoch, steps crossing epochs, exact resume through a checkpoint file's bytes,
 * early stopping with best-weight restore, and the checkpoint codec's verification. The same training on the real
 * CPU runner is in trainer-cpu.test.ts.
 *
 * The fake runner's "gradient" at each step is a function of (step, lr, the batch's example ids): any difference in
 * order, lr or position changes the parameters, and a real Adam (src/optim) carries state across steps, so a resume
 * that loses anything shows up as unequal parameters.
 */
import { describe, expect, it } from 'vitest';
import { Dataset } from '../src/data/dataset.js';
import { layoutModel } from '../src/model/layout.js';
import { parseModelSpec } from '../src/model/spec.js';
import { Optimizer } from '../src/optim/optimizer.js';
import { encodeCheckpoint, type Checkpoint } from '../src/checkpoint/safetensors.js';
import { CheckpointError, decodeTrainingCheckpoint, encodeTrainingCheckpoint, snapshotToCheckpoint } from '../src/train/checkpoint.js';
import type { EvalResult, MetricsReport, Runner, RunnerConfig, RunnerState, StepInput } from '../src/train/runner.js';
import { Trainer, type EpochRecord, type TrainingSnapshot } from '../src/train/trainer.js';

const CONFIG: RunnerConfig = {
  model: parseModelSpec('4-3-2:relu'),
  batchSize: 4,
  optimizer: { name: 'Adam', hyperparams: { lr: 0.01 } },
  seed: 7,
};

class FakeRunner implements Runner {
  readonly device = 'cpu' as const;
  readonly description = 'fake';
  readonly calls: StepInput[] = [];
  readonly imported: RunnerState[] = [];
  params: Float32Array;
  stats: Float32Array;
  private readonly live: Uint8Array;
  optimizer: Optimizer;
  skipped = 0;
  /** Validation losses to report, one per evaluate call (then the last one repeats). */
  valLosses: number[] = [];
  private evals = 0;
  private perm: Uint32Array | null = null;
  private listeners = new Set<(m: MetricsReport) => void>();
  private pending: MetricsReport[] = [];

  constructor(readonly config: RunnerConfig, readonly asyncMetrics = false) {
    const layout = layoutModel(config.model);
    // Padding between tensors stays zero, as in the real runners (checkpoints store tensors unpadded).
    this.live = new Uint8Array(layout.n);
    for (const p of layout.params) this.live.fill(1, p.offset, p.offset + p.size);
    this.params = new Float32Array(layout.n).map((_, i) => (this.live[i] ? Math.fround(Math.sin(i + (config.seed ?? 0))) : 0));
    this.stats = new Float32Array(layout.nStats);
    this.optimizer = new Optimizer(config.optimizer.name, config.optimizer.hyperparams ?? {}, { n: layout.n });
  }
  async setTrainingData(): Promise<void> {}
  beginEpoch(p: Uint32Array): void {
    this.perm = p;
  }
  step(s: StepInput): void {
    this.calls.push({ ...s });
    const ids = this.perm!.subarray(s.start, s.start + s.rows);
    const g = new Float32Array(this.params.length);
    for (let i = 0; i < g.length; i++) if (this.live[i]) g[i] = Math.fround(Math.cos(i * 0.37 + s.step) * (1 + ids[i % ids.length]!) * 0.01 + this.params[i]! * 0.1);
    this.optimizer.setLr(s.lr);
    this.optimizer.step(this.params, g);
    const report = { steps: 1, lastStep: s.step, lossSum: s.rows / (1 + s.step), correct: s.rows / 2, rows: s.rows, skipped: 0, loss: 1 / (1 + s.step), accuracy: 0.5, invalid: 0, gradNorm: 1 };
    if (this.asyncMetrics) this.pending.push(report);
    else for (const l of this.listeners) l(report);
  }
  onMetrics(l: (m: MetricsReport) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async flushMetrics(): Promise<void> {
    await new Promise((r) => setTimeout(r, 1));
    const all = this.pending.splice(0);
    if (all.length === 0) return;
    const m = all.reduce((a, b) => ({ ...a, steps: a.steps + b.steps, lastStep: b.lastStep, lossSum: a.lossSum + b.lossSum, correct: a.correct + b.correct, rows: a.rows + b.rows }));
    for (const l of this.listeners) l(m);
  }
  async evaluate(ds: Dataset): Promise<EvalResult> {
    const loss = this.valLosses.length ? this.valLosses[Math.min(this.evals, this.valLosses.length - 1)]! : this.params[0]!;
    this.evals++;
    return { loss, accuracy: 1 - loss, count: ds.length };
  }
  async predict(ds: Dataset): Promise<Float32Array> {
    return new Float32Array(ds.length * 2).map((_, i) => (i % 2 === ds.labels![i >> 1]! ? 1 : 0));
  }
  async exportState(): Promise<RunnerState> {
    return { params: this.params.slice(), stats: this.stats.slice(), optimizer: this.optimizer.exportState(), skipped: this.skipped };
  }
  async importState(s: RunnerState): Promise<void> {
    this.imported.push(s);
    this.params.set(s.params);
    this.stats.set(s.stats);
    this.optimizer.importState(s.optimizer!);
    this.skipped = s.skipped;
  }
  destroy(): void {}
}

function dataset(n: number, name = 'toy'): Dataset {
  const inputs = new Float32Array(n * 4).map((_, i) => (i % 7) / 7);
  const labels = new Uint8Array(n).map((_, i) => i % 2);
  return new Dataset({ name, inputs, inputShape: [4], labels, numClasses: 2 });
}

/** Keeps checkpoints in memory, as bytes (so the codec is part of every resume test). */
function memoryStore() {
  const files = new Map<string, Uint8Array>();
  return {
    files,
    save: async (path: string, s: TrainingSnapshot) => void files.set(path, encodeTrainingCheckpoint(s)),
    load: (path: string) => decodeTrainingCheckpoint(files.get(path)!, path),
  };
}

describe('Trainer loop', () => {
  it('runs epochs × batches steps with a partial last batch, per-step schedule and epoch records', async () => {
    const runner = new FakeRunner(CONFIG);
    const trainer = new Trainer(runner, CONFIG);
    const epochs: EpochRecord[] = [];
    const result = await trainer.fit(dataset(10), {
      epochs: 2, seed: 1, schedule: 'cosine:T=6', validation: dataset(3, 'val'), callbacks: { onEpoch: (r) => void epochs.push(r) },
    });
    // 10 examples / batch 4 = 3 batches (4, 4, 2) per epoch.
    expect(runner.calls.map((c) => [c.step, c.start, c.rows])).toEqual([
      [0, 0, 4], [1, 4, 4], [2, 8, 2], [3, 0, 4], [4, 4, 4], [5, 8, 2],
    ]);
    const cosine = (t: number) => 0.01 * (1 + Math.cos((Math.PI * t) / 6)) / 2;
    runner.calls.forEach((c, t) => expect(c.lr).toBeCloseTo(cosine(t), 15));
    expect(result.steps).toBe(6);
    expect(result.position).toEqual({ step: 6, epoch: 2, batch: 0 });
    expect(epochs.map((r) => [r.epoch, r.steps, r.totalSteps])).toEqual([[1, 3, 3], [2, 3, 6]]);
    const r0 = epochs[0]!;
    expect(r0.trainLoss).toBeCloseTo((4 / 1 + 4 / 2 + 2 / 3) / 10, 12);
    expect(r0.trainAccuracy).toBe(0.5);
    expect(r0.valAccuracy).toBe(1 - r0.valLoss!); // as the runner's evaluate reported them
    expect(r0.valSeconds).toBeGreaterThanOrEqual(0);
    expect(r0.lr).toBe(runner.calls[2]!.lr);
    expect(r0.skipped).toBe(0);
    expect(r0.partial).toBeUndefined();
    expect(trainer.history).toEqual(epochs);
  });

  it('--steps crosses epochs and ends with a partial epoch record; dropLast skips the short batch', async () => {
    const runner = new FakeRunner(CONFIG);
    const trainer = new Trainer(runner, CONFIG);
    const result = await trainer.fit(dataset(10), { steps: 5, seed: 1, dropLast: true });
    expect(runner.calls.map((c) => c.rows)).toEqual([4, 4, 4, 4, 4]);
    expect(result.position).toEqual({ step: 5, epoch: 2, batch: 1 });
    expect(result.history.map((r) => [r.epoch, r.steps, r.partial ?? false])).toEqual([[1, 2, false], [2, 2, false], [3, 1, true]]);
  });

  it('collects metrics that arrive asynchronously at flushMetrics', async () => {
    const runner = new FakeRunner(CONFIG, true);
    const result = await new Trainer(runner, CONFIG).fit(dataset(8), { epochs: 1, seed: 0 });
    expect(result.history[0]!.trainLoss).toBeCloseTo((4 / 1 + 4 / 2) / 8, 12);
  });

  it('a Stop (signal) ends at the next step; the cut epoch is validated unless validateInterrupted is false', async () => {
    for (const validateInterrupted of [undefined, false]) {
      const runner = new FakeRunner(CONFIG);
      const stop = new AbortController();
      const validations: { epoch: number; examples: number }[] = [];
      const result = await new Trainer(runner, CONFIG).fit(dataset(10), {
        epochs: 3, seed: 1, validation: dataset(3, 'val'), signal: stop.signal, ...(validateInterrupted === false ? { validateInterrupted } : {}),
        callbacks: { onStep: (st) => void (st.step === 4 && stop.abort()), onValidation: (v) => void validations.push(v) },
      });
      expect(result.interrupted).toBe(true);
      expect(result.steps).toBe(5);
      expect(result.history.map((r) => [r.epoch, r.steps, r.partial ?? false])).toEqual([[1, 3, false], [2, 2, true]]);
      expect(validations).toEqual(validateInterrupted === false ? [{ epoch: 1, examples: 3 }] : [{ epoch: 1, examples: 3 }, { epoch: 2, examples: 3 }]);
      expect(result.history[1]!.valLoss === undefined).toBe(validateInterrupted === false);
    }
  });

  it('stopOnDivergence stops at the step after a NaN loss shows, without validating, and says why', async () => {
    class Diverging extends FakeRunner {
      override step(s: StepInput): void {
        super.step(s);
        if (s.step === 3) for (const l of (this as unknown as { listeners: Set<(m: MetricsReport) => void> }).listeners) l({ steps: 0, lastStep: 3, lossSum: NaN, correct: 0, rows: 1, skipped: 0, loss: NaN, accuracy: 0, invalid: 0 });
      }
    }
    const runner = new Diverging(CONFIG);
    const validations: number[] = [];
    const result = await new Trainer(runner, CONFIG).fit(dataset(10), {
      epochs: 5, seed: 1, validation: dataset(3, 'val'), stopOnDivergence: true, callbacks: { onValidation: (v) => void validations.push(v.epoch) },
    });
    expect(runner.calls.length).toBe(4);
    expect(result.diverged).toBe('the training loss is NaN by step 4');
    expect(result.interrupted).toBe(false);
    expect(result.history.map((r) => [r.epoch, r.steps, r.partial ?? false])).toEqual([[1, 3, false], [2, 1, true]]);
    expect(validations).toEqual([1]);
    // Without the option the run goes on to the end.
    expect((await new Trainer(new Diverging(CONFIG), CONFIG).fit(dataset(10), { epochs: 2, seed: 1 })).steps).toBe(6);
  });

  it('feeds ReduceLROnPlateau the validation loss once per epoch', async () => {
    const runner = new FakeRunner(CONFIG);
    runner.valLosses = [1, 0.5, 0.6, 0.7, 0.8];
    const trainer = new Trainer(runner, CONFIG);
    await trainer.fit(dataset(8), { epochs: 5, seed: 0, schedule: 'plateau:patience=1,factor=0.5', validation: dataset(2) });
    // epochs 3 and 4 are bad: after epoch 4 (2 bad > patience 1) the rate halves for epoch 5.
    expect(runner.calls.map((c) => c.lr)).toEqual([0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.005, 0.005]);
  });

  it('early stopping stops after patience bad epochs and restores the best weights', async () => {
    const runner = new FakeRunner(CONFIG);
    runner.valLosses = [1, 0.5, 0.7, 0.6, 0.55, 0.4];
    const trainer = new Trainer(runner, CONFIG);
    const snapshots: Float32Array[] = [];
    const result = await trainer.fit(dataset(8), {
      epochs: 10, seed: 0, validation: dataset(2), earlyStopping: { patience: 3 },
      callbacks: { onEpoch: async () => void snapshots.push(runner.params.slice()) },
    });
    expect(result.stoppedEarly).toBe(true);
    expect(result.history.map((r) => r.improved)).toEqual([true, true, false, false, false]);
    expect(result.bestEpoch).toBe(2);
    expect(result.restoredBest).toBe(true);
    expect(runner.params).toEqual(snapshots[1]);
    expect(trainer.position.epoch).toBe(5);
  });

  it('rejects inconsistent options with clear messages', async () => {
    const trainer = new Trainer(new FakeRunner(CONFIG), CONFIG);
    await expect(trainer.fit(dataset(8), { seed: 0 })).rejects.toThrow(/give epochs or steps/);
    await expect(trainer.fit(dataset(8), { epochs: 1, seed: 0, batchSize: 8 })).rejects.toThrow(/exceeds the runner's batchSize 4/);
    await expect(trainer.fit(dataset(8), { epochs: 1, seed: 0, earlyStopping: { patience: 1 } })).rejects.toThrow(/monitors val_loss but no validation set/);
    await expect(trainer.fit(dataset(8), { epochs: 1, seed: 0, checkpoint: { path: 'x' } })).rejects.toThrow(/no writeCheckpoint hook/);
    await expect(trainer.fit(dataset(8), { epochs: 1, seed: 0, schedule: 'plateau:unit=step' })).rejects.toThrow(/must step per epoch/);
  });
});

describe('Trainer resume', () => {
  async function straight(opts: { epochs?: number; steps?: number }) {
    const runner = new FakeRunner(CONFIG);
    const trainer = new Trainer(runner, CONFIG);
    await trainer.fit(dataset(10), { ...opts, seed: 3, schedule: 'warmup:2+cosine:T=12', validation: dataset(3), earlyStopping: { patience: 5 } });
    return { runner, trainer };
  }

  it('2 epochs + checkpoint + 2 epochs equals 4 epochs exactly', async () => {
    const whole = await straight({ epochs: 4 });
    const store = memoryStore();
    const first = new FakeRunner(CONFIG);
    const t1 = new Trainer(first, CONFIG, { writeCheckpoint: store.save });
    await t1.fit(dataset(10), { epochs: 2, seed: 3, schedule: 'warmup:2+cosine:T=12', validation: dataset(3), earlyStopping: { patience: 5 }, checkpoint: { path: 'ck' } });
    const second = new FakeRunner(CONFIG);
    const t2 = new Trainer(second, CONFIG);
    await t2.restore(store.load('ck'));
    await t2.fit(dataset(10), { epochs: 4, seed: 3, schedule: 'warmup:2+cosine:T=12', validation: dataset(3), earlyStopping: { patience: 5 } });
    expect([...first.calls, ...second.calls]).toEqual(whole.runner.calls);
    expect(second.params).toEqual(whole.runner.params);
    expect(second.optimizer.exportState()).toEqual(whole.runner.optimizer.exportState());
    expect(t2.history.map((r) => ({ ...r, seconds: 0, stepsPerSecond: 0, valSeconds: 0 }))).toEqual(
      whole.trainer.history.map((r) => ({ ...r, seconds: 0, stepsPerSecond: 0, valSeconds: 0 })),
    );
    expect(t2.earlyStopping!.state()).toEqual(whole.trainer.earlyStopping!.state());
  });

  it('resumes mid-epoch (steps mode), with the schedule restored from the checkpoint alone', async () => {
    const whole = await straight({ steps: 11 });
    const store = memoryStore();
    const first = new FakeRunner(CONFIG);
    const t1 = new Trainer(first, CONFIG, { writeCheckpoint: store.save });
    await t1.fit(dataset(10), { steps: 4, seed: 3, schedule: 'warmup:2+cosine:T=12', validation: dataset(3), earlyStopping: { patience: 5 }, checkpoint: { path: 'ck' } });
    const snap = store.load('ck');
    expect(snap.position).toEqual({ step: 4, epoch: 1, batch: 1 });
    const second = new FakeRunner(CONFIG);
    const t2 = new Trainer(second, CONFIG);
    await t2.restore(snap);
    await t2.fit(dataset(10), { steps: 11, seed: 3, validation: dataset(3), earlyStopping: { patience: 5 } });
    expect([...first.calls, ...second.calls]).toEqual(whole.runner.calls);
    expect(second.params).toEqual(whole.runner.params);
    await expect(
      (async () => {
        const t3 = new Trainer(new FakeRunner(CONFIG), CONFIG);
        await t3.restore(snap);
        await t3.fit(dataset(10), { steps: 11, seed: 4 });
      })(),
    ).rejects.toThrow(/resuming mid-epoch \(epoch 2, batch 1\) needs the same seed as the checkpoint \(3\), got 4/);
    await expect(
      (async () => {
        const t3 = new Trainer(new FakeRunner(CONFIG), CONFIG);
        await t3.restore(snap);
        await t3.fit(dataset(10), { steps: 11, seed: 3, schedule: 'cosine:T=99' });
      })(),
    ).rejects.toThrow(/checkpoint's schedule state does not fit this run's schedule/);
  });
});

describe('Trainer interrupted (Ctrl-C in the CLI)', () => {
  it('an aborted fit stops after the current step, records the partial epoch, checkpoints and says interrupted; resuming finishes it exactly', async () => {
    const whole = await (async () => {
      const runner = new FakeRunner(CONFIG);
      await new Trainer(runner, CONFIG).fit(dataset(10), { epochs: 2, seed: 3, schedule: 'cosine:T=6' });
      return runner;
    })();
    const store = memoryStore();
    const first = new FakeRunner(CONFIG);
    const controller = new AbortController();
    const t1 = new Trainer(first, CONFIG, { writeCheckpoint: store.save });
    const result = await t1.fit(dataset(10), {
      epochs: 2, seed: 3, schedule: 'cosine:T=6', signal: controller.signal, checkpoint: { path: 'ck' },
      callbacks: { onStep: (s) => void (s.step === 3 && controller.abort()) },
    });
    expect(result).toMatchObject({ interrupted: true, steps: 4, position: { step: 4, epoch: 1, batch: 1 } });
    expect(result.history.at(-1)).toMatchObject({ epoch: 2, steps: 1, partial: true });
    const snap = store.load('ck');
    expect(snap.position).toEqual({ step: 4, epoch: 1, batch: 1 });
    const second = new FakeRunner(CONFIG);
    const t2 = new Trainer(second, CONFIG);
    await t2.restore(snap);
    await t2.fit(dataset(10), { epochs: 2, seed: 3 });
    expect([...first.calls, ...second.calls]).toEqual(whole.calls);
    expect(second.params).toEqual(whole.params);
  });
});

describe('checkpoint codec', () => {
  async function snapshot(): Promise<TrainingSnapshot> {
    const config: RunnerConfig = { ...CONFIG, model: parseModelSpec('4-3-2:relu,bn'), clip: { maxNorm: 1 } };
    const runner = new FakeRunner(config);
    for (const slot of layoutModel(config.model).stats) for (let i = 0; i < slot.size; i++) runner.stats[slot.offset + i] = Math.fround(1 + i / 10);
    const trainer = new Trainer(runner, config);
    await trainer.fit(dataset(10), { epochs: 1, seed: 3, schedule: 'exp:0.9' });
    return trainer.snapshot();
  }

  it('round-trips every field; tensors are named, unpadded and shaped as the layout says', async () => {
    const s = await snapshot();
    const bytes = encodeTrainingCheckpoint(s);
    const back = decodeTrainingCheckpoint(bytes, 'ck.safetensors');
    expect({ ...back, state: { ...back.state, optimizer: undefined } }).toEqual({ ...s, state: { ...s.state, optimizer: undefined } });
    expect(back.state.optimizer).toEqual(s.state.optimizer);
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(header['layers.0.weight']).toMatchObject({ dtype: 'F32', shape: [4, 3] });
    expect(header['layers.1.running_var']).toMatchObject({ dtype: 'F32', shape: [3] });
    expect(header['layers.1.gamma']).toMatchObject({ shape: [3] });
    expect(header['optim.exp_avg']).toMatchObject({ dtype: 'F32', shape: [layoutModel(s.config.model).n] });
    const meta = header.__metadata__;
    expect(JSON.parse(meta.training)).toBe('wgtrain.training/1');
    expect([meta.step, meta.epoch, meta.batch].map((x: string) => JSON.parse(x))).toEqual([3, 1, 0]);
    expect(JSON.parse(meta.rng)).toEqual({ algorithm: 'philox4x32-10', initSeed: 7, shuffleSeed: 3 });
  });

  it('rejects corrupted, truncated and mismatched files with the file and field named', async () => {
    const s = await snapshot();
    const bytes = encodeTrainingCheckpoint(s);
    const flipped = bytes.slice();
    flipped[flipped.length - 5]! ^= 0x40;
    expect(() => decodeTrainingCheckpoint(flipped, 'run.ckpt')).toThrow(CheckpointError);
    expect(() => decodeTrainingCheckpoint(flipped, 'run.ckpt')).toThrow(/^run\.ckpt: checksum mismatch in tensor '[^']+' \(stored crc32 [0-9a-f]+, computed [0-9a-f]+\): its data is corrupted/);
    expect(() => decodeTrainingCheckpoint(bytes.subarray(0, bytes.length - 8), 'run.ckpt')).toThrow(/^run\.ckpt: .*truncated file\?/);
    expect(() => decodeTrainingCheckpoint(new TextEncoder().encode('hello world, not a checkpoint'), 'x.bin')).toThrow(/^x\.bin: header length/);
    // Well-formed files (valid checksums) whose content does not fit: the field is named.
    const altered = (edit: (c: Checkpoint) => void) => {
      const c = snapshotToCheckpoint(s);
      edit(c);
      return encodeCheckpoint(c);
    };
    expect(() => decodeTrainingCheckpoint(altered((c) => (c.meta!.training = 'wgtrain.training/9')), 'a.ckpt')).toThrow(
      /^a\.ckpt: metadata\.training: expected 'wgtrain\.training\/1', got "wgtrain\.training\/9"/,
    );
    expect(() => decodeTrainingCheckpoint(altered((c) => delete c.tensors['layers.0.weight']), 'a.ckpt')).toThrow(
      "a.ckpt: tensor layers.0.weight: missing (the model 4-3-2 needs it)",
    );
    expect(() => decodeTrainingCheckpoint(altered((c) => (c.tensors['layers.0.weight']!.shape = [3, 4])), 'a.ckpt')).toThrow(
      'a.ckpt: tensor layers.0.weight: shape [3,4], the model needs [4,3]',
    );
    expect(() => decodeTrainingCheckpoint(altered((c) => (c.tensors['layers.0.bias']!.data = new Float32Array([1, NaN, 0]))), 'a.ckpt')).toThrow(
      'a.ckpt: tensor layers.0.bias: element 1 is NaN: values must be finite',
    );
    expect(() => decodeTrainingCheckpoint(altered((c) => (c.meta!.step = -1)), 'a.ckpt')).toThrow('a.ckpt: metadata.step: must be an integer >= 0, got -1');
    expect(() => decodeTrainingCheckpoint(altered((c) => delete c.meta!.schedule), 'a.ckpt')).toThrow('a.ckpt: metadata.schedule: missing');
    expect(() => decodeTrainingCheckpoint(altered((c) => (c.tensors.extra = { shape: [1], data: new Float32Array(1) })), 'a.ckpt')).toThrow(
      /a\.ckpt: tensor extra: unexpected/,
    );
  });
});
