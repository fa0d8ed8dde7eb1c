/** Second-order and line-search methods on the vector machine, minimize(), and function traces. */
export type { Minimizer, MethodDef, StepReport } from './minimizer.js';
export type { StepOptions, IterationProgress } from './step-control.js';
export { METHODS, getMethod } from './methods.js';
export { minimize, minimizeOnMachine, type MinimizeOptions, type MinimizeResult, type IterateRecord } from './minimize.js';
export { LBFGS, resolveLbfgs, lbfgsMethod, LBFGS_KEYS, type LbfgsHyperparams, type LbfgsStop } from './lbfgs.js';
export { NonlinearCG, nonlinearCgMethod } from './ncg.js';
export { NewtonTrustRegion, newtonMethod } from './newton.js';
export { LevenbergMarquardt, levenbergMarquardtMethod, gaussNewtonMethod } from './lm.js';
export { FirstOrder, firstOrderMethods } from './first-order.js';
export { CgSolver, type CgOptions, type CgResult, type CgStatus } from './cg-solve.js';
export { HessianVector, type HessianMode } from './hvp.js';
export { strongWolfe, cubicInterpolate, type Trial, type StrongWolfeOptions, type LineSearchResult } from './line-search.js';
export { runFunctionTrace, traceOnMachine, parseFunctionSpec, type FunctionTraceSpec, type FunctionTraceResult } from './trace.js';
export { MinimizeError, NonFiniteError, DescentDirectionError } from './errors.js';
export { METHOD_STATE_FORMAT, type MethodState, type StateScalar } from './state.js';
export type { FullBatchConfig, FullBatchHyperparams } from './config.js';
