import { describe, expect, it } from 'vitest';
import { CpuModel, type Targets } from '../src/model/cpu-model.js';
import { layoutModel } from '../src/model/layout.js';
import { initParams, initStats } from '../src/model/params.js';
import { parseModelSpec, validateModelSpec, type ModelSpec } from '../src/model/spec.js';
import { rng, seedInfo } from './helpers/random.js';

/** Mean loss of the batch for flat params p (float64), with stats copied so BatchNorm's side effect does not leak. */
function meanLoss(model: CpuModel, p: Float64Array, stats: Float64Array, x: Float64Array, rows: number, t: Targets, step: number): number {
  const f = model.forward(p, Float64Array.from(stats), x, rows, { training: true, seed: 7, step });
  return model.loss(f, t).lossSum / rows;
}

function gradCheck(spec: ModelSpec, rows: number) {
  const rand = rng();
  const model = new CpuModel(spec, 'float64');
  const { layout } = model;
  const p = Float64Array.from(initParams(spec, layout, 3));
  // Non-trivial BatchNorm parameters and biases, so their gradients are exercised away from the initial point.
  for (const s of layout.params) if (s.role !== 'weight') for (let k = 0; k < s.size; k++) p[s.offset + k] = (s.role === 'gamma' ? 1 : 0) + 0.3 * (rand() - 0.5);
  const stats = Float64Array.from(initStats(spec, layout));
  const x = Float64Array.from({ length: rows * spec.inputs }, () => 2 * rand() - 1);
  const outputs = model.outputs;
  const t: Targets =
    spec.loss === 'softmax_ce'
      ? { labels: Array.from({ length: rows }, () => Math.floor(rand() * outputs)) }
      : { values: Float32Array.from({ length: rows * outputs }, () => (spec.loss === 'bce' ? (rand() < 0.5 ? 0 : 1) : rand() * 2 - 1)) };
  const step = 5;
  const f = model.forward(p, Float64Array.from(stats), x, rows, { training: true, seed: 7, step });
  const grads = new Float64Array(layout.n);
  model.backward(p, f, model.loss(f, t).dOut, grads, { training: true, seed: 7, step });
  const h = 1e-6;
  let checked = 0;
  for (const s of layout.params) {
    for (let c = 0; c < Math.min(6, s.size); c++) {
      const k = s.offset + Math.floor(rand() * s.size);
      const saved = p[k]!;
      p[k] = saved + h;
      const up = meanLoss(model, p, stats, x, rows, t, step);
      p[k] = saved - h;
      const down = meanLoss(model, p, stats, x, rows, t, step);
      p[k] = saved;
      const fd = (up - down) / (2 * h);
      const an = grads[k]!;
      expect(Number.isFinite(an), `${s.name}[${k - s.offset}] gradient is ${an}`).toBe(true);
      expect(Math.abs(fd - an), `${s.name}[${k - s.offset}]: backward ${an} vs central difference ${fd}`).toBeLessThanOrEqual(1e-6 + 1e-5 * Math.abs(fd));
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(0);
}

describe(`CPU reference model: backward vs central finite differences, float64 (${seedInfo()})`, () => {
  it('dense + relu + softmax cross-entropy', () => gradCheck(parseModelSpec('7-5-3:relu'), 4));
  it('dense + batchnorm + tanh + dropout + softmax cross-entropy', () => gradCheck(parseModelSpec('6-9-8-4:tanh,bn,dropout=0.3'), 5));
  it('gelu, sigmoid and elu with mse and bce losses', () => {
    gradCheck(parseModelSpec('5-6-3:gelu,loss=mse'), 3);
    gradCheck(parseModelSpec('5-6-2:sigmoid,loss=bce'), 3);
    gradCheck(parseModelSpec('4-7-6-3:elu,bn,loss=mse'), 6);
  });
});

describe('model spec and layout', () => {
  it('parses the CLI string into layers', () => {
    const m = parseModelSpec('784-256-256-10:relu,bn,dropout=0.1');
    expect(m.layers.map((l) => l.type)).toEqual([
      'dense', 'batchnorm', 'activation', 'dropout', 'dense', 'batchnorm', 'activation', 'dropout', 'dense',
    ]);
    expect(m.loss).toBe('softmax_ce');
  });
  it('rejects bad strings with a message naming the problem', () => {
    expect(() => parseModelSpec('784')).toThrow(/at least an input and an output/);
    expect(() => parseModelSpec('784-x-10')).toThrow(/size #2/);
    expect(() => parseModelSpec('784-10:swish')).toThrow(/unknown option 'swish'/);
    expect(() => parseModelSpec('784-10:dropout=1')).toThrow(/\[0, 1\)/);
    const m = parseModelSpec('4-3-2');
    (m.layers[2] as { inputs: number }).inputs = 5;
    expect(() => validateModelSpec(m)).toThrow(/layers\[2\] \(dense\): expects 5 inputs but the previous layer gives 3/);
  });
  it('lays parameters out 256-byte aligned, weights first, in contiguous decay groups', () => {
    const m = parseModelSpec('33-7-130-1:relu,bn');
    const L = layoutModel(m);
    for (const p of L.params) expect(p.offset % 64).toBe(0);
    for (let i = 1; i < L.params.length; i++) expect(L.params[i]!.offset).toBeGreaterThanOrEqual(L.params[i - 1]!.offset + L.params[i - 1]!.size);
    expect(L.groups.map((g) => g.name)).toEqual(['decay', 'no_decay']);
    expect(L.groups[0]!.end).toBe(L.groups[1]!.start);
    expect(L.groups[1]!.end).toBe(L.n);
    const weights = L.params.filter((p) => p.role === 'weight');
    expect(weights.every((w) => w.offset < L.groups[0]!.end)).toBe(true);
    const stats = L.stats.filter((s) => s.role === 'running_var');
    expect(stats.map((s) => s.size)).toEqual([7, 130]);
  });
  it('initialises reproducibly from the seed', () => {
    const m = parseModelSpec('20-10-3:relu');
    const L = layoutModel(m);
    expect(initParams(m, L, 5)).toEqual(initParams(m, L, 5));
    expect(initParams(m, L, 5)).not.toEqual(initParams(m, L, 6));
  });
});
