/** argmaxRows, confusionMatrix, perClassAccuracy and confidentMistakes on small hand-checked cases. */
import { describe, expect, it } from 'vitest';
import { argmaxRows, confidentMistakes, confusionMatrix, perClassAccuracy } from '../src/eval/classification.js';

// 5 examples, 3 classes; labels 0 1 2 2 1.
const probs = [
  0.7, 0.2, 0.1, // predicted 0, right
  0.1, 0.3, 0.6, // predicted 2, wrong (0.6)
  0.2, 0.2, 0.6, // predicted 2, right
  0.05, 0.9, 0.05, // predicted 1, wrong (0.9)
  0.5, 0.5, 0.0, // tie: predicted 0 (first), wrong (0.5)
];
const labels = [0, 1, 2, 2, 1];

describe('classification summaries', () => {
  it('argmaxRows takes the first of equal values and never NaN', () => {
    expect([...argmaxRows(probs, 3)]).toEqual([0, 2, 2, 1, 0]);
    expect([...argmaxRows([NaN, 1, 0], 3)]).toEqual([1]);
    expect(() => argmaxRows([1, 2, 3, 4], 3)).toThrow(/not a whole number of rows of 3/);
  });

  it('confusionMatrix counts true class by row, prediction by column', () => {
    const m = confusionMatrix(labels, argmaxRows(probs, 3), 3);
    expect([...m]).toEqual([1, 0, 0, /**/ 1, 0, 1, /**/ 0, 1, 1]);
    expect(perClassAccuracy(m, 3)).toEqual([1, 0, 0.5]);
    expect(perClassAccuracy(new Uint32Array(4), 2).every(Number.isNaN)).toBe(true);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/label 3 at 1 is not a class in \[0, 3\)/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/1 labels but 2 predictions/);
  });

  it('confidentMistakes: wrong ones only, surest first, with the true class probability', () => {
    expect(confidentMistakes(probs, labels, 3, 10)).toEqual([
      { index: 3, label: 2, predicted: 1, confidence: 0.9, trueProbability: 0.05 },
      { index: 1, label: 1, predicted: 2, confidence: 0.6, trueProbability: 0.3 },
      { index: 4, label: 1, predicted: 0, confidence: 0.5, trueProbability: 0.5 },
    ]);
    expect(confidentMistakes(probs, labels, 3, 1).map((m) => m.index)).toEqual([3]);
  });
});
