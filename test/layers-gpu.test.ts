/**
 * The GPU runner walks layers only through their kinds: a reshape (a layer that `aliasesInput`) costs no dispatch
 * and no buffer, and a kind registered from outside the library — parsed from text, laid out, planned, fused with
 * the activation after it, trained — agrees with the CPU reference like a built-in one: 3 epochs (9 steps) in
 * lockstep with the bounded float64 reference, as test/gpu-runner.test.ts does (test/helpers/lockstep.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.js';
import { denseLayer, type DenseSpec } from '../src/layers/dense.js';
import { plannedOps, type LayerKind } from '../src/layers/layer.js';
import { MatmulOp } from '../src/kernels/matmul.js';
import { bindArgs, formatCall } from '../src/layers/args.js';
import { registerLayerKind } from '../src/layers/registry.js';
import { formatModelSpec, parseModelSpec } from '../src/model/spec.js';
import { createGpuRunner, type GpuRunner } from '../src/train/gpu-runner.js';
import type { RunnerConfig } from '../src/train/runner.js';
import { gpu } from './helpers/gpu.js';
import { lockstep } from './helpers/lockstep.js';
import { syntheticSet } from './helpers/mlp-v1.js';
import { registerLayerBound } from './helpers/step-bounds.js';

/**
 * A kind the library does not have: Dense with He-uniform weights under its own name, reusing Dense's math, but
 * summing its bias gradient against a scratch buffer of its own (declared filled with ones) and absorbing the
 * backward of an activation before it into its dX matmul (dX ⊙ f′(z) through the matmul's activationGrad).
 */
type LinearSpec = Omit<DenseSpec, 'type'> & { type: 'linear' };
const denseGpu = denseLayer.gpu as unknown as LayerKind<LinearSpec>['gpu'];
const linearLayer: LayerKind<LinearSpec, { type: 'linear'; outputs: number }> = {
  ...(denseLayer as unknown as LayerKind<LinearSpec, { type: 'linear'; outputs: number }>),
  type: 'linear',
  summary: 'Y = X·W (test kind)',
  syntax: {
    names: ['linear'],
    help: [['linear(N)', 'Y = X·W with N outputs (test kind)']],
    parse: (name, args) => ({ type: 'linear', outputs: bindArgs(name, args, [{ key: 'outputs', type: 'count', positional: true }]).outputs as number }),
    format: (s) => formatCall('linear', [s.outputs]),
  },
  resolve: (l, site) => ({ ...denseLayer.resolve({ type: 'dense', outputs: l.outputs, init: 'he_uniform' }, site), type: 'linear' }),
  label: () => 'linear',
  gpu: {
    ...denseGpu,
    buffers: (_s, io) => [{ name: 'ones', bytes: 4 * io.batch, fill: 1 }],
    acceptsGradEpilogue: true,
    backward: (s, c) =>
      plannedOps(async (add) => {
        const g = c.gradEpilogue;
        add('dW', await MatmulOp.create(c.engine, { M: s.inputs, N: s.outputs, K: c.rows, transA: true, a: c.x, b: c.dy, c: c.grad('weight') }));
        // db = 1ᵀ·dY against the layer's own scratch buffer of ones.
        add('db', await MatmulOp.create(c.engine, { M: 1, N: s.outputs, K: c.rows, a: c.buffer('ones'), b: c.dy, c: c.grad('bias') }));
        if (!c.needsDx) return;
        const op = await MatmulOp.create(c.engine, {
          M: c.rows, N: s.inputs, K: s.outputs, transB: true, a: c.dy, b: c.param('weight'), c: g ? g.dx : c.dx,
          ...(g ? { activation: g.activation, activationAlpha: g.alpha, activationGrad: { z: g.z } } : {}),
        });
        add(g ? `dX+${g.activation}′` : 'dX', op);
      }),
  },
};
registerLayerKind(linearLayer);
registerLayerBound('linear', { like: 'dense' }); // Dense's math, so Dense's error bound

const ds: Dataset = syntheticSet(90, 32, 5, 8); // 90 = 2×32 + 26: every epoch ends with a partial batch

/** 3 epochs of 3 steps, each checked against the bounded reference from the GPU's own state. */
const trained = (g: GpuRunner, config: RunnerConfig) => lockstep(g, config, ds, 9, (config.optimizer.hyperparams as { lr: number }).lr);

describe('GPU runner: layers through their kinds only', () => {
  afterAll(async () => (await gpu()).destroy());

  it('a reshape costs no dispatch and no buffer, and trains like the CPU reference', async () => {
    const engine = await gpu();
    const config = (model: string): RunnerConfig => ({ model: parseModelSpec(model), batchSize: 32, optimizer: { name: 'Adam', hyperparams: { lr: 3e-3 } }, seed: 6 });
    const plain = config('32-dense(12)-relu-dense(5)');
    const shaped = config('2x4x4-reshape(32)-reshape(4,8)-reshape(-1)-dense(12)-relu-dense(5)');
    const before = engine.memory();
    const gp = await createGpuRunner(engine, plain);
    const plainBuffers = engine.memory().buffers - before.buffers;
    await trained(gp, plain);
    const plainDispatches = gp.dispatchesPerStep;
    gp.destroy();
    const g = await createGpuRunner(engine, shaped);
    expect(engine.memory().buffers - before.buffers).toBe(plainBuffers);
    await trained(g, shaped);
    expect(g.dispatchesPerStep).toBe(plainDispatches);
    g.destroy();
    expect(engine.memory().buffers).toBe(before.buffers);
  });

  it('a kind registered from outside: parsed, planned, fused with the activations around it, trained like the CPU', async () => {
    const engine = await gpu();
    const model = parseModelSpec('32-linear(12)-relu-linear(8)-tanh-dense(5)');
    expect(model.layers[0]).toEqual({ type: 'linear', inputs: 32, outputs: 12, init: 'he_uniform', bias: true });
    expect(formatModelSpec(model)).toBe('32-linear(12)-relu-linear(8)-tanh-dense(5)');
    expect(() => parseModelSpec('1x32-linear(12)')).toThrow(/layers\[0\] \(linear\): takes \(N, F\) input but its input is \(N, 1, 32\)/);
    const config: RunnerConfig = { model, batchSize: 32, optimizer: { name: 'SGD', hyperparams: { lr: 0.05, momentum: 0.9 } }, seed: 2 };
    const g: GpuRunner = await createGpuRunner(engine, config);
    expect(g.layout.params.map((p) => p.name)).toEqual(['layers.0.weight', 'layers.2.weight', 'layers.4.weight', 'layers.0.bias', 'layers.2.bias', 'layers.4.bias']);
    await trained(g, config);
    // gather + 3 matmuls (relu and tanh fused) + loss + metrics + dense dW(+db: one dispatch with the hardware kernel,
    // two on software adapters), dX⊙tanh′ (tanh′ absorbed) + linear dW, db, dX⊙relu′ (relu′ absorbed) + linear dW, db
    // + optimizer (2)
    const dbApart = engine.software ? 1 : 0;
    expect(g.dispatchesPerStep).toBe(1 + 3 + 2 + (1 + dbApart) + 1 + 3 + 2 + 2);
    // The step's ops by name (stepOps: on every adapter; profileStep times the same ops where 'timestamp-query' exists).
    const ops = (await g.stepOps(32)).filter((o) => o.where !== 'optimizer').map((o) => o.op);
    expect(ops).toEqual(expect.arrayContaining(['layers.0.linear+relu forward', 'layers.2.linear+tanh forward', 'layers.4.dense dX·tanh′', 'layers.2.linear dX+relu′', 'layers.0.linear db']));
    expect(ops.filter((o) => o.startsWith('layers.1.') || o.startsWith('layers.3.'))).toEqual([]);
    const profile = await g.profileStep({ step: 99, start: 0, rows: 32, lr: 0.05 });
    if (profile) expect(profile.map((p) => p.op)).toEqual([...ops, 'optimizer SGD']);
    g.destroy();
  });
});
