/**
 * What the CPU runner will allocate, checked against the host's memory before anything is allocated (the CPU
 * counterpart of gpu-limits.ts). Without it a model too large for the host fails inside a typed-array constructor
 * ("RangeError: Array buffer allocation failed" or "Invalid typed array length"), or is allocated into swap and then
 * spends minutes initialising weights that can never be trained.
 *
 * The estimate, in the runner's dtype (4 bytes float32, 8 float64), n parameters, B the batch size:
 *   parameters, gradients                   2 · n
 *   the optimizer's per-element state        slots · n    (torch's state: Adam 2, SGD with momentum 1, ...)
 *   initial weights (float32, transient)     n            (4 bytes whatever the dtype)
 *   BatchNorm running statistics             nStats
 *   one step's activations                   3 · B · Σ layer widths  (forward outputs kept for backward, their
 *                                                          gradients, and the normalised input batch)
 * Full-batch methods keep their own vectors (L-BFGS: 2 · history_size of them) on top, in the method.
 * The limit is the machine's memory (Node: os.totalmem(), or the process's cgroup limit when lower), or
 * `memoryLimit` given to createCpuRunner; where neither is known (browsers tell no such number) only the JavaScript
 * engine's own refusal is caught, and reported the same way.
 */
import type { ParamLayout } from '../model/layout.js';
import { inputShape, modelLayers } from '../model/spec.js';
import { isFullBatchMethod } from '../minimize/methods.js';
import { getRule } from '../optim/registry.js';
import { resolveHyperparams } from '../optim/rule.js';
import type { Dtype } from '../ref/dtype.js';
import { formatBytes } from './gpu-limits.js';
import type { RunnerConfig } from './runner.js';

export interface CpuRunnerEstimate {
  /** Bytes in all, and the parts of it. */
  bytes: number;
  model: number;
  activations: number;
  slots: number;
}

/** The host memory the CPU runner for `config` needs (see the module comment). */
export function estimateCpuRunner(config: RunnerConfig, layout: ParamLayout, dtype: Dtype): CpuRunnerEstimate {
  const b = dtype === 'float64' ? 8 : 4;
  const name = config.optimizer.name;
  const slots = isFullBatchMethod(name)
    ? 0
    : getRule(name).slots(resolveHyperparams(getRule(name), (config.optimizer.hyperparams ?? {}) as Record<string, unknown>)).length;
  const size = (shape: readonly number[]) => shape.reduce((x, y) => x * y, 1);
  const widths = size(inputShape(config.model)) + modelLayers(config.model).reduce((a, l) => a + size(l.output), 0);
  const model = (2 + slots) * layout.n * b + layout.n * 4 + layout.nStats * b;
  const activations = 3 * config.batchSize * widths * b;
  return { bytes: model + activations, model, activations, slots };
}

/** The host's memory as the platform tells it, or undefined (browsers; Node before 20.16). */
export function hostMemory(): { bytes: number; what: string } | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown; constrainedMemory?: () => number | undefined } }).process;
  const os = proc?.getBuiltinModule?.('os') as { totalmem?: () => number } | undefined;
  const total = os?.totalmem?.();
  if (!(total !== undefined && total > 0)) return undefined;
  // A cgroup (container) limit below the machine's memory is the real one; none reads as 0 or as about 2^64.
  const limit = proc?.constrainedMemory?.();
  if (limit !== undefined && limit > 0 && limit < total) return { bytes: limit, what: "this process's memory limit (cgroup)" };
  return { bytes: total, what: "this machine's memory" };
}

/**
 * Throws a RangeError naming the model's size, the estimate, the limit and what to change when the CPU runner for
 * `config` would not fit in `limit` bytes (default: hostMemory()). Returns the estimate.
 */
export function checkCpuRunnerFits(config: RunnerConfig, layout: ParamLayout, dtype: Dtype, limit?: number): CpuRunnerEstimate {
  const e = estimateCpuRunner(config, layout, dtype);
  const host = limit !== undefined ? { bytes: limit, what: 'the memoryLimit given' } : hostMemory();
  if (host && e.bytes > host.bytes) throw new RangeError(`${describeNeed(config, layout, dtype, e)}, but ${host.what} is ${formatBytes(host.bytes)}; ${fixes(dtype)}`);
  return e;
}

/** The error for an allocation the JavaScript engine refused anyway (its own array limits, or memory it lacked). */
export function cpuAllocationError(config: RunnerConfig, layout: ParamLayout, dtype: Dtype, cause: Error): RangeError {
  const e = estimateCpuRunner(config, layout, dtype);
  return new RangeError(`${describeNeed(config, layout, dtype, e)}, and the JavaScript engine refused it (${cause.message}); ${fixes(dtype)}`);
}

function describeNeed(config: RunnerConfig, layout: ParamLayout, dtype: Dtype, e: CpuRunnerEstimate): string {
  const optimizer = e.slots ? ` and ${e.slots} ${config.optimizer.name} state slot${e.slots > 1 ? 's' : ''}` : '';
  return (
    `the model (${layout.n.toLocaleString('en-US')} parameters) needs about ${formatBytes(e.bytes)} of host memory on the CPU runner ` +
    `in ${dtype} (parameters, gradients${optimizer}: ${formatBytes(e.model)}; activations for a batch of ${config.batchSize}: ${formatBytes(e.activations)})`
  );
}

function fixes(dtype: Dtype): string {
  return `use a smaller model or batch size${dtype === 'float64' ? ', float32' : ''}, or train on the GPU (createGpuRunner; the CLI's --device gpu)`;
}
