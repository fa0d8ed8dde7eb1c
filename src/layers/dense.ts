/**
 * Dense (fully connected) layer over (N, F) activations; the weight is stored in×out (row-major K×N for matmul).
 *
 *   forward   Y = X·W + b                        X: rows×in, W: in×out, b: out
 *   backward  dW = Xᵀ·dY,  db = Σ_rows dY (= 1ᵀ·dY),  dX = dY·Wᵀ
 * Parameters: `weight` [in, out] (group decay; initializer `init`, default he_normal before a ReLU-like activation,
 * else glorot_uniform — see weights.ts), `bias` [out] (group no_decay, zeros) unless bias = false.
 * GPU: one matmul (shaders/matmul.wgsl) whose epilogue adds the bias and applies the next layer's activation when
 * it absorbs it (`acceptsEpilogue`), storing the pre-activation for that activation's backward. Backward: dW = Xᵀ·dY
 * with db = 1ᵀ·dY as its `columnSums` (one dispatch with 'tiled8', the hardware kernel), and dX = dY·Wᵀ only when a
 * layer before has parameters — times f′(z) of the activation before this layer when it absorbs that backward
 * (`acceptsGradEpilogue`, the matmul's `activationGrad`).
 */
import { MatmulOp } from '../kernels/matmul.js';
import { matmulRef } from '../ref/matmul.js';
import { columnSumRef } from '../ref/reduce.js';
import { bindArgs, formatCall } from './args.js';
import { plannedOps, readColumn, showShape, type LayerKind } from './layer.js';
import { INITIALIZERS, defaultWeightInit, initWeights, isInitializer, type Initializer } from './weights.js';

export interface DenseSpec {
  type: 'dense';
  /** Input features (derived from the input shape). */
  inputs: number;
  outputs: number;
  init: Initializer;
  bias: boolean;
}

export interface DenseInput {
  type: 'dense';
  outputs: number;
  /** Checked against the input shape when given. */
  inputs?: number;
  /** Default: he_normal before a ReLU-like activation, else glorot_uniform. */
  init?: Initializer;
  /** Default true. */
  bias?: boolean;
}

/** Builder: `dense(256)`, `dense(10, { bias: false, init: 'glorot_normal' })`. */
export function dense(outputs: number, options: { bias?: boolean; init?: Initializer } = {}): DenseInput {
  return { type: 'dense', outputs, ...options };
}

const ARGS = [
  { key: 'outputs', type: 'count', positional: true },
  { key: 'bias', type: 'bool' },
  { key: 'init', type: INITIALIZERS },
] as const;

export const denseLayer: LayerKind<DenseSpec, DenseInput> = {
  type: 'dense',
  summary: 'fully connected: Y = X·W + b over (N, F)',
  syntax: {
    names: ['dense'],
    help: [['dense(N[,bias=false][,init=NAME])', 'fully connected layer with N outputs; input (N, F)']],
    parse(name, args) {
      const a = bindArgs(name, args, ARGS);
      if (a.outputs === undefined) throw new Error(`${name}: give the number of outputs, e.g. dense(256)`);
      return { type: 'dense', outputs: a.outputs as number, ...(a.bias !== undefined ? { bias: a.bias as boolean } : {}), ...(a.init !== undefined ? { init: a.init as Initializer } : {}) };
    },
    format(s, site) {
      return formatCall('dense', [s.outputs], { bias: s.bias ? undefined : false, init: s.init === defaultWeightInit(site.nextActivation) ? undefined : s.init });
    },
  },
  resolve(l, site) {
    if (site.input.length !== 1) {
      const n = site.input.reduce((a, b) => a * b, 1);
      throw new Error(`takes (N, F) input but its input is ${showShape(site.input)}: reshape it to (N, ${n}) first (reshape(${n}))`);
    }
    const width = site.input[0]!;
    if (l.inputs !== undefined && l.inputs !== width) {
      const p = site.previous;
      const from = p && p.input.length > 1 ? `: layers[${p.index}] (${p.type}) turns ${showShape(p.input)} into ${width} values` : '';
      throw new Error(`expects ${l.inputs} inputs but the previous layer gives ${width} (its output is ${showShape(site.input)})${from}`);
    }
    if (!Number.isInteger(l.outputs) || l.outputs < 1) throw new Error(`outputs must be a positive integer (got ${JSON.stringify(l.outputs)})`);
    const init = l.init ?? defaultWeightInit(site.nextActivation, site.init);
    if (!isInitializer(init)) throw new Error(`unknown initializer '${init}' (known: ${INITIALIZERS.join(', ')})`);
    if (l.bias !== undefined && typeof l.bias !== 'boolean') throw new Error(`bias must be true or false (got ${JSON.stringify(l.bias)})`);
    return { type: 'dense', inputs: width, outputs: l.outputs, init, bias: l.bias ?? true };
  },
  outputShape: (s) => [s.outputs],
  label: () => 'dense',
  params(s) {
    const weight = {
      role: 'weight',
      shape: [s.inputs, s.outputs],
      group: 'decay' as const,
      init: (out: Float32Array, ctx: Parameters<typeof initWeights>[3]) => initWeights(out, s.init, { fanIn: s.inputs, fanOut: s.outputs }, ctx),
    };
    return s.bias ? [weight, { role: 'bias', shape: [s.outputs], group: 'no_decay' }] : [weight];
  },
  // Unit j looks at its input through column j of W (in×out, row-major).
  filters: (s, input) => ({
    count: s.outputs,
    shape: input,
    read: (weight, unit, out) => readColumn(weight, s.inputs, s.outputs, unit, out),
  }),
  cpu: {
    forward(s, c) {
      const bias = s.bias ? c.param('bias') : undefined;
      return { y: matmulRef({ M: c.rows, N: s.outputs, K: s.inputs, a: c.x, b: c.param('weight'), bias }, c.dtype).y };
    },
    backward(s, c) {
      c.grad('weight').set(matmulRef({ M: s.inputs, N: s.outputs, K: c.rows, transA: true, a: c.x, b: c.dy }, c.dtype).y);
      if (s.bias) c.grad('bias').set(columnSumRef(c.dy, c.rows, s.outputs, c.dtype)); // db[j] = Σ_i dy[i, j] in row order
      if (!c.needsDx) return undefined;
      return matmulRef({ M: c.rows, N: s.inputs, K: s.outputs, transB: true, a: c.dy, b: c.param('weight') }, c.dtype).y;
    },
  },
  gpu: {
    acceptsEpilogue: true,
    async forward(s, c) {
      const epi = c.epilogue;
      const op = await MatmulOp.create(c.engine, {
        M: c.rows, N: s.outputs, K: s.inputs, a: c.x, b: c.param('weight'),
        c: epi ? epi.y : c.y,
        bias: s.bias ? c.param('bias') : undefined,
        z: epi ? c.y : undefined,
        activation: epi ? epi.activation : 'identity',
        activationAlpha: epi?.alpha,
      });
      return [{ name: 'forward', op }];
    },
    acceptsGradEpilogue: true,
    backward(s, c) {
      return plannedOps(async (add) => {
        // db = 1ᵀ·dY, the column sums of dY, rides with dW.
        const dW = await MatmulOp.create(c.engine, {
          M: s.inputs, N: s.outputs, K: c.rows, transA: true, a: c.x, b: c.dy, c: c.grad('weight'),
          columnSums: s.bias ? c.grad('bias') : undefined,
        });
        add(s.bias ? (dW.fusedColumnSums ? 'dW+db' : 'dW, db') : 'dW', dW);
        if (!c.needsDx) return;
        const g = c.gradEpilogue;
        add(g ? `dX·${g.activation}′` : 'dX', await MatmulOp.create(c.engine, {
          M: c.rows, N: s.inputs, K: s.outputs, transB: true, a: c.dy, b: c.param('weight'), c: g ? g.dx : c.dx,
          ...(g ? { activation: g.activation, activationAlpha: g.alpha, activationGrad: { z: g.z } } : {}),
        }));
      });
    },
  },
};
