/**
 * How a RunnerConfig's optimizer maps onto the flat layout's parameter groups, shared by the CPU and GPU runners so
 * both build exactly the same optimizer: the 'no_decay' group (biases, BatchNorm γ/β) gets weight_decay 0 unless
 * `decayAll`, for rules that have a weight_decay hyperparameter at all.
 */
import type { ParamLayout } from '../model/layout.js';
import type { ParamGroup } from '../optim/optimizer.js';
import { getRule } from '../optim/registry.js';
import type { OptimizerConfig } from './runner.js';

export function optimizerGroups(cfg: OptimizerConfig, layout: ParamLayout): ParamGroup[] {
  const rule = getRule(cfg.name);
  const hasDecay = rule.hyperparams.some((h) => h.name === 'weight_decay');
  return layout.groups.map((g) =>
    g.name === 'no_decay' && hasDecay && !cfg.decayAll ? { start: g.start, end: g.end, weight_decay: 0 } : { start: g.start, end: g.end },
  );
}
