/**
 * Adadelta — step sizes from the ratio of running RMS of past updates to running RMS of gradients.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   v_t ← ρ v_{t−1} + (1 − ρ) g²
 *   Δ   ← √(u_{t−1} + ε) / √(v_t + ε) · g
 *   u_t ← ρ u_{t−1} + (1 − ρ) Δ²
 *   θ_t ← θ_{t−1} − γ Δ
 *
 * Defaults (torch.optim.Adadelta): lr 1.0, rho 0.9, eps 1e-6, weight_decay 0, maximize false.
 * State: `square_avg` (v), `acc_delta` (u). Paper: Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method".
 * Here ε sits inside both roots, as in the paper and torch. Differences from PyTorch: none intended.
 */
import { defineRule, nonNegative, num, flag, type StepContext } from './rule.js';

export const adadelta = defineRule({
  name: 'Adadelta',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1.0, check: nonNegative('lr') },
    { name: 'rho', kind: 'number', default: 0.9, check: (v: number) => (v >= 0 && v <= 1 ? undefined : `rho must be in [0, 1], got ${v}`) },
    { name: 'eps', kind: 'number', default: 1e-6, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: () => ['square_avg', 'acc_delta'],
  step({ p, g, slots, start, end, h, r }: StepContext) {
    const lr = r(num(h, 'lr'));
    const rho = r(num(h, 'rho'));
    const oneMinusRho = r(1 - num(h, 'rho'));
    const eps = r(num(h, 'eps'));
    const wd = r(num(h, 'weight_decay'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const sq = slots.square_avg!;
    const acc = slots.acc_delta!;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      sq[i] = r(r(rho * sq[i]!) + r(oneMinusRho * d) * d);
      const std = r(Math.sqrt(r(sq[i]! + eps)));
      const delta = r(r(r(Math.sqrt(r(acc[i]! + eps))) / std) * d);
      acc[i] = r(r(rho * acc[i]!) + r(oneMinusRho * delta) * delta);
      p[i] = r(p[i]! - lr * delta);
    }
  },
});
