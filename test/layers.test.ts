/**
 * Layers as modules (src/layers) and the three forms of a model description (text, builder, object): they agree,
 * fill in defaults, round-trip through `formatModelSpec`, and reject bad input with messages that name the layer
 * and the shapes. The CPU reference of every kind passes a directional finite-difference check of the whole
 * parameter gradient, tensor shapes included (a reshape to a 3-D shape and back).
 */
import { describe, expect, it } from 'vitest';
import { avgPool2d, batchNorm, batchNorm2d, conv2d, dense, dropout, elu, flatten, globalAvgPool, leakyRelu, maxPool2d, relu, reshape, tanh } from '../src/layers/index.js';
import { layerKind, layerKinds, registerLayerKind } from '../src/layers/registry.js';
import { CpuModel, type Targets } from '../src/model/cpu-model.js';
import { layoutModel } from '../src/model/layout.js';
import { initParams, initStats } from '../src/model/params.js';
import { describeModel, formatModelSpec, modelSizes, outputShape, parseModelSpec, sequential, validateModelSpec, type ModelSpec } from '../src/model/spec.js';
import { modelSyntaxHelp } from '../src/model/text.js';
import { rng, seedInfo } from './helpers/random.js';

describe('model descriptions: text, builder and object forms', () => {
  it('the MLP shorthand, a layer list, the builder and a hand-written object give the same complete spec', () => {
    const mlp = parseModelSpec('784-256-256-10:relu,bn,dropout=0.1');
    const list = parseModelSpec('784-dense(256)-bn-relu-dropout(0.1)-dense(256)-bn-relu-dropout(0.1)-dense(10)');
    const built = sequential([dense(256), batchNorm(), relu(), dropout(0.1), dense(256), batchNorm(), relu(), dropout(0.1), dense(10)], { inputs: 784 });
    const object = validateModelSpec({
      inputs: 784,
      layers: [
        { type: 'dense', outputs: 256 }, { type: 'batchnorm' }, { type: 'activation', kind: 'relu' }, { type: 'dropout', p: 0.1 },
        { type: 'dense', outputs: 256 }, { type: 'batchnorm' }, { type: 'activation', kind: 'relu' }, { type: 'dropout', p: 0.1 },
        { type: 'dense', outputs: 10 },
      ],
    });
    for (const m of [list, built, object]) expect(m).toEqual(mlp);
    expect(mlp.format).toBe('wgtrain.model/1');
    expect(mlp.loss).toBe('softmax_ce');
    expect(mlp.layers[0]).toEqual({ type: 'dense', inputs: 784, outputs: 256, init: 'he_normal', bias: true });
    expect(mlp.layers[1]).toEqual({ type: 'batchnorm', features: 256, eps: 1e-5, momentum: 0.1 });
    expect(mlp.layers.at(-1)).toEqual({ type: 'dense', inputs: 256, outputs: 10, init: 'glorot_uniform', bias: true });
  });

  it('chooses initializers by the activation that follows (through BatchNorm), or the model-wide init', () => {
    const inits = (m: ModelSpec) => m.layers.flatMap((l) => (l.type === 'dense' ? [l.init] : []));
    expect(inits(parseModelSpec('8-dense(4)-bn-gelu-dense(4)-tanh-dense(4)-dropout(0.5)-relu-dense(2)'))).toEqual(['he_normal', 'glorot_uniform', 'glorot_uniform', 'glorot_uniform']);
    expect(inits(parseModelSpec('8-4-2:tanh'))).toEqual(['glorot_uniform', 'glorot_uniform']);
    expect(inits(parseModelSpec('8-dense(4)-relu-dense(2,init=zeros):init=lecun_normal'))).toEqual(['lecun_normal', 'zeros']);
    expect(inits(sequential([dense(4), relu(), dense(2)], { inputs: 8, init: 'he_uniform' }))).toEqual(['he_uniform', 'he_uniform']);
  });

  it('round-trips through formatModelSpec', () => {
    for (const text of [
      '784-256-256-10:relu,bn,dropout=0.1',
      '6-5-4:elu,bn,loss=mse',
      '12-dense(7,bias=false,init=lecun_normal)-leaky_relu(0.2)-bn(eps=0.001,momentum=0.01)-elu(0.5)-dropout(0.25)-dense(3):loss=bce',
      '1x28x28-reshape(784)-dense(16)-gelu_tanh-dense(10)',
      '784-reshape(2,-1,14)-reshape(-1)-dense(10)',
    ]) {
      const m = parseModelSpec(text);
      const again = formatModelSpec(m);
      expect(parseModelSpec(again), `${text} → ${again}`).toEqual(m);
    }
    expect(formatModelSpec(parseModelSpec('784-256-10:relu,dropout=0.1'))).toBe('784-dense(256)-relu-dropout(0.1)-dense(10)');
    expect(formatModelSpec(parseModelSpec('784-reshape(4,-1,14)-reshape(784)-dense(10):loss=mse'))).toBe('784-reshape(4,14,14)-reshape(784)-dense(10):loss=mse');
  });

  it('takes shapes: a C×H×W input, reshape, sizes and descriptions by layer', () => {
    const m = parseModelSpec('1x28x28-reshape(-1)-dense(32)-relu-dense(10)');
    expect(m.inputs).toBe(784);
    expect(m.inputShape).toEqual([1, 28, 28]);
    expect(m.layers[0]).toEqual({ type: 'reshape', shape: [784] });
    expect(validateModelSpec({ inputs: [1, 28, 28], layers: [reshape(784), dense(10)] })).toEqual(parseModelSpec('1x28x28-reshape(784)-dense(10)'));
    expect(validateModelSpec({ inputs: [784], layers: [dense(10)] })).toEqual(parseModelSpec('784-dense(10)'));
    expect(outputShape(parseModelSpec('784-reshape(4,14,14)'))).toEqual([4, 14, 14]);
    expect(modelSizes(m)).toBe('1x28x28-784-32-10');
    expect(describeModel(parseModelSpec('784-256-256-10:relu,bn,dropout=0.1'))).toBe('784-256-256-10 bn,relu,dropout=0.1 (softmax_ce)');
    expect(describeModel(parseModelSpec('784-16-10'))).toBe('784-16-10 relu (softmax_ce)');
    // The input shape may come from the caller (the CLI passes MNIST's 784).
    expect(parseModelSpec('dense(10)', { inputs: 784 })).toEqual(parseModelSpec('784-dense(10)'));
    expect(parseModelSpec('2x3-reshape(6)', { inputs: 784 }).inputShape).toEqual([2, 3]);
  });

  it('names and shapes every tensor by layer; groups weights apart from biases and norm parameters', () => {
    const m = parseModelSpec('3x2-reshape(6)-dense(4)-bn-relu-dense(3,bias=false)');
    const L = layoutModel(m);
    expect(L.params.map((p) => [p.name, p.shape, p.offset])).toEqual([
      ['layers.1.weight', [6, 4], 0], ['layers.4.weight', [4, 3], 64],
      ['layers.1.bias', [4], 128], ['layers.2.gamma', [4], 192], ['layers.2.beta', [4], 256],
    ]);
    expect(L.groups).toEqual([{ name: 'decay', start: 0, end: 128 }, { name: 'no_decay', start: 128, end: 320 }]);
    expect(L.stats.map((s) => [s.name, s.offset])).toEqual([['layers.2.running_mean', 0], ['layers.2.running_var', 4]]);
  });

  it('documents every registered layer in the help text', () => {
    const help = modelSyntaxHelp();
    for (const k of layerKinds()) for (const [form] of k.syntax.help) expect(help).toContain(form);
    expect(help).toContain('1x28x28');
  });
});

describe('CNN descriptions: conv2d, pooling, bn2d, flatten and gap in every form', () => {
  const TEXT = '1x28x28-conv(32,3,pad=1)-bn2d-relu-maxpool(2)-conv(64,3,stride=2,pad=same)-relu-avgpool(3,2,pad=1)-dropout(0.25)-flatten-dense(10)';

  it('text, builder and object give the same complete spec, with shapes by layer', () => {
    expect(() => parseModelSpec(TEXT)).toThrow(/padding 'same' needs stride 1/);
    const text = TEXT.replace('pad=same', 'pad=1');
    const m = parseModelSpec(text);
    const built = sequential([
      conv2d({ filters: 32, kernel: 3, padding: 1 }), batchNorm2d(), relu(), maxPool2d(2),
      conv2d(64, 3, { stride: 2, padding: 1 }), relu(), avgPool2d(3, { stride: 2, padding: 1 }), dropout(0.25), flatten(), dense(10),
    ], { inputs: [1, 28, 28] });
    const object = validateModelSpec({
      inputs: 784, inputShape: [1, 28, 28],
      layers: [
        { type: 'conv2d', filters: 32, kernel: [3, 3], padding: [1, 1] }, { type: 'batchnorm2d' }, { type: 'activation', kind: 'relu' }, { type: 'maxpool2d', kernel: 2 },
        { type: 'conv2d', filters: 64, kernel: 3, stride: 2, padding: 1 }, { type: 'activation', kind: 'relu' }, { type: 'avgpool2d', kernel: 3, stride: 2, padding: 1 },
        { type: 'dropout', p: 0.25 }, { type: 'flatten' }, { type: 'dense', outputs: 10 },
      ],
    });
    expect(built).toEqual(m);
    expect(object).toEqual(m);
    expect(m.layers[0]).toEqual({ type: 'conv2d', inChannels: 1, filters: 32, kernel: [3, 3], stride: [1, 1], padding: [1, 1], dilation: [1, 1], bias: true, init: 'he_normal' });
    expect(m.layers[1]).toEqual({ type: 'batchnorm2d', channels: 32, eps: 1e-5, momentum: 0.1 });
    expect(m.layers[3]).toEqual({ type: 'maxpool2d', kernel: [2, 2], stride: [2, 2], padding: [0, 0] });
    expect(modelSizes(m)).toBe('1x28x28-32x28x28-32x14x14-64x7x7-64x4x4-1024-10');
    expect(describeModel(m)).toBe('1x28x28-32x28x28-32x14x14-64x7x7-64x4x4-1024-10 bn2d,relu,dropout=0.25 (softmax_ce)');
    expect(formatModelSpec(m)).toBe(text);
    expect(parseModelSpec(formatModelSpec(m))).toEqual(m);
    // 'same' padding (stride 1) keeps the size; kernels, strides and padding as HxW pairs; gap; aliases.
    const same = parseModelSpec('3x9x8-conv2d(4,3x5,pad=same,dilation=2x1,bias=false)-maxpool2d(3x2,2x1,pad=1x0)-gap-dense(2)');
    expect(modelSizes(same)).toBe('3x9x8-4x9x8-4x5x7-4-2');
    expect(formatModelSpec(same)).toBe('3x9x8-conv(4,3x5,pad=2,dilation=2x1,bias=false)-maxpool(3x2,2x1,pad=1x0)-gap-dense(2)');
    expect(sequential([conv2d(4, [3, 5], { padding: 'same', dilation: [2, 1], bias: false }), maxPool2d([3, 2], { stride: [2, 1], padding: [1, 0] }), globalAvgPool(), dense(2)], { inputs: [3, 9, 8] })).toEqual(same);
  });

  it('names and shapes every tensor by layer: conv weights [C, kh, kw, F] with fans C·kh·kw and F·kh·kw', () => {
    const m = parseModelSpec('2x5x5-conv(3,3)-bn2d-relu-flatten-dense(4)');
    const L = layoutModel(m);
    expect(L.params.map((p) => [p.name, p.shape])).toEqual([
      ['layers.0.weight', [2, 3, 3, 3]], ['layers.4.weight', [27, 4]],
      ['layers.0.bias', [3]], ['layers.1.gamma', [3]], ['layers.1.beta', [3]], ['layers.4.bias', [4]],
    ]);
    expect(L.stats.map((s) => [s.name, s.shape])).toEqual([['layers.1.running_mean', [3]], ['layers.1.running_var', [3]]]);
    // He normal (through bn2d to the ReLU): std √(2 / (C·kh·kw)) = √(2/18).
    const p = initParams(parseModelSpec('16x12x12-conv(64,3)-relu-flatten-dense(2)'), layoutModel(parseModelSpec('16x12x12-conv(64,3)-relu-flatten-dense(2)')), 5);
    const w = Array.from(p.subarray(0, 16 * 9 * 64));
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.95 * Math.sqrt(2 / 144));
    expect(std).toBeLessThan(1.05 * Math.sqrt(2 / 144));
  });
});

describe('bad model descriptions get a message naming the layer and the shapes', () => {
  const bad: [string, RegExp][] = [
    ['784-dense(256)-relux-dense(10)', /unknown layer 'relux' \(known: dense, identity, relu/],
    ['784-dense(256)-10', /'10' is a size: in a layer list write dense\(10\)/],
    ['784-dense(0)', /dense: outputs=0 must be a positive integer/],
    ['784-dense()', /give the number of outputs, e.g. dense\(256\)/],
    ['784-dense(10,bias=maybe)', /dense: bias=maybe must be true or false/],
    ['784-dense(10,units=3)', /dense: unknown argument 'units' \(it takes outputs, bias, init\)/],
    ['784-dense(10,init=xavier)', /init=xavier must be one of glorot_uniform/],
    ['784-dense(10)-relu(0.3)', /relu: takes no positional arguments, got 1/],
    ['784-dense(10)-leaky_relu(x)', /leaky_relu: alpha=x must be a finite number/],
    ['784-dense(10)-dropout(1)', /layers\[1\] \(dropout\): p must be in \[0, 1\) \(got 1\)/],
    ['784-dense(10)-bn(eps=0)', /layers\[1\] \(batchnorm\): needs eps > 0 and momentum in \[0, 1\] \(got eps 0, momentum 0.1\)/],
    ['784-dense(10:relu', /unbalanced '\('/],
    ['784-dense(10)):relu', /unbalanced '\)'/],
    ['784-dense(10):relu', /unknown option 'relu' \(a layer list takes loss=NAME and init=NAME/],
    ['784-dense(10):loss=hinge', /loss=hinge: known losses are softmax_ce, mse, bce/],
    ['dense(10)', /give the input shape first/],
    ['784', /at least an input and an output/],
    ['1x28x28-dense(10)', /layers\[0\] \(dense\): takes \(N, F\) input but its input is \(N, 1, 28, 28\): reshape it to \(N, 784\) first \(reshape\(784\)\)/],
    ['1x28x28-bn', /layers\[0\] \(batchnorm\): is BatchNorm1d over \(N, F\) but its input is \(N, 1, 28, 28\)/],
    ['784-reshape(5,5)', /layers\[0\] \(reshape\): cannot reshape \(N, 784\) \(784 values per example\) to \(N, 5, 5\)/],
    ['784-reshape(-1,-1)', /more than one -1/],
    ['784-dense(10)-1x2', /'1x2' looks like an input shape, which only the first part may be/],
    ['1x5x5-conv(4,7)', /layers\[0\] \(conv2d\): its kernel 7×7 is larger than its padded input 5×5 \(input \(N, 1, 5, 5\), padding 0×0\)/],
    ['1x5x5-conv(4,3,dilation=3)', /layers\[0\] \(conv2d\): its kernel 3×3 \(dilated: 7×7\) is larger than its padded input 5×5/],
    ['1x8x8-conv(4,3)-maxpool(7)', /layers\[1\] \(maxpool2d\): its kernel 7×7 is larger than its padded input 6×6 \(input \(N, 4, 6, 6\)/],
    ['1x8x8-conv(4,3,stride=0)', /conv: stride=0 must be a positive integer or two as HxW/],
    ['1x8x8-avgpool(2,0)', /avgpool: stride=0 must be a positive integer/],
    ['1x8x8-maxpool(2,pad=2)', /layers\[0\] \(maxpool2d\): padding 2×2 must be at most half the kernel 2×2/],
    ['784-conv(8,3)', /layers\[0\] \(conv2d\): takes \(N, C, H, W\) input but its input is \(N, 784\): .*reshape\(1,28,28\), or an input shape 1x28x28/],
    ['784-dense(10)-maxpool(2)', /layers\[1\] \(maxpool2d\): takes \(N, C, H, W\) input but its input is \(N, 10\)/],
    ['1x28x28-bn', /is BatchNorm1d over \(N, F\) but its input is \(N, 1, 28, 28\): for per-channel BatchNorm2d write bn2d/],
    ['784-bn2d', /layers\[0\] \(batchnorm2d\): takes \(N, C, H, W\) input but its input is \(N, 784\)/],
    ['1x8x8-conv(4,3)-dense(10)', /layers\[1\] \(dense\): takes \(N, F\) input but its input is \(N, 4, 6, 6\): reshape it to \(N, 144\) first/],
    ['1x8x8-conv(4)', /conv: give the filters and the kernel size, e.g. conv\(32,3\)/],
    ['1x8x8-gap(2)', /gap: takes no positional arguments/],
  ];
  for (const [text, why] of bad) {
    it(text, () => {
      expect(() => parseModelSpec(text)).toThrow(why);
      expect(() => parseModelSpec(text)).toThrow(`model spec '${text}': `);
    });
  }

  it('objects: wrong format, inputs, kinds and sizes', () => {
    expect(() => validateModelSpec({ format: 'wgtrain.model/9' as 'wgtrain.model/1', inputs: 4, layers: [dense(2)] })).toThrow(/format must be 'wgtrain.model\/1' \(got "wgtrain.model\/9"\)/);
    expect(() => validateModelSpec({ inputs: 0, layers: [dense(2)] })).toThrow(/inputs must be a positive integer or a list of them/);
    expect(() => validateModelSpec({ inputs: 4, inputShape: [2, 3], layers: [dense(2)] })).toThrow(/inputShape \[2, 3\] holds 6 values per example but inputs says 4/);
    expect(() => validateModelSpec({ inputs: 4, layers: [] })).toThrow(/layers must be a non-empty list/);
    expect(() => validateModelSpec({ inputs: 4, layers: [{ type: 'conv9d' } as never] })).toThrow(/layers\[0\] \(conv9d\): unknown layer type "conv9d" \(known: dense, activation, batchnorm, dropout, reshape/);
    expect(() => validateModelSpec({ inputs: 4, layers: [null as never] })).toThrow(/layers\[0\] .*a layer must be an object with a type/);
    expect(() => validateModelSpec({ inputs: 4, layers: [dense(3), { type: 'batchnorm', features: 4 }] })).toThrow(/layers\[1\] \(batchnorm\): has 4 features but its input has 3 \(\(N, 3\)\)/);
    expect(() => validateModelSpec({ inputs: 4, layers: [dense(3), relu(), { type: 'dense', inputs: 4, outputs: 2 }] })).toThrow(/layers\[2\] \(dense\): expects 4 inputs but the previous layer gives 3 \(its output is \(N, 3\)\)/);
    expect(() => validateModelSpec({ inputs: 4, layers: [dense(3), { type: 'activation', kind: 'relu', alpha: 0.1 }] })).toThrow(/layers\[1\] \(activation\): relu takes no alpha \(only leaky_relu and elu do\)/);
    expect(() => validateModelSpec({ inputs: 4, layers: [dense(3), { type: 'activation', kind: 'swish' as 'relu' }] })).toThrow(/unknown activation 'swish'/);
    expect(() => validateModelSpec({ inputs: 4, layers: [dense(3)], loss: 'hinge' as 'mse' })).toThrow(/loss must be one of softmax_ce, mse, bce/);
    // Section 4 of the CNN work, in object form: a stride of 0, channels that disagree, a flatten that does not fit the next dense layer.
    expect(() => validateModelSpec({ inputs: [1, 8, 8], layers: [conv2d(4, 3, { stride: 0 })] })).toThrow(/layers\[0\] \(conv2d\): stride must be an integer ≥ 1 or a pair \[rows, columns\] of them \(got 0\)/);
    expect(() => validateModelSpec({ inputs: [1, 8, 8], layers: [maxPool2d(2, { stride: 0 })] })).toThrow(/layers\[0\] \(maxpool2d\): stride must be an integer ≥ 1/);
    expect(() => validateModelSpec({ inputs: [3, 8, 8], layers: [{ type: 'conv2d', filters: 4, kernel: 3, inChannels: 1 }] })).toThrow(/layers\[0\] \(conv2d\): expects 1 input channels but its input \(N, 3, 8, 8\) has 3/);
    expect(() => validateModelSpec({ inputs: [1, 8, 8], layers: [conv2d(4, 3), flatten(), { type: 'dense', inputs: 100, outputs: 10 }] })).toThrow(
      /layers\[2\] \(dense\): expects 100 inputs but the previous layer gives 144 \(its output is \(N, 144\)\): layers\[1\] \(flatten\) turns \(N, 4, 6, 6\) into 144 values/,
    );
  });

  it('the registry refuses a kind or a text name that is taken', () => {
    expect(() => registerLayerKind(layerKind('dense'))).toThrow(/a layer kind 'dense' is already registered/);
    expect(() => registerLayerKind({ ...layerKind('dropout'), type: 'dropout2' })).toThrow(/'dropout2' claims the name 'dropout', which 'dropout' already has/);
  });
});

/** Mean loss of the batch for flat params p (float64); stats are copied so BatchNorm's update does not leak. */
function meanLoss(model: CpuModel, p: Float64Array, stats: Float64Array, x: Float64Array, rows: number, t: Targets): number {
  const f = model.forward(p, Float64Array.from(stats), x, rows, { training: true, seed: 3, step: 2 });
  return model.loss(f, t).lossSum / rows;
}

describe(`CPU reference of every layer kind: directional finite differences of the whole gradient, float64 (${seedInfo()})`, () => {
  const cases: [string, ModelSpec][] = [
    ['reshape, dense, bn, leaky_relu(α), dropout; softmax_ce', parseModelSpec('2x3-reshape(6)-dense(5)-bn-leaky_relu(0.2)-dropout(0.3)-dense(3)')],
    ['elu(α), tanh, dense without bias, reshape to 3-D and back; mse', sequential([dense(8), elu(0.7), reshape(2, 2, 2), reshape(-1), dense(4, { bias: false }), tanh(), dense(2)], { inputs: 5, loss: 'mse' })],
    ['input dropout (no input gradient below it); bce', sequential([dropout(0.25), dense(6), leakyRelu(), batchNorm({ momentum: 0.3 }), dense(3)], { inputs: 4, loss: 'bce' })],
    ['conv (pad), bn2d, relu, maxpool, strided conv without bias, avgpool, dropout on (C, H, W), flatten; softmax_ce',
      parseModelSpec('1x6x7-conv(3,3,pad=1)-bn2d-relu-maxpool(2)-conv(4,2,stride=2,pad=1,bias=false)-dropout(0.3)-avgpool(2,1)-flatten-dense(3)')],
    ['dilated conv (pad 2), elu, overlapping maxpool with padding, gap; mse',
      parseModelSpec('2x5x5-conv(4,3,dilation=2,pad=2)-elu-maxpool(3,1,pad=1)-gap-dense(2):loss=mse')],
  ];
  for (const [name, spec] of cases) {
    it(name, () => {
      const rand = rng();
      const rows = 5;
      const model = new CpuModel(spec, 'float64');
      const { layout } = model;
      const p = Float64Array.from(initParams(spec, layout, 4));
      // Away from the initial point: non-trivial biases and BatchNorm parameters.
      for (const s of layout.params) if (s.role !== 'weight') for (let k = 0; k < s.size; k++) p[s.offset + k] = (s.role === 'gamma' ? 1 : 0) + 0.3 * (rand() - 0.5);
      const stats = Float64Array.from(initStats(spec, layout));
      const x = Float64Array.from({ length: rows * spec.inputs }, () => 2 * rand() - 1);
      const k = model.outputs;
      const t: Targets = spec.loss === 'softmax_ce'
        ? { labels: Array.from({ length: rows }, () => Math.floor(rand() * k)) }
        : { values: Float32Array.from({ length: rows * k }, () => (spec.loss === 'bce' ? (rand() < 0.5 ? 0 : 1) : 2 * rand() - 1)) };
      const f = model.forward(p, Float64Array.from(stats), x, rows, { training: true, seed: 3, step: 2 });
      const g = new Float64Array(layout.n);
      model.backward(p, f, model.loss(f, t).dOut, g, { training: true, seed: 3, step: 2 });
      // Per tensor: the derivative along a random direction v (all of the tensor at once) vs ∇·v.
      const h = 1e-6;
      for (const s of layout.params) {
        const v = Float64Array.from({ length: s.size }, () => 2 * rand() - 1);
        const shifted = (sign: number) => {
          const q = Float64Array.from(p);
          for (let i = 0; i < s.size; i++) q[s.offset + i]! += sign * h * v[i]!;
          return meanLoss(model, q, stats, x, rows, t);
        };
        const fd = (shifted(1) - shifted(-1)) / (2 * h);
        let an = 0;
        let mag = 0;
        for (let i = 0; i < s.size; i++) {
          an += g[s.offset + i]! * v[i]!;
          mag += Math.abs(g[s.offset + i]! * v[i]!);
        }
        expect(Number.isFinite(an), `${s.name}: gradient is not finite`).toBe(true);
        // Central differences err by O(h²·f‴) plus the rounding of f (~1e-16·|f|/h); both far below 1e-6.
        expect(Math.abs(fd - an), `${s.name}: ∇·v = ${an} vs central difference ${fd}`).toBeLessThanOrEqual(1e-6 + 1e-5 * mag);
      }
      // Padding and the parameters' layout: no gradient lands outside the tensors.
      const live = new Uint8Array(layout.n);
      for (const s of layout.params) live.fill(1, s.offset, s.offset + s.size);
      for (let i = 0; i < layout.n; i++) if (!live[i]) expect(g[i]).toBe(0);
    });
  }
});
