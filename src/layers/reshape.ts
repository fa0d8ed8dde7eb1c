/**
 * Reshape: the same values per example under another shape, e.g. (N, 784) → (N, 1, 28, 28) before a convolution,
 * or back to (N, F) before a Dense layer. One entry may be −1: it is inferred from the input's size. Activations are
 * row-major, so a reshape moves no data: on the GPU its output is its input's buffer (`aliasesInput`) and it plans
 * no ops; on the CPU it passes the array through.
 */
import { formatCall } from './args.js';
import { shapeSize, showShape, type CpuLayer, type GpuLayer, type LayerKind } from './layer.js';

export interface ReshapeSpec {
  type: 'reshape';
  /** Per-example shape of the output. */
  shape: number[];
}

export type ReshapeInput = ReshapeSpec;

/** Builder: `reshape(1, 28, 28)`, `reshape(-1)` (flatten). */
export function reshape(...shape: number[]): ReshapeInput {
  return { type: 'reshape', shape };
}

/** The CPU and GPU parts of a layer whose output is its input's memory under another shape (reshape, flatten). */
export const ALIAS_CPU: CpuLayer<unknown> = {
  forward: (_s, c) => ({ y: c.x }),
  backward: (_s, c) => (c.needsDx ? c.dy : undefined),
};
export const ALIAS_GPU: GpuLayer<unknown> = {
  aliasesInput: () => true,
  forward: async () => [],
  backward: async () => [],
};

export const reshapeLayer: LayerKind<ReshapeSpec, ReshapeInput> = {
  type: 'reshape',
  summary: 'the same values under another per-example shape (no data moves)',
  syntax: {
    names: ['reshape'],
    help: [['reshape(D1[,D2,...])', 'the same values per example as shape D1×D2×...; one Di may be -1 (inferred)']],
    parse(name, args) {
      if (Object.keys(args.named).length) throw new Error(`${name}: takes only sizes, e.g. reshape(1,28,28)`);
      if (!args.positional.length) throw new Error(`${name}: give the shape, e.g. reshape(1,28,28)`);
      return reshape(...args.positional.map(Number));
    },
    format: (s) => formatCall('reshape', s.shape),
  },
  resolve(l, site) {
    const dims = l.shape;
    if (!Array.isArray(dims) || dims.length === 0 || !dims.every((d) => d === -1 || (Number.isInteger(d) && d >= 1))) {
      throw new Error(`shape must be a list of positive integers, with at most one -1 (got ${JSON.stringify(dims)})`);
    }
    if (dims.filter((d) => d === -1).length > 1) throw new Error(`shape ${JSON.stringify(dims)} has more than one -1`);
    const n = shapeSize(site.input);
    const known = dims.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const shape = dims.map((d) => (d === -1 ? n / known : d));
    if (!shape.every((d) => Number.isInteger(d) && d >= 1) || shapeSize(shape) !== n) {
      throw new Error(`cannot reshape ${showShape(site.input)} (${n} values per example) to (N, ${dims.join(', ')})`);
    }
    return { type: 'reshape', shape };
  },
  outputShape: (s) => s.shape,
  label: () => 'reshape',
  cpu: ALIAS_CPU,
  gpu: ALIAS_GPU,
};
