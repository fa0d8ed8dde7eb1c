/** Optimizer rules by torch class name. */
import { adadelta } from './adadelta.js';
import { adagrad } from './adagrad.js';
import { adam } from './adam.js';
import { adamax } from './adamax.js';
import { adamw } from './adamw.js';
import { asgd } from './asgd.js';
import { nadam } from './nadam.js';
import { radam } from './radam.js';
import { rmsprop } from './rmsprop.js';
import { rprop } from './rprop.js';
import { sgd } from './sgd.js';
import { OPTIMIZER_NAMES, type HyperparamsOf, type OptimizerName, type OptimizerRule } from './rule.js';

const rules = {
  SGD: sgd, Adagrad: adagrad, RMSprop: rmsprop, Adadelta: adadelta, Adam: adam, AdamW: adamw,
  Adamax: adamax, NAdam: nadam, RAdam: radam, ASGD: asgd, Rprop: rprop,
} satisfies Record<OptimizerName, OptimizerRule>;

export const RULES: Readonly<Record<OptimizerName, OptimizerRule>> = rules;

/** Each optimizer's keyword arguments by torch class name, derived from its rule: `OptimizerHyperparams['Adam']`. */
export type OptimizerHyperparams = { [K in OptimizerName]: HyperparamsOf<(typeof rules)[K]> };

/**
 * An optimizer by torch class name with that optimizer's keyword arguments (torch's names; absent ones take torch's
 * defaults), e.g. `{ name: 'AdamW', hyperparams: { lr: 1e-3, weight_decay: 0.01 } }`. RunnerConfig.optimizer takes
 * these or a full-batch method (train/runner.ts: OptimizerConfig).
 */
export type FirstOrderConfig = {
  [K in OptimizerName]: {
    name: K;
    hyperparams?: OptimizerHyperparams[K];
    /** Apply weight decay to biases and BatchNorm parameters too (default false: the 'no_decay' group gets 0). */
    decayAll?: boolean;
  };
}[OptimizerName];

/** The rule for a torch class name; the error lists the valid names (names are case-sensitive, as in torch). */
export function getRule(name: unknown, field = 'optimizer'): OptimizerRule {
  if (typeof name === 'string' && (OPTIMIZER_NAMES as readonly string[]).includes(name)) return RULES[name as OptimizerName];
  const hint = typeof name === 'string' ? OPTIMIZER_NAMES.find((n) => n.toLowerCase() === name.toLowerCase()) : undefined;
  throw new Error(
    `${field}: unknown optimizer ${JSON.stringify(name)}` +
      (hint ? ` (did you mean "${hint}"? names follow torch.optim and are case-sensitive)` : '') +
      `; expected one of ${OPTIMIZER_NAMES.join(', ')}`,
  );
}
