/**
 * The in-library self-test: every kernel family's GPU-vs-CPU checks, runnable anywhere the library runs
 * (`await selfTest(engine)` in a page, or `wgtrain selftest`). The kernels a layer kind owns come with its module
 * (LayerKind.selfChecks, src/layers); the shared families (gather, softmax, losses, reductions, matmul, the
 * minimizers' vector algebra) are listed here.
 */
import type { Engine } from '../gpu/index.js';
import { mulberry32 } from '../testing/random.js';
import { observeComparisons, worstComparison, type ComparisonReport } from '../testing/observe.js';
import { layerKinds } from '../layers/registry.js';
import { matmulChecks } from './matmul.js';
import { batchChecks } from './batch.js';
import { lossChecks } from './loss.js';
import { reduceChecks } from './reduce.js';
import { gradNormChecks } from './gradnorms.js';
import { softmaxChecks } from './softmax.js';
import { vectorChecks } from './vector.js';
import type { SelfCheck } from './types.js';

export type { SelfCheck } from './types.js';

export const SELF_CHECKS: SelfCheck[] = [
  ...layerKinds().flatMap((k) => k.selfChecks ?? []),
  ...batchChecks, ...softmaxChecks, ...lossChecks, ...reduceChecks, ...gradNormChecks, ...matmulChecks, ...vectorChecks,
];

export interface SelfTestResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
  /** Comparisons the check made, and the one that came closest to its tolerance (see testing/observe.ts). */
  comparisons: number;
  worst?: ComparisonReport;
}

export interface SelfTestOptions {
  /** Seeds the random inputs (default: the clock). */
  seed?: number;
  /** Runs only the checks whose name matches. */
  filter?: RegExp;
  /** Called as each check finishes: its result, how many have finished and how many will run. */
  onResult?: (result: SelfTestResult, done: number, total: number) => void;
}

/**
 * A check's closest call in words: `max error 3.1e-7 where 1.2e-6 is allowed (26%, what)`, or `exact: …` when every
 * element matched; empty when it compared nothing.
 */
export function describeWorst(r: SelfTestResult): string {
  const w = r.worst;
  if (!w) return '';
  if (w.error === 0) return `exact: every element equal to the reference (${r.comparisons} comparison${r.comparisons === 1 ? '' : 's'})`;
  const pct = Number.isFinite(w.ratio) ? `${(100 * w.ratio).toPrecision(2)}%` : String(w.ratio);
  return `max error ${w.error.toExponential(1)} where ${w.allowed.toExponential(1)} is allowed (${pct}, ${w.what})`;
}

/** The checks `selfTest` would run with this filter, in order. */
export function selectChecks(filter?: RegExp): SelfCheck[] {
  return filter ? SELF_CHECKS.filter((c) => filter.test(c.name)) : SELF_CHECKS;
}

export async function selfTest(engine: Engine, opts: SelfTestOptions = {}): Promise<SelfTestResult[]> {
  const rand = mulberry32(opts.seed ?? Date.now() % 2 ** 31);
  const checks = selectChecks(opts.filter);
  const out: SelfTestResult[] = [];
  for (const c of checks) {
    const reports: ComparisonReport[] = [];
    const t0 = performance.now();
    let error: string | undefined;
    try {
      await observeComparisons(() => c.run(engine, rand), (r) => reports.push(r));
    } catch (e) {
      error = (e as Error).message;
    }
    const worst = worstComparison(reports);
    const result: SelfTestResult = {
      name: c.name, ok: error === undefined, ms: performance.now() - t0, comparisons: reports.length,
      ...(worst ? { worst } : {}), ...(error !== undefined ? { error } : {}),
    };
    out.push(result);
    opts.onResult?.(result, out.length, checks.length);
  }
  return out;
}
