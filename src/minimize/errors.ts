/** Errors of the minimizers: each names what went wrong, where, and what to try. */

export class MinimizeError extends Error {
  override name = 'MinimizeError';
}

/** f or ∇f came back NaN or infinite. */
export class NonFiniteError extends MinimizeError {
  override name = 'NonFiniteError';
}

/** A search direction along which f does not decrease (g·d ≥ 0) where one is required. */
export class DescentDirectionError extends MinimizeError {
  override name = 'DescentDirectionError';
}

/** Throws NonFiniteError when f is not finite or the gradient holds non-finite values. */
export function checkFinite(f: number, badGradient: number, where: string): void {
  if (!Number.isFinite(f)) {
    throw new NonFiniteError(`${where}: the objective returned ${f}; check the function near this point, or lower lr / the initial step`);
  }
  if (badGradient > 0) {
    throw new NonFiniteError(`${where}: the gradient holds ${badGradient} NaN or infinite value(s) (f = ${f}); check the gradient near this point, or lower lr`);
  }
}

/** Hyperparameter checks with the field named. */
export function checkKeys(given: Readonly<Record<string, unknown>>, known: readonly string[], method: string): void {
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new MinimizeError(`${method}: hyperparams must be an object, e.g. {"lr": 1}`);
  }
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw new MinimizeError(`hyperparams.${key}: ${method} has no hyperparameter "${key}"; its hyperparameters are ${known.join(', ')}`);
  }
}

export function numberField(given: Readonly<Record<string, unknown>>, key: string, dflt: number, check: (v: number) => boolean, want: string): number {
  const v = given[key] === undefined || given[key] === null ? dflt : given[key];
  if (typeof v !== 'number' || !Number.isFinite(v) || !check(v)) throw new MinimizeError(`hyperparams.${key} must be ${want}, got ${JSON.stringify(given[key])}`);
  return v;
}

/** An integer ≥ 1 hyperparameter check. */
export const positiveInteger = (v: number): boolean => Number.isInteger(v) && v >= 1;

/**
 * The iteration budget and stopping tolerances every method of this folder takes, with torch's LBFGS defaults:
 * max_iter 20, max_eval (default `maxEvalPerIter`·max_iter, floored), tolerance_grad 1e-7, tolerance_change 1e-9.
 */
export function iterationHyperparams(given: Readonly<Record<string, unknown>>, maxEvalPerIter: number) {
  const max_iter = numberField(given, 'max_iter', 20, positiveInteger, 'an integer >= 1');
  return {
    max_iter,
    max_eval: numberField(given, 'max_eval', Math.floor(max_iter * maxEvalPerIter), positiveInteger, 'an integer >= 1'),
    tolerance_grad: numberField(given, 'tolerance_grad', 1e-7, (v) => v >= 0, 'a number >= 0'),
    tolerance_change: numberField(given, 'tolerance_change', 1e-9, (v) => v >= 0, 'a number >= 0'),
  };
}
