/**
 * Where every parameter lives in the one flat parameter buffer (and the flat gradient buffer, same layout).
 *
 * Tensors start at multiples of 64 floats (256 bytes, WebGPU's minStorageBufferOffsetAlignment), so each can be
 * bound as its own buffer range. Padding elements have zero gradient forever and stay zero under every optimizer.
 * Parameters are laid out group by group, because an optimizer parameter group is a contiguous range:
 *   group 0 'decay'    — Dense weights (weight decay / L2 applies);
 *   group 1 'no_decay' — Dense biases and BatchNorm γ, β (no decay, as is customary).
 * Non-trainable state (BatchNorm running mean and variance) lives in a second flat buffer, `stats`: per layer
 * [running_mean (F), running_var (F)] adjacent, each layer's pair starting at a multiple of 64 floats.
 */
import type { ModelSpec } from './spec.js';

export const ALIGN_FLOATS = 64;

export type ParamRole = 'weight' | 'bias' | 'gamma' | 'beta';
export type StatRole = 'running_mean' | 'running_var';

export interface TensorSlot<R extends string = string> {
  /** e.g. `layers.0.weight` (index of the layer in ModelSpec.layers). */
  name: string;
  layer: number;
  role: R;
  shape: number[];
  /** Offset in floats into the flat buffer (a multiple of ALIGN_FLOATS). */
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

export function layoutModel(m: ModelSpec): ParamLayout {
  const params: TensorSlot<ParamRole>[] = [];
  let n = 0;
  const place = (layer: number, role: ParamRole, shape: number[]) => {
    const size = shape.reduce((a, b) => a * b, 1);
    params.push({ name: `layers.${layer}.${role}`, layer, role, shape, offset: n, size });
    n = alignUp(n + size);
  };
  m.layers.forEach((l, i) => {
    if (l.type === 'dense') place(i, 'weight', [l.inputs, l.outputs]);
  });
  const decayEnd = n;
  m.layers.forEach((l, i) => {
    if (l.type === 'dense' && l.bias) place(i, 'bias', [l.outputs]);
    if (l.type === 'batchnorm') {
      place(i, 'gamma', [l.features]);
      place(i, 'beta', [l.features]);
    }
  });
  const groups: ParamGroupRange[] = [];
  if (decayEnd > 0) groups.push({ name: 'decay', start: 0, end: decayEnd });
  if (n > decayEnd) groups.push({ name: 'no_decay', start: decayEnd, end: n });
  // running_mean and running_var of one layer are adjacent (the BatchNorm kernels bind them as one [2F] range).
  const stats: TensorSlot<StatRole>[] = [];
  let nStats = 0;
  m.layers.forEach((l, i) => {
    if (l.type !== 'batchnorm') return;
    stats.push({ name: `layers.${i}.running_mean`, layer: i, role: 'running_mean', shape: [l.features], offset: nStats, size: l.features });
    stats.push({ name: `layers.${i}.running_var`, layer: i, role: 'running_var', shape: [l.features], offset: nStats + l.features, size: l.features });
    nStats = alignUp(nStats + 2 * l.features);
  });
  return { params, n, groups, stats, nStats };
}

/** The slot of a layer's parameter, or undefined. */
export function paramSlot(layout: ParamLayout, layer: number, role: ParamRole): TensorSlot<ParamRole> | undefined {
  return layout.params.find((p) => p.layer === layer && p.role === role);
}

export function statSlot(layout: ParamLayout, layer: number, role: StatRole): TensorSlot<StatRole> | undefined {
  return layout.stats.find((p) => p.layer === layer && p.role === role);
}
