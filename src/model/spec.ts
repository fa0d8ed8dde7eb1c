/**
 * A model description that is plain data: it is parsed from the CLI's MLP string, built through the API, stored in
 * checkpoints, and compiled into either the CPU reference model or the GPU step plan.
 *
 * MLP string: `SIZES[:OPTIONS]`, SIZES = `in-h1-...-out` (at least two sizes), OPTIONS comma-separated:
 *   an activation name (default relu) applied after every hidden Dense layer;
 *   `bn` — BatchNorm1d after each hidden Dense layer (before the activation, as in Ioffe & Szegedy);
 *   `dropout=P` — Dropout(P) after each hidden activation;
 *   `init=NAME` — weight initializer (default: he_normal for relu-like activations, glorot_uniform otherwise);
 *   `loss=softmax_ce|mse|bce` — default softmax_ce.
 * Example: `784-256-256-10:relu,bn,dropout=0.1` =
 *   Dense(784,256) BatchNorm1d(256) relu Dropout(0.1) Dense(256,256) BatchNorm1d(256) relu Dropout(0.1) Dense(256,10).
 */
import { ACTIVATIONS, type Activation } from '../kernels/activation.js';

export type Loss = 'softmax_ce' | 'mse' | 'bce';
export const LOSSES: readonly Loss[] = ['softmax_ce', 'mse', 'bce'];

export type Initializer =
  | 'glorot_uniform' | 'glorot_normal' | 'he_uniform' | 'he_normal' | 'lecun_normal' | 'zeros' | 'constant';
export const INITIALIZERS: readonly Initializer[] = [
  'glorot_uniform', 'glorot_normal', 'he_uniform', 'he_normal', 'lecun_normal', 'zeros', 'constant',
];

export type LayerSpec =
  | { type: 'dense'; inputs: number; outputs: number; init: Initializer; bias: boolean }
  | { type: 'activation'; kind: Activation; alpha?: number }
  | { type: 'batchnorm'; features: number; eps: number; momentum: number }
  | { type: 'dropout'; p: number };

export interface ModelSpec {
  format: 'wgtrain.model/1';
  inputs: number;
  layers: LayerSpec[];
  loss: Loss;
}

function fail(spec: string, why: string): never {
  throw new Error(`model spec '${spec}': ${why}. Example: 784-256-256-10:relu,bn,dropout=0.1`);
}

const RELU_LIKE = new Set<Activation>(['relu', 'leaky_relu', 'elu', 'gelu', 'gelu_tanh']);

/** Parses the CLI's MLP string into a ModelSpec (see the module comment for the grammar). */
export function parseModelSpec(spec: string): ModelSpec {
  const [sizesPart, optionsPart = ''] = spec.trim().split(':', 2) as [string, string?];
  const sizes = sizesPart.split('-').map((s) => Number(s));
  if (sizes.length < 2) fail(spec, 'give at least an input and an output size, separated by "-"');
  sizes.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1) fail(spec, `size #${i + 1} ('${sizesPart.split('-')[i]}') must be a positive integer`);
  });
  let activation: Activation = 'relu';
  let bn = false;
  let dropout = 0;
  let init: Initializer | undefined;
  let loss: Loss = 'softmax_ce';
  for (const raw of optionsPart.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [key, value] = raw.split('=', 2) as [string, string?];
    if (value === undefined && key in ACTIVATIONS) activation = key as Activation;
    else if (key === 'bn' && value === undefined) bn = true;
    else if (key === 'dropout') {
      const p = Number(value);
      if (!(p >= 0 && p < 1)) fail(spec, `dropout=${value}: the drop probability must be in [0, 1)`);
      dropout = p;
    } else if (key === 'init') {
      if (!INITIALIZERS.includes(value as Initializer)) fail(spec, `init=${value}: known initializers are ${INITIALIZERS.join(', ')}`);
      init = value as Initializer;
    } else if (key === 'loss') {
      if (!LOSSES.includes(value as Loss)) fail(spec, `loss=${value}: known losses are ${LOSSES.join(', ')}`);
      loss = value as Loss;
    } else fail(spec, `unknown option '${raw}' (options: an activation [${Object.keys(ACTIVATIONS).join(' ')}], bn, dropout=P, init=NAME, loss=NAME)`);
  }
  const weightInit: Initializer = init ?? (RELU_LIKE.has(activation) ? 'he_normal' : 'glorot_uniform');
  const layers: LayerSpec[] = [];
  for (let i = 0; i + 1 < sizes.length; i++) {
    const last = i + 2 === sizes.length;
    layers.push({ type: 'dense', inputs: sizes[i]!, outputs: sizes[i + 1]!, init: last && !init ? 'glorot_uniform' : weightInit, bias: true });
    if (last) break;
    if (bn) layers.push({ type: 'batchnorm', features: sizes[i + 1]!, eps: 1e-5, momentum: 0.1 });
    layers.push({ type: 'activation', kind: activation });
    if (dropout > 0) layers.push({ type: 'dropout', p: dropout });
  }
  return validateModelSpec({ format: 'wgtrain.model/1', inputs: sizes[0]!, layers, loss });
}

/** Checks a ModelSpec built by hand or read from a checkpoint: consistent widths, known kinds, sane values. */
export function validateModelSpec(m: ModelSpec): ModelSpec {
  if (m?.format !== 'wgtrain.model/1') throw new Error(`model spec: format must be 'wgtrain.model/1' (got ${JSON.stringify(m?.format)})`);
  if (!Number.isInteger(m.inputs) || m.inputs < 1) throw new Error(`model spec: inputs must be a positive integer (got ${m.inputs})`);
  if (!LOSSES.includes(m.loss)) throw new Error(`model spec: loss must be one of ${LOSSES.join(', ')} (got ${m.loss})`);
  if (!Array.isArray(m.layers) || m.layers.length === 0) throw new Error('model spec: layers must be a non-empty list');
  let width = m.inputs;
  m.layers.forEach((l, i) => {
    const at = `model spec: layers[${i}] (${l.type})`;
    switch (l.type) {
      case 'dense':
        if (l.inputs !== width) throw new Error(`${at}: expects ${l.inputs} inputs but the previous layer gives ${width}`);
        if (!Number.isInteger(l.outputs) || l.outputs < 1) throw new Error(`${at}: outputs must be a positive integer`);
        if (!INITIALIZERS.includes(l.init)) throw new Error(`${at}: unknown initializer '${l.init}'`);
        width = l.outputs;
        break;
      case 'batchnorm':
        if (l.features !== width) throw new Error(`${at}: has ${l.features} features but its input has ${width}`);
        if (!(l.eps > 0) || !(l.momentum >= 0 && l.momentum <= 1)) throw new Error(`${at}: needs eps > 0 and momentum in [0, 1]`);
        break;
      case 'activation':
        if (!(l.kind in ACTIVATIONS)) throw new Error(`${at}: unknown activation '${l.kind}'`);
        break;
      case 'dropout':
        if (!(l.p >= 0 && l.p < 1)) throw new Error(`${at}: p must be in [0, 1)`);
        break;
      default:
        throw new Error(`${at}: unknown layer type`);
    }
  });
  return m;
}

/** Width of the model's output (logits / predictions). */
export function outputSize(m: ModelSpec): number {
  let w = m.inputs;
  for (const l of m.layers) if (l.type === 'dense') w = l.outputs;
  return w;
}

/** Short human description, e.g. `784-256-256-10 relu (softmax_ce)`. */
export function describeModel(m: ModelSpec): string {
  const sizes = [m.inputs, ...m.layers.filter((l) => l.type === 'dense').map((l) => (l as { outputs: number }).outputs)];
  const extras = [...new Set(m.layers.filter((l) => l.type !== 'dense').map((l) => (l.type === 'activation' ? l.kind : l.type === 'dropout' ? `dropout=${l.p}` : 'bn')))];
  return `${sizes.join('-')} ${extras.join(',')} (${m.loss})`;
}
