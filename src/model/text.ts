/**
 * The text form of a model (the CLI's --model, the demo's model field), read and written through the layer kinds'
 * `syntax` (src/layers): a new kind brings its own names and arguments.
 *
 *   SPEC      := MLP [':' MLPOPTS]  |  [INPUT '-'] LAYER ('-' LAYER)* [':' OPTS]
 *   MLP       := SIZE ('-' SIZE)+          sizes from input to output, e.g. 784-256-256-10
 *   MLPOPTS   := comma-separated: an activation name (default relu) after every hidden Dense layer; bn (BatchNorm1d
 *                after each hidden Dense, before the activation, as in Ioffe & Szegedy); dropout=P (after each
 *                hidden activation); init=NAME; loss=NAME
 *   INPUT     := SIZE ('x' SIZE)*          the per-example input shape: 784, or 1x28x28 (C×H×W); when left out
 *                                          it comes from the caller (the CLI: MNIST's 784)
 *   LAYER     := NAME ['(' ARG (',' ARG)* ')'],  ARG := VALUE | KEY=VALUE   (see each kind's help)
 *   OPTS      := comma-separated: loss=softmax_ce|mse|bce, init=NAME (initializer of every layer with weights
 *                that names none)
 * Examples:
 *   784-256-256-10:relu,bn,dropout=0.1  =  784-dense(256)-bn-relu-dropout(0.1)-dense(256)-bn-relu-dropout(0.1)-dense(10)
 *   1x28x28-reshape(784)-dense(128)-relu-dense(10):loss=mse
 * A string is an MLP when none of its parts names a layer or has parentheses.
 */
import type { LayerArgs, Shape } from '../layers/layer.js';
import { layerKind, layerKindByName, layerKinds, type LayerInput } from '../layers/registry.js';
import { INITIALIZERS, isInitializer, type Initializer } from '../layers/weights.js';
import { ACTIVATIONS, LOSSES, isActivation, type Activation, type Loss } from '../shared.js';
import { inputShape, modelLayers, validateModelSpec, type ModelSpec } from './spec.js';

const EXAMPLES = '784-256-256-10:relu,bn,dropout=0.1 or 784-dense(256)-relu-dense(10)';

function fail(spec: string, why: string, example = true): never {
  throw new Error(`model spec '${spec}': ${why}${example ? `. Examples: ${EXAMPLES}` : ''}`);
}

/** Splits at `sep` outside parentheses. */
function splitTop(spec: string, text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')' && --depth < 0) fail(spec, `unbalanced ')' at '${text.slice(0, i + 1)}'`);
    else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (depth !== 0) fail(spec, `unbalanced '(' in '${text}'`);
  parts.push(text.slice(start).trim());
  return parts;
}

const LAYER_TOKEN = /^([A-Za-z_][A-Za-z0-9_]*)\s*(?:\((.*)\))?$/s;
const SHAPE_TOKEN = /^\d+(?:x\d+)*$/;

const namesLayer = (token: string): boolean => token.includes('(') || layerKindByName(token.toLowerCase()) !== undefined;

export interface ParseOptions {
  /** The input shape when the text gives none (a layer list without INPUT). */
  inputs?: number | readonly number[];
  /**
   * Other shapes the caller's data may be seen as (MNIST: 784, or 1×28×28): a layer list without INPUT takes the first
   * of `inputs`, then these, under which its first layer resolves — dense(…) gets 784, conv(…) gets 1×28×28.
   */
  inputViews?: readonly (readonly number[])[];
}

/** Parses the text form (see the module comment) into the complete ModelSpec. */
export function parseModelSpec(spec: string, options: ParseOptions = {}): ModelSpec {
  if (typeof spec !== 'string') throw new Error(`model spec: expected a string, got ${JSON.stringify(spec)}`);
  const text = spec.trim();
  const colon = text.indexOf(':');
  const body = colon < 0 ? text : text.slice(0, colon);
  const opts = colon < 0 ? '' : text.slice(colon + 1);
  const tokens = splitTop(spec, body, '-');
  const built = tokens.some(namesLayer) ? layerList(spec, tokens, opts, options) : mlp(spec, tokens, opts);
  try {
    return validateModelSpec(built);
  } catch (e) {
    return fail(spec, (e as Error).message.replace(/^model spec: /, ''), false);
  }
}

function options(raw: string): [string, string | undefined][] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((s) => {
    const eq = s.indexOf('=');
    return eq < 0 ? [s, undefined] : [s.slice(0, eq).trim(), s.slice(eq + 1).trim()];
  });
}

function lossOption(spec: string, value: string | undefined): Loss {
  if (!LOSSES.includes(value as Loss)) fail(spec, `loss=${value}: known losses are ${LOSSES.join(', ')}`);
  return value as Loss;
}

function initOption(spec: string, value: string | undefined): Initializer {
  if (!isInitializer(value)) fail(spec, `init=${value}: known initializers are ${INITIALIZERS.join(', ')}`);
  return value;
}

/** The MLP shorthand: Dense layers of the given sizes, with the options' layers between them. */
function mlp(spec: string, tokens: string[], opts: string) {
  if (tokens.length < 2) fail(spec, 'give at least an input and an output size, separated by "-"');
  const sizes = tokens.map((s) => Number(s));
  sizes.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || tokens[i] === '') fail(spec, `size #${i + 1} ('${tokens[i]}') must be a positive integer`);
  });
  let act: Activation = 'relu';
  let bn = false;
  let dropout = 0;
  let init: Initializer | undefined;
  let loss: Loss = 'softmax_ce';
  for (const [key, value] of options(opts)) {
    if (value === undefined && isActivation(key)) act = key;
    else if (key === 'bn' && value === undefined) bn = true;
    else if (key === 'dropout') {
      const p = Number(value);
      if (!(value && p >= 0 && p < 1)) fail(spec, `dropout=${value}: the drop probability must be in [0, 1)`);
      dropout = p;
    } else if (key === 'init') init = initOption(spec, value);
    else if (key === 'loss') loss = lossOption(spec, value);
    else {
      const raw = value === undefined ? key : `${key}=${value}`;
      fail(spec, `unknown option '${raw}' (options: an activation [${Object.keys(ACTIVATIONS).join(' ')}], bn, dropout=P, init=NAME, loss=NAME)`);
    }
  }
  const layers: LayerInput[] = [];
  for (let i = 1; i < sizes.length; i++) {
    layers.push({ type: 'dense', outputs: sizes[i]! });
    if (i + 1 === sizes.length) break;
    if (bn) layers.push({ type: 'batchnorm' });
    layers.push({ type: 'activation', kind: act });
    if (dropout > 0) layers.push({ type: 'dropout', p: dropout });
  }
  return { inputs: sizes[0]!, layers, loss, ...(init ? { init } : {}) };
}

function layerArgs(spec: string, token: string, inner: string | undefined): LayerArgs {
  const args: LayerArgs = { positional: [], named: {} };
  if (inner === undefined || inner.trim() === '') return args;
  for (const part of inner.split(',').map((s) => s.trim())) {
    if (part === '') fail(spec, `empty argument in '${token}'`);
    const eq = part.indexOf('=');
    if (eq < 0) {
      if (Object.keys(args.named).length) fail(spec, `in '${token}': positional argument '${part}' after key=value ones`);
      args.positional.push(part);
    } else {
      const key = part.slice(0, eq).trim();
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) fail(spec, `in '${token}': '${key}' is not an argument name`);
      args.named[key] = part.slice(eq + 1).trim();
    }
  }
  return args;
}

/** A layer list: an optional input shape, then layers by name. */
function layerList(spec: string, tokens: string[], opts: string, o: ParseOptions) {
  let inputs: number | readonly number[] | undefined = o.inputs;
  let rest = tokens;
  const given = SHAPE_TOKEN.test(tokens[0]!);
  if (given) {
    const dims = tokens[0]!.split('x').map(Number);
    inputs = dims.length === 1 ? dims[0]! : dims;
    rest = tokens.slice(1);
  }
  if (inputs === undefined) fail(spec, 'give the input shape first (e.g. 784-dense(10) or 1x28x28-...): nothing else says what the model takes');
  if (rest.length === 0) fail(spec, 'give at least one layer after the input shape');
  const layers = rest.map((token, k) => {
    const m = LAYER_TOKEN.exec(token);
    if (!m) {
      if (/^\d+$/.test(token)) fail(spec, `'${token}' is a size: in a layer list write dense(${token})`);
      if (SHAPE_TOKEN.test(token)) fail(spec, `'${token}' looks like an input shape, which only the first part may be`);
      fail(spec, `cannot read layer #${k + 1} '${token}': write NAME or NAME(ARGS)`);
    }
    const name = m[1]!.toLowerCase();
    const kind = layerKindByName(name);
    if (!kind) fail(spec, `unknown layer '${m[1]}' (known: ${layerKinds().flatMap((x) => x.syntax.names).join(', ')})`);
    try {
      return kind.syntax.parse(name, layerArgs(spec, token, m[2])) as LayerInput;
    } catch (e) {
      if ((e as Error).message.startsWith('model spec ')) throw e;
      return fail(spec, (e as Error).message);
    }
  });
  if (!given && o.inputViews?.length) inputs = firstViewTaken(layers[0]!, [typeof inputs === 'number' ? [inputs] : inputs!, ...o.inputViews]);
  let loss: Loss = 'softmax_ce';
  let init: Initializer | undefined;
  for (const [key, value] of options(opts)) {
    if (key === 'loss') loss = lossOption(spec, value);
    else if (key === 'init') init = initOption(spec, value);
    else fail(spec, `unknown option '${value === undefined ? key : `${key}=${value}`}' (a layer list takes loss=NAME and init=NAME; write activations, bn and dropout as layers)`);
  }
  return { inputs, layers, loss, ...(init ? { init } : {}) };
}

/** The first of `views` under which `first` (the first layer) resolves; the first view when none does (its error stands). */
function firstViewTaken(first: LayerInput, views: readonly (readonly number[])[]): readonly number[] {
  const kind = layerKind(first.type);
  for (const input of views) {
    try {
      kind.resolve(first, { index: 0, input, nextActivation: undefined });
      return input;
    } catch {
      // not this view
    }
  }
  return views[0]!;
}

const showInput = (s: Shape) => s.join('x');

/** The layer-list text of a model; `parseModelSpec` of it gives the same ModelSpec. */
export function formatModelSpec(m: ModelSpec): string {
  const body = [showInput(inputShape(m)), ...modelLayers(m).map((l) => l.kind.syntax.format(l.spec, l.site))].join('-');
  return m.loss === 'softmax_ce' ? body : `${body}:loss=${m.loss}`;
}

/** Two columns: a form, then its meaning (on the next line when the form is long). */
function columns(rows: readonly (readonly [string, string])[], indent = '  ', width = 36): string[] {
  return rows.flatMap(([form, meaning]) =>
    form.length < width - 1 ? [`${indent}${form.padEnd(width)}${meaning}`] : [`${indent}${form}`, `${indent}${' '.repeat(width)}${meaning}`],
  );
}

/** The text forms and every registered layer's syntax, for `--help`. */
export function modelSyntaxHelp(): string {
  return [
    ...columns([
      ['SIZE-SIZE-...[:OPTIONS]', 'an MLP, sizes from input to output (784-256-256-10); OPTIONS, comma-separated:'],
      ['', 'an activation after each hidden layer (default relu), bn, dropout=P, init=NAME, loss=NAME'],
      ['[INPUT-]LAYER-LAYER-...[:OPTIONS]', 'a layer list; INPUT: the per-example shape, 784 or CxHxW (1x28x28), default'],
      ['', "the data's; OPTIONS: loss=NAME, init=NAME (for every layer with weights naming none)"],
    ]),
    '  e.g. 784-dense(256)-bn-relu-dropout(0.1)-dense(10) is 784-256-10:relu,bn,dropout=0.1;',
    '  a CNN: 1x28x28-conv(32,3,pad=1)-bn2d-relu-maxpool(2)-conv(64,3,pad=1)-relu-maxpool(2)-flatten-dense(10)',
    'Layers:',
    ...columns(layerKinds().flatMap((k) => k.syntax.help)),
    `Initializers (init=): ${INITIALIZERS.join(', ')}. Losses (loss=): ${LOSSES.join(', ')}.`,
  ].join('\n');
}
