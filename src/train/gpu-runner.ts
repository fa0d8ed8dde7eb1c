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
 *   gather → each layer's forward ops → loss (fused softmax-CE forward and backward) → metrics accumulate → each
 *   layer's backward ops in reverse order → [gradient norms per layer, with RunnerConfig.gradNorms] → optimizer (grad
 *   stats when clipping / guarding, then the fused update of every parameter).
 * The layers plan their own ops (src/layers: `gpu.forward`, `gpu.backward`) on buffers the runner hands over: one
 * activation buffer and one gradient buffer per layer boundary (shared across a layer that `aliasesInput`), ranges
 * of the flat parameter, gradient and stats buffers, and the scratch buffers a layer declares. A layer that
 * `acceptsEpilogue` absorbs the next layer's forward when that one offers an `epilogue` (Dense + activation: one
 * matmul with a fused epilogue, which also stores the pre-activation for the activation's backward); one that
 * `acceptsGradEpilogue` absorbs the backward of such a layer before it (dX·f′(z) in one matmul).
 * No allocation, no bind-group creation, no await; metrics come back through the MetricsRing every N steps.
 */
import type { Dataset } from '../data/dataset.js';
import type { Engine } from '../gpu/index.js';
import { BatchGatherOp, MNIST_NORMALIZATION, uploadF32Dataset, uploadF32LabelDataset, uploadU8Dataset, type F32Dataset, type F32LabelDataset, type U8Dataset } from '../kernels/batch.js';
import { CrossEntropyOp, MetricsOp, createMetricsBuffer, metricsLayout } from '../kernels/softmax.js';
import type { Encodable, Epilogue, GpuContext, PlannedOp } from '../layers/layer.js';
import { inputGradientNeeded, type ResolvedLayer } from '../model/graph.js';
import { layoutModel, paramSlot, statBlock, type ParamLayout } from '../model/layout.js';
import { initParams, initStats } from '../model/params.js';
import { inputShape, modelLayers, outputSize } from '../model/spec.js';
import { UniformBlock } from '../gpu/uniforms.js';
import { checkDataset } from './cpu-runner.js';
import { MetricsRing, type Snapshot } from './metrics-ring.js';
import { GpuOptimizer } from '../optim/gpu.js';
import { LossOp } from '../kernels/loss.js';
import { optimizerGroups } from './optimizer-groups.js';
import { checkBatchSize, checkNotEmpty, checkStateOptimizer, checkPermutation, checkRange, checkStepInput, destroyedError, validateRunnerConfig } from './runner-checks.js';
import { checkBufferFits, checkGpuRunnerFits, formatBytes } from './gpu-limits.js';
import { GpuError } from '../gpu/errors.js';
import { decodeFor, runnerCheckpoint } from './checkpoint.js';
import { forPrediction, invalidLabelsError, metricMeans, runnerSeed, type EvalResult, type MetricsReport, type Runner, type RunnerConfig, type RunnerState, type StepInput } from './runner.js';
import { GradNormsOp } from '../kernels/gradnorms.js';
import { gradNormLayers, type GradNormLayer } from './grad-norm-groups.js';
import { GpuMachine } from '../linalg/gpu-machine.js';
import type { VectorMachine } from '../linalg/machine.js';
import type { GpuObjective, GpuPlan } from '../linalg/objective.js';
import { VectorAxpbyOp, VectorSumOp } from '../linalg/vector.js';
import { isFullBatchMethod } from '../minimize/methods.js';
import { checkFullBatchModel, fullBatchStepError } from './full-batch.js';

/** Everything recorded for one batch-row count. */
interface Plan {
  rows: number;
  forward: Encodable[];
  loss: Encodable[];
  backward: Encodable[];
}

const F32 = 4;
/** The label of every training step's command encoder and pass (one object, not a string formatted per step). */
const STEP_LABEL: Readonly<GPUObjectDescriptorBase> = { label: 'train step' };
/** What `ready()` returns while nothing needs waiting for (most steps): no promise made per step. */
const READY: Promise<void> = Promise.resolve();

/** One op of a training step, for timing it alone (`GpuRunner.stepOps`). */
export interface StepOp {
  where: 'forward' | 'loss' | 'backward' | 'gradient norms' | 'optimizer';
  /** Its name in profiles, e.g. 'layers.0.dense+relu forward'. */
  op: string;
  /** What it chose when built (a matmul's variant and tile), if anything. */
  detail?: string;
  encode(pass: GPUComputePassEncoder): void;
}

/** A training step's dispatches of `plan` (forward, loss, backward), in order, into one compute pass. */
function encodeTraining(plan: Plan, pass: GPUComputePassEncoder): void {
  for (const op of plan.forward) op.encode(pass);
  for (const op of plan.loss) op.encode(pass);
  for (const op of plan.backward) op.encode(pass);
}

/**
 * Checks the whole config and the adapter's limits before allocating anything (a rejected config leaves nothing
 * behind), then builds the runner; if the device refuses an allocation (out of memory), everything made so far is
 * freed and the error says how much the runner needed.
 */
export async function createGpuRunner(engine: Engine, config: RunnerConfig): Promise<GpuRunner> {
  const { layout } = validateRunnerConfig(config);
  const planned = checkGpuRunnerFits(engine.limits, config, layout);
  const r = new GpuRunner(engine, config);
  try {
    await r.init();
    // The device reports a refused allocation asynchronously: wait for it here rather than at the first step.
    await engine.flush();
  } catch (e) {
    r.destroy();
    if (!(e instanceof GpuError) || e.kind === 'internal') throw e;
    throw new GpuError(
      e.kind,
      `createGpuRunner: the GPU refused the runner's buffers (about ${formatBytes(planned.bytes)} in all; everything allocated ` +
        `was freed again): ${e.message}`,
    );
  }
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
  /** null when config.optimizer is a full-batch method (Trainer.fit drives it through fullBatchMachine). */
  optimizer: GpuOptimizer | null = null;
  private readonly owned: GPUBuffer[] = [];
  /** The model's layers with their kinds and shapes. */
  private readonly layers: ResolvedLayer[];
  /** Output of layer i (index 0 = the gathered input batch, i + 1 = output of layers[i]); a reshape shares its input's. */
  private readonly acts: GPUBuffer[] = [];
  /** Gradient w.r.t. acts[i]. */
  private readonly dacts: GPUBuffer[] = [];
  /** Scratch buffers the layers declared (`gpu.buffers`), by layer index and name. */
  private readonly scratch: Map<string, GPUBuffer>[] = [];
  private readonly labels: GPUBuffer;
  /** [B] of 1.0: bias gradients are 1ᵀ·dZ. */
  private readonly ones: GPUBuffer;
  private readonly rowLoss: GPUBuffer;
  private readonly rowFlags: GPUBuffer;
  /** Plans by source, then row count: training steps over the training set, batches over the evaluation set. */
  private readonly plans: Record<'train' | 'eval-data', Map<number, Plan>> = { train: new Map(), 'eval-data': new Map() };
  /** Labels of planned ops, for `profileStep`. */
  private readonly opNames = new WeakMap<Encodable, string>();
  private train: { data: U8Dataset | F32Dataset | F32LabelDataset; ds: Dataset; perm: GPUBuffer } | null = null;
  private ring!: MetricsRing;
  private readonly listeners = new Set<(m: MetricsReport) => void>();
  private readonly stepWords = new Uint32Array(4);
  /** The epilogue layer i applies for layer i + 1 (whose forward it absorbs), if any. */
  private readonly absorbs: (Epilogue | undefined)[];
  /** The epilogue whose backward layer i applies for layer i − 1 (whose backward it absorbs), if any. */
  private readonly absorbsBackward: (Epilogue | undefined)[];
  private readonly needsDx: boolean[];
  private lastSkipped = 0;
  private destroyed = false;
  /** Per-layer gradient norms (RunnerConfig.gradNorms), measured after the backward pass. */
  private gradNorms: { op: GradNormsOp; layers: GradNormLayer[] } | null = null;

  constructor(
    readonly engine: Engine,
    readonly config: RunnerConfig,
  ) {
    this.description = engine.describe();
    const m = config.model;
    this.layers = modelLayers(m);
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
    const boundary = (k: number, shape: readonly number[]) => {
      const w = shape.reduce((a, b) => a * b, 1);
      this.acts.push(buf(`act${k}`, B * w * F32));
      this.dacts.push(buf(`dact${k}`, B * w * F32));
    };
    boundary(0, inputShape(m));
    for (const l of this.layers) {
      if (l.kind.gpu.aliasesInput?.(l.spec)) {
        this.acts.push(this.acts[l.index]!);
        this.dacts.push(this.dacts[l.index]!);
      } else boundary(l.index + 1, l.output);
      const bufs = new Map<string, GPUBuffer>();
      for (const d of l.kind.gpu.buffers?.(l.spec, { input: l.input, output: l.output, batch: B, limits: engine.limits, engine }) ?? []) {
        const b = buf(`layers.${l.index}.${d.name}`, d.bytes);
        if (d.fill !== undefined) engine.write(b, new Float32Array(Math.floor(d.bytes / F32)).fill(d.fill));
        bufs.set(d.name, b);
      }
      this.scratch.push(bufs);
    }
    this.labels = buf('labels', B * Math.max(this.outputs, 1) * F32);
    this.rowLoss = buf('row_loss', B * F32);
    this.rowFlags = buf('row_flags', B * F32);
    this.ones = buf('ones', B * F32);
    engine.write(this.ones, new Float32Array(B).fill(1));
    this.metrics = createMetricsBuffer(engine, 'metrics');
    this.owned.push(this.metrics);
    this.absorbs = [];
    this.layers.forEach((l, i) => {
      const next = this.layers[i + 1];
      const free = i === 0 || !this.absorbs[i - 1];
      this.absorbs.push(free && next && l.kind.gpu.acceptsEpilogue ? next.kind.gpu.epilogue?.(next.spec) : undefined);
    });
    this.needsDx = inputGradientNeeded(this.layers);
    this.absorbsBackward = this.layers.map((l, i) => {
      const prev = this.layers[i - 1];
      return prev && this.needsDx[i] && l.kind.gpu.acceptsGradEpilogue ? prev.kind.gpu.epilogue?.(prev.spec) : undefined;
    });
  }

  /** Every public method starts here: a destroyed runner says so instead of failing inside WebGPU. */
  private alive(method: string): void {
    if (this.destroyed) throw this.destroyedError(method);
  }

  private destroyedError(method: string): Error {
    return destroyedError(`GpuRunner.${method}`, 'create a new one with createGpuRunner (and importState to continue)');
  }

  async init(): Promise<void> {
    const { engine, config, layout } = this;
    engine.write(this.params, Float32Array.from(initParams(config.model, layout, runnerSeed(config))));
    if (layout.nStats) engine.write(this.stats, Float32Array.from(initStats(config.model, layout)));
    if (!isFullBatchMethod(config.optimizer.name)) this.optimizer = await GpuOptimizer.create(engine, {
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
    // Per-step training only: a full-batch method (LBFGS, ...) takes no steps through the plan.
    if (config.gradNorms && this.optimizer) {
      const layers = gradNormLayers(config.model, layout);
      if (layers.length) {
        const op = await GradNormsOp.plan(engine, { buffer: this.grads, groups: layers, label: 'gradnorms' });
        this.gradNorms = { op, layers };
      }
    }
    const ml = metricsLayout(engine);
    const mblock = (data: ArrayBuffer) => new UniformBlock(ml, data);
    const gn = this.gradNorms;
    this.ring = new MetricsRing(
      engine,
      [
        { buffer: this.metrics, bytes: ml.size, reset: true },
        // Word 0 of the optimizer's GPU state: steps skipped by the non-finite guard (cumulative).
        ...(this.optimizer ? [{ buffer: this.optimizer.stateBuffer, bytes: 4, reset: false }] : []),
        ...(gn ? [{ buffer: gn.op.acc, bytes: gn.op.bytes, reset: true }] : []),
      ],
      (s: Snapshot) => {
        const mb = mblock(s.data[0]!);
        const skipped = this.optimizer ? new Uint32Array(s.data[1]!)[0]! : 0;
        const sums = { lossSum: mb.get('loss_hi') + mb.get('loss_lo'), correct: mb.get('correct'), rows: mb.get('rows') };
        const report: MetricsReport = {
          steps: s.steps,
          lastStep: s.lastStep,
          ...sums,
          skipped: skipped - this.lastSkipped,
          ...metricMeans(config.model, sums),
          invalid: mb.get('invalid'),
        };
        if (gn) {
          const d = gn.op.decode(s.data[this.optimizer ? 2 : 1]!);
          report.gradNorms = { global: d.global, layers: gn.layers.map((l, k) => ({ layer: l.layer, name: l.name, norm: d.groups[k]! })) };
        }
        this.lastSkipped = skipped;
        if (report.invalid > 0) this.dataError ??= invalidLabelsError(this.train?.ds, this.outputs, `${report.invalid} labels in the training steps up to ${s.lastStep} are`);
        for (const l of this.listeners) l(report);
      },
      config.metricsEvery ?? 50,
    );
  }

  /** A layer's parameter `role` as a range of `flat` (the parameters or the gradients). */
  private paramRange(flat: GPUBuffer, l: ResolvedLayer, role: string): GPUBufferBinding {
    const s = paramSlot(this.layout, l.index, role);
    if (!s) throw new Error(`layers[${l.index}] (${l.spec.type}) has no parameter '${role}'`);
    return { buffer: flat, offset: s.offset * F32, size: s.size * F32 };
  }

  /** What layer `l`'s GPU plan sees (see GpuContext in src/layers/layer.ts). */
  private layerContext(l: ResolvedLayer, rows: number, training: boolean): GpuContext {
    const where = `layers[${l.index}] (${l.spec.type})`;
    return {
      engine: this.engine, index: l.index, rows, training, input: l.input, output: l.output,
      x: this.acts[l.index]!, y: this.acts[l.index + 1]!,
      param: (role) => this.paramRange(this.params, l, role),
      stats: () => {
        const b = statBlock(this.layout, l.index);
        if (!b) throw new Error(`${where} has no statistics`);
        return { buffer: this.stats, offset: b.offset * F32, size: b.size * F32 };
      },
      buffer: (name) => {
        const b = this.scratch[l.index]!.get(name);
        if (!b) throw new Error(`${where} declared no scratch buffer '${name}'`);
        return b;
      },
      seed: runnerSeed(this.config), stepinfo: this.stepinfo, ones: this.ones,
    };
  }

  /**
   * Builds (once per row count and source) the dispatch lists of a training step over the training set ('train') or
   * of an evaluation batch over the evaluation set ('eval-data').
   */
  private async plan(rows: number, source: 'train' | 'eval-data'): Promise<Plan> {
    const cached = this.plans[source].get(rows);
    if (cached) return cached;
    const { engine, config } = this;
    const m = config.model;
    const training = source === 'train';
    const forward: Encodable[] = [];
    const backwardByLayer: Encodable[][] = [];
    const name = (list: PlannedOp[], prefix: string): Encodable[] =>
      list.map((p) => {
        this.opNames.set(p.op, `${prefix} ${p.name}`);
        return p.op;
      });
    try {
      for (const l of this.layers) {
        const i = l.index;
        const ctx = this.layerContext(l, rows, training);
        const label = `layers.${i}.${l.kind.label(l.spec)}`;
        // A layer whose forward the layer before absorbed plans only its backward.
        if (!(i > 0 && this.absorbs[i - 1])) {
          const epi = this.absorbs[i];
          if (epi) {
            const next = this.layers[i + 1]!;
            const ops = await l.kind.gpu.forward(l.spec, { ...ctx, epilogue: { ...epi, y: this.acts[i + 2]! } });
            forward.push(...name(ops, `${label}+${next.kind.label(next.spec)}`));
          } else forward.push(...name(await l.kind.gpu.forward(l.spec, ctx), label));
        }
        // Likewise a layer whose backward the layer after absorbs.
        if (training && !this.absorbsBackward[i + 1]) {
          const epi = this.absorbsBackward[i];
          const ops = await l.kind.gpu.backward(l.spec, {
            ...ctx, dy: this.dacts[i + 1]!, dx: this.dacts[i]!, needsDx: this.needsDx[i]!,
            grad: (role) => this.paramRange(this.grads, l, role),
            ...(epi ? { gradEpilogue: { ...epi, z: this.acts[i - 1]!, dx: this.dacts[i - 1]! } } : {}),
          });
          backwardByLayer.push(name(ops, label));
        }
      }
    } catch (e) {
      for (const op of [...forward, ...backwardByLayer.flat()]) op.destroy();
      throw e;
    }
    // Backward runs the layers in reverse order, each layer's ops in its own order.
    const backward = backwardByLayer.reverse().flat();
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
    this.plans[source].set(rows, p);
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
    const bytes = ds.length * ds.exampleSize * (ds.inputs instanceof Uint8Array ? 1 : 4);
    checkBufferFits(this.engine.limits, bytes, `dataset '${ds.name}' (${ds.length} examples of ${ds.exampleSize} values)`, 'use fewer examples per dataset');
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
    for (const p of this.plans[source].values()) for (const op of [...p.forward, ...p.loss, ...p.backward]) op.destroy();
    this.plans[source].clear();
  }

  async setTrainingData(ds: Dataset, batchSize = this.config.batchSize): Promise<void> {
    this.alive('setTrainingData');
    checkBatchSize(batchSize, this.config.batchSize, 'setTrainingData');
    if (this.train?.ds !== ds) {
      this.dropPlans('train');
      this.dropUpload(this.train);
      this.train = this.upload(ds, 'train');
    }
    // Plans for a full batch and for the epoch's partial last batch (if any), so that step() never waits; plans are
    // kept per row count, so a fit at another batch size over the same data adds its own.
    const B = Math.min(batchSize, ds.length);
    await this.plan(B, 'train');
    if (ds.length % B) await this.plan(ds.length % B, 'train');
  }

  beginEpoch(permutation: Uint32Array): void {
    this.alive('beginEpoch');
    if (!this.train) throw new Error('beginEpoch: call setTrainingData first');
    checkPermutation(permutation, this.train.ds.length, 'beginEpoch');
    this.engine.write(this.train.perm, permutation);
  }

  step(s: StepInput): void {
    this.alive('step');
    if (!this.optimizer) throw fullBatchStepError(this.config);
    if (!this.train) throw new Error('step: call setTrainingData and beginEpoch first');
    checkStepInput(s, this.config.batchSize, this.train.ds.length, 'step');
    const plan = this.plans.train.get(s.rows);
    if (!plan) {
      throw new RangeError(
        `step: a batch of ${s.rows} rows was not planned (setTrainingData(ds, batchSize) plans batchSize rows, by default the config's ${this.config.batchSize}, and the epoch's partial last batch)`,
      );
    }
    this.encodeStep(plan, s);
  }

  private encodeStep(plan: Plan, s: StepInput): void {
    const { engine } = this;
    const optimizer = this.optimizer!;
    this.writeStepInfo(s.step, s.start);
    optimizer.writeStep(s.lr);
    const before = engine.dispatchCount;
    const encoder = engine.device.createCommandEncoder(STEP_LABEL);
    const pass = encoder.beginComputePass(STEP_LABEL);
    encodeTraining(plan, pass);
    this.gradNorms?.op.encode(pass);
    optimizer.encode(pass);
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

  ready(): Promise<void> {
    if (this.destroyed) return Promise.reject(this.destroyedError('ready'));
    if (this.fences.length <= GpuRunner.MAX_FENCES) return READY;
    return this.waitForFence();
  }

  private async waitForFence(): Promise<void> {
    await this.fences[this.fences.length - 1 - GpuRunner.MAX_FENCES];
    this.fences.splice(0, this.fences.length - GpuRunner.MAX_FENCES);
  }

  /**
   * Runs one real training step (it updates the model like `step`) with every op in a compute pass of its own and
   * GPU timestamps around each, and returns the GPU time of each op in milliseconds, in execution order. Null when
   * the adapter lacks 'timestamp-query'. A diagnostic: it waits for the GPU, so it is not for the training loop.
   */
  async profileStep(s: StepInput): Promise<{ op: string; ms: number }[] | null> {
    this.alive('profileStep');
    const { engine } = this;
    if (!engine.features.has('timestamp-query')) return null;
    const optimizer = this.optimizer;
    if (!optimizer) throw fullBatchStepError(this.config);
    if (!this.plans.train.has(s.rows) || !this.train) {
      throw new Error('profileStep: call setTrainingData and beginEpoch first (and use a planned batch size)');
    }
    await this.flushMetrics();
    const ops = [
      ...(await this.stepOps(s.rows)).filter((o) => o.where !== 'optimizer'),
      { op: `optimizer ${this.config.optimizer.name}`, encode: (p: GPUComputePassEncoder) => optimizer.encode(p) },
    ];
    const querySet = engine.device.createQuerySet({ label: 'profile', type: 'timestamp', count: 2 * ops.length });
    const resolved = engine.buffer({ label: 'profile.resolve', size: 16 * ops.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    try {
      this.writeStepInfo(s.step, s.start);
      optimizer.writeStep(s.lr);
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

  /**
   * The ops of a training step of `rows` rows, named and in order: forward, loss, backward, gradient norms, then the
   * optimizer's dispatches one by one. For timing each op alone (`bench/step.mjs --breakdown`): encoding them in
   * another order, or repeating one, does not make a valid step. The optimizer's ops use the record of the last
   * `writeStep`, so run a step first.
   */
  async stepOps(rows: number): Promise<StepOp[]> {
    this.alive('stepOps');
    const optimizer = this.optimizer;
    if (!optimizer) throw fullBatchStepError(this.config);
    const plan = await this.plan(rows, 'train');
    const named = (where: 'forward' | 'loss' | 'backward', list: Encodable[]) =>
      list.map((o): StepOp => ({ where, op: this.opNames.get(o) ?? 'op', detail: o.detail, encode: (p: GPUComputePassEncoder) => o.encode(p) }));
    const gradNorms = this.gradNorms;
    return [
      ...named('forward', plan.forward),
      ...named('loss', plan.loss),
      ...named('backward', plan.backward),
      ...(gradNorms ? [{ where: 'gradient norms' as const, op: 'gradient norms', encode: (p: GPUComputePassEncoder) => gradNorms.op.encode(p) }] : []),
      ...optimizer.dispatches().map((d) => ({ where: 'optimizer' as const, ...d })),
    ];
  }

  /** The per-step integers the gather and dropout kernels read: [step, batch start]. Ordered before the next submit. */
  private writeStepInfo(step: number, start: number): void {
    this.stepWords[0] = step >>> 0;
    this.stepWords[1] = start;
    this.engine.write(this.stepinfo, this.stepWords);
  }

  onMetrics(listener: (m: MetricsReport) => void): () => void {
    this.alive('onMetrics');
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async flushMetrics(): Promise<void> {
    this.alive('flushMetrics');
    if (this.ring.unreported > 0) {
      while (!this.ring.hasFreeSlot) await this.ring.drain();
      const encoder = this.engine.device.createCommandEncoder({ label: 'metrics flush' });
      const map = this.ring.snapshotNow(encoder);
      this.engine.device.queue.submit([encoder.finish()]);
      map?.();
    }
    await this.ring.drain();
    await this.engine.flush();
    const error = this.dataError;
    this.dataError = null;
    if (error) throw error;
  }

  /** A data error seen in a metrics report (labels the model cannot output), thrown by the next flushMetrics. */
  private dataError: Error | null = null;

  async evaluate(ds: Dataset): Promise<EvalResult> {
    this.alive('evaluate');
    checkNotEmpty(ds.length, ds.name, 'evaluate');
    const chunk = Math.min(this.config.batchSize, ds.length);
    const { acc, count } = await this.runEval(ds, chunk, null);
    const classification = this.config.model.loss !== 'mse';
    const denom = this.config.model.loss === 'bce' ? count * this.outputs : count;
    return { loss: acc.loss / count, accuracy: classification ? acc.correct / denom : NaN, count };
  }

  async predict(ds: Dataset, start = 0, rows = ds.length - start): Promise<Float32Array> {
    this.alive('predict');
    checkRange(ds.length, start, rows, 'predict');
    const out = new Float32Array(rows * this.outputs);
    const chunk = Math.min(this.config.batchSize, rows);
    if (rows > 0) await this.runEval(forPrediction(ds, this.config.model), chunk, { start, rows, out });
    return out;
  }

  /** The evaluation or prediction last begun: the next one starts after it has settled (see runEval). */
  private evalTurn: Promise<unknown> = Promise.resolve();

  /**
   * Runs eval-mode forward passes over ds (or a range for predict), accumulating loss and accuracy in the metrics
   * buffer. Evaluations and predictions share the uploaded evaluation set and its plans, the activations and that
   * buffer, so calls made together (a page that predicts a drawing while it evaluates the test set) take turns, in
   * call order.
   */
  private runEval(ds: Dataset, chunk: number, predict: { start: number; rows: number; out: Float32Array } | null): Promise<{ acc: { loss: number; correct: number }; count: number }> {
    const run = this.evalTurn.then(() => this.evalNow(ds, chunk, predict));
    this.evalTurn = run.catch(() => undefined);
    return run;
  }

  private async evalNow(ds: Dataset, chunk: number, predict: { start: number; rows: number; out: Float32Array } | null): Promise<{ acc: { loss: number; correct: number }; count: number }> {
    this.alive(predict ? 'predict' : 'evaluate'); // destroyed while it waited for its turn
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
        const plan = await this.plan(rows, 'eval-data');
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
      if (!predict && mb.get('invalid') > 0) throw invalidLabelsError(ds, this.outputs, `${mb.get('invalid')} labels in evaluation are`);
      return { acc: { loss: mb.get('loss_hi') + mb.get('loss_lo'), correct: mb.get('correct') }, count: total };
    } catch (e) {
      throw engine.lost ?? e; // a lost device fails the map with a bare AbortError
    } finally {
      staging?.destroy();
    }
  }

  /** The model and optimizer state as checkpoint bytes (checkpoint.ts: `runnerCheckpoint`); `load` takes them back. */
  save(): Promise<Uint8Array> {
    return runnerCheckpoint(this);
  }

  /** Imports the state in checkpoint bytes (from `save`, `Trainer.save`, or a file) of this same model. */
  async load(bytes: Uint8Array, name = 'checkpoint'): Promise<void> {
    await this.importState(decodeFor(this.config.model, bytes, name).state);
  }

  async exportState(): Promise<RunnerState> {
    this.alive('exportState');
    await this.flushMetrics();
    const params = await this.engine.readF32(this.params, this.layout.n);
    const stats = this.layout.nStats ? await this.engine.readF32(this.stats, this.layout.nStats) : new Float32Array(0);
    const optimizer = this.optimizer ? await this.optimizer.exportState() : null;
    return { params, stats, optimizer, skipped: this.optimizer ? await this.optimizer.readSkipped() : 0 };
  }

  async importState(s: RunnerState): Promise<void> {
    this.alive('importState');
    if (s.params.length !== this.layout.n || s.stats.length !== this.layout.nStats) {
      throw new Error(`importState: the state holds ${s.params.length} parameters / ${s.stats.length} stats; this model has ${this.layout.n} / ${this.layout.nStats}`);
    }
    checkStateOptimizer(s, this.config);
    await this.flushMetrics();
    // A float64 CPU runner's state is rounded to the GPU's float32.
    this.engine.write(this.params, s.params instanceof Float32Array ? s.params : Float32Array.from(s.params));
    if (this.layout.nStats) this.engine.write(this.stats, s.stats instanceof Float32Array ? s.stats : Float32Array.from(s.stats));
    // The GPU optimizer restarts its skipped counter at 0 on import; `step` in the saved state is already t.
    if (this.optimizer && s.optimizer) this.optimizer.importState(s.optimizer);
    this.lastSkipped = 0;
  }

  async fullBatchMachine(): Promise<VectorMachine> {
    this.alive('fullBatchMachine');
    return GpuMachine.create(this.engine, this.fullBatchObjective());
  }

  /**
   * The full-batch objective on the GPU (see Runner.fullBatchMachine): x is the parameter buffer. Its plan encodes,
   * for each chunk of batchSize examples of the training set (identity order: the plan copies each chunk's start
   * into stepinfo between its compute passes), the training forward and backward, then g += (rows/N)·∇(chunk's mean
   * loss); finally f = (Σ loss)/N from the metrics accumulator, which is cleared before and after.
   */
  fullBatchObjective(): GpuObjective {
    this.alive('fullBatchObjective');
    const train = this.train;
    if (!train) throw new Error('fullBatchObjective: call setTrainingData first');
    checkFullBatchModel(this.config.model);
    const { engine } = this;
    const N = train.ds.length;
    const B = Math.min(this.config.batchSize, N);
    const chunks: { start: number; rows: number }[] = [];
    for (let start = 0; start < N; start += B) chunks.push({ start, rows: Math.min(B, N - start) });
    return {
      n: this.layout.n,
      params: this.params,
      valueGrad: async ({ x, g, f }): Promise<GpuPlan> => {
        this.alive('fullBatchObjective');
        if (x !== this.params) throw new Error("fullBatchObjective: x must be the runner's parameter buffer");
        if (this.train !== train) throw new Error('fullBatchObjective: the training set changed since the objective was made');
        const plans: Plan[] = [];
        for (const c of chunks) plans.push(await this.plan(c.rows, 'train'));
        // Each chunk's gather reads [step, start] from stepinfo: one 16-byte record per chunk, copied in turn.
        const info = engine.storage('full_batch.stepinfo', Uint32Array.from(chunks.flatMap((c) => [0, c.start, 0, 0])));
        const acc: VectorAxpbyOp[] = [];
        for (const [k, c] of chunks.entries()) {
          acc.push(await VectorAxpbyOp.plan(engine, { z: g, x: this.grads, n: this.layout.n, alpha: c.rows / N, ...(k ? { beta: 1 } : {}), label: `full_batch.acc${k}` }));
        }
        const fsum = await VectorSumOp.plan(engine, { x: this.metrics, n: 2, out: f, scale: 1 / N, label: 'full_batch.f' });
        const metrics = this.metrics, stepinfo = this.stepinfo;
        return {
          encode(encoder) {
            encoder.clearBuffer(metrics);
            plans.forEach((plan, k) => {
              encoder.copyBufferToBuffer(info, 16 * k, stepinfo, 0, 16);
              const pass = encoder.beginComputePass({ label: `full batch ${k}` });
              encodeTraining(plan, pass);
              acc[k]!.encode(pass);
              pass.end();
            });
            const pass = encoder.beginComputePass({ label: 'full batch loss' });
            fsum.encode(pass);
            pass.end();
            encoder.clearBuffer(metrics);
          },
          destroy() {
            info.destroy();
            for (const a of acc) a.destroy();
            fsum.destroy();
          },
        };
      },
    };
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.dropPlans('train');
    this.dropPlans('eval-data');
    this.dropUpload(this.train);
    this.dropUpload(this.evalData);
    this.train = this.evalData = null;
    this.optimizer?.destroy();
    this.gradNorms?.op.destroy();
    this.gradNorms = null;
    this.ring?.destroy();
    for (const b of this.owned) b.destroy();
    this.listeners.clear();
  }
}

