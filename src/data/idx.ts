/**
 * IDX file format (LeCun's MNIST format), browser-safe.
 *
 * Layout: magic (4 bytes: 0x00 0x00 dtype ndim), then ndim big-endian u32 dimensions, then the
 * product(dims) elements, big-endian, row-major. dtype codes: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
 * 0x0D f32, 0x0E f64. MNIST images are 0x00000803 (u8, 3 dims), labels 0x00000801 (u8, 1 dim).
 */

export type IdxDtype = 'u8' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
export type IdxArray = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxTensor {
  dtype: IdxDtype;
  shape: number[];
  /** Row-major elements in native byte order. For u8 this is a view into the parsed bytes, not a copy. */
  data: IdxArray;
}

interface DtypeInfo {
  code: number;
  size: number;
  make: (n: number) => IdxArray;
}

const DTYPES: Record<IdxDtype, DtypeInfo> = {
  u8: { code: 0x08, size: 1, make: (n) => new Uint8Array(n) },
  i8: { code: 0x09, size: 1, make: (n) => new Int8Array(n) },
  i16: { code: 0x0b, size: 2, make: (n) => new Int16Array(n) },
  i32: { code: 0x0c, size: 4, make: (n) => new Int32Array(n) },
  f32: { code: 0x0d, size: 4, make: (n) => new Float32Array(n) },
  f64: { code: 0x0e, size: 8, make: (n) => new Float64Array(n) },
};

const BY_CODE = new Map(Object.entries(DTYPES).map(([name, info]) => [info.code, name as IdxDtype]));

export interface IdxExpectation {
  dtype?: IdxDtype;
  ndim?: number;
}

/**
 * Parses an IDX file. `name` (the file name) starts every error message; `expect` adds dtype / rank checks, so
 * that swapping an images file for a labels file is reported as such rather than as a shape error later.
 */
export function parseIdx(bytes: Uint8Array, name = 'IDX data', expect: IdxExpectation = {}): IdxTensor {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new Error(`${name}: this file is gzip-compressed (starts with 1f 8b); gunzip it first.`);
  }
  if (bytes.length < 4) {
    throw new Error(`${name}: file is ${bytes.length} bytes, too short for the 4-byte IDX magic number; empty or truncated download?`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const magicHex = `0x${magic.toString(16).padStart(8, '0')}`;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(
      `${name}: bad magic number ${magicHex}; an IDX file starts with two zero bytes, a dtype byte and a rank byte (e.g. 0x00000803 for MNIST images). Is this an IDX file?`,
    );
  }
  const dtype = BY_CODE.get(bytes[2]!);
  if (dtype === undefined) {
    throw new Error(
      `${name}: magic ${magicHex} has unknown dtype code 0x${bytes[2]!.toString(16).padStart(2, '0')}; IDX defines 0x08 u8, 0x09 i8, 0x0b i16, 0x0c i32, 0x0d f32, 0x0e f64.`,
    );
  }
  const ndim = bytes[3]!;
  if (ndim === 0) throw new Error(`${name}: magic ${magicHex} declares 0 dimensions; an IDX file needs at least one.`);
  if (expect.dtype !== undefined && expect.dtype !== dtype) {
    throw new Error(`${name}: expected ${expect.dtype} elements but magic ${magicHex} declares ${dtype}; wrong file?`);
  }
  if (expect.ndim !== undefined && expect.ndim !== ndim) {
    const want = `0x0000${DTYPES[expect.dtype ?? dtype].code.toString(16).padStart(2, '0')}${expect.ndim.toString(16).padStart(2, '0')}`;
    throw new Error(
      `${name}: expected a ${expect.ndim}-dimensional IDX file (magic ${want}) but magic ${magicHex} declares ${ndim} dimensions; are the images and labels files swapped?`,
    );
  }
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new Error(
      `${name}: file is ${bytes.length} bytes but a ${ndim}-dimensional IDX header needs ${headerBytes} bytes; truncated download?`,
    );
  }
  const shape: number[] = [];
  for (let d = 0; d < ndim; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const { size, make } = DTYPES[dtype];
  const count = shape.reduce((a, b) => a * b, 1);
  const dataBytes = count * size;
  if (bytes.length !== headerBytes + dataBytes) {
    const declared = `${shape.join('×')}${size > 1 ? ` ${dtype} (${size} bytes each)` : ''} = ${dataBytes} bytes of data + ${headerBytes} header bytes (${dataBytes + headerBytes} in all)`;
    const hint = bytes.length < headerBytes + dataBytes ? 'truncated download?' : 'trailing bytes; wrong dimensions or two files concatenated?';
    throw new Error(`${name}: file is ${bytes.length} bytes but header declares ${declared}; ${hint}`);
  }
  if (dtype === 'u8') {
    return { dtype, shape, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerBytes, count) };
  }
  const data = make(count);
  const read = elementReader(dtype, view);
  for (let i = 0, at = headerBytes; i < count; i++, at += size) data[i] = read(at);
  return { dtype, shape, data };
}

/** Encodes a tensor as an IDX file (big-endian), the inverse of `parseIdx`. */
export function encodeIdx(tensor: IdxTensor): Uint8Array {
  const info = DTYPES[tensor.dtype];
  if (info === undefined) throw new Error(`encodeIdx: unknown dtype ${JSON.stringify(tensor.dtype)}; use one of ${Object.keys(DTYPES).join(', ')}.`);
  const { shape, data } = tensor;
  if (shape.length < 1 || shape.length > 255) throw new Error(`encodeIdx: rank ${shape.length} is outside IDX's 1..255.`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new Error(`encodeIdx: dimension ${d} in shape [${shape}] is not a u32.`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (data.length !== count) throw new Error(`encodeIdx: shape [${shape}] holds ${count} elements but data has ${data.length}.`);
  const headerBytes = 4 + 4 * shape.length;
  const out = new Uint8Array(headerBytes + count * info.size);
  const view = new DataView(out.buffer);
  out[2] = info.code;
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const write = elementWriter(tensor.dtype, view);
  for (let i = 0, at = headerBytes; i < count; i++, at += info.size) write(at, data[i]!);
  return out;
}

function elementReader(dtype: IdxDtype, v: DataView): (at: number) => number {
  switch (dtype) {
    case 'u8': return (at) => v.getUint8(at);
    case 'i8': return (at) => v.getInt8(at);
    case 'i16': return (at) => v.getInt16(at, false);
    case 'i32': return (at) => v.getInt32(at, false);
    case 'f32': return (at) => v.getFloat32(at, false);
    case 'f64': return (at) => v.getFloat64(at, false);
  }
}

function elementWriter(dtype: IdxDtype, v: DataView): (at: number, x: number) => void {
  switch (dtype) {
    case 'u8': return (at, x) => v.setUint8(at, x);
    case 'i8': return (at, x) => v.setInt8(at, x);
    case 'i16': return (at, x) => v.setInt16(at, x, false);
    case 'i32': return (at, x) => v.setInt32(at, x, false);
    case 'f32': return (at, x) => v.setFloat32(at, x, false);
    case 'f64': return (at, x) => v.setFloat64(at, x, false);
  }
}
