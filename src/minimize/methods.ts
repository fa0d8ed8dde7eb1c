/** Every method `minimize` and function traces accept, by name: the second-order and line-search methods of this
 * folder and every first-order optimizer of src/optim/. Names are case-sensitive (torch's spelling); an error lists
 * them and suggests the right case. */
import { firstOrderMethods } from './first-order.js';
import { lbfgsMethod } from './lbfgs.js';
import { gaussNewtonMethod, levenbergMarquardtMethod } from './lm.js';
import { nonlinearCgMethod } from './ncg.js';
import { newtonMethod } from './newton.js';
import type { MethodDef } from './minimizer.js';
import { checkKeys } from './errors.js';

export const METHODS: Readonly<Record<string, MethodDef>> = Object.fromEntries(
  [lbfgsMethod, nonlinearCgMethod, newtonMethod, levenbergMarquardtMethod, gaussNewtonMethod, ...firstOrderMethods].map((m) => [m.name, m]),
);

/** Whether `name` is a method of this folder (a full-batch, closure-driven method) rather than a first-order optimizer. */
export function isFullBatchMethod(name: string): boolean {
  return Object.hasOwn(METHODS, name) && !firstOrderMethods.some((m) => m.name === name);
}

/** Checks a method's hyperparameters where that needs no machine: the names always, the values where it can. */
export function checkMethodHyperparams(name: string, hyperparams: Readonly<Record<string, unknown>>): void {
  const def = getMethod(name);
  checkKeys(hyperparams, def.hyperparams, def.name);
  def.validate?.(hyperparams);
}

export function getMethod(name: unknown, field = 'method'): MethodDef {
  if (typeof name === 'string' && Object.hasOwn(METHODS, name)) return METHODS[name]!;
  const names = Object.keys(METHODS);
  const hint = typeof name === 'string' ? names.find((n) => n.toLowerCase() === name.toLowerCase()) : undefined;
  throw new Error(
    `${field}: unknown method ${JSON.stringify(name)}` + (hint ? ` (did you mean "${hint}"? names are case-sensitive)` : '') + `; expected one of ${names.join(', ')}`,
  );
}
