// Activation functions, forward and derivative, shared by activation.wgsl and the matmul epilogue.
//
// Codes (the `ACT` override of every kernel that applies one; keep in sync with src/kernels/activation.ts):
//   0 identity   f(x) = x                                    f'(x) = 1
//   1 relu       f(x) = max(x, 0)                            f'(x) = [x > 0]
//   2 leaky_relu f(x) = x if x > 0 else α·x                   f'(x) = 1 or α            (α = ALPHA, default 0.01)
//   3 elu        f(x) = x if x > 0 else α·(eˣ − 1)            f'(x) = 1 or α·eˣ          (α = ALPHA, default 1)
//   4 sigmoid    σ(x) = 1 / (1 + e⁻ˣ)                        f'(x) = σ(x)·(1 − σ(x))
//   5 tanh       f(x) = tanh x                               f'(x) = 1 − tanh² x
//   6 gelu       f(x) = x·Φ(x), Φ(x) = ½(1 + erf(x/√2))       f'(x) = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)
//   7 gelu_tanh  f(x) = ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³)
//                f'(x) = ½(1 + tanh u) + ½x(1 − tanh² u)·√(2/π)(1 + 3·0.044715x²)
//   8 softplus   f(x) = log(1 + eˣ) = max(x, 0) + log1p(e^(−|x|))   f'(x) = σ(x)
//
// Numerics: every form avoids overflow for large |x| (exp is only taken of non-positive arguments), because WGSL
// implementations may compute exp(89) as +inf and tanh(x) as (e²ˣ−1)/(e²ˣ+1) = inf/inf = NaN.
// erf uses the Numerical Recipes erfc Chebyshev fit (fractional error < 1.2e-7), log1p the Goldberg correction.

fn act_sigmoid(x: f32) -> f32 {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= 0.0);
}

fn act_tanh(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  // For |x| < 0.5 the (1−e)/(1+e) form cancels; a short odd series is accurate to f32 there.
  let x2 = x * x;
  let small = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0 + x2 * (-17.0 / 315.0 + x2 * (62.0 / 2835.0 - x2 * 1382.0 / 155925.0)))));
  let big = sign(x) * (1.0 - e) / (1.0 + e);
  return select(big, small, abs(x) < 0.125);
}

fn act_log1p(t: f32) -> f32 {
  let u = 1.0 + t;
  if (u == 1.0) { return t; }
  return log(u) * t / (u - 1.0);
}

fn act_erfc(x: f32) -> f32 {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
          t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return select(2.0 - r, r, x >= 0.0);
}

fn act_erf(x: f32) -> f32 {
  // Near 0, 1 − erfc(x) cancels; the Maclaurin series is accurate there.
  let x2 = x * x;
  let series = 1.1283791671 * x * (1.0 - x2 * (1.0 / 3.0 - x2 * (0.1 - x2 * (1.0 / 42.0 - x2 / 216.0))));
  return select(1.0 - act_erfc(x), series, abs(x) < 0.25);
}

const ACT_SQRT_2_OVER_PI: f32 = 0.7978845608028654;
const ACT_INV_SQRT_2: f32 = 0.7071067811865476;
const ACT_INV_SQRT_2PI: f32 = 0.3989422804014327;

fn act_forward(kind: u32, x: f32, alpha: f32) -> f32 {
  switch kind {
    case 1u: { return max(x, 0.0); }
    case 2u: { return select(alpha * x, x, x > 0.0); }
    case 3u: { return select(alpha * (exp(min(x, 0.0)) - 1.0), x, x > 0.0); }
    case 4u: { return act_sigmoid(x); }
    case 5u: { return act_tanh(x); }
    case 6u: { return x * 0.5 * act_erfc(-x * ACT_INV_SQRT_2); }
    case 7u: {
      let u = ACT_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
      return 0.5 * x * (1.0 + act_tanh(u));
    }
    case 8u: { return max(x, 0.0) + act_log1p(exp(-abs(x))); }
    default: { return x; }
  }
}

/** f'(x): the backward pass multiplies the upstream gradient by this. */
fn act_derivative(kind: u32, x: f32, alpha: f32) -> f32 {
  switch kind {
    case 1u: { return select(0.0, 1.0, x > 0.0); }
    case 2u: { return select(alpha, 1.0, x > 0.0); }
    case 3u: { return select(alpha * exp(min(x, 0.0)), 1.0, x > 0.0); }
    case 4u: {
      let s = act_sigmoid(x);
      return s * (1.0 - s);
    }
    case 5u: {
      let t = act_tanh(x);
      return 1.0 - t * t;
    }
    case 6u: { return 0.5 * act_erfc(-x * ACT_INV_SQRT_2) + x * ACT_INV_SQRT_2PI * exp(-0.5 * x * x); }
    case 7u: {
      let u = ACT_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
      let t = act_tanh(u);
      return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * ACT_SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * x * x);
    }
    case 8u: { return act_sigmoid(x); }
    default: { return 1.0; }
  }
}
