/** An OptimizerConfig from values known only at run time (a command-line flag, a form field). */
import { getMethod } from '../minimize/methods.js';
import type { OptimizerConfig } from './runner.js';

/**
 * `{ name, hyperparams, decayAll }` typed as an OptimizerConfig: the name is checked here (a torch.optim class or a
 * full-batch method; the error lists them and suggests the right case), the hyperparameters when a runner is built
 * (errors name the field).
 */
export function optimizerConfig(name: string, hyperparams: Readonly<Record<string, unknown>> = {}, decayAll?: boolean): OptimizerConfig {
  getMethod(name, 'optimizer');
  return { name, hyperparams, ...(decayAll === undefined ? {} : { decayAll }) } as OptimizerConfig;
}
