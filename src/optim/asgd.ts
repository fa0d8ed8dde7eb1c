/**
 * ASGD — averaged stochastic gradient descent (SGD with a decaying step size and Polyak–Ruppert averaging).
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λ_w θ_{t−1} if weight_decay λ_w ≠ 0
 *   θ_t ← θ_{t−1} (1 − λ η_{t−1}) − η_{t−1} g                     (lambd λ, η_0 = lr)
 *   a_t ← θ_t if μ_{t−1} = 1, else a_{t−1} + μ_{t−1} (θ_t − a_{t−1})   (ax, μ_0 = 1)
 *   η_t ← γ / (1 + λ γ t)^α;   μ_t ← 1 / max(1, t − t₀)
 *
 * Defaults (torch.optim.ASGD): lr 1e-2, lambd 1e-4, alpha 0.75, t0 1e6, weight_decay 0, maximize false.
 * State: `ax` (the average — the output of the method, not the parameters), scalars `eta` and `mu` per group.
 * Paper: Polyak & Juditsky 1992, "Acceleration of Stochastic Approximation by Averaging".
 * Differences from PyTorch: none intended (η, μ are updated after the parameter step, as in torch).
 */
import { defineRule, nonNegative, num, flag, type StepContext } from './rule.js';

export const asgd = defineRule({
  name: 'ASGD',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-2, check: nonNegative('lr') },
    { name: 'lambd', kind: 'number', default: 1e-4, check: nonNegative('lambd') },
    { name: 'alpha', kind: 'number', default: 0.75, check: nonNegative('alpha') },
    { name: 't0', kind: 'number', default: 1e6, check: nonNegative('t0') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: () => ['ax'],
  scalars: (h) => ({ eta: num(h, 'lr'), mu: 1 }),
  step({ p, g, slots, scalars, start, end, h, t, r }: StepContext) {
    const lr = num(h, 'lr');
    const lambd = num(h, 'lambd');
    // eta and mu are state, stored at the working precision (torch keeps them as tensors).
    const eta = r(scalars.eta!);
    const mu = r(scalars.mu!);
    const shrink = r(1 - lambd * eta);
    const wd = r(num(h, 'weight_decay'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const ax = slots.ax!;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      p[i] = r(p[i]! * shrink);
      p[i] = r(p[i]! - eta * d);
      ax[i] = mu !== 1 ? r(ax[i]! + r(r(p[i]! - ax[i]!) * mu)) : p[i]!;
    }
    scalars.eta = r(lr / (1 + lambd * lr * t) ** num(h, 'alpha'));
    scalars.mu = r(1 / Math.max(1, t - num(h, 't0')));
  },
});
