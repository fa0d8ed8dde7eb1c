/**
 * Rosenbrock's banana: f(x0, x1) = (1 − x0)² + 100·(x1 − x0²)², minimum f = 0 at (1, 1) at the end of a long curved
 * valley; the classic test of whether a method follows curvature. Standard start (−1.2, 1) (Rosenbrock 1960).
 *
 * Operation order (the definition, shaders/closed_form.wgsl; each operation rounded in the dtype):
 *   a = 1 − x0,  r = x1 − x0·x0,  f = a·a + 100·(r·r)
 *   g0 = (−2·a) − 400·(x0·r),  g1 = 200·r
 *   H = [[(1200·(x0·x0) − 400·x1) + 2, −400·x0], [−400·x0, 200]]
 * scripts/torch_traces.py evaluates it in the same order in torch, so traces compare number for number.
 */
import { closedFormProblem } from './closed-form.js';

export const rosenbrock2d = closedFormProblem({
  name: 'rosenbrock2d',
  dim: 2,
  formula: 'f(x, y) = (1 − x)² + 100·(y − x²)²',
  value([x0, x1], r, g) {
    const a = r(1 - x0!);
    const res = r(x1! - r(x0! * x0!));
    if (g) g.push(r(r(-2 * a) - r(400 * r(x0! * res))), r(200 * res));
    return r(r(a * a) + r(100 * r(res * res)));
  },
  hessian: ([x0, x1], r) => [r(r(r(1200 * r(x0! * x0!)) - r(400 * x1!)) + 2), r(-400 * x0!), 200],
  starts: [[-1.2, 1], [0, 0], [2, 2], [-1.5, 2.5]],
  known: [{ x: [1, 1], f: 0, kind: 'global minimum' }],
  window: [[-2, 2], [-1, 3]],
});
