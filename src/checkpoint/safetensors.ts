/**
 * Checkpoints in the safetensors format, encoded and decoded in memory (browser-safe; file.ts adds Node file I/O).
 *
 * Layout (https://github.com/huggingface/safetensors):
 *   bytes 0..8        N, the header length, u64 little-endian
 *   bytes 8..8+N      JSON header, UTF-8, padded with spaces so the data section starts 8-byte aligned:
 *                     { "<tensor>": { "dtype": "F32", "shape": [r, c], "data_offsets": [begin, end] }, ...,
 *                       "__metadata__": { "<key>": "<string>" } }
 *   bytes 8+N..       data section: each tensor's raw little-endian bytes, row-major, at [begin, end) relative to
 *                     the section start; tensors are contiguous, non-overlapping and cover the whole section.
 * Encoding orders tensors by element size (largest first), then name, so every tensor is naturally aligned.
 *
 * wgtrain's use of `__metadata__` (whose values must be strings):
 *   "wgtrain.format"     "wgtrain.safetensors/1"
 *   "wgtrain.checksums"  JSON { "algorithm": "crc32", "header": hex, "tensors": { "<tensor>": hex } }:
 *                        CRC-32 (zlib's) of each tensor's bytes, and of the canonical header summary (`headerDigest`)
 *                        so a flipped byte in a shape or a metadata value is caught as well as one in the data.
 *   any other key        JSON.stringify of the caller's `meta[key]`. Documented keys for training state are listed
 *                        in CHECKPOINT_META_KEYS; keys starting with "wgtrain." are reserved.
 * Decoding verifies all of it and throws a CheckpointError naming the source and the tensor or field at fault.
 */
import { crc32Hex } from './crc32.js';

export type CheckpointDtype = 'F32' | 'F64' | 'U32' | 'I32' | 'U8';
export type TensorArray = Float32Array | Float64Array | Uint32Array | Int32Array | Uint8Array;

export interface CheckpointTensor {
  data: TensorArray;
  /** Row-major shape; product(shape) = data.length. [] is a scalar. */
  shape: readonly number[];
}

export interface Checkpoint {
  tensors: Record<string, CheckpointTensor>;
  /** JSON-serialisable values; each is stored as a JSON string under its key. */
  meta?: Record<string, unknown>;
}

export interface DecodedTensor {
  dtype: CheckpointDtype;
  shape: number[];
  /** A copy owned by the caller. */
  data: TensorArray;
}

export interface DecodedCheckpoint {
  tensors: Record<string, DecodedTensor>;
  /** The caller's meta, parsed back from JSON (raw strings for a file not written by wgtrain). */
  meta: Record<string, unknown>;
  /** `__metadata__` exactly as stored. */
  metadata: Record<string, string>;
}

/**
 * Keys under which training code stores its state (each a JSON string in the file). Suggested contents:
 * model: the model spec; optimizer: name, hyperparameters and scalar state (step counts; per-element state goes
 * in tensors); schedule: learning-rate schedule state; step / epoch: progress counters; rng: Random.state() objects.
 */
export const CHECKPOINT_META_KEYS = {
  model: 'model',
  optimizer: 'optimizer',
  schedule: 'schedule',
  step: 'step',
  epoch: 'epoch',
  rng: 'rng',
} as const;

export const CHECKPOINT_FORMAT = 'wgtrain.safetensors/1';
const FORMAT_KEY = 'wgtrain.format';
const CHECKSUMS_KEY = 'wgtrain.checksums';
const RESERVED_PREFIX = 'wgtrain.';
const METADATA = '__metadata__';
/** The reference implementation refuses headers above 100 MB; so do we, before allocating anything. */
const MAX_HEADER_BYTES = 100_000_000;

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

interface DtypeInfo {
  size: number;
  make: (buffer: ArrayBuffer) => TensorArray;
}

const DTYPES: Record<CheckpointDtype, DtypeInfo> = {
  F64: { size: 8, make: (b) => new Float64Array(b) },
  F32: { size: 4, make: (b) => new Float32Array(b) },
  U32: { size: 4, make: (b) => new Uint32Array(b) },
  I32: { size: 4, make: (b) => new Int32Array(b) },
  U8: { size: 1, make: (b) => new Uint8Array(b) },
};

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function dtypeOf(data: unknown): CheckpointDtype | undefined {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Uint32Array) return 'U32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint8Array) return 'U8';
  return undefined;
}

function bytesOf(a: TensorArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

interface Entry {
  name: string;
  dtype: CheckpointDtype;
  shape: number[];
  offsets: [number, number];
}

/**
 * Digest input covering everything in the header except the checksums themselves: tensor names, dtypes, shapes
 * and offsets, and every other metadata pair, in sorted order so that key order in the JSON does not matter.
 */
function headerDigest(entries: Entry[], metadata: Record<string, string>): string {
  const tensors = [...entries].sort((a, b) => cmp(a.name, b.name)).map((e) => [e.name, e.dtype, e.shape, e.offsets]);
  const meta = Object.keys(metadata)
    .filter((k) => k !== CHECKSUMS_KEY)
    .sort(cmp)
    .map((k) => [k, metadata[k]]);
  return crc32Hex(new TextEncoder().encode(JSON.stringify([tensors, meta])));
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Serialises tensors and metadata to safetensors bytes, with wgtrain's format tag and checksums. */
export function encodeCheckpoint(checkpoint: Checkpoint): Uint8Array {
  if (!littleEndian) throw new CheckpointError('encodeCheckpoint: safetensors data is little-endian and this host is big-endian.');
  const tensors = checkpoint.tensors;
  if (typeof tensors !== 'object' || tensors === null) {
    throw new CheckpointError('encodeCheckpoint: `tensors` must be an object mapping names to { data, shape }.');
  }
  const entries: (Entry & { data: TensorArray })[] = [];
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '' || name === METADATA || name === '__proto__') {
      throw new CheckpointError(`encodeCheckpoint: tensor name ${JSON.stringify(name)} is not allowed; rename the tensor.`);
    }
    const dtype = dtypeOf(t?.data);
    if (dtype === undefined) {
      throw new CheckpointError(
        `encodeCheckpoint: tensor '${name}' data is ${describe(t?.data)}; use Float32Array, Float64Array, Uint32Array, Int32Array or Uint8Array.`,
      );
    }
    const shape = checkShape(t.shape, `encodeCheckpoint: tensor '${name}'`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new CheckpointError(`encodeCheckpoint: tensor '${name}' shape [${shape.join(', ')}] holds ${count} elements but data has ${t.data.length}.`);
    }
    entries.push({ name, dtype, shape, offsets: [0, 0], data: t.data });
  }
  entries.sort((a, b) => DTYPES[b.dtype].size - DTYPES[a.dtype].size || cmp(a.name, b.name));
  let offset = 0;
  for (const e of entries) {
    e.offsets = [offset, offset + e.data.byteLength];
    offset += e.data.byteLength;
  }

  const metadata: Record<string, string> = { [FORMAT_KEY]: CHECKPOINT_FORMAT };
  for (const [key, value] of Object.entries(checkpoint.meta ?? {})) {
    if (key.startsWith(RESERVED_PREFIX)) {
      throw new CheckpointError(`encodeCheckpoint: meta key '${key}' is reserved (keys starting with "${RESERVED_PREFIX}" belong to the file format); rename it.`);
    }
    metadata[key] = toJson(value, key);
  }
  const checksums = { algorithm: 'crc32', header: headerDigest(entries, metadata), tensors: {} as Record<string, string> };
  for (const e of entries) checksums.tensors[e.name] = crc32Hex(bytesOf(e.data));
  metadata[CHECKSUMS_KEY] = JSON.stringify(checksums);

  const header: Record<string, unknown> = { [METADATA]: metadata };
  for (const e of entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: e.offsets };
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, Math.floor(json.length / 2 ** 32), true);
  out.set(json, 8);
  for (const e of entries) out.set(bytesOf(e.data), 8 + json.length + e.offsets[0]);
  return out;
}

export interface DecodeOptions {
  /** Names the bytes in error messages (a file path, a URL); default "checkpoint". */
  source?: string;
  /**
   * Default true: refuse a file without wgtrain checksums. Set false to read safetensors written by other tools
   * (e.g. reference weights from PyTorch); structure is still fully checked, and checksums are verified if present.
   */
  requireChecksum?: boolean;
}

/** Parses and verifies safetensors bytes; throws a CheckpointError naming `source` and the field at fault. */
export function decodeCheckpoint(bytes: Uint8Array, options: DecodeOptions = {}): DecodedCheckpoint {
  const src = options.source ?? 'checkpoint';
  const fail = (msg: string): never => {
    throw new CheckpointError(`${src}: ${msg}`);
  };
  if (!littleEndian) fail('safetensors data is little-endian and this host is big-endian.');
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length field; empty or truncated file?`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (headerLen > MAX_HEADER_BYTES) {
    fail(`header length field says ${headerLen} bytes, above the 100 MB safetensors limit; not a safetensors file, or corrupted.`);
  }
  if (8 + headerLen > bytes.length) {
    fail(`header length field says ${headerLen} bytes but only ${bytes.length - 8} bytes follow it; truncated file?`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8; corrupted file?');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message}); corrupted file?`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header JSON is not an object.');
  const h = header as Record<string, unknown>;

  const metadata = readMetadata(h[METADATA], fail);
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(h)) {
    if (name === METADATA) continue;
    entries.push(readEntry(name, raw, fail));
  }

  const last = entries.reduce<Entry | undefined>((m, e) => (m === undefined || e.offsets[1] > m.offsets[1] ? e : m), undefined);
  if (last && last.offsets[1] > dataLen) {
    fail(
      `data section is ${dataLen} bytes but tensor '${last.name}' ends at byte ${last.offsets[1]} of it: ${last.offsets[1] - dataLen} bytes missing; truncated file?`,
    );
  }

  // Contiguity: sorted by position, each tensor starts where the previous ended and the last ends the file.
  const byPos = [...entries].sort((a, b) => a.offsets[0] - b.offsets[0] || a.offsets[1] - b.offsets[1]);
  let end = 0;
  let prev: Entry | undefined;
  for (const e of byPos) {
    const [b] = e.offsets;
    if (b < end) fail(`tensors '${prev!.name}' [${prev!.offsets}] and '${e.name}' [${e.offsets}] overlap.`);
    if (b > end) fail(`${b - end} unused bytes before tensor '${e.name}' (data_offsets [${e.offsets}]); tensors must be contiguous.`);
    end = e.offsets[1];
    prev = e;
  }
  if (end !== dataLen) fail(`${dataLen - end} bytes after the last tensor's data; the data section must end with the last tensor.`);

  const format = metadata[FORMAT_KEY];
  if (format !== undefined && format !== CHECKPOINT_FORMAT) {
    fail(`__metadata__["${FORMAT_KEY}"] is ${JSON.stringify(format)}; this version of wgtrain reads "${CHECKPOINT_FORMAT}".`);
  }
  const checksumText = metadata[CHECKSUMS_KEY];
  if (checksumText === undefined) {
    if (format !== undefined) fail(`__metadata__ lacks "${CHECKSUMS_KEY}", which every wgtrain checkpoint has; the header was damaged.`);
    if (options.requireChecksum !== false) {
      fail(`no "${CHECKSUMS_KEY}" in __metadata__: not a wgtrain checkpoint. Pass { requireChecksum: false } to read other safetensors files unverified.`);
    }
  } else {
    verifyChecksums(checksumText, entries, metadata, bytes.subarray(dataStart), fail);
  }

  const tensors: Record<string, DecodedTensor> = Object.create(null);
  for (const e of entries) {
    const { size, make } = DTYPES[e.dtype];
    // A fresh, exactly sized buffer (not bytes.slice: on a Node Buffer that is a view of a shared pool).
    const copy = new Uint8Array(e.offsets[1] - e.offsets[0]);
    copy.set(bytes.subarray(dataStart + e.offsets[0], dataStart + e.offsets[1]));
    const data = make(copy.buffer);
    if (data.length * size !== copy.length) fail(`tensor '${e.name}': internal size mismatch.`);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }

  const meta: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith(RESERVED_PREFIX)) continue;
    if (format === undefined) {
      meta[key] = value;
      continue;
    }
    try {
      meta[key] = JSON.parse(value);
    } catch (e) {
      fail(`__metadata__["${key}"] is not valid JSON (${(e as Error).message}).`);
    }
  }
  return { tensors, meta, metadata };
}

function readMetadata(raw: unknown, fail: (m: string) => never): Record<string, string> {
  if (raw === undefined) return {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('__metadata__ is not an object of strings.');
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    if (typeof v !== 'string') fail(`__metadata__["${k}"] is ${describe(v)}; safetensors metadata values must be strings.`);
    out[k] = v as string;
  }
  return out;
}

function readEntry(name: string, raw: unknown, fail: (m: string) => never): Entry {
  const where = `tensor '${name}'`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`${where}: header entry is not an object.`);
  const r = raw as Record<string, unknown>;
  const dtype = r.dtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPES)) {
    fail(`${where}: dtype ${JSON.stringify(dtype)} is not supported; wgtrain reads ${Object.keys(DTYPES).join(', ')} (convert e.g. F16/BF16 to F32).`);
  }
  let shape: number[];
  try {
    shape = checkShape(r.shape, where);
  } catch (e) {
    return fail((e as Error).message);
  }
  const offsets = r.data_offsets;
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((x) => Number.isSafeInteger(x) && x >= 0) ||
    offsets[0] > offsets[1]
  ) {
    fail(`${where}: data_offsets ${JSON.stringify(offsets)} must be [begin, end] with integers 0 <= begin <= end.`);
  }
  const [b, e] = offsets as [number, number];
  const size = DTYPES[dtype as CheckpointDtype].size;
  const need = shape.reduce((a, x) => a * x, 1) * size;
  if (e - b !== need) {
    fail(`${where}: shape [${shape.join(', ')}] of ${dtype} needs ${need} bytes but data_offsets [${b}, ${e}] span ${e - b}.`);
  }
  return { name, dtype: dtype as CheckpointDtype, shape, offsets: [b, e] };
}

function verifyChecksums(text: string, entries: Entry[], metadata: Record<string, string>, data: Uint8Array, fail: (m: string) => never): void {
  let c: { algorithm?: unknown; header?: unknown; tensors?: unknown };
  try {
    c = JSON.parse(text);
  } catch {
    return fail(`__metadata__["${CHECKSUMS_KEY}"] is not valid JSON; the header was damaged.`);
  }
  if (c === null || typeof c !== 'object' || c.algorithm !== 'crc32' || typeof c.tensors !== 'object' || c.tensors === null) {
    fail(`__metadata__["${CHECKSUMS_KEY}"] is not { algorithm: "crc32", header, tensors }; the header was damaged.`);
  }
  const header = headerDigest(entries, metadata);
  if (c.header !== header) {
    fail(`header checksum mismatch (stored ${String(c.header)}, computed ${header}): a tensor shape, offset or metadata value was altered; the file is corrupted.`);
  }
  const stored = c.tensors as Record<string, unknown>;
  for (const e of entries) {
    if (!(e.name in stored)) fail(`tensor '${e.name}' has no checksum in "${CHECKSUMS_KEY}"; the file is corrupted.`);
    const actual = crc32Hex(data.subarray(e.offsets[0], e.offsets[1]));
    if (stored[e.name] !== actual) {
      fail(`checksum mismatch in tensor '${e.name}' (stored crc32 ${String(stored[e.name])}, computed ${actual}): its data is corrupted.`);
    }
  }
  const names = new Set(entries.map((e) => e.name));
  for (const k of Object.keys(stored)) {
    if (!names.has(k)) fail(`"${CHECKSUMS_KEY}" lists tensor '${k}', which the header lacks; the file is corrupted.`);
  }
}

function checkShape(shape: unknown, where: string): number[] {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new CheckpointError(`${where}: shape ${safeJson(shape)} must be an array of non-negative integers.`);
  }
  return [...shape] as number[];
}

function toJson(value: unknown, key: string): string {
  const path: string[] = [];
  let text: string | undefined;
  try {
    // Non-finite numbers would silently become null; refuse them instead of losing them.
    text = JSON.stringify(value, function (this: unknown, k: string, v: unknown) {
      if (typeof v === 'number' && !Number.isFinite(v)) {
        path.push(k);
        throw new Error(`non-finite number ${v}`);
      }
      return v;
    });
  } catch (e) {
    const at = path.length && path[0] !== '' ? ` at '${path[0]}'` : '';
    throw new CheckpointError(`encodeCheckpoint: meta '${key}' cannot be stored as JSON${at}: ${(e as Error).message}.`);
  }
  if (text === undefined) throw new CheckpointError(`encodeCheckpoint: meta '${key}' is ${describe(value)}, which JSON cannot represent.`);
  return text;
}

function safeJson(x: unknown): string {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object') return `a ${(x as object).constructor?.name ?? 'object'}`;
  return `a ${typeof x}`;
}
