// Regression on a dataset, for the problems library (src/problems/regression.ts): linear regression, binary logistic
// regression and a small tanh network, with the per-example ("rows") and per-parameter ("cols") passes their
// values, gradients, Hessian-vector and Jacobian products are built from. Composed after activation_fns.wgsl
// (act_sigmoid, act_tanh, act_log1p).
//
// Shapes: X [m, d] row-major (m examples of d features), y [m]; parameters θ [n]:
//   linear / logistic  θ = (w_0 … w_{d−1}, b),  n = d + 1,  z_i = (Σ_k X_ik·w_k) + b   (k ascending)
//   tanh network       θ = (W1 [H, d] row-major, b1 [H], w2 [H], b2),  n = H·d + 2H + 1,
//                      a_ij = (Σ_k W1_jk·X_ik) + b1_j,  h_ij = tanh a_ij,  net_i = (Σ_j w2_j·h_ij) + b2
// Entry points (rows: one invocation per example, dispatch ceil(m / 64); cols: one per parameter, ceil(n / 64);
// each writes `out`, never accumulates):
//   linear_rows         out_i = c·(z_i(v) − β·y_i)            (β = 1: residuals; β = 0: J·v up to c)
//   linear_cols         out_k = c·Σ_i u_i·X_ik (k < d),  out_d = c·Σ_i u_i    (i ascending; = c·X̃ᵀu)
//   logistic_rows       z_i = z_i(v):  terms_i = softplus(z_i) − y_i·z_i,  out_i = σ(z_i) − y_i
//                       softplus(z) = max(z, 0) + log1p(e^(−|z|)) (no overflow)
//   logistic_curv_rows  out_i = σ'(z_i(w))·z_i(v) with z_i(v) = (Σ_k X_ik·v_k) + v_d, σ' = σ·(1 − σ)
//   tanh_rows           out_i = c·(net_i(v) − β·y_i)
//   tanh_jvp_rows       at θ = w, direction v:  δa_ij = (Σ_k v_W1,jk·X_ik) + v_b1,j,
//                       out_i = c·((Σ_j (v_w2,j·h_ij + w2_j·((1 − h_ij·h_ij)·δa_ij))) + v_b2)
//   tanh_cols           at θ = w:  out_p = c·Σ_i u_i·∂net_i/∂θ_p,  with ∂net_i/∂W1_jk = (w2_j·(1 − h_ij·h_ij))·X_ik,
//                       ∂/∂b1_j = w2_j·(1 − h_ij·h_ij),  ∂/∂w2_j = h_ij,  ∂/∂b2 = 1
// Bindings: rp (uniform RegParams), X, yv, v, w, u (read), out, terms (read_write).
// Numerics: exp/log/tanh are not correctly rounded in WGSL (act_* in activation_fns.wgsl are accurate to a few
// ulps), so logistic and tanh values agree with the CPU reference to a few ulps per term, not bit for bit; sums over
// examples run sequentially here in the CPU's order.

override WG: u32 = 64u;

struct RegParams {
  m: u32,       // examples
  d: u32,       // features
  hidden: u32,  // H (tanh network)
  c: f32,       // output scale
  beta: f32,    // weight of y in the residual
}

@group(0) @binding(0) var<uniform> rp: RegParams;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> yv: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;
@group(0) @binding(5) var<storage, read> u: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<storage, read_write> terms: array<f32>;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn z_of_v(i: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < rp.d; k++) { s += X[i * rp.d + k] * v[k]; }
  return s + v[rp.d];
}

fn z_of_w(i: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < rp.d; k++) { s += X[i * rp.d + k] * w[k]; }
  return s + w[rp.d];
}

@compute @workgroup_size(WG)
fn linear_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= rp.m) { return; }
  out[i] = rp.c * (z_of_v(i) - rp.beta * yv[i]);
}

@compute @workgroup_size(WG)
fn linear_cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let k = linear_index(wid, nwg, lid);
  if (k > rp.d) { return; }
  var s = 0.0;
  if (k < rp.d) {
    for (var i = 0u; i < rp.m; i++) { s += u[i] * X[i * rp.d + k]; }
  } else {
    for (var i = 0u; i < rp.m; i++) { s += u[i]; }
  }
  out[k] = rp.c * s;
}

@compute @workgroup_size(WG)
fn logistic_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= rp.m) { return; }
  let z = z_of_v(i);
  terms[i] = (max(z, 0.0) + act_log1p(exp(-abs(z)))) - yv[i] * z;
  out[i] = act_sigmoid(z) - yv[i];
}

@compute @workgroup_size(WG)
fn logistic_curv_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= rp.m) { return; }
  let s = act_sigmoid(z_of_w(i));
  out[i] = (s * (1.0 - s)) * z_of_v(i);
}

// Pre-activation a_ij of hidden unit j for example i, at parameters p (v or w).
fn tanh_pre_v(i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < rp.d; k++) { s += v[j * rp.d + k] * X[i * rp.d + k]; }
  return s + v[rp.hidden * rp.d + j];
}

fn tanh_pre_w(i: u32, j: u32) -> f32 {
  var s = 0.0;
  for (var k = 0u; k < rp.d; k++) { s += w[j * rp.d + k] * X[i * rp.d + k]; }
  return s + w[rp.hidden * rp.d + j];
}

@compute @workgroup_size(WG)
fn tanh_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= rp.m) { return; }
  let H = rp.hidden;
  let w2 = H * rp.d + H;
  var s = 0.0;
  for (var j = 0u; j < H; j++) { s += v[w2 + j] * act_tanh(tanh_pre_v(i, j)); }
  out[i] = rp.c * ((s + v[w2 + H]) - rp.beta * yv[i]);
}

@compute @workgroup_size(WG)
fn tanh_jvp_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= rp.m) { return; }
  let H = rp.hidden;
  let w2 = H * rp.d + H;
  var s = 0.0;
  for (var j = 0u; j < H; j++) {
    let h = act_tanh(tanh_pre_w(i, j));
    s += v[w2 + j] * h + w[w2 + j] * ((1.0 - h * h) * tanh_pre_v(i, j));
  }
  out[i] = rp.c * (s + v[w2 + H]);
}

@compute @workgroup_size(WG)
fn tanh_cols(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let q = linear_index(wid, nwg, lid);
  let H = rp.hidden;
  let w2 = H * rp.d + H;
  if (q > w2 + H) { return; }
  var s = 0.0;
  if (q == w2 + H) {
    for (var i = 0u; i < rp.m; i++) { s += u[i]; }
  } else if (q >= w2) {
    let j = q - w2;
    for (var i = 0u; i < rp.m; i++) { s += u[i] * act_tanh(tanh_pre_w(i, j)); }
  } else if (q >= H * rp.d) {
    let j = q - H * rp.d;
    for (var i = 0u; i < rp.m; i++) {
      let h = act_tanh(tanh_pre_w(i, j));
      s += u[i] * (w[w2 + j] * (1.0 - h * h));
    }
  } else {
    let j = q / rp.d;
    let k = q % rp.d;
    for (var i = 0u; i < rp.m; i++) {
      let h = act_tanh(tanh_pre_w(i, j));
      s += u[i] * ((w[w2 + j] * (1.0 - h * h)) * X[i * rp.d + k]);
    }
  }
  out[q] = rp.c * s;
}
