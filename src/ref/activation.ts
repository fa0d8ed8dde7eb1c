/**
 * CPU reference of shaders/activation_fns.wgsl and shaders/activation.wgsl: the same formulas as plain loops.
 * See the shader header for the math of each activation.
 */
import { defaultAlpha, type Activation } from '../shared.js';
import { allocate, rounder, type Dtype, type FloatArray } from './dtype.js';
import { erfc } from './math.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

function sigmoid(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

/** f(x) in float64 (the float32 path rounds the result: the intermediate error of f32 is in the test tolerance). */
export function activate(kind: Activation, x: number, alpha = defaultAlpha(kind)): number {
  switch (kind) {
    case 'identity': return x;
    case 'relu': return Math.max(x, 0);
    case 'leaky_relu': return x > 0 ? x : alpha * x;
    case 'elu': return x > 0 ? x : alpha * Math.expm1(x);
    case 'sigmoid': return sigmoid(x);
    case 'tanh': return Math.tanh(x);
    case 'gelu': return 0.5 * x * erfc(-x / Math.SQRT2);
    case 'gelu_tanh': return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'softplus': return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
  }
}

/** f'(x) in float64. */
export function activationDerivative(kind: Activation, x: number, alpha = defaultAlpha(kind)): number {
  switch (kind) {
    case 'identity': return 1;
    case 'relu': return x > 0 ? 1 : 0;
    case 'leaky_relu': return x > 0 ? 1 : alpha;
    case 'elu': return x > 0 ? 1 : alpha * Math.exp(x);
    case 'sigmoid': { const s = sigmoid(x); return s * (1 - s); }
    case 'tanh': { const t = Math.tanh(x); return 1 - t * t; }
    case 'gelu': return 0.5 * erfc(-x / Math.SQRT2) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
    case 'gelu_tanh': {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
    }
    case 'softplus': return sigmoid(x);
  }
}

/** y[i] = f(x[i]) */
export function activationForwardRef(kind: Activation, x: ArrayLike<number>, dtype: Dtype, alpha?: number): FloatArray {
  const r = rounder(dtype);
  const y = allocate(dtype, x.length);
  for (let i = 0; i < x.length; i++) y[i] = r(activate(kind, x[i]!, alpha));
  return y;
}

/** dx[i] = dy[i] · f'(x[i]) */
export function activationBackwardRef(
  kind: Activation,
  x: ArrayLike<number>,
  dy: ArrayLike<number>,
  dtype: Dtype,
  alpha?: number,
): FloatArray {
  const r = rounder(dtype);
  const dx = allocate(dtype, x.length);
  for (let i = 0; i < x.length; i++) dx[i] = r(dy[i]! * r(activationDerivative(kind, x[i]!, alpha)));
  return dx;
}
