/**
 * Gradient norms for monitoring: the TypeScript side of shaders/gradnorms.wgsl (math and caveats in its header).
 *
 *   const norms = await GradNormsOp.plan(e, { buffer: grads, groups: [{ ranges: [[0, 200704], [200768, 201024]] }, …] });
 *   norms.encode(pass);                        // once per step, after the backward pass: 3 dispatches
 *   … copy norms.acc out and clear it (the metrics ring does both) …
 *   norms.decode(bytes)                        // { global, groups } as NormSummary: mean, max, last, steps
 *
 * A StatsOp (reduce.wgsl) writes the sum of squares of every range; `gradnorm_accumulate` turns each group's into a
 * norm and accumulates the window's mean and max in `acc` on the GPU. Nothing is read back per step.
 */
import reduceSrc from '../../shaders/reduce.wgsl';
import src from '../../shaders/gradnorms.wgsl';
import { defineKernel, UniformBlock, type Engine, type Kernel, type StructLayout, type UniformBuffer } from '../gpu/index.js';
import { StatsOp, type Range } from './reduce.js';
import type { NormSummary } from '../ref/gradnorms.js';

export type { NormSummary } from '../ref/gradnorms.js';

export const gradnormAccumulateKernel = defineKernel({
  label: 'gradnorms.accumulate',
  files: [{ file: 'reduce.wgsl', text: reduceSrc }, { file: 'gradnorms.wgsl', text: src }],
  entry: 'gradnorm_accumulate',
  bindings: { gp: 'uniform', group_table: 'read', stats_in: 'read', norms: 'read_write' },
});

const WG = 64;

export interface GradNormGroup {
  /** Element ranges [start, end) of the buffer that make up this group (e.g. one layer's weight and bias). */
  ranges: ReadonlyArray<Range>;
}

export class GradNormsOp {
  private constructor(
    private readonly stats: StatsOp,
    private readonly kernel: Kernel,
    private readonly group: GPUBindGroup,
    private readonly owned: { destroy(): void }[],
    /** G + 1 accumulators [global, group 0, …] (NormAcc records); zero it to start a window. */
    readonly acc: GPUBuffer,
    /** Bytes of `acc`. */
    readonly bytes: number,
    private readonly layout: StructLayout,
    readonly groups: number,
  ) {}

  /** `stats`: the buffer for the per-range records (tests poison it); by default the op makes its own. */
  static async plan(engine: Engine, o: { buffer: GPUBuffer; groups: GradNormGroup[]; label?: string; stats?: GPUBuffer }): Promise<GradNormsOp> {
    const label = o.label ?? 'gradnorms';
    if (o.groups.length === 0) throw new RangeError('GradNormsOp: no groups to measure');
    const ranges: Range[] = [];
    const table: number[] = [];
    for (const g of o.groups) {
      const first = 1 + ranges.length; // record 0 is the global one
      ranges.push(...g.ranges);
      table.push(first, 1 + ranges.length);
    }
    const stats = await StatsOp.plan(engine, { inputs: [{ buffer: o.buffer, ranges }], label: `${label}.stats`, ...(o.stats ? { stats: o.stats } : {}) });
    const kernel = await engine.kernel(gradnormAccumulateKernel);
    const layout = accLayout(engine);
    const G = o.groups.length;
    const bytes = (G + 1) * layout.size;
    const acc = engine.storage(`${label}.acc`, bytes);
    const tableBuf = engine.storage(`${label}.groups`, new Uint32Array(table));
    const u: UniformBuffer = kernel.uniforms('gp', `${label}.gp`).set({ groups: G });
    u.write();
    const group = kernel.bind({ gp: u.buffer, group_table: tableBuf, stats_in: stats.stats, norms: acc });
    return new GradNormsOp(stats, kernel, group, [stats, tableBuf, u, acc], acc, bytes, layout, G);
  }

  encode(pass: GPUComputePassEncoder): void {
    this.stats.encode(pass);
    this.kernel.dispatch1d(pass, this.group, Math.ceil((this.groups + 1) / WG));
  }

  /** The accumulators as read back from `acc`: the global norm and each group's, over the window's steps. */
  decode(bytes: ArrayBuffer): { global: NormSummary; groups: NormSummary[] } {
    const out: NormSummary[] = [];
    for (let i = 0; i <= this.groups; i++) {
      const b = new UniformBlock(this.layout, bytes, i * this.layout.size);
      const steps = b.get('steps');
      const nonfinite = b.get('nonfinite');
      const bad = nonfinite > 0;
      const finite = steps - nonfinite;
      out.push({
        mean: bad ? Infinity : finite > 0 ? b.get('sum') / finite : NaN,
        max: bad ? Infinity : finite > 0 ? b.get('max') : NaN,
        last: b.get('last_bad') ? Infinity : b.get('last'),
        steps,
        nonfinite,
      });
    }
    return { global: out[0]!, groups: out.slice(1) };
  }

  destroy(): void {
    for (const o of this.owned) o.destroy();
  }
}

/** Byte layout of one NormAcc record, reflected from the shader. */
function accLayout(engine: Engine): StructLayout {
  const s = engine.reflect(gradnormAccumulateKernel).structs['NormAcc'];
  if (!s) throw new Error('gradnorms.wgsl: struct NormAcc not found');
  return s;
}
