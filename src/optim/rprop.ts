/**
 * Rprop — resilient backpropagation: per-element step sizes that grow while the gradient keeps its sign and shrink
 * when it flips; only the sign of the gradient is used.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize
 *   s ← sign(g · g_prev)
 *   η_t ← clamp(η_{t−1} · (η⁺ if s > 0, η⁻ if s < 0, 1 if s = 0), Γ_min, Γ_max)     (η_0 = lr)
 *   g ← 0 where s < 0   (after a sign flip, skip the update and forget the gradient)
 *   θ_t ← θ_{t−1} − η_t sign(g);   g_prev ← g
 *
 * Defaults (torch.optim.Rprop): lr 1e-2, etas (η⁻, η⁺) = (0.5, 1.2), step_sizes (Γ_min, Γ_max) = (1e-6, 50),
 * maximize false. State: `prev`, `step_size`. Paper: Riedmiller & Braun 1993 (this is the Rprop⁻ variant that
 * torch implements: no weight backtracking). Differences from PyTorch: none intended.
 */
import { defineRule, flag, num, pair, type StepContext } from './rule.js';

export const rprop = defineRule({
  name: 'Rprop',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-2, check: (v: number) => (v >= 0 ? undefined : `lr must be >= 0, got ${v}`) },
    {
      name: 'etas', kind: 'pair', default: [0.5, 1.2],
      check: (v: readonly [number, number]) =>
        v[0] > 0 && v[0] < 1 && v[1] > 1 ? undefined : `etas must satisfy 0 < etaminus < 1 < etaplus, got [${v[0]}, ${v[1]}]`,
    },
    {
      name: 'step_sizes', kind: 'pair', default: [1e-6, 50],
      check: (v: readonly [number, number]) =>
        v[0] >= 0 && v[0] <= v[1] ? undefined : `step_sizes must satisfy 0 <= min <= max, got [${v[0]}, ${v[1]}]`,
    },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: () => ['prev', 'step_size'],
  slotInit: (name, h) => (name === 'step_size' ? num(h, 'lr') : 0),
  step({ p, g, slots, start, end, h, r }: StepContext) {
    const [etaMinus, etaPlus] = pair(h, 'etas').map(r) as [number, number];
    const [minStep, maxStep] = pair(h, 'step_sizes').map(r) as [number, number];
    const sign = flag(h, 'maximize') ? -1 : 1;
    const prev = slots.prev!;
    const size = slots.step_size!;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      const s = Math.sign(r(d * prev[i]!));
      const factor = s > 0 ? etaPlus : s < 0 ? etaMinus : 1;
      size[i] = Math.min(Math.max(r(size[i]! * factor), minStep), maxStep);
      if (s < 0) d = 0;
      p[i] = r(p[i]! - Math.sign(d) * size[i]!);
      prev[i] = d;
    }
  },
});
