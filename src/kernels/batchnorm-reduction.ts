/**
 * How BatchNorm's training kernels (BatchNorm1d: kernels/batchnorm.ts, BatchNorm2d: kernels/batchnorm2d.ts) reduce
 * each channel's values: in one pass per channel ('single'), or cut into K chunks reduced side by side, then merged
 * ('split': one more dispatch, K times the parallelism). Each kernel module picks per adapter and size; an op's
 * `reduction` option, or `setBatchNormReduction` for every op planned on an engine afterwards (a runner's whole
 * plan, in tests), forces a form.
 */
import type { Engine } from '../gpu/index.js';

export type BatchNormReduction = 'single' | 'split';

/** How one planned op reduces: K chunks of L values per channel (single: K = 1, L = m). */
export interface BatchNormReductionPlan {
  form: BatchNormReduction;
  /** K */
  chunks: number;
  /** L: values per chunk; the last chunk holds m − (K − 1)·L ≥ 1. */
  chunk: number;
}

/** An op's options that force its form (BatchNorm2d's and BatchNorm1d's shapes carry them). */
export interface BatchNormForm {
  /** Default: the kernel module's rule for the adapter and size. */
  reduction?: BatchNormReduction;
  /** Split form: about this many chunks per channel (see `splitPlan`); default: the kernel module's rule. */
  chunks?: number;
}

/** The plan as profiles show it (an op's `detail`): 'single' or 'split K×L'. */
export function describeReduction(plan: BatchNormReductionPlan): string {
  return plan.form === 'split' ? `split ${plan.chunks}×${plan.chunk}` : 'single';
}

const forced = new WeakMap<Engine, BatchNormReduction>();

/** Forces the form of every BatchNorm op planned on `engine` from now on ('auto': each op's own rule again). */
export function setBatchNormReduction(engine: Engine, form: BatchNormReduction | 'auto'): void {
  if (form === 'auto') forced.delete(engine);
  else if (form === 'single' || form === 'split') forced.set(engine, form);
  else throw new RangeError(`setBatchNormReduction: '${String(form)}' is not one of 'single', 'split', 'auto'`);
}

/**
 * The plan of an op over m values per channel: its `reduction`, else the engine's forced form, else 'split' where
 * the kernel's rule `splits` (never on software adapters); a split in `form.chunks` chunks, else `defaultChunks`.
 */
export function planReduction(what: string, engine: Engine, form: BatchNormForm, m: number, splits: boolean, defaultChunks: number): BatchNormReductionPlan {
  const option = form.reduction;
  if (option !== undefined && option !== 'single' && option !== 'split') throw new RangeError(`${what}: reduction '${String(option)}' must be 'single' or 'split'`);
  const chosen = option ?? forced.get(engine) ?? (!engine.software && splits ? 'split' : 'single');
  if (chosen === 'single') {
    if (form.chunks !== undefined) throw new RangeError(`${what}: chunks ${form.chunks} is for reduction 'split', not 'single'`);
    return { form: chosen, chunks: 1, chunk: m };
  }
  return splitPlan(what, m, form.chunks ?? defaultChunks, engine.limits.maxComputeWorkgroupsPerDimension);
}

/**
 * K chunks of L values over m values for about `chunks` chunks: L = ⌈m / chunks⌉, K = ⌈m / L⌉ (so no chunk is
 * empty; K may come out below the request, e.g. m = 10 in 6 chunks is 5 chunks of 2).
 */
export function splitPlan(what: string, m: number, chunks: number, maxChunks: number): BatchNormReductionPlan {
  if (!Number.isInteger(chunks) || chunks < 1 || chunks > m) throw new RangeError(`${what}: chunks ${chunks} must be an integer in [1, ${m}] (values per channel)`);
  const chunk = Math.ceil(m / chunks);
  const K = Math.ceil(m / chunk);
  if (K > maxChunks) throw new RangeError(`${what}: ${K} chunks exceed the adapter's ${maxChunks} workgroups per dimension; ask for fewer`);
  return { form: 'split', chunks: K, chunk };
}
