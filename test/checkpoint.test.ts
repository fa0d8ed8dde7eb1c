// safetensors checkpoints in memory: bit-exact round trips, the byte layout other safetensors readers expect,
// and a named error for each kind of damage (data byte, header byte, truncation, structural faults).
import * as zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Hex } from '../src/checkpoint/crc32.js';
import { CheckpointError, decodeCheckpoint, encodeCheckpoint, type Checkpoint, type TensorArray } from '../src/checkpoint/safetensors.js';
import { Random } from '../src/random.js';

const bytesOf = (a: TensorArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** First index where two arrays differ bitwise (NaN payloads and -0 included), or -1. */
function firstBitDifference(a: TensorArray, b: TensorArray): number {
  const x = bytesOf(a);
  const y = bytesOf(b);
  if (x.length !== y.length) return Math.min(x.length, y.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

function sample(): Checkpoint {
  const rng = new Random(9);
  const w = rng.fillNormal(new Float32Array(6 * 5), 0, 0.1);
  // Bit patterns JSON or a careless copy would lose: -0, a NaN with payload, infinities, subnormals.
  const f32 = new Float32Array([-0, Infinity, -Infinity, 1e-45, 3.4028234663852886e38]);
  new Uint32Array(f32.buffer)[1] = 0x7fc12345;
  const f64 = new Float64Array([Math.PI, -0, 5e-324, NaN, 1e308]);
  new Uint32Array(f64.buffer)[6] = 0xdeadbeef;
  return {
    tensors: {
      'layers.0.weight': { data: w, shape: [6, 5] },
      'layers.0.bias': { data: new Float32Array(5).fill(0.5), shape: [5] },
      specials32: { data: f32, shape: [5] },
      'optim.exp_avg_sq': { data: f64, shape: [5] },
      step: { data: Uint32Array.from([4294967295]), shape: [] },
      idx: { data: Int32Array.from([-2147483648, -1, 0, 7]), shape: [2, 2] },
      mask: { data: Uint8Array.from([1, 0, 255]), shape: [3] },
      empty: { data: new Float32Array(0), shape: [0, 4] },
    },
    meta: {
      model: { layers: [{ type: 'dense', units: 5, activation: 'relu' }] },
      optimizer: { name: 'adam', lr: 1e-3, betas: [0.9, 0.999], step: 120 },
      step: 120,
      epoch: 2,
      rng: rng.state(),
      note: 'unicode ✓ "quoted"',
    },
  };
}

/** Rewrites the JSON header of encoded bytes (keeping the data section), for targeted structural faults. */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, any>) => void): Uint8Array {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

describe('crc32', () => {
  it('matches the standard check value and zlib', () => {
    expect(crc32Hex(new TextEncoder().encode('123456789'))).toBe('cbf43926');
    expect(crc32(new Uint8Array(0))).toBe(0);
    const data = new Uint8Array(10_000).map((_, i) => (i * 7919) & 255);
    const zcrc = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
    if (zcrc) expect(crc32(data)).toBe(zcrc(data));
    expect(crc32(data.subarray(5000), crc32(data.subarray(0, 5000)))).toBe(crc32(data));
  });
});

describe('encodeCheckpoint / decodeCheckpoint', () => {
  it('round trip is bit-exact for every dtype, and meta comes back as it went in', () => {
    const ckpt = sample();
    const back = decodeCheckpoint(encodeCheckpoint(ckpt));
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(ckpt.tensors).sort());
    for (const [name, t] of Object.entries(ckpt.tensors)) {
      const d = back.tensors[name]!;
      expect(d.data.constructor, name).toBe(t.data.constructor);
      expect(d.shape, name).toEqual(t.shape);
      expect(firstBitDifference(d.data, t.data), `first differing byte of ${name}`).toBe(-1);
    }
    expect({ ...back.meta }).toEqual(ckpt.meta);
    expect(Random.fromState(back.meta.rng).nextU32()).toBe(Random.fromState(ckpt.meta!.rng).nextU32());
  });

  it('decodes from a Node Buffer that is an unaligned view of a larger pool', () => {
    const bytes = encodeCheckpoint(sample());
    const pooled = Buffer.concat([Buffer.alloc(3, 7), Buffer.from(bytes), Buffer.alloc(5)]).subarray(3, 3 + bytes.length);
    expect(pooled.byteOffset % 4).not.toBe(0);
    const back = decodeCheckpoint(pooled);
    for (const [name, t] of Object.entries(sample().tensors)) {
      expect(firstBitDifference(back.tensors[name]!.data, t.data), name).toBe(-1);
      expect(back.tensors[name]!.data.buffer.byteLength, `${name} owns an exactly sized buffer`).toBe(t.data.byteLength);
    }
  });

  it('decoded tensors own their memory', () => {
    const bytes = encodeCheckpoint(sample());
    const back = decodeCheckpoint(bytes);
    bytes.fill(0);
    expect(back.tensors['layers.0.bias']!.data[0]).toBe(0.5);
  });

  it('writes standard safetensors: u64 length, space-padded 8-aligned JSON, string metadata, naturally aligned tensors', () => {
    const bytes = encodeCheckpoint(sample());
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    expect(text.startsWith('{')).toBe(true);
    expect(/^[^ ]*\}? *$/.test(text.slice(text.lastIndexOf('}')))).toBe(true);
    const header = JSON.parse(text);
    for (const v of Object.values(header.__metadata__)) expect(typeof v).toBe('string');
    const sizes: Record<string, number> = { F64: 8, F32: 4, U32: 4, I32: 4, U8: 1 };
    let total = 0;
    for (const [name, e] of Object.entries<any>(header)) {
      if (name === '__metadata__') continue;
      expect(e.data_offsets[0] % sizes[e.dtype]!, `${name} alignment`).toBe(0);
      total += e.data_offsets[1] - e.data_offsets[0];
    }
    expect(bytes.length).toBe(8 + n + total);
    expect(header['optim.exp_avg_sq']).toEqual({ dtype: 'F64', shape: [5], data_offsets: [0, 40] });
    expect(JSON.parse(header.__metadata__.step)).toBe(120);
    expect(header.__metadata__['wgtrain.format']).toBe('wgtrain.safetensors/1');
  });

  it('reads safetensors from other tools only when asked to, with raw string metadata', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const json = new TextEncoder().encode(JSON.stringify({ w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, __metadata__: { format: 'pt' } }));
    const foreign = new Uint8Array(8 + json.length + 16);
    new DataView(foreign.buffer).setUint32(0, json.length, true);
    foreign.set(json, 8);
    foreign.set(bytesOf(data), 8 + json.length);
    expect(() => decodeCheckpoint(foreign, { source: 'ref.safetensors' })).toThrow(
      'ref.safetensors: no "wgtrain.checksums" in __metadata__: not a wgtrain checkpoint. Pass { requireChecksum: false } to read other safetensors files unverified.',
    );
    const back = decodeCheckpoint(foreign, { requireChecksum: false });
    expect(Array.from(back.tensors.w!.data)).toEqual([1, 2, 3, 4]);
    expect(back.meta.format).toBe('pt');
  });
});

describe('decodeCheckpoint rejects damage with a named error', () => {
  const good = encodeCheckpoint(sample());
  const headerLen = new DataView(good.buffer).getUint32(0, true);
  const decode = (b: Uint8Array) => () => decodeCheckpoint(b, { source: 'run/ckpt.safetensors' });

  it('any single flipped data byte: checksum error naming the tensor', () => {
    const header = JSON.parse(new TextDecoder().decode(good.subarray(8, 8 + headerLen)));
    const [b] = header['layers.0.weight'].data_offsets;
    for (const at of [b, b + 7, b + 119]) {
      const bad = good.slice();
      bad[8 + headerLen + at] ^= 0x10;
      expect(decode(bad)).toThrow(/^run\/ckpt\.safetensors: checksum mismatch in tensor 'layers\.0\.weight' \(stored crc32 [0-9a-f]{8}, computed [0-9a-f]{8}\): its data is corrupted\.$/);
    }
    const bad = good.slice();
    bad[bad.length - 1] ^= 1; // last byte of the data section: the U8 tensor, sorted last
    expect(decode(bad)).toThrow(/checksum mismatch in tensor 'mask'/);
  });

  it('a changed metadata value or shape: header checksum error', () => {
    const text = new TextDecoder().decode(good.subarray(8, 8 + headerLen));
    const at = text.indexOf('"epoch":"2"');
    expect(at).toBeGreaterThan(0);
    const bad = good.slice();
    bad[8 + at + '"epoch":"'.length] = '7'.charCodeAt(0);
    expect(decode(bad)).toThrow(/^run\/ckpt\.safetensors: header checksum mismatch \(stored [0-9a-f]{8}, computed [0-9a-f]{8}\)/);
    const reshaped = withHeader(good, (h) => (h['layers.0.weight'].shape = [5, 6]));
    expect(decode(reshaped)).toThrow(/header checksum mismatch/);
  });

  it('a damaged header byte that breaks the JSON', () => {
    const bad = good.slice();
    bad[8] = 0x5b; // '{' -> '['
    expect(decode(bad)).toThrow(/^run\/ckpt\.safetensors: header is not valid JSON \(.*\); corrupted file\?$/);
    const binary = good.slice();
    binary[12] = 0xff;
    expect(decode(binary)).toThrow('run/ckpt.safetensors: header is not valid UTF-8; corrupted file?');
  });

  it('truncated files', () => {
    const dataLen = good.length - 8 - headerLen;
    expect(decode(good.subarray(0, good.length - 10))).toThrow(
      `run/ckpt.safetensors: data section is ${dataLen - 10} bytes but tensor 'mask' ends at byte ${dataLen} of it: 10 bytes missing; truncated file?`,
    );
    expect(decode(good.subarray(0, 100))).toThrow(`run/ckpt.safetensors: header length field says ${headerLen} bytes but only 92 bytes follow it; truncated file?`);
    expect(decode(good.subarray(0, 5))).toThrow('run/ckpt.safetensors: file is 5 bytes, shorter than the 8-byte header length field; empty or truncated file?');
    const huge = good.slice();
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(decode(huge)).toThrow(`run/ckpt.safetensors: header length field says ${2 ** 32 + headerLen} bytes, above the 100 MB safetensors limit; not a safetensors file, or corrupted.`);
  });

  it('trailing bytes, gaps and overlaps between tensors', () => {
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expect(decode(longer)).toThrow("run/ckpt.safetensors: 3 bytes after the last tensor's data; the data section must end with the last tensor.");
    const overlap = withHeader(good, (h) => {
      const [b, e] = h.mask.data_offsets;
      h.mask.data_offsets = [b - 1, e - 1];
    });
    expect(decode(overlap)).toThrow(/tensors '\S+' \[\d+,\d+\] and 'mask' \[\d+,\d+\] overlap\./);
    const shifted = withHeader(good, (h) => {
      h.mask.data_offsets = [h.mask.data_offsets[0] + 1, h.mask.data_offsets[1] + 1];
    });
    const gap = new Uint8Array(shifted.length + 1);
    gap.set(shifted);
    expect(decode(gap)).toThrow(/1 unused bytes before tensor 'mask'/);
  });

  it('entries that do not describe their bytes, unsupported dtypes, non-string metadata, missing checksums', () => {
    expect(decode(withHeader(good, (h) => (h.mask.shape = [4])))).toThrow(
      /run\/ckpt\.safetensors: tensor 'mask': shape \[4\] of U8 needs 4 bytes but data_offsets \[\d+, \d+\] span 3\./,
    );
    expect(decode(withHeader(good, (h) => (h.idx.dtype = 'BF16')))).toThrow(
      "run/ckpt.safetensors: tensor 'idx': dtype \"BF16\" is not supported; wgtrain reads F64, F32, U32, I32, U8 (convert e.g. F16/BF16 to F32).",
    );
    expect(decode(withHeader(good, (h) => (h.idx.shape = [2, -2])))).toThrow("tensor 'idx': shape [2,-2] must be an array of non-negative integers.");
    expect(decode(withHeader(good, (h) => (h.idx.data_offsets = [8])))).toThrow("tensor 'idx': data_offsets [8] must be [begin, end]");
    expect(decode(withHeader(good, (h) => (h.__metadata__.step = 120)))).toThrow(
      'run/ckpt.safetensors: __metadata__["step"] is a number; safetensors metadata values must be strings.',
    );
    expect(decode(withHeader(good, (h) => delete h.__metadata__['wgtrain.checksums']))).toThrow(
      'run/ckpt.safetensors: __metadata__ lacks "wgtrain.checksums", which every wgtrain checkpoint has; the header was damaged.',
    );
    expect(decode(withHeader(good, (h) => (h.__metadata__['wgtrain.format'] = 'wgtrain.safetensors/9')))).toThrow(
      'this version of wgtrain reads "wgtrain.safetensors/1"',
    );
    try {
      decodeCheckpoint(withHeader(good, (h) => (h.idx.dtype = 'F16')));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as Error).message.startsWith('checkpoint: ')).toBe(true);
    }
  });
});

describe('encodeCheckpoint rejects what it cannot store faithfully', () => {
  const t = { data: new Float32Array(4), shape: [2, 2] };
  it('names the tensor or meta key', () => {
    expect(() => encodeCheckpoint({ tensors: { w: { data: new Float32Array(5), shape: [2, 2] } } })).toThrow(
      "encodeCheckpoint: tensor 'w' shape [2, 2] holds 4 elements but data has 5.",
    );
    expect(() => encodeCheckpoint({ tensors: { w: { data: new Uint16Array(4) as unknown as Float32Array, shape: [4] } } })).toThrow(
      "encodeCheckpoint: tensor 'w' data is a Uint16Array; use Float32Array, Float64Array, Uint32Array, Int32Array or Uint8Array.",
    );
    expect(() => encodeCheckpoint({ tensors: { __metadata__: t } })).toThrow('tensor name "__metadata__" is not allowed');
    expect(() => encodeCheckpoint({ tensors: { w: t }, meta: { 'wgtrain.format': 'x' } })).toThrow("meta key 'wgtrain.format' is reserved");
    expect(() => encodeCheckpoint({ tensors: { w: t }, meta: { optimizer: { lr: 0.1, loss: NaN } } })).toThrow(
      "encodeCheckpoint: meta 'optimizer' cannot be stored as JSON at 'loss': non-finite number NaN.",
    );
    expect(() => encodeCheckpoint({ tensors: { w: t }, meta: { step: 10n } })).toThrow(/meta 'step' cannot be stored as JSON/);
    expect(() => encodeCheckpoint({ tensors: { w: t }, meta: { cb: () => 1 } })).toThrow("meta 'cb' is a function, which JSON cannot represent.");
  });
});
