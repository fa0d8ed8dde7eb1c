// Fused optimizer step: ONE dispatch updates every parameter of the model, whatever the number of layers, with the
// torch.optim rule chosen by the RULE override (the math of each rule, in the same order of operations, is the doc
// comment of src/optim/<rule>.ts; the CPU references there are what this kernel is tested against).
//
//   gradstats (only when clipping by norm, the non-finite guard or the gradient-magnitude lr is on):
//     partials[2w]   = Σ ĝ²  over the elements visited by workgroup w      ĝ = clamp(g, −v, v) if clip by value
//     partials[2w+1] = number of non-finite g among them (by bit pattern: WGSL may assume NaN/Inf never occur)
//   gradstats_reduce (hardware adapters, where gradstats runs enough workgroups to reach memory bandwidth, e.g.
//     1024 for 20 M parameters): one workgroup adds the stats_partials pairs into totals[0..1], so that `update`
//     reads one pair (num_partials = 1) instead of every thread re-reading a thousand.
//   update:
//     every thread sums the num_partials pairs itself (2 on software adapters, where each load is costly and two
//     cores gain nothing from more workgroups; 1 after gradstats_reduce)
//     → ‖ĝ‖, finite flag, clip scale c = min(1, max_norm/(‖ĝ‖ + 1e-6))
//     (torch.nn.utils.clip_grad_norm_); if the guard is on and a gradient is not finite, the step is skipped:
//     parameters and state untouched, thread 0 increments `skipped`, the step count does not advance.
//     t = t_host − skipped   (t_host: the host's count of step calls, in the per-step record)
//     for every element i of group k:  g ← c·ĝ_i, then the rule with lr[k], weight_decay[k] and scalars of t.
//
// Shapes: p, g, s0, s1, s2: [n] f32 (flat model buffers, groups contiguous: group k = [end[k−1], end[k]));
// slots s0..s2 hold the rule's state (src/optim/gpu.ts lists which is which; unused ones are bound to a dummy).
// rec: a 256-byte record of a ring, selected with a dynamic offset, written by the host before each step.
// gstate (u32 words, f32 by bitcast): [0] skipped; [2+p] NAdam mu_product; [4+2k+p] ASGD eta of group k;
// [20+2k+p] gradient-magnitude lr α of group k. p is a parity slot: step t reads (t−1)&1 and thread 0 writes t&1,
// so no thread reads a value written in the same dispatch and a skipped step leaves them as they were.
//
// Numerics: bias corrections 1 − βᵗ are −expm1(t·ln β) with a series expm1 for small arguments (naive 1 − pow(β, t)
// in f32 loses ~1e-4 relative at t = 1). RAdam's ρ_t = ρ_∞ − 2tβᵗ/(1 − βᵗ) cancels catastrophically for small t;
// it is evaluated as ρ_t = 1 + 2(t·h(tx) − h(x)), x = −ln β₂, h(y) = (1 − y/(eʸ − 1))/y (exact identity; h by series
// for small y). A scaled add a + s·b is fma(s, b, a), one rounding, like torch's CPU kernels and our CPU reference.

override RULE: u32 = 4u;
override WG: u32 = 64u;

const R_SGD = 0u;
const R_ADAGRAD = 1u;
const R_RMSPROP = 2u;
const R_ADADELTA = 3u;
const R_ADAM = 4u;
const R_ADAMW = 5u;
const R_ADAMAX = 6u;
const R_NADAM = 7u;
const R_RADAM = 8u;
const R_ASGD = 9u;
const R_RPROP = 10u;

const F_MAXIMIZE = 1u;
const F_AMSGRAD = 2u;
const F_NESTEROV = 4u;
const F_CENTERED = 8u;
const F_MOMENTUM = 16u;
const F_CLIP_NORM = 32u;
const F_CLIP_VALUE = 64u;
const F_GUARD = 128u;
const F_GRAD_LR = 256u;
const F_STATS = 512u;

const MAX_GROUPS = 8u;
const G_SKIPPED = 0u;
const G_MU_PRODUCT = 2u;
const G_ETA = 4u;
const G_ALPHA = 20u;

struct Step {
  n: u32,
  num_groups: u32,
  t_host: u32,
  flags: u32,
  num_partials: u32,
  max_norm: f32,
  clip_value: f32,
  grad_lr_c: f32,
  beta1: f32,
  beta2: f32,
  ln_beta1: f32,
  ln_beta2: f32,
  rho_inf: f32,
  eps: f32,
  momentum: f32,
  dampening: f32,
  alpha: f32,
  rho: f32,
  lambd: f32,
  t0: f32,
  lr_decay: f32,
  eta_minus: f32,
  eta_plus: f32,
  step_min: f32,
  step_max: f32,
  psi_ln096: f32,
  // 1 − β etc. computed on the host in double: 1 − f32(0.999) in f32 is off by 1e-5 relative.
  one_minus_beta1: f32,
  one_minus_beta2: f32,
  one_minus_alpha: f32,
  one_minus_rho: f32,
  one_minus_dampening: f32,
  group_end: array<u32, 8>,
  lr: array<f32, 8>,
  weight_decay: array<f32, 8>,
  /** Pairs written by gradstats (read by gradstats_reduce; equal to num_partials without it). */
  stats_partials: u32,
}

@group(0) @binding(0) var<storage, read> rec: Step;
@group(0) @binding(1) var<storage, read_write> p: array<f32>;
@group(0) @binding(2) var<storage, read> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> s0: array<f32>;
@group(0) @binding(4) var<storage, read_write> s1: array<f32>;
@group(0) @binding(5) var<storage, read_write> s2: array<f32>;
@group(0) @binding(6) var<storage, read_write> gstate: array<u32>;
@group(0) @binding(7) var<storage, read> partials: array<f32>;
@group(0) @binding(8) var<storage, read_write> partials_out: array<f32>;

var<workgroup> wsum: array<f32, WG>;
var<workgroup> wbad: array<f32, WG>;

fn nonfinite(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u;
}

fn clip_value(x: f32) -> f32 {
  if ((rec.flags & F_CLIP_VALUE) != 0u) { return clamp(x, -rec.clip_value, rec.clip_value); }
  return x;
}

// eˣ − 1 without cancellation: Taylor series to x⁹/9! for |x| < 0.5 (truncation < 1e-9 relative).
fn expm1_(x: f32) -> f32 {
  if (abs(x) < 0.5) {
    return x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x * (1.0 / 720.0
      + x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (1.0 / 362880.0)))))))));
  }
  return exp(x) - 1.0;
}

// 1 − βᵗ from ln β.
fn bias_correction(t: f32, ln_beta: f32) -> f32 {
  return -expm1_(t * ln_beta);
}

// h(y) = (1 − y/(eʸ − 1))/y = 1/2 − y/12 + y³/720 − y⁵/30240 + y⁷/1209600 − …  (Bernoulli numbers)
fn radam_h(y: f32) -> f32 {
  if (y < 0.5) {
    let y2 = y * y;
    return 0.5 - y * (1.0 / 12.0 - y2 * (1.0 / 720.0 - y2 * (1.0 / 30240.0 - y2 * (1.0 / 1209600.0))));
  }
  return (1.0 - y / expm1_(y)) / y;
}

fn gload(i: u32) -> f32 { return bitcast<f32>(gstate[i]); }
fn gstore(i: u32, v: f32) { gstate[i] = bitcast<u32>(v); }

@compute @workgroup_size(WG)
fn gradstats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var bad = 0.0;
  for (var i = wid.x * WG + lid; i < rec.n; i += nwg.x * WG) {
    let x = g[i];
    if (nonfinite(x)) {
      bad += 1.0;
    } else {
      let c = clip_value(x);
      s = fma(c, c, s);
    }
  }
  wsum[lid] = s;
  wbad[lid] = bad;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      wsum[lid] += wsum[lid + half];
      wbad[lid] += wbad[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partials_out[2u * wid.x] = wsum[0];
    partials_out[2u * wid.x + 1u] = wbad[0];
  }
}

@compute @workgroup_size(WG)
fn gradstats_reduce(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var bad = 0.0;
  for (var k = lid; k < rec.stats_partials; k += WG) {
    s += partials[2u * k];
    bad += partials[2u * k + 1u];
  }
  wsum[lid] = s;
  wbad[lid] = bad;
  workgroupBarrier();
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    if (lid < half) {
      wsum[lid] += wsum[lid + half];
      wbad[lid] += wbad[lid + half];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    partials_out[0] = wsum[0];
    partials_out[1] = wbad[0];
  }
}

@compute @workgroup_size(WG)
fn update(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // The slots are used only inside the rule switch, where wgsl_reflect 1.6 does not always see them; these phony
  // uses make the reflected bindings (and so the bind group layout) complete. They generate no code.
  _ = &s0;
  _ = &s1;
  _ = &s2;
  let flags = rec.flags;
  var scale = 1.0;
  var gnorm = 0.0;
  if ((flags & F_STATS) != 0u) {
    var s = 0.0;
    var bad = 0.0;
    for (var k = 0u; k < rec.num_partials; k++) {
      s += partials[2u * k];
      bad += partials[2u * k + 1u];
    }
    if ((flags & F_GUARD) != 0u && bad > 0.0) {
      // Skip: nothing else is read or written, so `skipped` is safe to bump here.
      if (gid.x == 0u) { gstate[G_SKIPPED] = gstate[G_SKIPPED] + 1u; }
      return;
    }
    gnorm = sqrt(s);
    if ((flags & F_CLIP_NORM) != 0u) { scale = min(1.0, rec.max_norm / (gnorm + 1e-6)); }
  }
  let tu = rec.t_host - gstate[G_SKIPPED];
  let t = f32(tu);
  let rd = (tu - 1u) & 1u;  // parity slot read
  let wr = tu & 1u;         // parity slot written (thread 0 only)

  // Learning rate per group: from the record, or the gradient-magnitude control α_t = α_{t−1} / (1 + c·√‖ĝ‖).
  var lrs: array<f32, 8>;
  let grad_lr = (flags & F_GRAD_LR) != 0u;
  for (var k = 0u; k < rec.num_groups; k++) {
    if (grad_lr) {
      lrs[k] = gload(G_ALPHA + 2u * k + rd) / (1.0 + rec.grad_lr_c * sqrt(gnorm));
    } else {
      lrs[k] = rec.lr[k];
    }
  }

  // Per-step scalars of the rule (same for every element).
  let b1 = rec.beta1;
  let b2 = rec.beta2;
  var bc1 = 1.0;
  var bc2_sqrt = 1.0;
  var nadam_mu = 0.0;
  var nadam_mu_next = 0.0;
  var nadam_prod = 1.0;
  var radam_rect = 0.0;
  var radam_rectified = false;
  if (RULE == R_ADAM || RULE == R_ADAMW || RULE == R_ADAMAX || RULE == R_RADAM || RULE == R_NADAM) {
    bc1 = bias_correction(t, rec.ln_beta1);
    bc2_sqrt = sqrt(bias_correction(t, rec.ln_beta2));
  }
  if (RULE == R_NADAM) {
    nadam_mu = b1 * (1.0 - 0.5 * exp(t * rec.psi_ln096));
    nadam_mu_next = b1 * (1.0 - 0.5 * exp((t + 1.0) * rec.psi_ln096));
    nadam_prod = gload(G_MU_PRODUCT + rd) * nadam_mu;
  }
  if (RULE == R_RADAM) {
    let x = -rec.ln_beta2;
    let rho_t = 1.0 + 2.0 * (t * radam_h(t * x) - radam_h(x));
    let ri = rec.rho_inf;
    radam_rectified = rho_t > 5.0;
    if (radam_rectified) {
      radam_rect = sqrt(((rho_t - 4.0) * (rho_t - 2.0) * ri) / ((ri - 4.0) * (ri - 2.0) * rho_t));
    }
  }

  // Thread 0 writes the running scalars of step t into parity slot t&1.
  if (gid.x == 0u) {
    if (RULE == R_NADAM) { gstore(G_MU_PRODUCT + wr, nadam_prod); }
    for (var k = 0u; k < rec.num_groups; k++) {
      if (grad_lr) { gstore(G_ALPHA + 2u * k + wr, lrs[k]); }
      if (RULE == R_ASGD) {
        gstore(G_ETA + 2u * k + wr, lrs[k] / pow(1.0 + rec.lambd * lrs[k] * t, rec.alpha));
      }
    }
  }

  let sgn = select(1.0, -1.0, (flags & F_MAXIMIZE) != 0u);
  for (var i = gid.x; i < rec.n; i += nwg.x * WG) {
    var k = 0u;
    while (k + 1u < rec.num_groups && i >= rec.group_end[k]) { k++; }
    let lr = lrs[k];
    let wd = rec.weight_decay[k];
    let x = p[i];
    var d = scale * clip_value(g[i]);
    if (RULE != R_NADAM && RULE != R_RADAM) { d = sgn * d; }
    if (RULE != R_ADAMW && RULE != R_RPROP && wd != 0.0) { d = fma(wd, x, d); }

    switch RULE {
      case R_SGD: {
        if ((flags & F_MOMENTUM) != 0u) {
          var b = d;
          if (tu != 1u) { b = fma(rec.one_minus_dampening, d, rec.momentum * s0[i]); }
          s0[i] = b;
          if ((flags & F_NESTEROV) != 0u) { d = fma(rec.momentum, b, d); } else { d = b; }
        }
        p[i] = fma(-lr, d, x);
      }
      case R_ADAGRAD: {
        let clr = lr / (1.0 + (t - 1.0) * rec.lr_decay);
        let sum = fma(d, d, s0[i]);
        s0[i] = sum;
        p[i] = x - (clr * d) / (sqrt(sum) + rec.eps);
      }
      case R_RMSPROP: {
        let a = rec.alpha;
        let sq = fma(rec.one_minus_alpha * d, d, a * s0[i]);
        s0[i] = sq;
        var avg: f32;
        if ((flags & F_CENTERED) != 0u) {
          let ga = fma(rec.one_minus_alpha, d, a * s2[i]);
          s2[i] = ga;
          avg = sqrt(fma(-ga, ga, sq));
        } else {
          avg = sqrt(sq);
        }
        avg = avg + rec.eps;
        if ((flags & F_MOMENTUM) != 0u) {
          let b = rec.momentum * s1[i] + d / avg;
          s1[i] = b;
          p[i] = fma(-lr, b, x);
        } else {
          p[i] = x - (lr * d) / avg;
        }
      }
      case R_ADADELTA: {
        let r = rec.rho;
        let sq = fma(rec.one_minus_rho * d, d, r * s0[i]);
        s0[i] = sq;
        let sd = sqrt(sq + rec.eps);
        let delta = (sqrt(s1[i] + rec.eps) / sd) * d;
        s1[i] = fma(rec.one_minus_rho * delta, delta, r * s1[i]);
        p[i] = fma(-lr, delta, x);
      }
      case R_ADAM, R_ADAMW: {
        var y = x;
        if (RULE == R_ADAMW) { y = x * (1.0 - lr * wd); }
        let m = fma(rec.one_minus_beta1, d, b1 * s0[i]);
        let v = fma(rec.one_minus_beta2 * d, d, b2 * s1[i]);
        s0[i] = m;
        s1[i] = v;
        var vh = v;
        if ((flags & F_AMSGRAD) != 0u) {
          vh = max(s2[i], v);
          s2[i] = vh;
        }
        let denom = sqrt(vh) / bc2_sqrt + rec.eps;
        p[i] = y - ((lr / bc1) * m) / denom;
      }
      case R_ADAMAX: {
        let m = fma(rec.one_minus_beta1, d, b1 * s0[i]);
        let u = max(b2 * s1[i], abs(d) + rec.eps);
        s0[i] = m;
        s1[i] = u;
        p[i] = x - ((lr / bc1) * m) / u;
      }
      case R_NADAM: {
        let m = fma(rec.one_minus_beta1, d, b1 * s0[i]);
        let v = fma(rec.one_minus_beta2 * d, d, b2 * s1[i]);
        s0[i] = m;
        s1[i] = v;
        let denom = sqrt(v) / bc2_sqrt + rec.eps;
        let grad_step = lr * (1.0 - nadam_mu) / (1.0 - nadam_prod);
        let avg_step = lr * nadam_mu_next / (1.0 - nadam_prod * nadam_mu_next);
        let q = x - (grad_step * d) / denom;
        p[i] = q - (avg_step * m) / denom;
      }
      case R_RADAM: {
        let m = fma(rec.one_minus_beta1, d, b1 * s0[i]);
        let v = fma(rec.one_minus_beta2 * d, d, b2 * s1[i]);
        s0[i] = m;
        s1[i] = v;
        let m_hat = m / bc1;
        if (radam_rectified) {
          let adaptive = bc2_sqrt / (sqrt(v) + rec.eps);
          p[i] = x - m_hat * lr * adaptive * radam_rect;
        } else {
          p[i] = x - m_hat * lr;
        }
      }
      case R_ASGD: {
        let eta = gload(G_ETA + 2u * k + rd);
        let mu = 1.0 / max(1.0, t - 1.0 - rec.t0);  // μ_{t−1}
        let y = fma(-eta, d, x * (1.0 - rec.lambd * eta));
        p[i] = y;
        if (mu != 1.0) { s0[i] = s0[i] + (y - s0[i]) * mu; } else { s0[i] = y; }
      }
      case R_RPROP: {
        let sg = sign(d * s0[i]);
        var factor = 1.0;
        if (sg > 0.0) { factor = rec.eta_plus; } else if (sg < 0.0) { factor = rec.eta_minus; }
        let size = clamp(s1[i] * factor, rec.step_min, rec.step_max);
        s1[i] = size;
        if (sg < 0.0) { d = 0.0; }
        p[i] = x - sign(d) * size;
        s0[i] = d;
      }
      default: {}
    }
  }
}
