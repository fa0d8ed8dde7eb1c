/**
 * The model's loss on the CPU: mean over the batch of the per-row loss, its gradient w.r.t. the model output, and
 * the correct-prediction count — composed from the references of softmax.wgsl and loss.wgsl.
 */
import type { Loss } from '../shared.js';
import { allocate, type Dtype, type FloatArray } from './dtype.js';
import { INVALID_FLAG, crossEntropyRef } from './softmax.js';
import { bceWithLogitsRef, mseRef } from './loss.js';

export type LossTargets = { labels: ArrayLike<number> } | { values: ArrayLike<number> };

export interface LossValue {
  lossSum: number;
  /** Σ over rows of |loss_i|, the scale of lossSum's rounding error (= lossSum: every loss here is ≥ 0). */
  lossAbs: number;
  correct: number;
  dOut: FloatArray;
}

export function lossRef(loss: Loss, out: FloatArray, targets: LossTargets, rows: number, cols: number, dtype: Dtype): LossValue {
  if (loss === 'softmax_ce') {
    if (!('labels' in targets)) throw new Error('softmax_ce needs integer labels');
    const ce = crossEntropyRef(out, targets.labels, rows, cols, dtype, 1 / rows);
    let lossSum = 0;
    let lossAbs = 0;
    let correct = 0;
    for (let i = 0; i < rows; i++) {
      if (ce.flags[i] === INVALID_FLAG) throw new Error(`label ${targets.labels[i]} of row ${i} is outside [0, ${cols})`);
      lossSum += ce.loss[i]!;
      lossAbs += Math.abs(ce.loss[i]!);
      correct += ce.flags[i]!;
    }
    return { lossSum, lossAbs, correct, dOut: ce.dz };
  }
  if (!('values' in targets)) throw new Error(`${loss} needs float targets`);
  const res = loss === 'mse' ? mseRef(out, targets.values, rows, cols, dtype) : bceWithLogitsRef(out, targets.values, rows, cols, dtype);
  let lossSum = 0;
  let lossAbs = 0;
  let correct = 0;
  for (let i = 0; i < rows; i++) {
    lossSum += res.loss[i]!;
    lossAbs += Math.abs(res.loss[i]!);
    correct += res.flags ? res.flags[i]! : 0;
  }
  const dOut = allocate(dtype, rows * cols);
  dOut.set(res.dz);
  return { lossSum, lossAbs, correct: loss === 'mse' ? NaN : correct, dOut };
}
