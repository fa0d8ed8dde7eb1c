/**
 * NAdam — Adam with Nesterov momentum and Dozat's momentum schedule (torch ≥ 2.0 formula).
 *
 *   g ← ∇f(θ_{t−1});  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   μ_t ← β₁ (1 − ½·0.96^{tψ}),  μ_{t+1} ← β₁ (1 − ½·0.96^{(t+1)ψ})      (momentum_decay ψ)
 *   Π_t ← Π_{t−1} μ_t   (mu_product, Π_0 = 1)
 *   m_t ← β₁ m_{t−1} + (1 − β₁) g;   v_t ← β₂ v_{t−1} + (1 − β₂) g²
 *   d ← √(v_t / (1 − β₂ᵗ)) + ε
 *   θ_t ← θ_{t−1} − γ (1 − μ_t)/(1 − Π_t) · g/d − γ μ_{t+1}/(1 − Π_t μ_{t+1}) · m_t/d
 *
 * Defaults (torch.optim.NAdam): lr 2e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, momentum_decay 4e-3.
 * State: `exp_avg`, `exp_avg_sq`, and the scalar `mu_product`. Paper: Dozat 2016, "Incorporating Nesterov Momentum
 * into Adam". The look-ahead of Nesterov momentum appears as the μ_{t+1} m_t term: the step uses the momentum one
 * step ahead instead of evaluating the gradient at a shifted point (see sgd.ts for the change of variables).
 * Differences from PyTorch: torch 1.13's single-tensor path used 1 − Π_t instead of 1 − Π_t μ_{t+1} in the second
 * term (fixed in 2.0); this module follows 2.0. Options added after 2.0 (decoupled_weight_decay, maximize) are absent.
 */
import { defineRule, betaPair, nonNegative, num, pair, type StepContext } from './rule.js';

export const nadam = defineRule({
  name: 'NAdam',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 2e-3, check: nonNegative('lr') },
    { name: 'betas', kind: 'pair', default: [0.9, 0.999], check: betaPair },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'momentum_decay', kind: 'number', default: 4e-3, check: nonNegative('momentum_decay') },
  ],
  slots: () => ['exp_avg', 'exp_avg_sq'],
  scalars: () => ({ mu_product: 1 }),
  step({ p, g, slots, scalars, start, end, h, t, r }: StepContext) {
    const [b1, b2] = pair(h, 'betas');
    const psi = num(h, 'momentum_decay');
    const lr = num(h, 'lr');
    const mu = b1 * (1 - 0.5 * 0.96 ** (t * psi));
    const muNext = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi));
    // mu_product is state: stored at the working precision, like torch's tensor.
    const prod = (scalars.mu_product = r(scalars.mu_product! * mu));
    const bc2Sqrt = r(Math.sqrt(1 - b2 ** t));
    const gradStep = r((lr * (1 - mu)) / (1 - prod));
    const avgStep = r((lr * muNext) / (1 - prod * muNext));
    const beta1 = r(b1), beta2 = r(b2), c1 = r(1 - b1), c2 = r(1 - b2);
    const eps = r(num(h, 'eps'));
    const wd = r(num(h, 'weight_decay'));
    const m = slots.exp_avg!;
    const v = slots.exp_avg_sq!;
    for (let i = start; i < end; i++) {
      let d = g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      m[i] = r(r(beta1 * m[i]!) + c1 * d);
      v[i] = r(r(beta2 * v[i]!) + r(c2 * d) * d);
      const denom = r(r(r(Math.sqrt(v[i]!)) / bc2Sqrt) + eps);
      const q = r(p[i]! - r(r(gradStep * d) / denom));
      p[i] = r(q - r(r(avgStep * m[i]!) / denom));
    }
  },
});
