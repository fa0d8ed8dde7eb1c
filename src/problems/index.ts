/** The problems library: test functions and regression problems with value, gradient (CPU and GPU) and Hessian. */
export { type Problem, type KnownPoint, type LeastSquaresProblem, cpuObjective, checkLength } from './problem.js';
export { bowl } from './bowl.js';
export { quartic } from './quartic.js';
export { rosenbrock2d } from './rosenbrock.js';
export { beale } from './beale.js';
export { saddle } from './saddle.js';
export { quadraticProblem, conditionedQuadratic, choleskySolve, type QuadraticProblem, type QuadraticInit } from './quadratic.js';
export {
  linearRegression, logisticRegression, tanhNetwork, regressionData, linearExampleData, logisticExampleData, curveExampleData,
  type RegressionData,
} from './regression.js';
export { problemFromSpec, TEST_FUNCTIONS, PROBLEM_NAMES, type ProblemSpec } from './registry.js';
