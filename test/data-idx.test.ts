// IDX parser: hand-made fixture files (written by Python's struct, not by our encoder), round trips for every
// dtype, and the exact message for each kind of bad file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeIdx, parseIdx, type IdxTensor } from '../src/data/idx.js';

const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`./fixtures/idx/${name}`, import.meta.url)));

describe('parseIdx on fixture files', () => {
  it('reads u8 images and labels', () => {
    const images = parseIdx(fixture('tiny-images-idx3-ubyte'), 'tiny-images');
    expect(images.dtype).toBe('u8');
    expect(images.shape).toEqual([3, 2, 3]);
    expect(Array.from(images.data)).toEqual(Array.from({ length: 18 }, (_, i) => i));
    const labels = parseIdx(fixture('tiny-labels-idx1-ubyte'));
    expect(labels.shape).toEqual([3]);
    expect(Array.from(labels.data)).toEqual([5, 0, 4]);
  });

  it('reads big-endian f32 and i16 into native arrays', () => {
    const f = parseIdx(fixture('f32-idx2'));
    expect(f.dtype).toBe('f32');
    expect(f.data).toBeInstanceOf(Float32Array);
    expect(f.shape).toEqual([2, 2]);
    expect(Array.from(f.data)).toEqual([1.5, -2.25, Math.fround(3e-5), Math.fround(1e30)]);
    const s = parseIdx(fixture('i16-idx1'));
    expect(s.data).toBeInstanceOf(Int16Array);
    expect(Array.from(s.data)).toEqual([-2, 300, -32768]);
  });

  it('u8 data is a view of the input bytes at the data offset, not a copy', () => {
    const bytes = fixture('tiny-labels-idx1-ubyte');
    const t = parseIdx(bytes);
    expect(t.data.buffer).toBe(bytes.buffer);
    expect(t.data.byteOffset).toBe(bytes.byteOffset + 8);
  });
});

describe('encodeIdx / parseIdx round trip', () => {
  const cases: IdxTensor[] = [
    { dtype: 'u8', shape: [2, 3], data: Uint8Array.from([0, 1, 127, 128, 254, 255]) },
    { dtype: 'i8', shape: [4], data: Int8Array.from([-128, -1, 0, 127]) },
    { dtype: 'i16', shape: [2, 1, 2], data: Int16Array.from([-32768, -1, 1, 32767]) },
    { dtype: 'i32', shape: [3], data: Int32Array.from([-(2 ** 31), 0, 2 ** 31 - 1]) },
    { dtype: 'f32', shape: [2, 2], data: Float32Array.from([0.1, -0, Infinity, 3.4e38]) },
    { dtype: 'f64', shape: [3], data: Float64Array.from([Math.PI, -1e-300, Number.MAX_VALUE]) },
    { dtype: 'u8', shape: [0, 28, 28], data: new Uint8Array(0) },
  ];
  it.each(cases)('$dtype $shape is bit-exact', (t) => {
    const back = parseIdx(encodeIdx(t));
    expect(back.dtype).toBe(t.dtype);
    expect(back.shape).toEqual(t.shape);
    expect(back.data.constructor).toBe(t.data.constructor);
    // Compare bytes so -0 and every float bit pattern must survive.
    const bytes = (a: IdxTensor['data']) => Array.from(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    expect(bytes(back.data)).toEqual(bytes(t.data));
  });

  it('encodeIdx rejects data that does not fill the shape', () => {
    expect(() => encodeIdx({ dtype: 'u8', shape: [2, 2], data: new Uint8Array(3) })).toThrow(
      'encodeIdx: shape [2,2] holds 4 elements but data has 3.',
    );
  });
});

describe('parseIdx errors say what is wrong', () => {
  const header = (magic: number, ...dims: number[]) => {
    const b = new Uint8Array(4 + 4 * dims.length);
    const v = new DataView(b.buffer);
    v.setUint32(0, magic);
    dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
    return b;
  };

  it('truncated download: file length against the declared dimensions', () => {
    const bytes = new Uint8Array(1000);
    bytes.set(header(0x803, 60000, 28, 28));
    expect(() => parseIdx(bytes, 'train-images-idx3-ubyte')).toThrow(
      'train-images-idx3-ubyte: file is 1000 bytes but header declares 60000×28×28 = 47040000 bytes of data + 16 header bytes (47040016 in all); truncated download?',
    );
  });

  it('trailing bytes and multi-byte element sizes are spelled out', () => {
    const bytes = new Uint8Array(8 + 13);
    bytes.set(header(0xd01, 3));
    expect(() => parseIdx(bytes, 'x.idx')).toThrow(
      'x.idx: file is 21 bytes but header declares 3 f32 (4 bytes each) = 12 bytes of data + 8 header bytes (20 in all); trailing bytes; wrong dimensions or two files concatenated?',
    );
  });

  it('header cut short', () => {
    expect(() => parseIdx(header(0x803, 60000).subarray(0, 8), 'img')).toThrow(
      'img: file is 8 bytes but a 3-dimensional IDX header needs 16 bytes; truncated download?',
    );
    expect(() => parseIdx(new Uint8Array(0), 'img')).toThrow('img: file is 0 bytes, too short for the 4-byte IDX magic number');
  });

  it('gzip-compressed file', () => {
    expect(() => parseIdx(fixture('tiny-labels-idx1-ubyte.gz'), 'train-labels-idx1-ubyte.gz')).toThrow(
      'train-labels-idx1-ubyte.gz: this file is gzip-compressed (starts with 1f 8b); gunzip it first.',
    );
  });

  it('bad magic: not IDX, unknown dtype, zero dimensions', () => {
    const html = new TextEncoder().encode('<!DOCTYPE html><html>404</html>');
    expect(() => parseIdx(html, 'labels')).toThrow(/^labels: bad magic number 0x3c21444f; an IDX file starts with two zero bytes/);
    expect(() => parseIdx(header(0x0a01, 0), 'f')).toThrow('f: magic 0x00000a01 has unknown dtype code 0x0a');
    expect(() => parseIdx(header(0x0800), 'f')).toThrow('f: magic 0x00000800 declares 0 dimensions');
  });

  it('wrong dimensions or dtype for what the caller expects', () => {
    expect(() => parseIdx(fixture('tiny-labels-idx1-ubyte'), 'train-images-idx3-ubyte', { dtype: 'u8', ndim: 3 })).toThrow(
      'train-images-idx3-ubyte: expected a 3-dimensional IDX file (magic 0x00000803) but magic 0x00000801 declares 1 dimensions; are the images and labels files swapped?',
    );
    expect(() => parseIdx(fixture('f32-idx2'), 'imgs', { dtype: 'u8' })).toThrow('imgs: expected u8 elements but magic 0x00000d02 declares f32');
  });
});
