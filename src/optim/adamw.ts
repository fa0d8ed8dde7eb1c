/**
 * AdamW — Adam with decoupled weight decay: the parameters shrink by γλ before the Adam step, and the decay never
 * enters the moment estimates.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize
 *   θ ← θ_{t−1} (1 − γλ)
 *   m_t ← β₁ m_{t−1} + (1 − β₁) g;   v_t ← β₂ v_{t−1} + (1 − β₂) g²
 *   v̂ ← max(v̂_{t−1}, v_t) if amsgrad, else v_t
 *   θ_t ← θ − γ/(1 − β₁ᵗ) · m_t / (√v̂ / √(1 − β₂ᵗ) + ε)
 *
 * Defaults (torch.optim.AdamW): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2 (not 0 as in Adam),
 * amsgrad false, maximize false. State: `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq` (amsgrad).
 * Paper: Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization". The decay is multiplied by lr (torch's
 * convention; the paper's schedule multiplier η_t plays that role). Differences from PyTorch: none intended.
 */
import { defineRule, betaPair, nonNegative, num, flag, pair, type StepContext } from './rule.js';

export const adamw = defineRule({
  name: 'AdamW',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-3, check: nonNegative('lr') },
    { name: 'betas', kind: 'pair', default: [0.9, 0.999], check: betaPair },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 1e-2, check: nonNegative('weight_decay') },
    { name: 'amsgrad', kind: 'boolean', default: false },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: (h) => ['exp_avg', 'exp_avg_sq', ...(flag(h, 'amsgrad') ? ['max_exp_avg_sq'] : [])],
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const [b1, b2] = pair(h, 'betas');
    const lr = num(h, 'lr');
    const shrink = r(1 - lr * num(h, 'weight_decay'));
    const stepSize = r(lr / (1 - b1 ** t));
    const bc2Sqrt = r(Math.sqrt(1 - b2 ** t));
    const beta1 = r(b1), beta2 = r(b2), c1 = r(1 - b1), c2 = r(1 - b2);
    const eps = r(num(h, 'eps'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const { exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: vmax } = slots;
    for (let i = start; i < end; i++) {
      const d = sign * g[i]!;
      p[i] = r(p[i]! * shrink);
      m![i] = r(r(beta1 * m![i]!) + c1 * d);
      v![i] = r(r(beta2 * v![i]!) + r(c2 * d) * d);
      let vh = v![i]!;
      if (vmax) vh = vmax[i] = Math.max(vmax[i]!, vh);
      const denom = r(r(r(Math.sqrt(vh)) / bc2Sqrt) + eps);
      p[i] = r(p[i]! - r(r(stepSize * m![i]!) / denom));
    }
  },
});
