/**
 * Flatten: (N, C, H, W) — or any per-example shape — to (N, C·H·W), in row-major order (torch.nn.Flatten), e.g.
 * between the convolutions and the Dense layers of a CNN. The same as reshape(-1): it moves no data (`aliasesInput`:
 * no op and no buffer on the GPU; the CPU passes the array through).
 */
import { bindArgs } from './args.js';
import { shapeSize, type LayerKind } from './layer.js';
import { ALIAS_CPU, ALIAS_GPU } from './reshape.js';

export interface FlattenSpec {
  type: 'flatten';
}

export type FlattenInput = FlattenSpec;

/** Builder: `flatten()`. */
export function flatten(): FlattenInput {
  return { type: 'flatten' };
}

export const flattenLayer: LayerKind<FlattenSpec, FlattenInput> = {
  type: 'flatten',
  summary: 'the per-example values as one vector: (N, C, H, W) → (N, C·H·W), no data moves',
  syntax: {
    names: ['flatten'],
    help: [['flatten', '(N, C, H, W) → (N, C·H·W); the same as reshape(-1)']],
    parse(name, args) {
      bindArgs(name, args, []);
      return flatten();
    },
    format: () => 'flatten',
  },
  resolve: () => flatten(),
  outputShape: (_s, input) => [shapeSize(input)],
  label: () => 'flatten',
  cpu: ALIAS_CPU,
  gpu: ALIAS_GPU,
};
