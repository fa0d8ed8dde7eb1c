/**
 * Where every parameter lives in the one flat parameter buffer (and the flat gradient buffer, same layout).
 *
 * Tensors start at multiples of 64 floats (256 bytes, WebGPU's minStorageBufferOffsetAlignment), so each can be
 * bound as its own buffer range. Padding elements have zero gradient forever and stay zero under every optimizer.
 * Each layer kind declares its tensors (src/layers: `params`, `stats`); they are named `layers.<index>.<role>`.
 * Parameters are laid out group by group, because an optimizer parameter group is a contiguous range, and within a
 * group by layer, each layer's tensors in its declaration order:
 *   group 0 'decay'    — weights (Dense): weight decay / L2 applies;
 *   group 1 'no_decay' — biases and normalisation scales and shifts (BatchNorm γ, β): no decay, as is customary.
 * Non-trainable state (BatchNorm running mean and variance) lives in a second flat buffer, `stats`: each layer's
 * statistics adjacent in declaration order (a kernel can bind them as one range), each layer's block starting at a
 * multiple of 64 floats.
 */
import { modelLayers, type ModelSpec } from './spec.js';

export const ALIGN_FLOATS = 64;

/** A parameter's name within its layer (weight, bias, gamma, beta, ...). */
export type ParamRole = string;
/** A statistic's name within its layer (running_mean, running_var, ...). */
export type StatRole = string;

export interface TensorSlot<R extends string = string> {
  /** e.g. `layers.0.weight` (index of the layer in ModelSpec.layers). */
  name: string;
  layer: number;
  role: R;
  shape: number[];
  /** Offset in floats into the flat buffer (parameters: a multiple of ALIGN_FLOATS). */
  offset: number;
  size: number;
}

export interface ParamGroupRange {
  name: 'decay' | 'no_decay';
  start: number;
  end: number;
}

export interface ParamLayout {
  params: TensorSlot<ParamRole>[];
  /** Length of the flat parameter buffer in floats (padding included). */
  n: number;
  /** Contiguous groups tiling [0, n). An empty group is omitted. */
  groups: ParamGroupRange[];
  stats: TensorSlot<StatRole>[];
  nStats: number;
}

const alignUp = (n: number): number => Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;
const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export function layoutModel(m: ModelSpec): ParamLayout {
  const layers = modelLayers(m);
  const params: TensorSlot<ParamRole>[] = [];
  const groups: ParamGroupRange[] = [];
  let n = 0;
  for (const group of ['decay', 'no_decay'] as const) {
    const start = n;
    for (const l of layers) {
      for (const d of l.kind.params?.(l.spec, l.input) ?? []) {
        if (d.group !== group) continue;
        const size = sizeOf(d.shape);
        params.push({ name: `layers.${l.index}.${d.role}`, layer: l.index, role: d.role, shape: d.shape, offset: n, size });
        n = alignUp(n + size);
      }
    }
    if (n > start) groups.push({ name: group, start, end: n });
  }
  const stats: TensorSlot<StatRole>[] = [];
  let nStats = 0;
  for (const l of layers) {
    const decls = l.kind.stats?.(l.spec, l.input) ?? [];
    if (!decls.length) continue;
    let at = nStats;
    for (const d of decls) {
      const size = sizeOf(d.shape);
      stats.push({ name: `layers.${l.index}.${d.role}`, layer: l.index, role: d.role, shape: d.shape, offset: at, size });
      at += size;
    }
    nStats = alignUp(at);
  }
  return { params, n, groups, stats, nStats };
}

/** The slot of a layer's parameter, or undefined. */
export function paramSlot(layout: ParamLayout, layer: number, role: ParamRole): TensorSlot<ParamRole> | undefined {
  return layout.params.find((p) => p.layer === layer && p.role === role);
}

export function statSlot(layout: ParamLayout, layer: number, role: StatRole): TensorSlot<StatRole> | undefined {
  return layout.stats.find((p) => p.layer === layer && p.role === role);
}

/** A layer's statistics as one range [offset, offset + size) of the stats buffer (they are adjacent), or undefined. */
export function statBlock(layout: ParamLayout, layer: number): { offset: number; size: number } | undefined {
  const slots = layout.stats.filter((s) => s.layer === layer);
  if (!slots.length) return undefined;
  return { offset: slots[0]!.offset, size: slots.reduce((a, s) => a + s.size, 0) };
}
