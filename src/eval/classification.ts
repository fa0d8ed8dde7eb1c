/**
 * What a classifier gets wrong, from its class probabilities (Trainer.predictProba) or outputs and the true labels:
 * the predicted classes, a confusion matrix, per-class accuracy, and the most confident mistakes.
 *
 *   const probs = await trainer.predictProba(test);                 // N×K
 *   const predicted = argmaxRows(probs, 10);
 *   const cm = confusionMatrix(test.labels!, predicted, 10);        // cm[t·K + p]: examples of class t predicted p
 *   const worst = confidentMistakes(probs, test.labels!, 10, 16);   // wrong and sure of it, surest first
 */

/** The index of the largest value of each row of an N×K row-major array (the first on ties; NaN never wins). */
export function argmaxRows(values: ArrayLike<number>, k: number): Int32Array {
  checkWidth(values.length, k, 'argmaxRows');
  const n = values.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (values[i * k + j]! > values[i * k + best]! || Number.isNaN(values[i * k + best]!)) best = j;
    out[i] = best;
  }
  return out;
}

/** K×K counts, row-major: entry [t·K + p] is the number of examples of true class t predicted as p. */
export function confusionMatrix(labels: ArrayLike<number>, predicted: ArrayLike<number>, k: number): Uint32Array {
  if (labels.length !== predicted.length) throw new RangeError(`confusionMatrix: ${labels.length} labels but ${predicted.length} predictions`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`confusionMatrix: the number of classes must be a positive integer, got ${k}`);
  const m = new Uint32Array(k * k);
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i]!;
    const p = predicted[i]!;
    if (!(Number.isInteger(t) && t >= 0 && t < k)) throw new RangeError(`confusionMatrix: label ${t} at ${i} is not a class in [0, ${k})`);
    if (!(Number.isInteger(p) && p >= 0 && p < k)) throw new RangeError(`confusionMatrix: prediction ${p} at ${i} is not a class in [0, ${k})`);
    m[t * k + p]!++;
  }
  return m;
}

/** Fraction correct per true class (the diagonal over the row sums); NaN for a class with no examples. */
export function perClassAccuracy(matrix: ArrayLike<number>, k: number): number[] {
  checkWidth(matrix.length, k, 'perClassAccuracy');
  return Array.from({ length: k }, (_, t) => {
    let row = 0;
    for (let p = 0; p < k; p++) row += matrix[t * k + p]!;
    return row ? matrix[t * k + t]! / row : NaN;
  });
}

export interface Mistake {
  /** Position of the example in the evaluated set. */
  index: number;
  label: number;
  predicted: number;
  /** Probability the model gave its (wrong) prediction, and the true class. */
  confidence: number;
  trueProbability: number;
}

/** Up to `count` wrongly classified examples, most confident first (ties: lower index first). */
export function confidentMistakes(probs: ArrayLike<number>, labels: ArrayLike<number>, k: number, count: number): Mistake[] {
  checkWidth(probs.length, k, 'confidentMistakes');
  const n = probs.length / k;
  if (labels.length !== n) throw new RangeError(`confidentMistakes: ${labels.length} labels for ${n} rows of probabilities`);
  const predicted = argmaxRows(probs, k);
  const out: Mistake[] = [];
  for (let i = 0; i < n; i++) {
    const p = predicted[i]!;
    const t = labels[i]!;
    if (p !== t) out.push({ index: i, label: t, predicted: p, confidence: probs[i * k + p]!, trueProbability: probs[i * k + t]! });
  }
  out.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return out.slice(0, Math.max(0, count));
}

function checkWidth(length: number, k: number, what: string): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`${what}: the row width must be a positive integer, got ${k}`);
  if (length % k !== 0) throw new RangeError(`${what}: ${length} values is not a whole number of rows of ${k}`);
}
