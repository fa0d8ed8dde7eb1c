/**
 * RMSprop — gradient divided by a running RMS of recent gradients; optionally centered and with momentum.
 *
 *   g ← ∇f(θ_{t−1});  g ← −g if maximize;  g ← g + λθ_{t−1} if weight_decay λ ≠ 0
 *   v_t ← α v_{t−1} + (1 − α) g²
 *   centered: ḡ_t ← α ḡ_{t−1} + (1 − α) g;  d ← √(v_t − ḡ_t²) + ε     else d ← √v_t + ε
 *   momentum μ > 0: b_t ← μ b_{t−1} + g / d;  θ_t ← θ_{t−1} − γ b_t     else θ_t ← θ_{t−1} − γ g / d
 *
 * Defaults (torch.optim.RMSprop): lr 1e-2, alpha 0.99, eps 1e-8, weight_decay 0, momentum 0, centered false,
 * maximize false. State: `square_avg`, `momentum_buffer` (momentum > 0), `grad_avg` (centered).
 * Source: Hinton, Coursera lecture 6e; centered form: Graves 2013, "Generating Sequences With RNNs".
 * The course material's √(v + ε) puts ε inside the root; torch (and this module) adds ε after the root.
 * Differences from PyTorch: none intended.
 */
import { defineRule, nonNegative, num, flag, type StepContext } from './rule.js';

export const rmsprop = defineRule({
  name: 'RMSprop',
  hyperparams: [
    { name: 'lr', kind: 'number', default: 1e-2, check: nonNegative('lr') },
    { name: 'alpha', kind: 'number', default: 0.99, check: nonNegative('alpha') },
    { name: 'eps', kind: 'number', default: 1e-8, check: nonNegative('eps') },
    { name: 'weight_decay', kind: 'number', default: 0, check: nonNegative('weight_decay') },
    { name: 'momentum', kind: 'number', default: 0, check: nonNegative('momentum') },
    { name: 'centered', kind: 'boolean', default: false },
    { name: 'maximize', kind: 'boolean', default: false },
  ],
  slots: (h) => [
    'square_avg',
    ...(num(h, 'momentum') > 0 ? ['momentum_buffer'] : []),
    ...(flag(h, 'centered') ? ['grad_avg'] : []),
  ],
  step({ p, g, slots, start, end, h, r }: StepContext) {
    const lr = r(num(h, 'lr'));
    const alpha = r(num(h, 'alpha'));
    const oneMinusAlpha = r(1 - num(h, 'alpha'));
    const eps = r(num(h, 'eps'));
    const wd = r(num(h, 'weight_decay'));
    const mom = r(num(h, 'momentum'));
    const sign = flag(h, 'maximize') ? -1 : 1;
    const { square_avg: sq, grad_avg: ga, momentum_buffer: buf } = slots;
    for (let i = start; i < end; i++) {
      let d = sign * g[i]!;
      if (wd !== 0) d = r(d + wd * p[i]!);
      sq![i] = r(r(alpha * sq![i]!) + r(oneMinusAlpha * d) * d);
      let avg: number;
      if (ga) {
        ga[i] = r(r(alpha * ga[i]!) + oneMinusAlpha * d);
        avg = r(Math.sqrt(r(sq![i]! - ga[i]! * ga[i]!)));
      } else {
        avg = r(Math.sqrt(sq![i]!));
      }
      avg = r(avg + eps);
      if (buf) {
        buf[i] = r(r(mom * buf[i]!) + r(d / avg));
        p[i] = r(p[i]! - lr * buf[i]!);
      } else {
        p[i] = r(p[i]! - r(r(lr * d) / avg));
      }
    }
  },
});
