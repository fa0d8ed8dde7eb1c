/**
 * Adam — adaptive moment estimation, with L2 weight decay added to the gradient (coupled) and optional AMSGrad.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   m_t ← β₁ m_{t−1} + (1 − β₁) g
 *   v_t ← β₂ v_{t−1} + (1 − β₂) g²
 *   v̂ ← max(v̂_{t−1}, v_t) if amsgrad (kept as max_exp_avg_sq), else v̂ ← v_t
 *   θ_t ← θ_{t−1} − γ/(1 − β₁ᵗ) · m_t / (√v̂ / √(1 − β₂ᵗ) + ε)
 *
 * Defaults (torch.optim.Adam): lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0, amsgrad false,
 * maximize false. State: `exp_avg` (m), `exp_avg_sq` (v), `max_exp_avg_sq` (amsgrad).
 * Papers: Kingma & Ba 2014, "Adam: A Method for Stochastic Optimization"; Reddi et al. 2018 (AMSGrad).
 * ε is added to the bias-corrected √v̂ (torch's placement; the paper's m̂/(√v̂ + ε) is the same). The course
 * material's √(v̂ + ε) differs only while v̂ ≲ ε². Weight decay here is coupled; decoupled decay is AdamW (adamw.ts).
 * Differences from PyTorch: none intended.
 */
import { defineRule, betaPair, nonNegative, num, flag, pair, type StepContext } from './rule.js';

export const adam = defineRule({
  name: 'Adam',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-3, check: nonNegative('lr') },
    { name: 'betas', kind: 'pair', default: [0.9, 0.999], check: betaPair },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'amsgrad', kind: 'boolean', default: false },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: (h) => ['exp_avg', 'exp_avg_sq', ...(flag(h, 'amsgrad') ? ['max_exp_avg_sq'] : [])],
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const [b1, b2] = pair(h, 'betas');
    // Host scalars in double, like torch's Python floats.
    const stepSize = r(num(h, 'lr') / (1 - b1 ** t));
    const bc2Sqrt = r(Math.sqrt(1 - b2 ** t));
    const beta1 = r(b1), beta2 = r(b2), c1 = r(1 - b1), c2 = r(1 - b2);
    const eps = r(num(h, 'eps'));
    const wd = r(num(h, 'weight_decay'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const { exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: vmax } = slots;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      m![i] = r(r(beta1 * m![i]!) + c1 * d);
      v![i] = r(r(beta2 * v![i]!) + r(c2 * d) * d);
      let vh = v![i]!;
      if (vmax) vh = vmax[i] = Math.max(vmax[i]!, vh);
      const denom = r(r(r(Math.sqrt(vh)) / bc2Sqrt) + eps);
      p[i] = r(p[i]! - r(r(stepSize * m![i]!) / denom));
    }
  },
});
