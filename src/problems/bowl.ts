/**
 * The course's bowl: f(x, y) = x² + xy + y², a convex quadratic with its minimum f = 0 at the origin and Hessian
 * [[2, 1], [1, 2]] (eigenvalues 1 and 3).
 *
 * Operation order (shaders/closed_form.wgsl, each operation rounded in the dtype):
 *   f = (x·x + x·y) + y·y,   g = ((2·x) + y,  x + (2·y)),   H = [[2, 1], [1, 2]]
 */
import { closedFormProblem } from './closed-form.js';

export const bowl = closedFormProblem({
  name: 'bowl',
  dim: 2,
  formula: 'f(x, y) = x² + x·y + y²',
  value([x, y], r, g) {
    if (g) g.push(r(r(2 * x!) + y!), r(x! + r(2 * y!)));
    return r(r(r(x! * x!) + r(x! * y!)) + r(y! * y!));
  },
  hessian: () => [2, 1, 2],
  starts: [[3, -2], [-4, 1]],
  known: [{ x: [0, 0], f: 0, kind: 'global minimum' }],
  window: [[-5, 5], [-5, 5]],
});
