/** Type-level checks of the public API, compiled by the package test under every module resolution and lib. */
import { Dataset, type OptimizerConfig, type OptimizerHyperparams, type RunnerConfig } from 'wgtrain';

export const adam: OptimizerConfig = { name: 'AdamW', hyperparams: { lr: 1e-3, betas: [0.9, 0.99], weight_decay: 0.01, amsgrad: true } };
// @ts-expect-error momentum is not an Adam hyperparameter
export const wrongKey: OptimizerConfig = { name: 'Adam', hyperparams: { momentum: 0.9 } };
// @ts-expect-error optimizer names are torch's, case-sensitive
export const wrongName: OptimizerConfig = { name: 'adam' };
// @ts-expect-error nesterov is a boolean
export const wrongType: OptimizerConfig = { name: 'SGD', hyperparams: { momentum: 0.9, nesterov: 1 } };
// Full-batch methods take their own keyword arguments.
export const lbfgs: OptimizerConfig = { name: 'LBFGS', hyperparams: { history_size: 10, line_search_fn: 'strong_wolfe' } };
// @ts-expect-error NonlinearCG's variant is 'PR+' or 'FR'
export const ncg: OptimizerConfig = { name: 'NonlinearCG', hyperparams: { variant: 'HS' } };
export const rpropKeys: (keyof OptimizerHyperparams['Rprop'])[] = ['lr', 'etas', 'step_sizes', 'maximize'];
// seed is optional (0 by default).
export const noSeed: Omit<RunnerConfig, 'model'> = { batchSize: 8, optimizer: { name: 'SGD' } };
export const rows: Dataset = Dataset.from({ inputs: [[1, 2]], labels: [0] });
export const adapter: GPUAdapter | null = null;
