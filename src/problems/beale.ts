/**
 * Beale's function: f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)², minimum f = 0 at (3, 0.5),
 * with flat plateaus and steep ridges (and a saddle at (0, 1)). Standard start (1, 1). From starts with x < 0 and
 * y > 1 the iterates of most methods run off along the valley y → 1, x → −∞ where f tends to 0.4531.
 *
 * Operation order (shaders/closed_form.wgsl; each operation rounded in the dtype):
 *   y2 = y·y,  y3 = y2·y,  t1 = (1.5 − x) + x·y,  t2 = (2.25 − x) + x·y2,  t3 = (2.625 − x) + x·y3
 *   f = (t1·t1 + t2·t2) + t3·t3
 *   u = (y − 1, y2 − 1, y3 − 1) = ∂t/∂x,   w = (x, 2·(x·y), 3·(x·y2)) = ∂t/∂y
 *   g0 = 2·((t1·u1 + t2·u2) + t3·u3),  g1 = 2·((t1·w1 + t2·w2) + t3·w3)
 *   Hxx = 2·((u1·u1 + u2·u2) + u3·u3)
 *   Hxy = 2·(((w1·u1 + t1) + (w2·u2 + t2·(2·y))) + (w3·u3 + t3·(3·y2)))
 *   Hyy = 2·((w1·w1 + (w2·w2 + t2·(2·x))) + (w3·w3 + t3·(6·(x·y))))
 */
import { closedFormProblem } from './closed-form.js';

function terms(x: number, y: number, r: (v: number) => number) {
  const y2 = r(y * y);
  const y3 = r(y2 * y);
  const t = [r(r(1.5 - x) + r(x * y)), r(r(2.25 - x) + r(x * y2)), r(r(2.625 - x) + r(x * y3))] as const;
  const u = [r(y - 1), r(y2 - 1), r(y3 - 1)] as const;
  const w = [x, r(2 * r(x * y)), r(3 * r(x * y2))] as const;
  return { t, u, w, y2 };
}

/** ((a0·b0 + a1·b1) + a2·b2), rounded at each step. */
function dot3(a: readonly number[], b: readonly number[], r: (v: number) => number): number {
  return r(r(r(a[0]! * b[0]!) + r(a[1]! * b[1]!)) + r(a[2]! * b[2]!));
}

export const beale = closedFormProblem({
  name: 'beale',
  dim: 2,
  formula: 'f(x, y) = (1.5 − x + x·y)² + (2.25 − x + x·y²)² + (2.625 − x + x·y³)²',
  value([x, y], r, g) {
    const { t, u, w } = terms(x!, y!, r);
    if (g) g.push(r(2 * dot3(t, u, r)), r(2 * dot3(t, w, r)));
    return dot3(t, t, r);
  },
  hessian([x, y], r) {
    const { t, u, w, y2 } = terms(x!, y!, r);
    const hxx = r(2 * dot3(u, u, r));
    const hxy = r(2 * r(r(r(r(w[0] * u[0]) + t[0]) + r(r(w[1] * u[1]) + r(t[1] * r(2 * y!)))) + r(r(w[2] * u[2]) + r(t[2] * r(3 * y2)))));
    const hyy = r(2 * r(r(r(w[0] * w[0]) + r(r(w[1] * w[1]) + r(t[1] * r(2 * x!)))) + r(r(w[2] * w[2]) + r(t[2] * r(6 * r(x! * y!))))));
    return [hxx, hxy, hyy];
  },
  starts: [[1, 1], [0, 0], [2.5, -0.5]],
  known: [
    { x: [3, 0.5], f: 0, kind: 'global minimum' },
    { x: [0, 1], f: 14.203125, kind: 'saddle point' },
  ],
  window: [[-4.5, 4.5], [-4.5, 4.5]],
});
