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
