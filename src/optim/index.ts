/** Optimizers with torch.optim semantics: rules, the CPU reference optimizer, and state import/export. */
export * from './rule.js';
export { RULES, getRule, type FirstOrderConfig, type OptimizerHyperparams } from './registry.js';
export { Optimizer, checkGroups, type OptimizerOptions, type OptimizerState, type ParamGroup, type ResolvedGroup } from './optimizer.js';
export { sgd } from './sgd.js';
export { adagrad } from './adagrad.js';
export { rmsprop } from './rmsprop.js';
export { adadelta } from './adadelta.js';
export { adam } from './adam.js';
export { adamw } from './adamw.js';
export { adamax } from './adamax.js';
export { nadam } from './nadam.js';
export { radam } from './radam.js';
export { asgd } from './asgd.js';
export { rprop } from './rprop.js';
