/**
 * Training checkpoints: a `TrainingSnapshot` (trainer.ts) as the bytes of one safetensors file, verified by
 * src/checkpoint (format, CRC-32 of every tensor and of the header). Browser-safe: files (atomic writes) are
 * checkpoint-file.ts, in Node; in browsers the bytes go to a download or IndexedDB (checkpoint/browser.ts).
 *
 * Tensors (little-endian, unpadded, C order):
 *   layers.<i>.<role>                         F32 (F64 from a float64 CPU runner, so its resume is exact), every
 *                                             layer's parameters by name and shape as its kind declares them
 *                                             (model/layout.ts `layoutModel(spec).params`: Dense weight [in, out]
 *                                             and bias, BatchNorm gamma and beta, ...)
 *   layers.<i>.<role>                         the same dtype, layers' statistics (`layout.stats`: BatchNorm
 *                                             running_mean, running_var)
 *   optim.<slot>                              F32 (F64 for a float64 optimizer), the flat per-element optimizer state
 *                                             (exp_avg, exp_avg_sq, momentum_buffer, ...) over the padded buffer of n
 *   method.<name>                             full-batch methods (LBFGS, ...): each vector list of the method's state
 *                                             (minimize/state.ts) as [k, n], F32 (F64 from a float64 CPU run):
 *                                             L-BFGS's d, prev_flat_grad, old_dirs, old_stps; k = 0 while unset
 * Metadata (each a JSON value; the keys of CHECKPOINT_META_KEYS plus a few):
 *   training      'wgtrain.training/1', the version of this layout
 *   model         the complete ModelSpec (format wgtrain.model/1; every layer's options and sizes spelled out)
 *   runner        RunnerConfig without model and optimizer (batchSize, seed, clip, guard, input scale/shift, ...)
 *   optimizer     first-order: { config: OptimizerConfig, state: OptimizerState without its slots (step,
 *                   hyperparams, groups, per-group scalars such as ASGD's eta in `scalars`, slot names in `slots`) }
 *                 full-batch: { config, method: the MethodState without its vectors (format 'wgtrain.method/1',
 *                   method, dtype, n, scalars: t, H_diag, ro, n_iter, func_evals, ...; `vectors`: the names of the
 *                   method.<name> tensors) or null before the method's first step }
 *   schedule      ScheduleState or null
 *   step, epoch, batch   steps taken, epochs complete, next batch in the current epoch
 *   data          { seed, batchSize, dropLast, shuffle, examples, split? }: the shuffle that the position refers to,
 *                 and split = { source, validation, seed, trainExamples? }: how the training set was cut from its
 *                 source (trainExamples: a fixed subset of that size, e.g. for full-batch training; absent in
 *                 checkpoints written before it existed, and for data given directly to the library)
 *   rng           { algorithm, initSeed, shuffleSeed }: the generators are counter-based (random.ts), so these and
 *                 the position are their whole state (shuffle = f(shuffleSeed, epoch), dropout = f(initSeed, step))
 *   skipped       steps skipped by the non-finite guard
 *   earlyStopping EarlyStoppingState or null
 *   history       the EpochRecords so far; numbers that are not finite (the NaN accuracy of a regression loss, the
 *                 loss of a diverged epoch, an overflowed +Infinity) are stored as the strings "NaN", "Infinity",
 *                 "-Infinity" (json-numbers.ts), which loading turns back into the same numbers; a null (as files
 *                 written before that convention hold) loads as NaN
 *   device        the runner that wrote it
 *   startLoss     the loss of the run's first step, what a finite explosion is measured against (divergence.ts);
 *                 absent before the first step and in files written before it existed
 * Loading verifies the file (src/checkpoint), then every tensor's presence, dtype, shape and finiteness against the
 * model's layout, and each metadata field; errors name the file and the field. A full-batch method's state is checked
 * field by field when the method imports it (minimize/state.ts), at the first fit after loading.
 */
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type DecodedCheckpoint } from '../checkpoint/safetensors.js';
import { decodeNumber, encodeNumber } from '../json-numbers.js';
import { PHILOX_ALGORITHM } from '../random.js';
import { layoutModel } from '../model/layout.js';
import { describeModel, modelSizes, validateModelSpec, type ModelSpec } from '../model/spec.js';
import { isFullBatchMethod } from '../minimize/methods.js';
import { METHOD_STATE_FORMAT, type MethodState } from '../minimize/state.js';
import type { OptimizerState } from '../optim/optimizer.js';
import type { ScheduleState } from '../schedule/schedule.js';
import type { EarlyStoppingState } from './early-stopping.js';
import { runnerSeed, type Runner, type RunnerConfig, type RunnerState } from './runner.js';
import { RunnerConfigError, validateRunnerConfig } from './runner-checks.js';
import type { EpochRecord, TrainerPosition, TrainingSnapshot } from './trainer.js';

export const TRAINING_FORMAT = 'wgtrain.training/1';

export { CheckpointError };

/** A snapshot holding NaN or Inf (a diverged run) cannot be saved: loading would refuse it. */
export class NonFiniteStateError extends CheckpointError {
  override name = 'NonFiniteStateError';
}

/** Optimizer state in the metadata: everything but the per-element slots (first-order) or the vectors (full-batch). */
interface OptimizerMeta {
  config: RunnerConfig['optimizer'];
  state?: Omit<OptimizerState, 'state'> & { scalars: Record<string, number[]>; slots: string[] };
  method?: (Omit<MethodState, 'vectors'> & { vectors: string[] }) | null;
}

/** Per-group scalar state names (optim rules' `scalars`), kept in metadata rather than as tensors. */
const PER_GROUP = new Set(['eta', 'mu', 'mu_product']);

/** The snapshot as named tensors and metadata (see the module comment), ready for src/checkpoint's encoder. */
export function snapshotToCheckpoint(s: TrainingSnapshot): Checkpoint {
  const layout = layoutModel(s.config.model);
  if (s.state.params.length !== layout.n || s.state.stats.length !== layout.nStats) {
    throw new CheckpointError(
      `checkpoint: the state holds ${s.state.params.length} parameters / ${s.state.stats.length} stats but the model's layout has ${layout.n} / ${layout.nStats}`,
    );
  }
  const tensors: Checkpoint['tensors'] = {};
  // The parameters' precision for both (slice() keeps the array type): F32, or F64 from a float64 CPU runner.
  const stats = s.state.stats.constructor === s.state.params.constructor ? s.state.stats
    : s.state.params instanceof Float64Array ? Float64Array.from(s.state.stats) : Float32Array.from(s.state.stats);
  for (const slot of layout.params) tensors[slot.name] = { shape: slot.shape, data: s.state.params.slice(slot.offset, slot.offset + slot.size) };
  for (const slot of layout.stats) tensors[slot.name] = { shape: slot.shape, data: stats.slice(slot.offset, slot.offset + slot.size) };
  const opt = s.state.optimizer;
  const name = s.config.optimizer.name;
  let optimizerMeta: OptimizerMeta;
  if (isFullBatchMethod(name)) {
    if (opt) throw new CheckpointError(`checkpoint: the state holds ${opt.optimizer} optimizer state but the optimizer is the full-batch method ${name}`);
    optimizerMeta = { config: s.config.optimizer, method: methodToTensors(s.method ?? null, name, layout.n, tensors) };
  } else {
    if (!opt) throw new CheckpointError(`checkpoint: the state has no optimizer state but the optimizer is ${name}`);
    if (s.method) throw new CheckpointError(`checkpoint: the snapshot holds ${s.method.method} state but the optimizer is ${name}, a first-order optimizer`);
    const slots: string[] = [];
    const scalars: Record<string, number[]> = {};
    for (const [slot, values] of Object.entries(opt.state)) {
      // Per-element slots have n numbers; per-group scalars (ASGD eta/mu, NAdam mu_product) one per group.
      if (values.length === opt.n && !PER_GROUP.has(slot)) {
        tensors[`optim.${slot}`] = { shape: [opt.n], data: opt.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values) };
        slots.push(slot);
      } else scalars[slot] = [...values];
    }
    const { state: _slots, ...optRest } = opt;
    optimizerMeta = { config: s.config.optimizer, state: { ...optRest, scalars, slots } };
  }
  // Loading refuses non-finite values, so saving them would write a file that cannot be read back.
  for (const [tensor, t] of Object.entries(tensors)) {
    const bad = t.data.findIndex((x: number) => !Number.isFinite(x));
    if (bad >= 0) {
      throw new NonFiniteStateError(
        `checkpoint: tensor ${tensor} element ${bad} is ${t.data[bad]}: the run diverged (a checkpoint holds finite values only); ` +
          'not saved, the previous file is unchanged',
      );
    }
  }
  const { model, optimizer: _optimizer, ...rest } = s.config;
  const runner = { ...rest, seed: runnerSeed(s.config) };
  return {
    tensors,
    meta: {
      training: TRAINING_FORMAT,
      model,
      runner,
      optimizer: optimizerMeta,
      schedule: s.schedule,
      step: s.position.step,
      epoch: s.position.epoch,
      batch: s.position.batch,
      data: s.data,
      rng: { algorithm: PHILOX_ALGORITHM, initSeed: runner.seed, shuffleSeed: s.data.seed },
      skipped: s.state.skipped,
      earlyStopping: s.earlyStopping,
      history: s.history.map(storedRecord),
      device: s.device,
      ...(s.startLoss !== undefined ? { startLoss: s.startLoss } : {}),
    },
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Rebuilds a snapshot from a decoded (already checksum-verified) file; `name` (the file) starts every error. */
export function snapshotFromCheckpoint(file: DecodedCheckpoint, name: string): TrainingSnapshot {
  const fail = (field: string, why: string): never => {
    throw new CheckpointError(`${name}: ${field}: ${why}`);
  };
  const meta = file.meta;
  const need = (key: string): unknown => (key in meta ? meta[key] : fail(`metadata.${key}`, 'missing'));
  if (meta.training !== TRAINING_FORMAT) {
    fail('metadata.training', `expected '${TRAINING_FORMAT}', got ${JSON.stringify(meta.training)} (not a wgtrain training checkpoint, or a newer layout)`);
  }
  let model: ModelSpec;
  try {
    model = validateModelSpec(need('model') as ModelSpec);
  } catch (e) {
    return fail('metadata.model', (e as Error).message);
  }
  const runner = need('runner');
  if (!isObject(runner) || !isCount(runner.batchSize) || typeof runner.seed !== 'number') fail('metadata.runner', 'needs batchSize and seed');
  const optMeta = need('optimizer') as OptimizerMeta;
  if (!isObject(optMeta) || !isObject(optMeta.config) || typeof optMeta.config.name !== 'string') fail('metadata.optimizer.config', 'needs the optimizer name');
  const optName = optMeta.config.name;
  const fullBatch = isFullBatchMethod(optName);
  if (fullBatch) {
    if (optMeta.state !== undefined) fail('metadata.optimizer.state', `${optName} is a full-batch method: its state is metadata.optimizer.method, not a first-order optimizer's state`);
    if (!('method' in optMeta)) fail('metadata.optimizer.method', `missing: ${optName}'s state, or null before its first step`);
  } else {
    if (!isObject(optMeta.state) || !Array.isArray(optMeta.state.slots) || !isObject(optMeta.state.scalars)) fail('metadata.optimizer.state', 'needs slots and scalars');
    if (optMeta.method !== undefined) fail('metadata.optimizer.method', `${optName} is a first-order optimizer: a full-batch method's state does not belong to it`);
  }
  const position: TrainerPosition = { step: 0, epoch: 0, batch: 0 };
  for (const key of ['step', 'epoch', 'batch'] as const) {
    const v = need(key);
    if (!isCount(v)) fail(`metadata.${key}`, `must be an integer >= 0, got ${JSON.stringify(v)}`);
    position[key] = v as number;
  }
  const data = need('data') as TrainingSnapshot['data'];
  if (!isObject(data) || typeof data.seed !== 'number' || !isCount(data.batchSize) || !isCount(data.examples)) {
    fail('metadata.data', 'needs seed, batchSize and examples');
  }
  const skipped = need('skipped');
  if (!isCount(skipped)) fail('metadata.skipped', `must be an integer >= 0, got ${JSON.stringify(skipped)}`);
  const schedule = need('schedule') as ScheduleState | null;
  if (schedule !== null && (!isObject(schedule) || !isObject(schedule.config))) fail('metadata.schedule', 'must be a schedule state or null');
  const earlyStopping = need('earlyStopping') as EarlyStoppingState | null;
  if (earlyStopping !== null && !isObject(earlyStopping)) fail('metadata.earlyStopping', 'must be an object or null');
  if (data.split !== undefined) {
    const sp = data.split as unknown;
    if (!isObject(sp) || typeof sp.source !== 'string' || !isCount(sp.validation) || typeof sp.seed !== 'number' || (sp.trainExamples !== undefined && !isCount(sp.trainExamples))) {
      fail('metadata.data.split', `must be { source, validation, seed, trainExamples? }, got ${JSON.stringify(sp)}`);
    }
  }
  const stored = need('history');
  if (!Array.isArray(stored) || !stored.every(isObject)) fail('metadata.history', 'must be a list of epoch records');
  const history = (stored as Record<string, unknown>[]).map(loadedRecord) as unknown as EpochRecord[];
  const startLoss = meta.startLoss;
  if (startLoss !== undefined && !(typeof startLoss === 'number' && Number.isFinite(startLoss) && startLoss >= 0)) {
    fail('metadata.startLoss', `must be a finite number >= 0, got ${JSON.stringify(startLoss)}`);
  }

  const layout = layoutModel(model);
  const expected = new Set<string>();
  const take = (tensorName: string, shape: number[], dtype: 'F32' | 'F64'): Float32Array | Float64Array => {
    expected.add(tensorName);
    const t = file.tensors[tensorName];
    if (!t) return fail(`tensor ${tensorName}`, `missing (the model ${modelSizes(model)} needs it)`);
    if (t.dtype !== dtype) fail(`tensor ${tensorName}`, `dtype ${t.dtype}, expected ${dtype}`);
    if (t.shape.join(',') !== shape.join(',')) fail(`tensor ${tensorName}`, `shape [${t.shape}], the model needs [${shape}]`);
    const d = t.data as Float32Array | Float64Array;
    for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) fail(`tensor ${tensorName}`, `element ${i} is ${d[i]}: values must be finite`);
    return d;
  };
  // Parameters and statistics in one precision: F32, or F64 from a float64 CPU runner.
  const first = layout.params[0] ?? layout.stats[0];
  const precision = first && file.tensors[first.name]?.dtype === 'F64' ? 'F64' : 'F32';
  const params = precision === 'F64' ? new Float64Array(layout.n) : new Float32Array(layout.n);
  for (const slot of layout.params) params.set(take(slot.name, slot.shape, precision), slot.offset);
  const stats = precision === 'F64' ? new Float64Array(layout.nStats) : new Float32Array(layout.nStats);
  for (const slot of layout.stats) stats.set(take(slot.name, slot.shape, precision), slot.offset);
  let optimizer: OptimizerState | null = null;
  let method: MethodState | null = null;
  if (fullBatch) {
    method = methodFromMeta(optMeta.method, optName, layout.n, file, take, fail);
  } else {
    const st = optMeta.state!;
    if (st.n !== layout.n) fail('metadata.optimizer.state.n', `is ${st.n} but the model's parameter buffer has ${layout.n}`);
    const state: Record<string, number[]> = {};
    for (const slotName of st.slots) state[slotName] = Array.from(take(`optim.${slotName}`, [layout.n], st.dtype === 'float64' ? 'F64' : 'F32'));
    for (const [k, v] of Object.entries(st.scalars)) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`metadata.optimizer.state.scalars.${k}`, 'must be a list of finite numbers');
      state[k] = v;
    }
    const { scalars: _scalars, slots: _slots, ...optRest } = st;
    optimizer = { ...optRest, state };
  }
  for (const key of Object.keys(file.tensors)) {
    if (!expected.has(key)) fail(`tensor ${key}`, `unexpected: the model ${modelSizes(model)} and optimizer ${optName} have no such tensor`);
  }
  const config = { ...(runner as object), model, optimizer: optMeta.config } as RunnerConfig;
  try {
    validateRunnerConfig(config);
  } catch (e) {
    const field = e instanceof RunnerConfigError ? e.field : 'config';
    const where = field.startsWith('optimizer') ? `metadata.optimizer.config${field.slice('optimizer'.length)}` : `metadata.runner.${field}`;
    const message = (e as Error).message;
    fail(where, message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message);
  }
  const runnerState: RunnerState = { params, stats, optimizer, skipped: skipped as number };
  const device = typeof meta.device === 'string' ? meta.device : 'unknown';
  return { config, state: runnerState, method, position, data, schedule, earlyStopping, history, device, ...(startLoss !== undefined ? { startLoss: startLoss as number } : {}) };
}

/** A full-batch method's state as `method.<name>` tensors [k, n] (added to `tensors`) and its metadata. */
function methodToTensors(s: MethodState | null, name: string, n: number, tensors: Checkpoint['tensors']): OptimizerMeta['method'] {
  if (s === null) return null;
  if (s.method !== name) throw new CheckpointError(`checkpoint: the snapshot holds ${s.method} state but the optimizer is ${name}`);
  if (s.n !== n) throw new CheckpointError(`checkpoint: the ${name} state has n = ${s.n} but the model has ${n} parameters`);
  for (const [key, list] of Object.entries(s.vectors)) {
    const data = s.dtype === 'float64' ? new Float64Array(list.length * n) : new Float32Array(list.length * n);
    list.forEach((v, k) => data.set(v, k * n));
    tensors[`method.${key}`] = { shape: [list.length, n], data };
  }
  const { vectors, ...rest } = s;
  return { ...rest, vectors: Object.keys(vectors) };
}

/** The method state of a loaded file: its metadata checked, its vectors read from the `method.<name>` tensors. */
function methodFromMeta(
  meta: unknown,
  name: string,
  n: number,
  file: DecodedCheckpoint,
  take: (tensor: string, shape: number[], dtype: 'F32' | 'F64') => Float32Array | Float64Array,
  fail: (field: string, why: string) => never,
): MethodState | null {
  if (meta === null) return null;
  const where = 'metadata.optimizer.method';
  if (!isObject(meta)) return fail(where, `must be the method's state or null, got ${JSON.stringify(meta)}`);
  if (meta.format !== METHOD_STATE_FORMAT) fail(`${where}.format`, `expected '${METHOD_STATE_FORMAT}', got ${JSON.stringify(meta.format)}`);
  if (meta.method !== name) fail(`${where}.method`, `the state was saved by ${JSON.stringify(meta.method)} but the optimizer is ${name}`);
  if (meta.dtype !== 'float32' && meta.dtype !== 'float64') fail(`${where}.dtype`, `must be 'float32' or 'float64', got ${JSON.stringify(meta.dtype)}`);
  if (meta.n !== n) fail(`${where}.n`, `is ${JSON.stringify(meta.n)} but the model's parameter buffer has ${n}`);
  if (!isObject(meta.scalars)) fail(`${where}.scalars`, 'must be an object of numbers');
  const names = meta.vectors;
  if (!Array.isArray(names) || !names.every((v) => typeof v === 'string')) return fail(`${where}.vectors`, 'must list the names of the method.<name> tensors');
  const vectors: Record<string, Float64Array[]> = {};
  for (const key of names as string[]) {
    const tensor = `method.${key}`;
    const shape = file.tensors[tensor]?.shape;
    if (shape && (shape.length !== 2 || shape[1] !== n)) fail(`tensor ${tensor}`, `shape [${shape}], expected [k, ${n}] (k vectors of the model's ${n} parameters)`);
    const data = take(tensor, [shape?.[0] ?? 0, n], meta.dtype === 'float64' ? 'F64' : 'F32');
    vectors[key] = Array.from({ length: data.length / n }, (_, k) => Float64Array.from(data.subarray(k * n, (k + 1) * n)));
  }
  return { ...(meta as unknown as Omit<MethodState, 'vectors'>), vectors };
}

/** JSON has no NaN or ±Infinity: such numbers of an epoch record are stored as their strings (json-numbers.ts). */
function storedRecord(r: EpochRecord): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? encodeNumber(v) : v]));
}

/** A stored record's numbers back: "NaN"/"Infinity"/"-Infinity" as numbers, null (older files) as NaN. */
function loadedRecord(r: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? NaN : decodeNumber(v)]));
}

/** Checkpoint file bytes. */
export function encodeTrainingCheckpoint(s: TrainingSnapshot): Uint8Array {
  return encodeCheckpoint(snapshotToCheckpoint(s));
}

/** Verifies and decodes checkpoint bytes; `name` (the file) starts every error. */
export function decodeTrainingCheckpoint(bytes: Uint8Array, name = 'checkpoint'): TrainingSnapshot {
  if (!(bytes instanceof Uint8Array)) {
    const got = bytes === null ? 'null' : typeof bytes === 'object' ? (bytes as object).constructor?.name : typeof bytes;
    throw new TypeError(`${name}: expected the checkpoint's bytes as a Uint8Array (new Uint8Array(arrayBuffer) for an ArrayBuffer), got ${got}`);
  }
  return snapshotFromCheckpoint(decodeCheckpoint(bytes, { source: name }), name);
}

/** The shuffle description of a snapshot taken before any fit: nothing to continue mid-epoch. */
export function unstartedData(config: RunnerConfig): TrainingSnapshot['data'] {
  return { seed: runnerSeed(config), batchSize: config.batchSize, dropLast: false, shuffle: true, examples: 0 };
}

/**
 * A runner's model and optimizer state as checkpoint bytes: a training checkpoint at position 0 with no history (what
 * `runner.save()` returns). Trainer.save() also stores the position, schedule and history.
 */
export async function runnerCheckpoint(runner: Runner): Promise<Uint8Array> {
  return encodeTrainingCheckpoint({
    config: runner.config, state: await runner.exportState(), method: null, position: { step: 0, epoch: 0, batch: 0 }, data: unstartedData(runner.config),
    schedule: null, earlyStopping: null, history: [], device: runner.description,
  });
}

/** Decodes checkpoint bytes for a runner or trainer whose model is `model`; a different model is a clear error. */
export function decodeFor(model: ModelSpec, bytes: Uint8Array, name = 'checkpoint'): TrainingSnapshot {
  const s = decodeTrainingCheckpoint(bytes, name);
  if (JSON.stringify(s.config.model) !== JSON.stringify(model)) {
    throw new CheckpointError(
      `${name}: the checkpoint holds the model ${describeModel(s.config.model)}, not this one (${describeModel(model)}); ` +
        'load it with loadTrainer(bytes, { engine }) to get a runner of its own model',
    );
  }
  return s;
}
