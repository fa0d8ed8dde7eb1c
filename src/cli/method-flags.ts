/**
 * Command-line flags for the hyperparameters of the methods of src/minimize/ (and the first-order optimizers), shared
 * by `wgtrain minimize` and `wgtrain train`: one flag per hyperparameter, torch's name with dashes (max_iter →
 * --max-iter, history_size → --history-size, line_search_fn → --line-search-fn), declared once from the methods'
 * key lists, and read back into a hyperparameter object for the chosen method — a flag that method does not take is an
 * ArgError naming the flag, the method and what it does take.
 */
import type { MethodDef } from '../minimize/minimizer.js';
import { getRule } from '../optim/registry.js';
import { OPTIMIZER_NAMES } from '../optim/rule.js';
import { ArgError, type FlagSpec, type FlagSpecs } from './args.js';

/** A flag and the hyperparameter it sets. */
export type HyperparamFlag = FlagSpec & { hyper: string };

/** String-valued hyperparameters and their choices ('none' stands for torch's None). */
const STRING_HYPERPARAMS: Record<string, readonly string[]> = {
  line_search_fn: ['strong_wolfe', 'none'],
  variant: ['PR+', 'FR'],
  hessian: ['auto', 'exact', 'fd'],
};

/** One flag per hyperparameter any of `methods` takes, except `skip` (pairs such as betas have none: use JSON). */
export function hyperparamFlags(methods: readonly MethodDef[], skip: readonly string[] = []): Record<string, HyperparamFlag> {
  const out: Record<string, HyperparamFlag> = {};
  const kinds = new Map<string, 'number' | 'boolean' | 'pair'>();
  for (const name of OPTIMIZER_NAMES) for (const h of getRule(name).hyperparams) kinds.set(h.name, h.kind);
  for (const def of methods) {
    for (const h of def.hyperparams) {
      const kind = kinds.get(h) ?? 'number';
      if (kind === 'pair' || skip.includes(h)) continue;
      const flag = h.replace(/_/g, '-');
      const users = methods.filter((d) => d.hyperparams.includes(h)).map((d) => d.name);
      const help = `${h} of ${users.length > 4 ? `${users.slice(0, 4).join(', ')}, ...` : users.join(', ')}`;
      out[flag] = STRING_HYPERPARAMS[h]
        ? { type: 'string', help, choices: STRING_HYPERPARAMS[h], hyper: h }
        : kind === 'boolean' ? { type: 'boolean', help, hyper: h } : { type: 'number', help, hyper: h };
    }
  }
  return out;
}

/** The flags as parser declarations. */
export function flagSpecs(flags: Readonly<Record<string, HyperparamFlag>>): FlagSpecs {
  return Object.fromEntries(Object.entries(flags).map(([k, { hyper: _h, ...spec }]) => [k, spec]));
}

/**
 * The hyperparameters the given flags set for `def`, added to `into`; a flag of `flags` the method does not take is an
 * ArgError naming it.
 */
export function hyperparamsFromFlags(
  flags: Readonly<Record<string, HyperparamFlag>>,
  def: MethodDef,
  given: ReadonlySet<string>,
  values: Readonly<Record<string, unknown>>,
  command: string,
  into: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const flag of given) {
    const spec = flags[flag];
    if (!spec) continue;
    if (!def.hyperparams.includes(spec.hyper)) {
      throw new ArgError(`${command}: --${flag}: ${def.name} has no hyperparameter ${spec.hyper} (its hyperparameters: ${def.hyperparams.join(', ')})`);
    }
    const value = values[flag];
    into[spec.hyper] = spec.hyper === 'line_search_fn' && value === 'none' ? null : value;
  }
  return into;
}
