/**
 * The GPU runner: a model + loss + optimizer compiled once into a step plan.
 *
 * Planning (once): every buffer is allocated up front — the flat parameter / gradient / optimizer-state buffers,
 * activations and their gradients for the largest batch, the training set (as bytes) and the epoch permutation —
 * and every pipeline, uniform and bind group is created. A second plan for the epoch's partial last batch is built
 * the first time one occurs, over the same buffers.
 *
 * A step (`step()`): one `writeBuffer` of the step's integers (step index, batch start) and of the optimizer's
 * per-step scalars, then ONE command buffer with one compute pass holding every dispatch of the step:
 *   gather → [Dense (matmul with fused bias + activation) | BatchNorm | Dropout]* → loss (fused softmax-CE forward
 *   and backward) → metrics accumulate → backward layer by layer (activation′, dW = Xᵀ·dZ, db = Σ dZ, dX = dZ·Wᵀ)
 *   → optimizer (grad stats when clipping / guarding, then the fused update of every parameter).
 * No allocation, no bind-group creation, no await; metrics come back through the MetricsRing every N steps.
 */
import type { Dataset } from '../data/dataset.js';
import type { Engine } from '../gpu/index.js';
import { ActivationOp } from '../kernels/activation.js';
import { BatchGatherOp, MNIST_NORMALIZATION, uploadF32Dataset, uploadF32LabelDataset, uploadU8Dataset, type F32Dataset, type F32LabelDataset, type U8Dataset } from '../kernels/batch.js';
import { MatmulOp } from '../kernels/matmul.js';
import { CrossEntropyOp, MetricsOp, createMetricsBuffer, metricsLayout } from '../kernels/softmax.js';
import { layoutModel, paramSlot, statSlot, type ParamLayout, type ParamRole } from '../model/layout.js';
import { initParams, initStats } from '../model/params.js';
import { outputSize, type LayerSpec } from '../model/spec.js';
import { UniformBlock } from '../gpu/uniforms.js';
import { checkDataset } from './cpu-runner.js';
import { MetricsRing, type Snapshot } from './metrics-ring.js';
import { GpuOptimizer } from '../optim/gpu.js';
import { BatchNormOp } from '../kernels/batchnorm.js';
import { DropoutOp, dropoutStream } from '../kernels/dropout.js';
import { LossOp } from '../kernels/loss.js';
import { optimizerGroups } from './optimizer-groups.js';
import type { EvalResult, MetricsReport, Runner, RunnerConfig, RunnerState, StepInput } from './runner.js';

interface Encodable {
  encode(pass: GPUComputePassEncoder): void;
  destroy(): void;
}

/** Everything recorded for one batch-row count. */
interface Plan {
  rows: number;
  forward: Encodable[];
  loss: Encodable[];
  backward: Encodable[];
}

const F32 = 4;

export async function createGpuRunner(engine: Engine, config: RunnerConfig): Promise<GpuRunner> {
  const r = new GpuRunner(engine, config);
  await r.init();
  return r;
}

export class GpuRunner implements Runner {
  readonly device = 'gpu' as const;
  readonly description: string;
  readonly layout: ParamLayout;
  readonly outputs: number;
  readonly params: GPUBuffer;
  readonly grads: GPUBuffer;
  readonly stats: GPUBuffer;
  /** u32 [step, start, 0, 0], rewritten before each step. */
  readonly stepinfo: GPUBuffer;
  readonly metrics: GPUBuffer;
  /** Dispatches recorded by the last training step. */
  dispatchesPerStep = 0;
  optimizer!: GpuOptimizer;
  private readonly owned: GPUBuffer[] = [];
  /** Output of layer i (index 0 = the gathered input batch, i + 1 = output of layers[i]). */
  private readonly acts: GPUBuffer[] = [];
  /** Gradient w.r.t. acts[i]. */
  private readonly dacts: GPUBuffer[] = [];
  private readonly labels: GPUBuffer;
  /** [B] of 1.0: bias gradients are 1ᵀ·dZ. */
  private readonly ones: GPUBuffer;
  private readonly rowLoss: GPUBuffer;
  private readonly rowFlags: GPUBuffer;
  private readonly widths: number[];
  private readonly plans = new Map<string, Plan>();
  /** Labels of planned ops, for `profileStep`. */
  private readonly opNames = new WeakMap<Encodable, string>();
  private train: { data: U8Dataset | F32Dataset | F32LabelDataset; ds: Dataset; perm: GPUBuffer } | null = null;
  private ring!: MetricsRing;
  private readonly listeners = new Set<(m: MetricsReport) => void>();
  private readonly stepWords = new Uint32Array(4);
  private readonly fused: boolean[];
  private lastSkipped = 0;

  constructor(
    readonly engine: Engine,
    readonly config: RunnerConfig,
  ) {
    this.description = engine.describe();
    const m = config.model;
    this.layout = layoutModel(m);
    this.outputs = outputSize(m);
    const B = config.batchSize;
    if (!Number.isInteger(B) || B < 1) throw new Error(`batchSize must be a positive integer (got ${B})`);
    const buf = (label: string, bytes: number, extra = 0): GPUBuffer => {
      const b = engine.storage(label, Math.max(bytes, 16), extra);
      this.owned.push(b);
      return b;
    };
    this.params = buf('params', this.layout.n * F32);
    this.grads = buf('grads', this.layout.n * F32);
    this.stats = buf('stats', Math.max(this.layout.nStats, 1) * F32);
    this.stepinfo = buf('stepinfo', 16);
    this.widths = [m.inputs];
    for (const l of m.layers) this.widths.push(l.type === 'dense' ? l.outputs : this.widths[this.widths.length - 1]!);
    this.widths.forEach((w, i) => {
      this.acts.push(buf(`act${i}`, B * w * F32));
      this.dacts.push(buf(`dact${i}`, B * w * F32));
    });
    this.labels = buf('labels', B * Math.max(this.outputs, 1) * F32);
    this.rowLoss = buf('row_loss', B * F32);
    this.rowFlags = buf('row_flags', B * F32);
    this.ones = buf('ones', B * F32);
    engine.write(this.ones, new Float32Array(B).fill(1));
    this.metrics = createMetricsBuffer(engine, 'metrics');
    this.owned.push(this.metrics);
    // A Dense layer directly followed by an activation runs as one matmul with a fused epilogue; the activation's
    // own forward dispatch is skipped and the matmul also stores the pre-activation for the backward pass.
    this.fused = m.layers.map((l, i) => l.type === 'activation' && i > 0 && m.layers[i - 1]!.type === 'dense');
  }

  async init(): Promise<void> {
    const { engine, config, layout } = this;
    engine.write(this.params, Float32Array.from(initParams(config.model, layout, config.seed)));
    if (layout.nStats) engine.write(this.stats, Float32Array.from(initStats(config.model, layout)));
    this.optimizer = await GpuOptimizer.create(engine, {
      optimizer: config.optimizer.name,
      hyperparams: config.optimizer.hyperparams ?? {},
      params: this.params,
      grads: this.grads,
      n: layout.n,
      groups: optimizerGroups(config.optimizer, layout),
      clip: config.clip,
      guard: config.guard !== false,
      ...(config.gradLr ? { gradLr: config.gradLr } : {}),
    });
    const ml = metricsLayout(engine);
    const mblock = (data: ArrayBuffer) => new UniformBlock(ml, data);
    this.ring = new MetricsRing(
      engine,
      [
        { buffer: this.metrics, bytes: ml.size, reset: true },
        // Word 0 of the optimizer's GPU state: steps skipped by the non-finite guard (cumulative).
        { buffer: this.optimizer.stateBuffer, bytes: 4, reset: false },
      ],
      (s: Snapshot) => {
        const mb = mblock(s.data[0]!);
        const skipped = new Uint32Array(s.data[1]!)[0]!;
        const report: MetricsReport = {
          steps: s.steps,
          lastStep: s.lastStep,
          lossSum: mb.get('loss_hi') + mb.get('loss_lo'),
          correct: mb.get('correct'),
          rows: mb.get('rows'),
          skipped: skipped - this.lastSkipped,
        };
        this.lastSkipped = skipped;
        for (const l of this.listeners) l(report);
      },
      config.metricsEvery ?? 50,
    );
  }

  private slot(layer: number, role: ParamRole, flat: GPUBuffer): GPUBufferBinding {
    const s = paramSlot(this.layout, layer, role)!;
    return { buffer: flat, offset: s.offset * F32, size: s.size * F32 };
  }

  /** [running_mean (F), running_var (F)] of a BatchNorm layer: adjacent in the stats buffer. */
  private runningBinding(layer: number, features: number): GPUBufferBinding {
    const s = statSlot(this.layout, layer, 'running_mean')!;
    return { buffer: this.stats, offset: s.offset * F32, size: 2 * features * F32 };
  }

  private readonly saved = new Map<number, GPUBuffer>();

  /** The batch mean and inverse std a BatchNorm layer's training forward saves for its backward. */
  private bnSaved(layer: number, features: number): GPUBuffer {
    let b = this.saved.get(layer);
    if (!b) {
      b = this.engine.storage(`layers.${layer}.bn_saved`, 2 * features * F32);
      this.owned.push(b);
      this.saved.set(layer, b);
    }
    return b;
  }

  /** Builds (once per row count and mode) the dispatch lists of a step or an evaluation batch. */
  private async plan(rows: number, mode: 'train' | 'eval', source: 'train' | 'eval-data'): Promise<Plan> {
    const key = `${rows}/${mode}/${source}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const { engine, config } = this;
    const m = config.model;
    const training = mode === 'train';
    // No one reads the gradient w.r.t. the input batch: backward ops whose only output it is are not planned.
    const needsDx = (i: number): boolean => i > 0;
    const forward: Encodable[] = [];
    const backward: Encodable[] = [];
    for (let i = 0; i < m.layers.length; i++) {
      const l = m.layers[i]!;
      const f0 = forward.length;
      const b0 = backward.length;
      try {
      const x = this.acts[i]!;
      const y = this.acts[i + 1]!;
      const win = this.widths[i]!;
      const wout = this.widths[i + 1]!;
      if (l.type === 'dense') {
        const next = m.layers[i + 1];
        const fuse = next?.type === 'activation';
        forward.push(
          await MatmulOp.create(engine, {
            M: rows, N: l.outputs, K: l.inputs, a: x, b: this.slot(i, 'weight', this.params), c: fuse ? this.acts[i + 2]! : y,
            bias: l.bias ? this.slot(i, 'bias', this.params) : undefined,
            z: fuse ? y : undefined,
            activation: fuse ? (next as Extract<LayerSpec, { type: 'activation' }>).kind : 'identity',
            activationAlpha: fuse ? (next as Extract<LayerSpec, { type: 'activation' }>).alpha : undefined,
          }),
        );
      } else if (l.type === 'activation') {
        if (!this.fused[i]) forward.push(await ActivationOp.forward(engine, { kind: l.kind, alpha: l.alpha, n: rows * win, x, y }));
      } else if (l.type === 'batchnorm') {
        const shape = { rows, features: l.features };
        const gamma = this.slot(i, 'gamma', this.params);
        const beta = this.slot(i, 'beta', this.params);
        const running = this.runningBinding(i, l.features);
        if (training) {
          const saved = this.bnSaved(i, l.features);
          forward.push(await BatchNormOp.forwardTrain(engine, { ...shape, eps: l.eps, momentum: l.momentum, x, y, gamma, beta, running, saved }));
          backward.unshift(
            await BatchNormOp.backward(engine, {
              ...shape, x, dy: this.dacts[i + 1]!, gamma, saved, dx: this.dacts[i]!,
              dgamma: this.slot(i, 'gamma', this.grads), dbeta: this.slot(i, 'beta', this.grads),
            }),
          );
        } else forward.push(await BatchNormOp.forwardEval(engine, { ...shape, eps: l.eps, x, y, gamma, beta, running }));
      } else if (l.type === 'dropout') {
        if (training && l.p > 0) {
          const common = { n: rows * win, p: l.p, seed: config.seed, stream: dropoutStream(i), stepinfo: this.stepinfo };
          forward.push(await DropoutOp.forward(engine, { ...common, x, y }));
          if (needsDx(i)) backward.unshift(await DropoutOp.backward(engine, { ...common, dy: this.dacts[i + 1]!, dx: this.dacts[i]! }));
        } else {
          // Identity (evaluation, or p = 0): an identity activation copies the values through.
          forward.push(await ActivationOp.forward(engine, { kind: 'identity', n: rows * win, x, y }));
          if (training && needsDx(i)) backward.unshift(await ActivationOp.backward(engine, { kind: 'identity', n: rows * win, x, dy: this.dacts[i + 1]!, dx: this.dacts[i]! }));
        }
      }
      if (!training) continue;
      // Backward of dense and activation layers (unshift: they run in reverse layer order).
      if (l.type === 'dense') {
        const dZ = this.dacts[i + 1]!;
        const ops: Encodable[] = [
          await MatmulOp.create(engine, { M: l.inputs, N: l.outputs, K: rows, transA: true, a: x, b: dZ, c: this.slot(i, 'weight', this.grads) }),
        ];
        // db = 1ᵀ·dZ: the column sums of dZ as a 1×rows by rows×N product.
        if (l.bias) ops.push(await MatmulOp.create(engine, { M: 1, N: l.outputs, K: rows, a: this.ones, b: dZ, c: this.slot(i, 'bias', this.grads) }));
        if (needsDx(i)) ops.push(await MatmulOp.create(engine, { M: rows, N: l.inputs, K: l.outputs, transB: true, a: dZ, b: this.slot(i, 'weight', this.params), c: this.dacts[i]! }));
        backward.unshift(...ops);
      } else if (l.type === 'activation' && needsDx(i)) {
        backward.unshift(await ActivationOp.backward(engine, { kind: l.kind, alpha: l.alpha, n: rows * wout, x, dy: this.dacts[i + 1]!, dx: this.dacts[i]! }));
      }
      } finally {
        // Names for profiles: the ops this layer added at the end of `forward` and the front of `backward`.
        const kind = l.type === 'activation' ? l.kind : l.type;
        forward.slice(f0).forEach((op, k) => this.opNames.set(op, `layers.${i}.${kind}${l.type === 'dense' && this.fused[i + 1] ? '+' + (m.layers[i + 1] as { kind: string }).kind : ''} forward${k ? ` #${k + 1}` : ''}`));
        const parts = l.type === 'dense' ? ['dW', 'db', 'dX'] : ['backward'];
        backward.slice(0, backward.length - b0).forEach((op, k) => this.opNames.set(op, `layers.${i}.${kind} ${parts[k] ?? `backward #${k + 1}`}`));
      }
    }
    const out = this.acts[m.layers.length]!;
    const dOut = training ? this.dacts[m.layers.length]! : undefined;
    const loss: Encodable[] = [
      m.loss === 'softmax_ce'
        ? await CrossEntropyOp.plan(engine, { rows, cols: this.outputs, logits: out, labels: this.labels, loss: this.rowLoss, flags: this.rowFlags, dlogits: dOut })
        : await LossOp.plan(engine, { kind: m.loss, rows, cols: this.outputs, pred: out, targets: this.labels, loss: this.rowLoss, flags: this.rowFlags, grad: dOut }),
      await MetricsOp.plan(engine, { rows, loss: this.rowLoss, flags: this.rowFlags, metrics: this.metrics }),
    ];
    const gather = await this.gatherOp(rows, source);
    forward.unshift(gather);
    this.opNames.set(gather, 'gather batch');
    this.opNames.set(loss[0]!, `loss ${m.loss}${training ? ' forward+backward' : ''}`);
    this.opNames.set(loss[1]!, 'metrics accumulate');
    const p: Plan = { rows, forward, loss, backward };
    this.plans.set(key, p);
    return p;
  }

  private evalData: { data: U8Dataset | F32Dataset | F32LabelDataset; ds: Dataset; perm: GPUBuffer } | null = null;

  private async gatherOp(rows: number, source: 'train' | 'eval-data'): Promise<Encodable> {
    const src = source === 'train' ? this.train : this.evalData;
    if (!src) throw new Error('no dataset uploaded');
    const { engine, config } = this;
    const common = { perm: src.perm, permLen: src.ds.length, stepinfo: this.stepinfo, batch: rows, x: this.acts[0]! };
    if ('images' in src.data) {
      return BatchGatherOp.u8(engine, {
        ...common, dataset: src.data, labels: this.labels,
        scale: config.inputScale ?? MNIST_NORMALIZATION.scale, shift: config.inputShift ?? MNIST_NORMALIZATION.shift,
      });
    }
    if ('labels' in src.data) return BatchGatherOp.f32Labels(engine, { ...common, dataset: src.data, labels: this.labels });
    return BatchGatherOp.f32(engine, { ...common, dataset: src.data, targets: this.labels });
  }

  private upload(ds: Dataset, label: string): { data: U8Dataset | F32Dataset | F32LabelDataset; ds: Dataset; perm: GPUBuffer } {
    checkDataset(ds, this.config);
    const data =
      ds.inputs instanceof Uint8Array && ds.labels
        ? uploadU8Dataset(this.engine, ds.inputs, ds.labels, ds.exampleSize, label)
        : ds.labels
          ? uploadF32LabelDataset(this.engine, ds.inputs as Float32Array, ds.labels, ds.exampleSize, label)
          : uploadF32Dataset(
            this.engine,
            ds.inputs instanceof Float32Array ? ds.inputs : Float32Array.from(ds.inputs, (v) => v * (this.config.inputScale ?? MNIST_NORMALIZATION.scale) + (this.config.inputShift ?? MNIST_NORMALIZATION.shift)),
            ds.targets!,
            ds.exampleSize,
            ds.targetSize!,
            label,
          );
    const perm = this.engine.storage(`${label}.perm`, Uint32Array.from({ length: ds.length }, (_, i) => i));
    return { data, ds, perm };
  }

  private dropUpload(u: { data: U8Dataset | F32Dataset | F32LabelDataset; perm: GPUBuffer } | null): void {
    if (!u) return;
    for (const b of Object.values(u.data)) if (b instanceof GPUBuffer) b.destroy();
    u.perm.destroy();
  }

  private dropPlans(source: 'train' | 'eval-data'): void {
    for (const [k, p] of this.plans) {
      if (!k.endsWith(`/${source}`)) continue;
      for (const op of [...p.forward, ...p.loss, ...p.backward]) op.destroy();
      this.plans.delete(k);
    }
  }

  async setTrainingData(ds: Dataset): Promise<void> {
    if (this.train?.ds === ds) return;
    this.dropPlans('train');
    this.dropUpload(this.train);
    this.train = this.upload(ds, 'train');
    // Plans for a full batch and for the epoch's partial last batch (if any), so that step() never waits.
    const B = Math.min(this.config.batchSize, ds.length);
    await this.plan(B, 'train', 'train');
    if (ds.length % B) await this.plan(ds.length % B, 'train', 'train');
  }

  beginEpoch(permutation: Uint32Array): void {
    if (!this.train) throw new Error('beginEpoch: call setTrainingData first');
    if (permutation.length !== this.train.ds.length) {
      throw new Error(`beginEpoch: the permutation has ${permutation.length} entries but the training set has ${this.train.ds.length}`);
    }
    this.engine.write(this.train.perm, permutation);
  }

  step(s: StepInput): void {
    if (!this.train) throw new Error('step: call setTrainingData and beginEpoch first');
    const plan = this.plans.get(`${s.rows}/train/train`);
    if (!plan) {
      throw new RangeError(
        `step: a batch of ${s.rows} rows was not planned (planned: the batch size ${this.config.batchSize} and the epoch's partial last batch)`,
      );
    }
    this.encodeStep(plan, s);
  }

  private encodeStep(plan: Plan, s: StepInput): void {
    const { engine } = this;
    this.writeStepInfo(s.step, s.start);
    this.optimizer.writeStep(s.lr);
    const before = engine.dispatchCount;
    const encoder = engine.device.createCommandEncoder({ label: `step ${s.step}` });
    const pass = encoder.beginComputePass({ label: 'train step' });
    for (const op of plan.forward) op.encode(pass);
    for (const op of plan.loss) op.encode(pass);
    for (const op of plan.backward) op.encode(pass);
    this.optimizer.encode(pass);
    pass.end();
    const map = this.ring.afterStep(encoder, s.step);
    engine.device.queue.submit([encoder.finish()]);
    map?.();
    this.dispatchesPerStep = engine.dispatchCount - before;
    if (++this.submittedSteps % GpuRunner.FENCE_EVERY === 0) {
      this.fences.push(engine.device.queue.onSubmittedWorkDone());
      // The queue completes in order, so only the newest fences matter; a caller that never awaits ready() keeps
      // this bounded too.
      if (this.fences.length > 2 * GpuRunner.MAX_FENCES) this.fences.splice(0, this.fences.length - GpuRunner.MAX_FENCES - 1);
    }
  }

  /** Steps between completion fences, and fences allowed in flight: at most ~16 steps queued ahead of the GPU. */
  private static readonly FENCE_EVERY = 4;
  private static readonly MAX_FENCES = 4;
  private submittedSteps = 0;
  private readonly fences: Promise<void>[] = [];

  async ready(): Promise<void> {
    if (this.fences.length <= GpuRunner.MAX_FENCES) return;
    await this.fences[this.fences.length - 1 - GpuRunner.MAX_FENCES];
    this.fences.splice(0, this.fences.length - GpuRunner.MAX_FENCES);
  }

  /**
   * Runs one real training step (it updates the model like `step`) with every op in a compute pass of its own and
   * GPU timestamps around each, and returns the GPU time of each op in milliseconds, in execution order. Null when
   * the adapter lacks 'timestamp-query'. A diagnostic: it waits for the GPU, so it is not for the training loop.
   */
  async profileStep(s: StepInput): Promise<{ op: string; ms: number }[] | null> {
    const { engine } = this;
    if (!engine.features.has('timestamp-query')) return null;
    const plan = this.plans.get(`${s.rows}/train/train`);
    if (!plan || !this.train) throw new Error('profileStep: call setTrainingData and beginEpoch first (and use a planned batch size)');
    await this.flushMetrics();
    const ops: { op: string; encode: (pass: GPUComputePassEncoder) => void }[] = [
      ...[...plan.forward, ...plan.loss, ...plan.backward].map((o) => ({ op: this.opNames.get(o) ?? 'op', encode: (p: GPUComputePassEncoder) => o.encode(p) })),
      { op: `optimizer ${this.config.optimizer.name}`, encode: (p: GPUComputePassEncoder) => this.optimizer.encode(p) },
    ];
    const querySet = engine.device.createQuerySet({ label: 'profile', type: 'timestamp', count: 2 * ops.length });
    const resolved = engine.buffer({ label: 'profile.resolve', size: 16 * ops.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    try {
      this.writeStepInfo(s.step, s.start);
      this.optimizer.writeStep(s.lr);
      const encoder = engine.device.createCommandEncoder({ label: `profiled step ${s.step}` });
      ops.forEach((o, k) => {
        const pass = encoder.beginComputePass({
          label: o.op,
          timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * k, endOfPassWriteIndex: 2 * k + 1 },
        });
        o.encode(pass);
        pass.end();
      });
      encoder.resolveQuerySet(querySet, 0, 2 * ops.length, resolved, 0);
      const map = this.ring.afterStep(encoder, s.step); // its metrics are reported like any step's
      engine.device.queue.submit([encoder.finish()]);
      map?.();
      const t = new BigUint64Array(await engine.read(resolved));
      return ops.map((o, k) => ({ op: o.op, ms: Number(t[2 * k + 1]! - t[2 * k]!) / 1e6 }));
    } finally {
      resolved.destroy();
      querySet.destroy();
    }
  }

  /** The per-step integers the gather and dropout kernels read: [step, batch start]. Ordered before the next submit. */
  private writeStepInfo(step: number, start: number): void {
    this.stepWords[0] = step >>> 0;
    this.stepWords[1] = start;
    this.engine.write(this.stepinfo, this.stepWords);
  }

  onMetrics(listener: (m: MetricsReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async flushMetrics(): Promise<void> {
    if (this.ring.unreported > 0) {
      while (!this.ring.hasFreeSlot) await this.ring.drain();
      const encoder = this.engine.device.createCommandEncoder({ label: 'metrics flush' });
      const map = this.ring.snapshotNow(encoder);
      this.engine.device.queue.submit([encoder.finish()]);
      map?.();
    }
    await this.ring.drain();
    await this.engine.flush();
  }

  async evaluate(ds: Dataset): Promise<EvalResult> {
    const chunk = Math.min(this.config.batchSize, ds.length);
    const { acc, count } = await this.runEval(ds, chunk, null);
    const classification = this.config.model.loss !== 'mse';
    const denom = this.config.model.loss === 'bce' ? count * this.outputs : count;
    return { loss: acc.loss / count, accuracy: classification ? acc.correct / denom : NaN, count };
  }

  async predict(ds: Dataset, start = 0, rows = ds.length - start): Promise<Float32Array> {
    const out = new Float32Array(rows * this.outputs);
    const chunk = Math.min(this.config.batchSize, rows);
    await this.runEval(ds, chunk, { start, rows, out });
    return out;
  }

  /** Runs eval-mode forward passes over ds (or a range for predict), accumulating metrics in a separate buffer. */
  private async runEval(ds: Dataset, chunk: number, predict: { start: number; rows: number; out: Float32Array } | null): Promise<{ acc: { loss: number; correct: number }; count: number }> {
    const { engine } = this;
    await this.flushMetrics(); // training metrics must not mix with evaluation ones
    if (this.evalData?.ds !== ds) {
      // One evaluation set stays on the GPU (with its plans) until another replaces it: validation every epoch
      // uploads nothing and builds nothing after the first time.
      this.dropPlans('eval-data');
      this.dropUpload(this.evalData);
      this.evalData = this.upload(ds, 'eval');
    }
    const first = predict?.start ?? 0;
    const total = predict?.rows ?? ds.length;
    const mbuf = this.metrics;
    engine.submit('eval reset', (enc) => enc.clearBuffer(mbuf));
    const outBuf = this.acts[this.config.model.layers.length]!;
    const staging = predict ? engine.buffer({ label: 'predict.staging', size: chunk * this.outputs * F32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;
    try {
      for (let at = 0; at < total; at += chunk) {
        const rows = Math.min(chunk, total - at);
        const plan = await this.plan(rows, 'eval', 'eval-data');
        this.writeStepInfo(0, first + at);
        const encoder = engine.device.createCommandEncoder({ label: 'eval batch' });
        const pass = encoder.beginComputePass({ label: 'eval' });
        for (const op of plan.forward) op.encode(pass);
        for (const op of plan.loss) op.encode(pass);
        pass.end();
        if (staging) encoder.copyBufferToBuffer(outBuf, 0, staging, 0, rows * this.outputs * F32);
        engine.device.queue.submit([encoder.finish()]);
        if (staging && predict) {
          await staging.mapAsync(GPUMapMode.READ, 0, rows * this.outputs * F32);
          predict.out.set(new Float32Array(staging.getMappedRange(0, rows * this.outputs * F32)), at * this.outputs);
          staging.unmap();
        }
      }
      const mb = new UniformBlock(metricsLayout(engine), await engine.read(mbuf));
      engine.submit('eval reset', (enc) => enc.clearBuffer(mbuf));
      return { acc: { loss: mb.get('loss_hi') + mb.get('loss_lo'), correct: mb.get('correct') }, count: total };
    } finally {
      staging?.destroy();
    }
  }

  async exportState(): Promise<RunnerState> {
    await this.flushMetrics();
    const params = await this.engine.readF32(this.params, this.layout.n);
    const stats = this.layout.nStats ? await this.engine.readF32(this.stats, this.layout.nStats) : new Float32Array(0);
    const optimizer = await this.optimizer.exportState();
    return { params, stats, optimizer, skipped: await this.optimizer.readSkipped() };
  }

  async importState(s: RunnerState): Promise<void> {
    if (s.params.length !== this.layout.n || s.stats.length !== this.layout.nStats) {
      throw new Error(`importState: the state holds ${s.params.length} parameters / ${s.stats.length} stats; this model has ${this.layout.n} / ${this.layout.nStats}`);
    }
    await this.flushMetrics();
    this.engine.write(this.params, s.params);
    if (this.layout.nStats) this.engine.write(this.stats, s.stats);
    // The GPU optimizer restarts its skipped counter at 0 on import; `step` in the saved state is already t.
    this.optimizer.importState(s.optimizer);
    this.lastSkipped = 0;
  }

  destroy(): void {
    for (const p of this.plans.values()) for (const op of [...p.forward, ...p.loss, ...p.backward]) op.destroy();
    this.plans.clear();
    this.dropUpload(this.train);
    this.dropUpload(this.evalData);
    this.train = this.evalData = null;
    this.optimizer?.destroy();
    this.ring?.destroy();
    for (const b of this.owned) b.destroy();
    this.listeners.clear();
  }
}

