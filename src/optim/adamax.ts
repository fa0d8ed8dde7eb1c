/**
 * Adamax — Adam with the second moment replaced by an exponentially weighted infinity norm.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   m_t ← β₁ m_{t−1} + (1 − β₁) g
 *   u_t ← max(β₂ u_{t−1}, |g| + ε)
 *   θ_t ← θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / u_t
 *
 * Defaults (torch.optim.Adamax): lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, maximize false.
 * State: `exp_avg` (m), `exp_inf` (u). Paper: Kingma & Ba 2014, §7.1. ε inside the max (torch's placement) keeps
 * u_t > 0 for zero gradients. Differences from PyTorch: none intended.
 */
import { defineRule, betaPair, nonNegative, num, flag, pair, type StepContext } from './rule.js';

export const adamax = defineRule({
  name: 'Adamax',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 2e-3, check: nonNegative('lr') },
    { name: 'betas', kind: 'pair', default: [0.9, 0.999], check: betaPair },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: () => ['exp_avg', 'exp_inf'],
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const [b1, b2] = pair(h, 'betas');
    const clr = r(num(h, 'lr') / (1 - b1 ** t));
    const beta1 = r(b1), beta2 = r(b2), c1 = r(1 - b1);
    const eps = r(num(h, 'eps'));
    const wd = r(num(h, 'weight_decay'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const m = slots.exp_avg!;
    const u = slots.exp_inf!;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      m[i] = r(r(beta1 * m[i]!) + c1 * d);
      u[i] = Math.max(r(beta2 * u[i]!), r(Math.abs(d) + eps));
      p[i] = r(p[i]! - r(r(clr * m[i]!) / u[i]!));
    }
  },
});
