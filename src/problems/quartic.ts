/**
 * The course's quartic: f(x) = 319/8400·x⁴ + 43/4200·x³ − 6799/8400·x² − 299/840·x + 6, a 1-D function with a local
 * minimum at x ≈ −3.2550 (f ≈ 2.4929), a local maximum near −0.220 and the global minimum at x ≈ 3.2728 (f ≈ 0.8812).
 * The course uses it to show that plain gradient descent from x₀ = −5 settles in the local minimum while momentum
 * (μ = 0.9) carries the iterate over the hump into the global one.
 *
 * Operation order (shaders/closed_form.wgsl), Horner's scheme with coefficients rounded once to the dtype:
 *   f = (((A4·x + A3)·x + A2)·x + A1)·x + A0      A4 = 319/8400, A3 = 43/4200, A2 = −6799/8400, A1 = −299/840, A0 = 6
 *   g = ((D3·x + D2)·x + D1)·x + A1               D3 = 4·A4 = 319/2100, D2 = 3·A3 = 43/1400, D1 = 2·A2
 *   H = (H2·x + H1)·x + D1                        H2 = 12·A4 = 319/700, H1 = 6·A3 = 43/700
 */
import { closedFormProblem } from './closed-form.js';

const A4 = 319 / 8400, A3 = 43 / 4200, A2 = -6799 / 8400, A1 = -299 / 840, A0 = 6;
const D3 = 319 / 2100, D2 = 43 / 1400, D1 = -6799 / 4200;
const H2 = 319 / 700, H1 = 43 / 700;

/** Horner's scheme over `coefficients` (highest degree first), every operation rounded. */
function horner(coefficients: number[], x: number, r: (v: number) => number): number {
  let acc = r(coefficients[0]!);
  for (const c of coefficients.slice(1)) acc = r(r(acc * x) + r(c));
  return acc;
}

export const quartic = closedFormProblem({
  name: 'quartic',
  dim: 1,
  formula: 'f(x) = 319/8400·x⁴ + 43/4200·x³ − 6799/8400·x² − 299/840·x + 6',
  value([x], r, g) {
    if (g) g.push(horner([D3, D2, D1, A1], x!, r));
    return horner([A4, A3, A2, A1, A0], x!, r);
  },
  hessian: ([x], r) => [horner([H2, H1, D1], x!, r)],
  starts: [[-5], [5]],
  known: [
    { x: [3.272765339558436], f: 0.8812471800601571, kind: 'global minimum' },
    { x: [-3.2549937308592534], f: 2.4928824573455466, kind: 'local minimum' },
  ],
  window: [[-6, 6]],
});
