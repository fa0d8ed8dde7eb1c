/**
 * The typed configuration of a full-batch method as a runner's optimizer (`RunnerConfig.optimizer`, train/runner.ts):
 * each method's name with the keyword arguments it takes, from the key lists its module declares.
 */
import type { HessianMode } from './hvp.js';
import type { LbfgsHyperparams } from './lbfgs.js';
import type { GN_KEYS, LM_KEYS } from './lm.js';
import type { NCG_KEYS } from './ncg.js';
import type { NEWTON_KEYS } from './newton.js';

/** Optional keyword arguments named by `Keys`, numbers unless `Special` types them. */
type Keyed<Keys extends readonly string[], Special = object> = {
  [K in Keys[number]]?: K extends keyof Special ? Special[K] : number;
};

/** Each full-batch method's keyword arguments by name (defaults in the method's module). */
export interface FullBatchHyperparams {
  LBFGS: { [K in keyof LbfgsHyperparams]: LbfgsHyperparams[K] };
  NonlinearCG: Keyed<typeof NCG_KEYS, { variant: 'PR+' | 'FR' }>;
  Newton: Keyed<typeof NEWTON_KEYS, { hessian: HessianMode | 'auto' }>;
  LevenbergMarquardt: Keyed<typeof LM_KEYS>;
  GaussNewton: Keyed<typeof GN_KEYS>;
}

/** A full-batch method with its own keyword arguments, e.g. `{ name: 'LBFGS', hyperparams: { history_size: 10 } }`. */
export type FullBatchConfig = {
  [K in keyof FullBatchHyperparams]: { name: K; hyperparams?: FullBatchHyperparams[K]; decayAll?: boolean };
}[keyof FullBatchHyperparams];
