/**
 * Training checkpoints: a `TrainingSnapshot` (trainer.ts) as one safetensors file.
 *
 * Tensors (little-endian, unpadded, C order):
 *   layers.<i>.weight|bias|gamma|beta         F32, the shapes of model/layout.ts (`layoutModel(spec).params`)
 *   layers.<i>.running_mean|running_var       F32, BatchNorm running statistics (`layout.stats`)
 *   optim.<slot>                              F32 (F64 for a float64 optimizer), the flat per-element optimizer state
 *                                             (exp_avg, exp_avg_sq, momentum_buffer, ...) over the padded buffer of n
 * Metadata (`__metadata__`, string → string; every value but `format` is JSON):
 *   format        'wgtrain.checkpoint/1'
 *   model         the ModelSpec
 *   runner        RunnerConfig without model and optimizer (batchSize, seed, clip, guard, input scale/shift, ...)
 *   optimizer     { config: OptimizerConfig, state: OptimizerState without its slots (step, hyperparams, groups,
 *                   per-group scalars such as ASGD's eta in `scalars`) }
 *   schedule      ScheduleState or null
 *   progress      { step, epoch, batch }: steps taken, epochs complete, next batch in the current epoch
 *   data          { seed, batchSize, dropLast, shuffle, examples }: the shuffle that `progress` refers to
 *   rng           { algorithm, initSeed, shuffleSeed }: the generators are counter-based (random.ts), so these and
 *                 `progress` are their whole state (shuffle = f(shuffleSeed, epoch), dropout = f(initSeed, step))
 *   skipped       steps skipped by the non-finite guard
 *   earlyStopping EarlyStoppingState or null
 *   history       the EpochRecords so far
 *   device        the runner that wrote it;  checksum: FNV-1a (32-bit, hex) of the tensor data section
 *
 * Files are written atomically (a temporary file in the same folder, then rename) and verified on load: the header,
 * every tensor's presence, dtype and shape, finite values, the checksum, and each metadata field; errors name the
 * file and the field.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PHILOX_ALGORITHM } from '../random.js';
import { layoutModel } from '../model/layout.js';
import { validateModelSpec, type ModelSpec } from '../model/spec.js';
import type { OptimizerState } from '../optim/optimizer.js';
import type { ScheduleState } from '../schedule/schedule.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { RunnerConfig, RunnerState } from './runner.js';
import type { EpochRecord, TrainerPosition, TrainingSnapshot } from './trainer.js';

export const CHECKPOINT_FORMAT = 'wgtrain.checkpoint/1';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

// ---------------------------------------------------------------------------------------------------------------
// safetensors codec (a minimal one: F32 / F64 tensors, string metadata).
// ---------------------------------------------------------------------------------------------------------------

export type TensorDtype = 'F32' | 'F64';

export interface Tensor {
  dtype: TensorDtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** FNV-1a over bytes, as 8 hex digits. */
export function fnv1a(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(file: SafetensorsFile): Uint8Array {
  if (!isLittleEndian) throw new CheckpointError('checkpoints are written little-endian; this host is big-endian');
  const header: Record<string, unknown> = { __metadata__: file.metadata };
  let offset = 0;
  for (const [name, t] of file.tensors) {
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const t of file.tensors.values()) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  return out;
}

/** Parses a safetensors file; `name` (the file) starts every error. Data section bytes are returned for checksums. */
export function decodeSafetensors(bytes: Uint8Array, name: string): SafetensorsFile & { data: Uint8Array } {
  const fail = (why: string): never => {
    throw new CheckpointError(`${name}: ${why}`);
  };
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, too short for a safetensors header (empty or truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > bytes.length - 8 || n > 100_000_000) fail(`header length ${n} exceeds the file's ${bytes.length} bytes: not a safetensors file, or truncated`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message}): corrupted file?`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('header is not a JSON object');
  const data = bytes.subarray(8 + n);
  const metadata: Record<string, string> = {};
  const rawMeta = header.__metadata__;
  if (rawMeta !== undefined) {
    if (typeof rawMeta !== 'object' || rawMeta === null) fail('__metadata__ must be an object of strings');
    for (const [k, v] of Object.entries(rawMeta as object)) {
      if (typeof v !== 'string') fail(`__metadata__.${k} must be a string`);
      metadata[k] = v as string;
    }
  }
  const tensors = new Map<string, Tensor>();
  let covered = 0;
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const at = `tensor ${key}`;
    if (e.dtype !== 'F32' && e.dtype !== 'F64') fail(`${at}: dtype ${JSON.stringify(e.dtype)} is not supported (F32 or F64)`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`${at}: shape must be a list of sizes`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[1] < offs[0]) {
      fail(`${at}: data_offsets must be [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    const size = e.dtype === 'F32' ? 4 : 8;
    const count = (e.shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * size) fail(`${at}: shape [${e.shape}] needs ${count * size} bytes but data_offsets give ${end - begin}`);
    if (end > data.length) fail(`${at}: data ends at byte ${end} but the data section holds ${data.length} bytes (truncated file?)`);
    const copy = data.slice(begin, end);
    const arr = e.dtype === 'F32' ? new Float32Array(copy.buffer, 0, count) : new Float64Array(copy.buffer, 0, count);
    tensors.set(key, { dtype: e.dtype as TensorDtype, shape: e.shape as number[], data: arr });
    covered += end - begin;
  }
  if (covered !== data.length) fail(`the tensors cover ${covered} bytes but the data section holds ${data.length} (truncated or padded file?)`);
  return { tensors, metadata, data };
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshot ↔ tensors + metadata.
// ---------------------------------------------------------------------------------------------------------------

/** Optimizer state in the metadata: everything but the per-element slots. */
interface OptimizerMeta {
  config: RunnerConfig['optimizer'];
  state: Omit<OptimizerState, 'state'> & { scalars: Record<string, number[]>; slots: string[] };
}

/** The snapshot as safetensors tensors and metadata (see the module comment). */
export function snapshotToSafetensors(s: TrainingSnapshot): SafetensorsFile {
  const layout = layoutModel(s.config.model);
  if (s.state.params.length !== layout.n || s.state.stats.length !== layout.nStats) {
    throw new CheckpointError(
      `checkpoint: the state holds ${s.state.params.length} parameters / ${s.state.stats.length} stats but the model's layout has ${layout.n} / ${layout.nStats}`,
    );
  }
  const tensors = new Map<string, Tensor>();
  for (const slot of layout.params) {
    tensors.set(slot.name, { dtype: 'F32', shape: slot.shape, data: s.state.params.slice(slot.offset, slot.offset + slot.size) });
  }
  for (const slot of layout.stats) {
    tensors.set(slot.name, { dtype: 'F32', shape: slot.shape, data: s.state.stats.slice(slot.offset, slot.offset + slot.size) });
  }
  const opt = s.state.optimizer;
  const slots: string[] = [];
  const scalars: Record<string, number[]> = {};
  for (const [name, values] of Object.entries(opt.state)) {
    // Per-element slots have n numbers; per-group scalars (ASGD eta/mu, NAdam mu_product) one per group.
    if (values.length === opt.n && !PER_GROUP.has(name)) {
      const f64 = opt.dtype === 'float64';
      tensors.set(`optim.${name}`, { dtype: f64 ? 'F64' : 'F32', shape: [opt.n], data: f64 ? Float64Array.from(values) : Float32Array.from(values) });
      slots.push(name);
    } else scalars[name] = [...values];
  }
  const { state: _slots, ...optRest } = opt;
  const { model, optimizer, ...runner } = s.config;
  const optimizerMeta: OptimizerMeta = { config: optimizer, state: { ...optRest, scalars, slots } };
  const metadata: Record<string, string> = {
    format: CHECKPOINT_FORMAT,
    model: JSON.stringify(model),
    runner: JSON.stringify(runner),
    optimizer: JSON.stringify(optimizerMeta),
    schedule: JSON.stringify(s.schedule),
    progress: JSON.stringify(s.position),
    data: JSON.stringify(s.data),
    rng: JSON.stringify({ algorithm: PHILOX_ALGORITHM, initSeed: s.config.seed, shuffleSeed: s.data.seed }),
    skipped: JSON.stringify(s.state.skipped),
    earlyStopping: JSON.stringify(s.earlyStopping),
    history: JSON.stringify(s.history),
    device: s.device,
  };
  return { tensors, metadata };
}

/** Per-group scalar state names (optim rules' `scalars`), kept in metadata rather than as tensors. */
const PER_GROUP = new Set(['eta', 'mu', 'mu_product']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** Rebuilds and verifies a snapshot; `name` (the file) starts every error, which names the field. */
export function snapshotFromSafetensors(file: SafetensorsFile & { data?: Uint8Array }, name: string): TrainingSnapshot {
  const fail = (field: string, why: string): never => {
    throw new CheckpointError(`${name}: ${field}: ${why}`);
  };
  const meta = file.metadata;
  if (meta.format !== CHECKPOINT_FORMAT) {
    fail('metadata.format', `expected '${CHECKPOINT_FORMAT}', got ${JSON.stringify(meta.format)} (not a wgtrain training checkpoint, or a newer format)`);
  }
  if (file.data && meta.checksum !== undefined && fnv1a(file.data) !== meta.checksum) {
    fail('metadata.checksum', `the tensor data does not match its checksum ${meta.checksum}: the file is corrupted`);
  }
  const json = (key: string): unknown => {
    if (meta[key] === undefined) return fail(`metadata.${key}`, 'missing');
    try {
      return JSON.parse(meta[key]!);
    } catch (e) {
      return fail(`metadata.${key}`, `not valid JSON (${(e as Error).message})`);
    }
  };
  let model: ModelSpec;
  try {
    model = validateModelSpec(json('model') as ModelSpec);
  } catch (e) {
    return fail('metadata.model', (e as Error).message);
  }
  const runner = json('runner');
  if (!isObject(runner) || !isCount(runner.batchSize) || typeof runner.seed !== 'number') fail('metadata.runner', 'needs batchSize and seed');
  const optMeta = json('optimizer') as OptimizerMeta;
  if (!isObject(optMeta) || !isObject(optMeta.config) || typeof optMeta.config.name !== 'string') fail('metadata.optimizer.config', 'needs the optimizer name');
  if (!isObject(optMeta.state) || !Array.isArray(optMeta.state.slots) || !isObject(optMeta.state.scalars)) fail('metadata.optimizer.state', 'needs slots and scalars');
  const position = json('progress') as TrainerPosition;
  if (!isObject(position) || !isCount(position.step) || !isCount(position.epoch) || !isCount(position.batch)) {
    fail('metadata.progress', `needs integer step, epoch and batch >= 0, got ${meta.progress}`);
  }
  const data = json('data') as TrainingSnapshot['data'];
  if (!isObject(data) || typeof data.seed !== 'number' || !isCount(data.batchSize) || !isCount(data.examples)) {
    fail('metadata.data', 'needs seed, batchSize and examples');
  }
  const skipped = json('skipped');
  if (!isCount(skipped)) fail('metadata.skipped', `must be an integer >= 0, got ${meta.skipped}`);
  const schedule = json('schedule') as ScheduleState | null;
  if (schedule !== null && (!isObject(schedule) || !isObject(schedule.config))) fail('metadata.schedule', 'must be a schedule state or null');
  const earlyStopping = json('earlyStopping') as EarlyStoppingState | null;
  if (earlyStopping !== null && !isObject(earlyStopping)) fail('metadata.earlyStopping', 'must be an object or null');
  const history = json('history') as EpochRecord[];
  if (!Array.isArray(history)) fail('metadata.history', 'must be a list');

  const layout = layoutModel(model);
  const expected = new Set<string>();
  const take = (tensorName: string, shape: number[], dtype: TensorDtype): Float32Array | Float64Array => {
    expected.add(tensorName);
    const t = file.tensors.get(tensorName);
    if (!t) return fail(`tensor ${tensorName}`, `missing (the model ${layoutSummary(model)} needs it)`);
    if (t.dtype !== dtype) fail(`tensor ${tensorName}`, `dtype ${t.dtype}, expected ${dtype}`);
    if (t.shape.join(',') !== shape.join(',')) fail(`tensor ${tensorName}`, `shape [${t.shape}], the model needs [${shape}]`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) fail(`tensor ${tensorName}`, `element ${i} is ${t.data[i]}: values must be finite`);
    }
    return t.data;
  };
  const params = new Float32Array(layout.n);
  for (const slot of layout.params) params.set(take(slot.name, slot.shape, 'F32'), slot.offset);
  const stats = new Float32Array(layout.nStats);
  for (const slot of layout.stats) stats.set(take(slot.name, slot.shape, 'F32'), slot.offset);
  const st = optMeta.state;
  if (st.n !== layout.n) fail('metadata.optimizer.state.n', `is ${st.n} but the model's parameter buffer has ${layout.n}`);
  const state: Record<string, number[]> = {};
  for (const slotName of st.slots) {
    state[slotName] = Array.from(take(`optim.${slotName}`, [layout.n], st.dtype === 'float64' ? 'F64' : 'F32'));
  }
  for (const [k, v] of Object.entries(st.scalars)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`metadata.optimizer.state.scalars.${k}`, 'must be a list of finite numbers');
    state[k] = v;
  }
  for (const key of file.tensors.keys()) {
    if (!expected.has(key)) fail(`tensor ${key}`, `unexpected: the model ${layoutSummary(model)} and optimizer ${optMeta.config.name} have no such tensor`);
  }
  const { scalars: _scalars, slots: _slots, ...optRest } = st;
  const optimizer: OptimizerState = { ...optRest, state };
  const config = { ...(runner as object), model, optimizer: optMeta.config } as RunnerConfig;
  const runnerState: RunnerState = { params, stats, optimizer, skipped: skipped as number };
  return { config, state: runnerState, position, data, schedule, earlyStopping, history, device: meta.device ?? 'unknown' };
}

function layoutSummary(m: ModelSpec): string {
  return [m.inputs, ...m.layers.flatMap((l) => (l.type === 'dense' ? [l.outputs] : []))].join('-');
}

/** Checkpoint file bytes (with the checksum). */
export function encodeCheckpoint(s: TrainingSnapshot): Uint8Array {
  const file = snapshotToSafetensors(s);
  const bare = encodeSafetensors(file);
  // The checksum covers the data section, which does not depend on the metadata.
  const view = new DataView(bare.buffer, bare.byteOffset);
  const dataStart = 8 + Number(view.getBigUint64(0, true));
  file.metadata.checksum = fnv1a(bare.subarray(dataStart));
  return encodeSafetensors(file);
}

export function decodeCheckpoint(bytes: Uint8Array, name = 'checkpoint'): TrainingSnapshot {
  const file = decodeSafetensors(bytes, name);
  if (file.metadata.checksum === undefined) throw new CheckpointError(`${name}: metadata.checksum: missing`);
  return snapshotFromSafetensors(file, name);
}

/** Writes atomically: a temporary file beside `path`, flushed, then renamed over it. */
export async function saveCheckpointFile(path: string, s: TrainingSnapshot): Promise<void> {
  const bytes = encodeCheckpoint(s);
  await mkdir(dirname(path) || '.', { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new CheckpointError(`${path}: writing the checkpoint failed: ${(e as Error).message}`);
  }
  await fh.close();
  await rename(tmp, path);
}

export async function loadCheckpointFile(path: string): Promise<TrainingSnapshot> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CheckpointError(code === 'ENOENT' ? `${path}: no such checkpoint file` : `${path}: cannot read: ${(e as Error).message}`);
  }
  return decodeCheckpoint(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
