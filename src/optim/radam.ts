/**
 * RAdam — rectified Adam: plain momentum SGD while the variance of the adaptive step is intractable (early steps),
 * then Adam with a variance-rectification factor.
 *
 *   g ← ∇f(θ_{t−1});  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   m_t ← β₁ m_{t−1} + (1 − β₁) g;   v_t ← β₂ v_{t−1} + (1 − β₂) g²;   m̂ ← m_t / (1 − β₁ᵗ)
 *   ρ_∞ ← 2/(1 − β₂) − 1;   ρ_t ← ρ_∞ − 2t β₂ᵗ / (1 − β₂ᵗ)
 *   if ρ_t > 5:  r_t ← √((ρ_t − 4)(ρ_t − 2)ρ_∞ / ((ρ_∞ − 4)(ρ_∞ − 2)ρ_t));  l ← √(1 − β₂ᵗ) / (√v_t + ε)
 *                θ_t ← θ_{t−1} − γ m̂ l r_t
 *   else         θ_t ← θ_{t−1} − γ m̂
 *
 * Defaults (torch.optim.RAdam): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.
 * State: `exp_avg`, `exp_avg_sq`. Paper: Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond".
 * Differences from PyTorch: the threshold is ρ_t > 5 as in torch (the paper says 4); options added after 2.0
 * (decoupled_weight_decay, maximize) are absent.
 */
import { defineRule, betaPair, nonNegative, num, pair, type StepContext } from './rule.js';

export const radam = defineRule({
  name: 'RAdam',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-3, check: nonNegative('lr') },
    { name: 'betas', kind: 'pair', default: [0.9, 0.999], check: betaPair },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
  ],
  slots: () => ['exp_avg', 'exp_avg_sq'],
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const [b1, b2] = pair(h, 'betas');
    const bc1 = r(1 - b1 ** t);
    const bc2 = 1 - b2 ** t;
    const rhoInf = 2 / (1 - b2) - 1;
    const rhoT = rhoInf - (2 * t * b2 ** t) / bc2;
    const rectified = rhoT > 5;
    const rect = rectified ? r(Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT))) : 0;
    const bc2Sqrt = r(Math.sqrt(bc2));
    const lr = r(num(h, 'lr'));
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
      const mHat = r(m[i]! / bc1);
      if (rectified) {
        const adaptive = r(bc2Sqrt / r(r(Math.sqrt(v[i]!)) + eps));
        p[i] = r(p[i]! - r(r(r(mHat * lr) * adaptive) * rect));
      } else {
        p[i] = r(p[i]! - r(mHat * lr));
      }
    }
  },
});
