/**
 * Reductions on the GPU: the TypeScript side of shaders/reduce.wgsl (math, passes, accuracy in its header).
 *
 *   const bias = await ColumnSumOp.plan(e, { rows: B, cols: N, x: dY, out: db });          // 1 dispatch
 *   const norms = await StatsOp.plan(e, { inputs: [{ buffer: grads, ranges: rangesFromOffsets(layerOffsets) }] });
 *   e.run('step', (pass) => { bias.encode(pass); norms.encode(pass); });                  // 1 + 1 per input buffer
 *   // norms.stats holds [global, range 0, range 1, ...] as `Stats` records; a later kernel (gradient clipping) can
 *   // read stats[0].norm on the GPU; `readStats(e, norms.stats, norms.records)` for logging.
 */
import src from '../../shaders/reduce.wgsl';
import { defineKernel, UniformBlock, type Engine, type Kernel, type StructLayout, type UniformBuffer } from '../gpu/index.js';
import type { RangeStats } from '../ref/reduce.js';

export type { RangeStats } from '../ref/reduce.js';

const files = [{ file: 'reduce.wgsl', text: src }];

export const colsumKernel = defineKernel({
  label: 'reduce.colsum',
  files,
  entry: 'colsum',
  bindings: { cp: 'uniform', xc: 'read', cout: 'read_write' },
});

export const statsPartialKernel = defineKernel({
  label: 'reduce.stats_partial',
  files,
  entry: 'stats_partial',
  bindings: { sp: 'uniform', data: 'read', chunk_table: 'read', parts: 'read_write' },
});

export const statsFinalKernel = defineKernel({
  label: 'reduce.stats_final',
  files,
  entry: 'stats_final',
  bindings: { fp: 'uniform', range_table: 'read', parts_in: 'read', stats: 'read_write' },
});

/** Columns per colsum workgroup (no barriers there). */
const WG = 256;
/**
 * Workgroup sizes of the two stats passes. Hardware: 256 / 64 (16 elements per invocation with the default chunk).
 * Software adapters (SwiftShader) pay ~10 ms per 256-wide workgroup for its barriers; 16-wide groups are ~4x cheaper.
 */
function statsWorkgroups(engine: Engine): { wg: number; fwg: number } {
  return engine.software ? { wg: 16, fwg: 16 } : { wg: 256, fwg: 64 };
}
/** Default elements per stats_partial workgroup. */
export const DEFAULT_CHUNK = 4096;

/** out_j = Σ_i x_ij (beta = 0, written) or β·out_j + Σ_i x_ij (accumulated) for a rows×cols matrix. */
export class ColumnSumOp {
  private constructor(
    private readonly kernel: Kernel,
    private readonly group: GPUBindGroup,
    private readonly uniforms: UniformBuffer,
    private readonly cols: number,
  ) {}

  static async plan(engine: Engine, o: { rows: number; cols: number; x: GPUBuffer; out: GPUBuffer; beta?: number }): Promise<ColumnSumOp> {
    for (const [k, v] of [['rows', o.rows], ['cols', o.cols]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`ColumnSumOp: ${k} must be a non-negative integer, got ${v}`);
    }
    const k = await engine.kernel(colsumKernel, { WG });
    const u = k.uniforms('cp').set({ rows: o.rows, cols: o.cols, beta: o.beta ?? 0 });
    u.write();
    return new ColumnSumOp(k, k.bind({ cp: u.buffer, xc: o.x, cout: o.out }), u, o.cols);
  }

  /** Changes β for later submits (e.g. 0 for the first micro-batch, 1 for the next ones). */
  setBeta(beta: number): void {
    this.uniforms.set({ beta }).write();
  }

  encode(pass: GPUComputePassEncoder): void {
    this.kernel.dispatch1d(pass, this.group, Math.ceil(this.cols / WG));
  }

  destroy(): void {
    this.uniforms.destroy();
  }
}

export type Range = readonly [start: number, end: number];

/** Consecutive ranges [o0, o1), [o1, o2), ... from an offset table (e.g. a flat parameter layout's layer offsets). */
export function rangesFromOffsets(offsets: ArrayLike<number>): Range[] {
  const out: Range[] = [];
  for (let r = 0; r + 1 < offsets.length; r++) out.push([offsets[r]!, offsets[r + 1]!]);
  return out;
}

export interface StatsInput {
  buffer: GPUBuffer;
  /** Element ranges of this buffer; default: the whole buffer as one range. */
  ranges?: ReadonlyArray<Range>;
}

/**
 * Statistics (sum, sum of squares, L2 norm, max-abs, non-finite count and first index) of element ranges of one or
 * more f32 buffers: `stats` holds `records` = 1 + R `Stats` records, [global, range 0, ..., range R−1], in the order
 * the inputs and their ranges were given. encode() records one stats_partial dispatch per input buffer (skipped when
 * it has no elements) and one stats_final dispatch. Tables are built once at plan time.
 */
export class StatsOp {
  private constructor(
    private readonly steps: { kernel: Kernel; group: GPUBindGroup; groups: number }[],
    private readonly owned: { destroy(): void }[],
    readonly stats: GPUBuffer,
    readonly records: number,
    readonly roundingChains: number[],
  ) {}

  /**
   * `chunk`: elements per first-pass workgroup (default 4096); `workgroups`: override the adapter-based choice of the
   * two passes' workgroup sizes (powers of two; for tests of both variants).
   *
   * `roundingChains[k]`: for record k, the most additions any one element's contribution passes through on its way
   * into `sum` (the n of src/testing/sums.ts; `sumsq` adds one for the square). The passes and the workgroup-memory
   * trees fix the shape, which no compiler may reorder; within one invocation's loop any order is allowed, so a loop
   * counts its full length: ⌈chunk/WG⌉ (first pass) + log2 WG + ⌈chunks of the range / FWG⌉ (final pass) + log2 FWG,
   * and for the global record one more per range. No compensation is assumed (see reduce.wgsl).
   */
  static async plan(
    engine: Engine,
    o: { inputs: StatsInput[]; stats?: GPUBuffer; chunk?: number; label?: string; workgroups?: { wg: number; fwg: number } },
  ): Promise<StatsOp> {
    const chunk = o.chunk ?? DEFAULT_CHUNK;
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`StatsOp: chunk must be a positive integer, got ${chunk}`);
    const { wg, fwg } = o.workgroups ?? statsWorkgroups(engine);
    for (const w of [wg, fwg]) if (!(Number.isInteger(w) && w >= 1 && (w & (w - 1)) === 0)) throw new RangeError(`StatsOp: workgroup size ${w} is not a power of two`);
    const label = o.label ?? 'stats';
    const partial = await engine.kernel(statsPartialKernel, { WG: wg });
    const final = await engine.kernel(statsFinalKernel, { FWG: fwg });
    const owned: { destroy(): void }[] = [];
    const steps: { kernel: Kernel; group: GPUBindGroup; groups: number }[] = [];
    const rangeTable: number[] = [];
    const chunkTables: number[][] = [];
    let chunks = 0;
    let flat = 0;
    const chains: number[] = [];
    for (const inp of o.inputs) {
      const n = inp.buffer.size / 4;
      const ranges = inp.ranges ?? [[0, n] as const];
      const table: number[] = [];
      for (const [start, end] of ranges) {
        if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
          throw new RangeError(`StatsOp: range [${start}, ${end}) is not inside buffer '${inp.buffer.label}' of ${n} elements`);
        }
        const first = chunks + table.length / 4;
        for (let s = start; s < end; s += chunk) table.push(s, Math.min(s + chunk, end), start, 0);
        rangeTable.push(first, chunks + table.length / 4, end - start, flat);
        const rangeChunks = chunks + table.length / 4 - first;
        chains.push(Math.ceil(Math.min(chunk, end - start) / wg) + Math.log2(wg) + Math.ceil(rangeChunks / fwg) + Math.log2(fwg));
        flat += end - start;
      }
      chunkTables.push(table);
      chunks += table.length / 4;
    }
    const layout = statsLayout(engine);
    const parts = engine.storage(`${label}.partials`, Math.max(1, chunks) * layout.size);
    owned.push(parts);
    let base = 0;
    o.inputs.forEach((inp, b) => {
      const table = chunkTables[b]!;
      const count = table.length / 4;
      if (count === 0) return;
      const tb = engine.storage(`${label}.chunks${b}`, new Uint32Array(table));
      const u = partial.uniforms('sp', `${label}.sp${b}`).set({ chunks: count, part_base: base });
      u.write();
      owned.push(tb, u);
      steps.push({ kernel: partial, group: partial.bind({ sp: u.buffer, data: inp.buffer, chunk_table: tb, parts }), groups: count });
      base += count;
    });
    const R = rangeTable.length / 4;
    const records = R + 1;
    const stats = o.stats ?? engine.storage(`${label}.stats`, records * layout.size);
    if (o.stats) {
      if (o.stats.size < records * layout.size) throw new RangeError(`StatsOp: stats buffer holds < ${records} records of ${layout.size} bytes`);
    } else owned.push(stats);
    const rt = engine.storage(`${label}.ranges`, new Uint32Array(rangeTable.length ? rangeTable : [0, 0, 0, 0]));
    const uf = final.uniforms('fp', `${label}.fp`).set({ ranges: R });
    uf.write();
    owned.push(rt, uf);
    steps.push({ kernel: final, group: final.bind({ fp: uf.buffer, range_table: rt, parts_in: parts, stats }), groups: 1 });
    return new StatsOp(steps, owned, stats, records, [Math.max(0, ...chains) + R, ...chains]);
  }

  encode(pass: GPUComputePassEncoder): void {
    for (const s of this.steps) s.kernel.dispatch1d(pass, s.group, s.groups);
  }

  /** Destroys the tables, partials, uniforms, and the stats buffer if this op created it. */
  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

/** Byte layout of one `Stats` record (its size is the array stride), reflected from the shader. */
export function statsLayout(engine: Engine): StructLayout {
  const s = engine.reflect(statsFinalKernel).structs['Stats'];
  if (!s) throw new Error('reduce.wgsl: struct Stats not found');
  return s;
}

/** Reads `records` Stats records back (for logging and tests — not inside a step). firstNonfinite is −1 when none. */
export async function readStats(engine: Engine, stats: GPUBuffer, records: number): Promise<RangeStats[]> {
  const layout = statsLayout(engine);
  const bytes = await engine.read(stats, 0, records * layout.size);
  const out: RangeStats[] = [];
  for (let r = 0; r < records; r++) {
    const b = new UniformBlock(layout, bytes, r * layout.size);
    const first = b.get('first_nonfinite');
    out.push({
      sum: b.get('sum'),
      sumsq: b.get('sumsq'),
      norm: b.get('norm'),
      maxabs: b.get('maxabs'),
      count: b.get('count'),
      nonfinite: b.get('nonfinite'),
      firstNonfinite: first === 0xffffffff ? -1 : first,
    });
  }
  return out;
}
