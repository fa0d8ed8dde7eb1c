/**
 * Adagrad — per-coordinate step sizes from the running sum of squared gradients.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   γ̃ ← γ / (1 + (t − 1) η)            (lr_decay η)
 *   s_t ← s_{t−1} + g²                   (s_0 = initial_accumulator_value)
 *   θ_t ← θ_{t−1} − γ̃ g / (√s_t + ε)
 *
 * Defaults (torch.optim.Adagrad): lr 1e-2, lr_decay 0, weight_decay 0, initial_accumulator_value 0, eps 1e-10,
 * maximize false. State: `sum`. Paper: Duchi, Hazan, Singer 2011, "Adaptive Subgradient Methods".
 * Note ε is added outside the square root, as in torch (some texts write √(s + ε); the two differ only while s ≲ ε²).
 * Differences from PyTorch: dense gradients only (no sparse path).
 */
import { defineRule, nonNegative, num, flag, type StepContext } from './rule.js';

export const adagrad = defineRule({
  name: 'Adagrad',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-2, check: nonNegative('lr') },
    { name: 'lr_decay', kind: 'number', default: 0, check: nonNegative('lr_decay') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'initial_accumulator_value', kind: 'number', default: 0, check: nonNegative('initial_accumulator_value') },
    { name: 'eps', kind: 'number', default: 1e-10, check: nonNegative('eps') },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: () => ['sum'],
  slotInit: (_name, h) => num(h, 'initial_accumulator_value'),
  step({ p, g, slots, start, end, h, t, r }: StepContext) {
    const clr = r(num(h, 'lr') / (1 + (t - 1) * num(h, 'lr_decay')));
    const wd = r(num(h, 'weight_decay'));
    const eps = r(num(h, 'eps'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const sum = slots.sum!;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      sum[i] = r(sum[i]! + d * d);
      const std = r(r(Math.sqrt(sum[i]!)) + eps);
      p[i] = r(p[i]! - r(r(clr * d) / std));
    }
  },
});
