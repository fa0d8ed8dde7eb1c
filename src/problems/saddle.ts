/**
 * A saddle: f(x, y) = x² − y², with a saddle point at the origin and no minimum (f → −∞ along y). It shows how
 * methods treat negative curvature: gradient descent started near y = 0 slides off along y; a pure Newton step jumps
 * to the saddle point, which is why Newton's method needs a trust region or damping.
 *
 * Operation order (shaders/closed_form.wgsl):  f = x·x − y·y,  g = (2·x, −2·y),  H = [[2, 0], [0, −2]]
 */
import { closedFormProblem } from './closed-form.js';

export const saddle = closedFormProblem({
  name: 'saddle',
  dim: 2,
  formula: 'f(x, y) = x² − y²',
  value([x, y], r, g) {
    if (g) g.push(r(2 * x!), r(-2 * y!));
    return r(r(x! * x!) - r(y! * y!));
  },
  hessian: () => [2, 0, -2],
  starts: [[1, 0.01], [-2, -0.5]],
  known: [{ x: [0, 0], f: 0, kind: 'saddle point' }],
  window: [[-2, 2], [-2, 2]],
});
