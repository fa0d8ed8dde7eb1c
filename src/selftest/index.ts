/**
 * The in-library self-test: every kernel family's GPU-vs-CPU checks, runnable anywhere the library runs
 * (`await selfTest(engine)` in a page, or `wgtrain selftest`). The kernels a layer kind owns come with its module
 * (LayerKind.selfChecks, src/layers); the shared families (gather, softmax, losses, reductions, matmul, the
 * minimizers' vector algebra) are listed here.
 */
import type { Engine } from '../gpu/index.js';
import { mulberry32 } from '../testing/random.js';
import { layerKinds } from '../layers/registry.js';
import { matmulChecks } from './matmul.js';
import { batchChecks } from './batch.js';
import { lossChecks } from './loss.js';
import { reduceChecks } from './reduce.js';
import { softmaxChecks } from './softmax.js';
import { vectorChecks } from './vector.js';
import type { SelfCheck } from './types.js';

export type { SelfCheck } from './types.js';

export const SELF_CHECKS: SelfCheck[] = [
  ...layerKinds().flatMap((k) => k.selfChecks ?? []),
  ...batchChecks, ...softmaxChecks, ...lossChecks, ...reduceChecks, ...matmulChecks, ...vectorChecks,
];

export interface SelfTestResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export async function selfTest(engine: Engine, opts: { seed?: number; filter?: RegExp } = {}): Promise<SelfTestResult[]> {
  const rand = mulberry32(opts.seed ?? Date.now() % 2 ** 31);
  const out: SelfTestResult[] = [];
  for (const c of SELF_CHECKS) {
    if (opts.filter && !opts.filter.test(c.name)) continue;
    const t0 = performance.now();
    try {
      await c.run(engine, rand);
      out.push({ name: c.name, ok: true, ms: performance.now() - t0 });
    } catch (e) {
      out.push({ name: c.name, ok: false, ms: performance.now() - t0, error: (e as Error).message });
    }
  }
  return out;
}
