/**
 * The fused optimizer step on the GPU (shaders/optim_update.wgsl): the host side that plans buffers, bind groups and
 * the ring of per-step records once, then encodes each step as one dispatch (two when a gradient statistic is needed)
 * without readbacks or per-step allocations.
 *
 * Design (see the shader header for the math):
 * - params, grads and every state slot are flat f32 buffers of the whole model; groups are contiguous ranges with
 *   their own lr / weight_decay (at most 8 groups).
 * - Per-step scalars (t_host, lr and weight decay per group) go into a ring of 256-byte records in a storage buffer,
 *   selected with a dynamic offset; `queue.writeBuffer` orders each record before the command buffer that uses it,
 *   so up to `ring` steps can be encoded into one command buffer.
 * - The step count is t = t_host − skipped: the host counts step calls, the GPU counts skipped steps. Scalars that
 *   depend on t (bias corrections, NAdam's μ, RAdam's ρ_t) are computed in the kernel from t with cancellation-free
 *   formulas, because the host cannot know `skipped` without a readback.
 * - Clipping by global norm / by value and the non-finite guard: `gradstats` writes per-workgroup partial sums of
 *   squares and non-finite counts; the update kernel reduces them itself. On hardware adapters gradstats runs up to
 *   1024 workgroups of 256 (enough to stream the gradient at memory bandwidth) and `gradstats_reduce` (one
 *   workgroup) adds their pairs first, so every update thread reads one pair; software adapters use 2 partials. A skipped step leaves params and state
 *   bit-identical and bumps the `skipped` counter (word 0 of `stateBuffer`, for asynchronous readback).
 * - Gradient-magnitude lr control (course material): α_t = α_{t−1} / (1 + c·√‖g‖), α per group kept on the GPU,
 *   α_0 = the group's lr; when on, the lr passed to `encodeStep` is ignored.
 * Clipping order: clamp by value first, then the norm (of the clamped gradient) is measured and clipped; the guard
 * looks at the raw gradient.
 */
import updateSource from '../../shaders/optim_update.wgsl';
import { defineKernel, type Engine, type Kernel } from '../gpu/index.js';
import { UniformBlock } from '../gpu/uniforms.js';
import { checkGroups, type OptimizerState, type ParamGroup } from './optimizer.js';
import { getRule } from './registry.js';
import { num, flag, pair, resolveHyperparams, type Hyperparams, type OptimizerName, type OptimizerRule } from './rule.js';

const FILES = [{ file: 'optim_update.wgsl', text: updateSource }];

export const optimUpdateKernel = defineKernel({
  label: 'optim.update',
  files: FILES,
  entry: 'update',
  bindings: { rec: 'read', p: 'read_write', g: 'read', s0: 'read_write', s1: 'read_write', s2: 'read_write', gstate: 'read_write', partials: 'read' },
  dynamic: ['rec'],
});

export const optimGradStatsKernel = defineKernel({
  label: 'optim.gradstats',
  files: FILES,
  entry: 'gradstats',
  bindings: { rec: 'read', g: 'read', partials_out: 'read_write' },
  dynamic: ['rec'],
});

export const optimGradStatsReduceKernel = defineKernel({
  label: 'optim.gradstats-reduce',
  files: FILES,
  entry: 'gradstats_reduce',
  bindings: { rec: 'read', partials: 'read', partials_out: 'read_write' },
  dynamic: ['rec'],
});

/** RULE override codes, as in the shader. */
export const GPU_RULE_CODES: Readonly<Record<OptimizerName, number>> = {
  SGD: 0, Adagrad: 1, RMSprop: 2, Adadelta: 3, Adam: 4, AdamW: 5, Adamax: 6, NAdam: 7, RAdam: 8, ASGD: 9, Rprop: 10,
};

/** Which torch state name lives in the shader's slots s0, s1, s2 for each rule. */
export const GPU_SLOTS: Readonly<Record<OptimizerName, readonly (string | null)[]>> = {
  SGD: ['momentum_buffer', null, null],
  Adagrad: ['sum', null, null],
  RMSprop: ['square_avg', 'momentum_buffer', 'grad_avg'],
  Adadelta: ['square_avg', 'acc_delta', null],
  Adam: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'],
  AdamW: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'],
  Adamax: ['exp_avg', 'exp_inf', null],
  NAdam: ['exp_avg', 'exp_avg_sq', null],
  RAdam: ['exp_avg', 'exp_avg_sq', null],
  ASGD: ['ax', null, null],
  Rprop: ['prev', 'step_size', null],
};

const F = {
  maximize: 1, amsgrad: 2, nesterov: 4, centered: 8, momentum: 16, clipNorm: 32, clipValue: 64, guard: 128, gradLr: 256, stats: 512,
} as const;
const MAX_GROUPS = 8;
/** Workgroup size of gradstats and gradstats_reduce on hardware adapters. */
const STATS_WG = 256;
/** Workgroups of `update` on software adapters (enough for a many-core CPU; each thread then strides). */
const SOFTWARE_UPDATE_WORKGROUPS = 64;
/** Up to this many partials the update reads them itself (a small model: a reduce dispatch costs more than it saves). */
const DIRECT_PARTIALS = 32;
const RECORD_BYTES = 256;
const G_SKIPPED = 0, G_MU_PRODUCT = 2, G_ETA = 4, G_ALPHA = 20, G_WORDS = 36;

export interface GpuOptimizerOptions {
  optimizer: OptimizerName | string;
  hyperparams?: Readonly<Record<string, unknown>>;
  /** Flat f32 storage buffers of n elements, owned by the caller. */
  params: GPUBuffer;
  grads: GPUBuffer;
  n: number;
  /** Contiguous groups tiling [0, n), with their own lr / weight_decay; default one group; at most 8. */
  groups?: readonly ParamGroup[];
  /** torch.nn.utils.clip_grad_norm_(max_norm) and clip_grad_value_(value), applied inside the step. */
  clip?: { maxNorm?: number; value?: number };
  /** Skip steps whose gradients hold NaN/Inf (default false). */
  guard?: boolean;
  /** Gradient-magnitude lr control α_t = α_{t−1}/(1 + c·√‖g‖) with this c. */
  gradLr?: { c: number };
  /** Records in the ring = most steps per command buffer (default 64). */
  ring?: number;
  /** Workgroup size of the update (power of two; default 64 on software adapters, 256 on hardware). */
  workgroupSize?: number;
}

const encoded = new WeakMap<GPUCommandEncoder, number>();

/** One dispatch of an optimizer step, named for profiles. */
export interface OptimizerDispatch {
  op: string;
  encode(pass: GPUComputePassEncoder): void;
}

export class GpuOptimizer {
  readonly rule: OptimizerRule;
  readonly hyperparams: Hyperparams;
  readonly n: number;
  readonly groups: { start: number; end: number; h: Hyperparams }[];
  /** Slot buffers by torch state name. */
  readonly slots: Record<string, GPUBuffer> = {};
  /** u32 words: [0] skipped steps, then the parity-buffered scalars (see the shader header). */
  readonly stateBuffer: GPUBuffer;
  /** Step calls so far (t_host); the step count is t_host − skipped. */
  stepCalls = 0;

  private readonly owned: GPUBuffer[] = [];
  private readonly ringBuffer: GPUBuffer;
  private readonly ringBytes: ArrayBuffer;
  private readonly records: UniformBlock[];
  private readonly updateGroup: GPUBindGroup;
  private readonly statsGroup: GPUBindGroup | null;
  private readonly reduceGroup: GPUBindGroup | null;
  private readonly updateWorkgroups: number;
  private readonly statsWorkgroups: number;
  /** The learning rates in force, one per group, padded with zeros to MAX_GROUPS: the record's `lr` field as written. */
  private readonly lrs: number[];
  /** The dynamic offset of the record the next `encode` uses (-1 before the first `writeStep`); reused every step. */
  private readonly offsets = [-1];

  private constructor(
    readonly engine: Engine,
    private readonly opts: GpuOptimizerOptions,
    private readonly update: Kernel,
    private readonly stats: Kernel | null,
    private reduce: Kernel | null,
    rule: OptimizerRule,
    h: Hyperparams,
    groups: { start: number; end: number; h: Hyperparams }[],
    wg: number,
  ) {
    this.rule = rule;
    this.hyperparams = h;
    this.n = opts.n;
    this.groups = groups;
    this.lrs = Array.from({ length: MAX_GROUPS }, (_, k) => (k < groups.length ? num(groups[k]!.h, 'lr') : 0));
    const ring = opts.ring ?? 64;
    const label = `optim.${rule.name}`;
    const own = (b: GPUBuffer) => (this.owned.push(b), b);
    const dummy = own(engine.storage(`${label}.unused`, 4));
    const used = new Set(rule.slots(h));
    // Writable bindings may not alias, so each unused slot gets its own 4-byte placeholder.
    const slotBuffers = GPU_SLOTS[rule.name].map((name, k) => {
      if (!name || !used.has(name)) return own(engine.storage(`${label}.unused_s${k}`, 4));
      const init = new Float32Array(this.n);
      for (const gr of groups) init.fill(rule.slotInit?.(name, gr.h) ?? 0, gr.start, gr.end);
      const b = own(engine.storage(`${label}.${name}`, init));
      this.slots[name] = b;
      return b;
    });
    this.stateBuffer = own(engine.storage(`${label}.gstate`, this.initialGState(0, undefined)));
    // Each invocation of `update` first computes the step's scalars (partials, bias corrections, group lrs). On a GPU
    // that is free beside the memory traffic; on a software adapter it is a few hundred instructions per element, so
    // there a bounded grid strides over the parameters: at 2.7e5 parameters the update went from 52 to 18–24 ms.
    const maxUpdateGroups = engine.software ? SOFTWARE_UPDATE_WORKGROUPS : engine.limits.maxComputeWorkgroupsPerDimension;
    this.updateWorkgroups = Math.max(1, Math.min(Math.ceil(this.n / wg), maxUpdateGroups));
    // Every invocation of `update` re-reads all partials: cheap from a GPU cache, but on software adapters each load
    // is a bounds-checked memory access (64 partials made the guarded update ~3× slower there), and their two cores
    // gain nothing from more than a few workgroups.
    this.statsWorkgroups = engine.software
      ? Math.max(1, Math.min(Math.ceil(this.n / wg), 2))
      : Math.max(1, Math.min(Math.ceil(this.n / (STATS_WG * 64)), 1024));
    const partials = stats ? own(engine.storage(`${label}.partials`, 8 * this.statsWorkgroups)) : dummy;
    if (this.statsWorkgroups <= DIRECT_PARTIALS) this.reduce = null;
    const totals = this.reduce ? own(engine.storage(`${label}.totals`, 16)) : null;

    this.ringBuffer = own(engine.buffer({ label: `${label}.steps`, size: ring * RECORD_BYTES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST }));
    const layout = update.struct('rec');
    if (layout.size > RECORD_BYTES) throw new Error(`${label}: step record is ${layout.size} bytes, more than ${RECORD_BYTES}`);
    this.ringBytes = new ArrayBuffer(ring * RECORD_BYTES);
    this.records = Array.from({ length: ring }, (_, k) => new UniformBlock(layout, this.ringBytes, k * RECORD_BYTES).set(this.constantFields()));
    const rec = { buffer: this.ringBuffer, offset: 0, size: layout.size };
    this.updateGroup = update.bind(
      { rec, p: opts.params, g: opts.grads, s0: slotBuffers[0]!, s1: slotBuffers[1]!, s2: slotBuffers[2]!, gstate: this.stateBuffer, partials: totals ?? partials },
      `${label}.update`,
    );
    this.statsGroup = stats ? stats.bind({ rec, g: opts.grads, partials_out: partials }, `${label}.gradstats`) : null;
    this.reduceGroup = this.reduce && totals ? this.reduce.bind({ rec, partials, partials_out: totals }, `${label}.gradstats-reduce`) : null;
  }

  static async create(engine: Engine, opts: GpuOptimizerOptions): Promise<GpuOptimizer> {
    const rule = getRule(opts.optimizer);
    const h = resolveHyperparams(rule, opts.hyperparams ?? {});
    const { n } = opts;
    if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer (the parameter count), got ${n}`);
    for (const [name, b] of [['params', opts.params], ['grads', opts.grads]] as const) {
      if (!b || b.size < 4 * n) throw new Error(`${name} buffer holds ${b ? b.size / 4 : 0} floats, needs n = ${n}`);
    }
    const groups = opts.groups ?? [{ start: 0, end: n }];
    checkGroups(groups, n);
    if (groups.length > MAX_GROUPS) throw new Error(`groups: the GPU optimizer supports at most ${MAX_GROUPS} parameter groups, got ${groups.length}`);
    const resolved = groups.map((gr, k) => {
      const over: Record<string, unknown> = { ...h };
      if (gr.lr !== undefined) over.lr = gr.lr;
      if (gr.weight_decay !== undefined) {
        if (!('weight_decay' in h)) throw new Error(`groups[${k}].weight_decay: ${rule.name} has no weight_decay hyperparameter`);
        over.weight_decay = gr.weight_decay;
      }
      return { start: gr.start, end: gr.end, h: resolveHyperparams(rule, over, `groups[${k}]`) };
    });
    const clip = opts.clip ?? {};
    if (clip.maxNorm !== undefined && !(clip.maxNorm > 0 && Number.isFinite(clip.maxNorm))) throw new Error(`clip.maxNorm must be a positive number, got ${clip.maxNorm}`);
    if (clip.value !== undefined && !(clip.value > 0 && Number.isFinite(clip.value))) throw new Error(`clip.value must be a positive number, got ${clip.value}`);
    if (opts.gradLr && !(opts.gradLr.c >= 0 && Number.isFinite(opts.gradLr.c))) throw new Error(`gradLr.c must be a non-negative number, got ${opts.gradLr.c}`);
    const ring = opts.ring ?? 64;
    if (!Number.isInteger(ring) || ring < 1) throw new Error(`ring must be a positive integer, got ${ring}`);
    const wg = opts.workgroupSize ?? (engine.software ? 64 : 256);
    if (!Number.isInteger(Math.log2(wg)) || wg < 1 || wg > engine.limits.maxComputeInvocationsPerWorkgroup) {
      throw new Error(`workgroupSize must be a power of two ≤ ${engine.limits.maxComputeInvocationsPerWorkgroup}, got ${wg}`);
    }
    const needStats = clip.maxNorm !== undefined || !!opts.guard || !!opts.gradLr;
    const overrides = { RULE: GPU_RULE_CODES[rule.name], WG: wg };
    const statsWg = engine.software ? wg : STATS_WG;
    const [update, stats, reduce] = await Promise.all([
      engine.kernel(optimUpdateKernel, overrides),
      needStats ? engine.kernel(optimGradStatsKernel, { WG: statsWg }) : Promise.resolve(null),
      needStats && !engine.software ? engine.kernel(optimGradStatsReduceKernel, { WG: STATS_WG }) : Promise.resolve(null),
    ]);
    return new GpuOptimizer(engine, opts, update, stats, reduce, rule, h, resolved, wg);
  }

  /** Hyperparameters that never change, written once into every ring record. */
  private constantFields(): Record<string, number | number[]> {
    const h = this.hyperparams;
    const has = (name: string) => name in h;
    const o = this.opts;
    let flags = 0;
    if (has('maximize') && flag(h, 'maximize')) flags |= F.maximize;
    if (has('amsgrad') && flag(h, 'amsgrad')) flags |= F.amsgrad;
    if (has('nesterov') && flag(h, 'nesterov')) flags |= F.nesterov;
    if (has('centered') && flag(h, 'centered')) flags |= F.centered;
    if (has('momentum') && num(h, 'momentum') !== 0) flags |= F.momentum;
    if (o.clip?.maxNorm !== undefined) flags |= F.clipNorm;
    if (o.clip?.value !== undefined) flags |= F.clipValue;
    if (o.guard) flags |= F.guard;
    if (o.gradLr) flags |= F.gradLr;
    if (this.stats) flags |= F.stats;
    const betas = has('betas') ? pair(h, 'betas') : ([0.9, 0.999] as const);
    const etas = has('etas') ? pair(h, 'etas') : ([0.5, 1.2] as const);
    const sizes = has('step_sizes') ? pair(h, 'step_sizes') : ([0, 0] as const);
    const get = (name: string, dflt = 0) => (has(name) ? num(h, name) : dflt);
    const ends = this.groups.map((g) => g.end);
    const pad = (a: number[]) => [...a, ...new Array(MAX_GROUPS - a.length).fill(0)];
    return {
      n: this.n,
      num_groups: this.groups.length,
      flags,
      num_partials: this.stats ? (this.reduce ? 1 : this.statsWorkgroups) : 0,
      stats_partials: this.stats ? this.statsWorkgroups : 0,
      max_norm: o.clip?.maxNorm ?? 0,
      clip_value: o.clip?.value ?? 0,
      grad_lr_c: o.gradLr?.c ?? 0,
      beta1: betas[0],
      beta2: betas[1],
      ln_beta1: Math.log(betas[0]),
      ln_beta2: Math.log(betas[1]),
      rho_inf: 2 / (1 - betas[1]) - 1,
      eps: get('eps'),
      momentum: get('momentum'),
      dampening: get('dampening'),
      alpha: get('alpha'),
      rho: get('rho'),
      lambd: get('lambd'),
      t0: get('t0'),
      lr_decay: get('lr_decay'),
      eta_minus: etas[0],
      eta_plus: etas[1],
      step_min: sizes[0],
      step_max: sizes[1],
      psi_ln096: get('momentum_decay') * Math.log(0.96),
      one_minus_beta1: 1 - betas[0],
      one_minus_beta2: 1 - betas[1],
      one_minus_alpha: 1 - get('alpha'),
      one_minus_rho: 1 - get('rho'),
      one_minus_dampening: 1 - get('dampening'),
      group_end: pad(ends),
      weight_decay: pad(this.groups.map((g) => ('weight_decay' in g.h ? num(g.h, 'weight_decay') : 0))),
    };
  }

  /** Initial GPU scalar state: parity slot `slot` holds mu_product, eta, α (others zero). */
  private initialGState(slot: number, saved?: { mu_product?: number[]; eta?: number[]; alpha?: number[] }): Uint32Array {
    const words = new Uint32Array(G_WORDS);
    const f = new Float32Array(words.buffer);
    f[G_MU_PRODUCT + slot] = saved?.mu_product?.[0] ?? 1;
    this.groups.forEach((g, k) => {
      f[G_ETA + 2 * k + slot] = saved?.eta?.[k] ?? num(g.h, 'lr');
      f[G_ALPHA + 2 * k + slot] = saved?.alpha?.[k] ?? num(g.h, 'lr');
    });
    return words;
  }

  /** Sets the learning rate used from the next step on: one for all groups, or one per group. */
  setLr(lr: number | readonly number[]): void {
    // Called with every step's lr: it checks all before changing any, and allocates nothing.
    const count = typeof lr === 'number' ? this.groups.length : lr.length;
    if (count !== this.groups.length) throw new Error(`lr: got ${count} learning rates for ${this.groups.length} parameter groups`);
    for (let k = 0; k < count; k++) {
      const v = typeof lr === 'number' ? lr : lr[k]!;
      if (!(v >= 0 && Number.isFinite(v))) throw new Error(`lr[${k}] must be a finite number >= 0, got ${v}`);
    }
    for (let k = 0; k < count; k++) this.lrs[k] = typeof lr === 'number' ? lr : lr[k]!;
  }

  /**
   * Writes the record of the next step (t_host + 1, the current learning rates) into the ring. The next `encode`
   * uses it. Records are ordered before the next submitted command buffer, so at most `ring` steps (writeStep +
   * encode pairs) may share one command buffer.
   */
  writeStep(lr?: number | readonly number[]): void {
    if (lr !== undefined) this.setLr(lr);
    const ring = this.records.length;
    this.stepCalls++;
    const slot = (this.stepCalls - 1) % ring;
    const record = this.records[slot]!;
    record.setField('t_host', this.stepCalls);
    record.setField('lr', this.lrs);
    this.engine.device.queue.writeBuffer(this.ringBuffer, slot * RECORD_BYTES, this.ringBytes, slot * RECORD_BYTES, RECORD_BYTES);
    this.offsets[0] = slot * RECORD_BYTES;
  }

  /** Records the step written by the last `writeStep` into a compute pass: one dispatch (two with grad statistics). */
  encode(pass: GPUComputePassEncoder): void {
    if (this.offsets[0]! < 0) throw new Error(`optim.${this.rule.name}: encode() before the first writeStep()`);
    for (const d of this.dispatches()) d.encode(pass);
  }

  /** `dispatches()`, built on first use and reused: `encode` runs every step and allocates nothing. */
  private dispatchList: readonly OptimizerDispatch[] | null = null;

  /**
   * The dispatches of `encode`, one by one and named, for timing each alone (`GpuRunner.stepOps`, `bench/step.mjs
   * --breakdown`). Each uses the record of the last `writeStep`, like `encode`.
   */
  dispatches(): readonly OptimizerDispatch[] {
    if (this.dispatchList) return this.dispatchList;
    const offsets = this.offsets;
    const out: OptimizerDispatch[] = [];
    const { stats, statsGroup, reduce, reduceGroup, update, updateGroup, statsWorkgroups, updateWorkgroups } = this;
    if (stats && statsGroup) {
      out.push({ op: `gradient statistics (${statsWorkgroups} workgroups)`, encode: (p) => stats.dispatch(p, statsGroup, statsWorkgroups, 1, 1, offsets) });
    }
    if (reduce && reduceGroup) out.push({ op: 'gradient statistics: reduce', encode: (p) => reduce.dispatch(p, reduceGroup, 1, 1, 1, offsets) });
    out.push({ op: `${this.rule.name} update (${updateWorkgroups} workgroups)`, encode: (p) => update.dispatch(p, updateGroup, updateWorkgroups, 1, 1, offsets) });
    return (this.dispatchList = out);
  }

  /** writeStep + encode in a compute pass of its own; refuses more than `ring` steps in one command encoder. */
  encodeStep(encoder: GPUCommandEncoder, lr?: number | readonly number[]): void {
    const ring = this.records.length;
    const count = (encoded.get(encoder) ?? 0) + 1;
    if (count > ring) {
      throw new Error(`optim.${this.rule.name}: more than ${ring} steps encoded in one command buffer; submit it first or create the optimizer with a larger ring`);
    }
    encoded.set(encoder, count);
    this.writeStep(lr);
    const pass = encoder.beginComputePass({ label: `optim.${this.rule.name} step` });
    this.encode(pass);
    pass.end();
  }

  /** Encodes and submits one step. */
  step(lr?: number | readonly number[]): void {
    this.engine.submit(`optim.${this.rule.name} step`, (enc) => this.encodeStep(enc, lr));
  }

  /** Steps skipped by the guard so far (a readback: for tests, checkpoints and metrics, not inside a step). */
  async readSkipped(): Promise<number> {
    return (await this.engine.readU32(this.stateBuffer, 1))[0]!;
  }

  /** State in the documented shape of optimizer.ts (readbacks). */
  async exportState(): Promise<OptimizerState> {
    const words = await this.engine.readU32(this.stateBuffer, G_WORDS);
    const f = new Float32Array(words.buffer);
    const skipped = words[G_SKIPPED]!;
    const t = this.stepCalls - skipped;
    const slot = t & 1;
    const state: Record<string, number[]> = {};
    for (const name of this.rule.slots(this.hyperparams)) state[name] = Array.from(await this.engine.readF32(this.slots[name]!, this.n));
    const scalars = Object.keys(this.rule.scalars?.(this.hyperparams) ?? {});
    if (scalars.includes('mu_product')) state.mu_product = this.groups.map(() => f[G_MU_PRODUCT + slot]!);
    if (scalars.includes('eta')) state.eta = this.groups.map((_, k) => f[G_ETA + 2 * k + slot]!);
    if (scalars.includes('mu')) state.mu = this.groups.map(() => Math.fround(1 / Math.max(1, t - num(this.hyperparams, 't0'))));
    const hyperparams: OptimizerState['hyperparams'] = {};
    for (const [k, v] of Object.entries(this.hyperparams)) hyperparams[k] = Array.isArray(v) ? [...v] : (v as number | boolean);
    return {
      format: 'wgtrain.optim/1',
      optimizer: this.rule.name,
      dtype: 'float32',
      n: this.n,
      step: t,
      hyperparams,
      groups: this.groups.map((g, k) => ({
        start: g.start,
        end: g.end,
        // Under the gradient-magnitude control the lr in force is the device's α, not the host's.
        lr: this.opts.gradLr ? f[G_ALPHA + 2 * k + slot]! : this.lrs[k]!,
        ...('weight_decay' in g.h ? { weight_decay: num(g.h, 'weight_decay') } : {}),
      })),
      state,
    };
  }

  /** Loads state exported by this class or by the CPU `Optimizer` (float32); resets the skipped counter to 0. */
  importState(saved: OptimizerState): void {
    const where = 'optimizer state';
    if (saved?.format !== 'wgtrain.optim/1') throw new Error(`${where}: format must be "wgtrain.optim/1"`);
    if (saved.optimizer !== this.rule.name) throw new Error(`${where}: saved by ${saved.optimizer}, cannot load into ${this.rule.name}`);
    if (saved.n !== this.n) throw new Error(`${where}: n is ${saved.n}, this optimizer has n = ${this.n}`);
    if (saved.groups?.length !== this.groups.length || saved.groups.some((g, k) => g.end !== this.groups[k]!.end)) {
      throw new Error(`${where}.groups: ranges differ from this optimizer's groups`);
    }
    const names = [...this.rule.slots(this.hyperparams), ...Object.keys(this.rule.scalars?.(this.hyperparams) ?? {})].sort();
    const got = Object.keys(saved.state ?? {}).sort();
    if (names.join() !== got.join()) throw new Error(`${where}.state holds [${got.join(', ')}] but this ${this.rule.name} needs [${names.join(', ')}]`);
    for (const name of this.rule.slots(this.hyperparams)) {
      const a = saved.state[name]!;
      if (a.length !== this.n || !a.every(Number.isFinite)) throw new Error(`${where}.state.${name} must hold ${this.n} finite numbers`);
    }
    for (const name of this.rule.slots(this.hyperparams)) this.engine.write(this.slots[name]!, Float32Array.from(saved.state[name]!));
    this.engine.write(
      this.stateBuffer,
      this.initialGState(saved.step & 1, { mu_product: saved.state.mu_product, eta: saved.state.eta, alpha: saved.groups.map((g) => g.lr) }),
    );
    this.stepCalls = saved.step;
    this.setLr(saved.groups.map((g) => g.lr));
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
