/** Points the consumer app predicts on (no labels); test/browser-package.test.ts bounds the predictions at them. */
export const PROBE: number[][] = [[0, 0], [0.5, 0.1], [-0.5, -0.1], [0.2, -0.7], [-0.3, 0.6], [0.9, 0.9]];
