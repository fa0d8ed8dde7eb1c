/**
 * SGD — stochastic gradient descent with optional momentum (heavy ball or Nesterov), dampening and weight decay.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   if momentum μ ≠ 0:
 *     b_t ← g                      (t = 1)
 *     b_t ← μ b_{t−1} + (1 − τ) g  (t > 1, dampening τ)
 *     g ← g + μ b_t if nesterov, else g ← b_t
 *   θ_t ← θ_{t−1} − γ g
 *
 * Defaults (torch.optim.SGD): lr 1e-3 (torch ≥ 2.x; torch 1.13 required it), momentum 0, dampening 0,
 * weight_decay 0, nesterov false, maximize false. State: `momentum_buffer` (only with momentum ≠ 0).
 * Papers: Polyak 1964 (heavy ball); Sutskever et al. 2013, "On the importance of initialization and momentum".
 *
 * Relation to the course material: its momentum form x ← x − α f'(x) + μ Δx_prev (μ times the previous step) is
 * this rule with dampening 0: torch keeps b = Σ μ^k g and steps −γ b, so the previous step is −γ b_{t−1} and
 * θ_t = θ_{t−1} − γ g + μ (θ_{t−1} − θ_{t−2}). Its Nesterov form evaluates the gradient at the look-ahead point
 * θ + μ v; torch's form is the same algorithm after the change of variables θ' = θ + μ v (Sutskever et al. §3.5):
 * the parameters torch stores are the look-ahead points, hence g + μ b instead of a gradient at a shifted point.
 * Differences from PyTorch: none intended.
 */
import { defineRule, nonNegative, num, flag, type StepContext } from './rule.js';

export const sgd = defineRule({
  name: 'SGD',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-3, check: nonNegative('lr') },
    { name: 'momentum', kind: 'number', default: 0, check: nonNegative('momentum') },
    { name: 'dampening', kind: 'number', default: 0 },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'nesterov', kind: 'boolean', default: false },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: (h) => (num(h, 'momentum') !== 0 ? ['momentum_buffer'] : []),
  crossCheck: (h) =>
    flag(h, 'nesterov') && (num(h, 'momentum') <= 0 || num(h, 'dampening') !== 0)
      ? 'nesterov momentum requires a momentum > 0 and zero dampening'
      : undefined,
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const lr = r(num(h, 'lr'));
    const wd = r(num(h, 'weight_decay'));
    const mom = r(num(h, 'momentum'));
    const keep = r(1 - num(h, 'dampening'));
    const nesterov = flag(h, 'nesterov');
    const sign = flag(h, 'maximize') ? -1 : 1;
    const buf = slots.momentum_buffer;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      if (buf) {
        buf[i] = t === 1 ? d : r(r(mom * buf[i]!) + keep * d);
        d = nesterov ? r(d + mom * buf[i]!) : buf[i]!;
      }
      p[i] = r(p[i]! - lr * d);
    }
  },
});
