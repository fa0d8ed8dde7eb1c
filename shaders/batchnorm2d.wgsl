// BatchNorm2d over NCHW activations, with torch.nn.BatchNorm2d semantics: per channel, statistics over the batch and
// the plane (affine, track_running_stats; eps 1e-5, momentum 0.1 by default; momentum = None is not supported).
// (activation_fns.wgsl is composed in front: the forward may apply the next layer's activation.)
//
// Shape legend: N examples, C channels, P = H·W values per plane; m = N·P values per channel.
//   x, y, out, dy, dx: [N, C, P] f32, element (n, c, q) at (n·C + c)·P + q;  γ, β, dγ, dβ: [C];
//   running: [2C] = (running_mean [C], running_var [C]);  saved: [2C] = (batch mean [C], invstd [C]).
//
// forward_train (per channel c, over its m values):
//   mean = (1/m) Σ x,  var = (1/m) Σ (x − mean)²  (biased, normalises; a second pass, no Σx² − (Σx)² cancellation)
//   invstd = 1/sqrt(var + eps);  y = (x − mean)·(invstd·γ) + β;  saved = (mean, invstd)
//   running_mean = (1 − mom)·running_mean + mom·mean;  running_var = (1 − mom)·running_var + mom·var·m/(m − 1)
//   (UNBIASED, as torch). m = 1 is rejected at plan time (torch: "Expected more than 1 value per channel").
//   With EPILOGUE: y as above (the next activation's input, which its backward reads) and out = act(y).
// forward_eval (per element): y = (x − running_mean)·(inverseSqrt(running_var + eps)·γ) + β; with EPILOGUE also
//   out = act(y).
// backward (per channel; x̂ recomputed from x and saved):
//   dβ = Σ dy,  dγ = Σ dy·x̂   (WRITTEN);   dx = (γ·invstd/m)·(m·dy − dβ − x̂·dγ)   (written)
//   The gradient through the batch statistics (training mode); the running statistics have none.
//
// Bindings (group 0; p: uniform Params, the rest storage):
//   forward_train: x_in (read), y (read_write), out (read_write; written only with EPILOGUE, else any buffer but y),
//                  gamma, beta (read), running (read_write [2C]), saved (read_write [2C])
//   forward_eval:  x_in, y, out, gamma, beta as above, running_stats (read [2C])
//   backward:      x_in (read), dy (read), gamma (read), saved_stats (read [2C]), dx (read_write),
//                  dgamma, dbeta (read_write [C])
// Dispatch: forward_train and backward: one workgroup of WG invocations per channel (C workgroups); each invocation
//   strides over the channel's m values (index e → n = e / P, q = e % P), partial sums meet in a binary tree in
//   workgroup memory. forward_eval: one invocation per element, ceil(N·C·P / WG) workgroups (maybe a 2-D grid:
//   linear index wid.x + wid.y·nwg.x).
// Numerics: each sum is a per-invocation run of ≤ ⌈m/WG⌉ terms then log2(WG) tree levels, so no term passes more
//   than ⌈m/WG⌉ + log2(WG) roundings (the barriers fix the tree); inverseSqrt is within 2 ulp. WG is a power of 2.

override WG: u32 = 256u;
override ACT: u32 = 0u;
override EPILOGUE: bool = false;

struct Params {
  batch: u32,     // N
  channels: u32,  // C
  plane: u32,     // P
  eps: f32,
  momentum: f32,
  /** α of leaky_relu / elu for the EPILOGUE activation. */
  act_alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> running: array<f32>;
@group(0) @binding(7) var<storage, read_write> saved: array<f32>;
@group(0) @binding(8) var<storage, read> running_stats: array<f32>;
@group(0) @binding(9) var<storage, read> dy: array<f32>;
@group(0) @binding(10) var<storage, read> saved_stats: array<f32>;
@group(0) @binding(11) var<storage, read_write> dx: array<f32>;
@group(0) @binding(12) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(13) var<storage, read_write> dbeta: array<f32>;

var<workgroup> red: array<vec2f, WG>;

/** Index of the e-th value (n, q) of channel c. */
fn at(c: u32, e: u32) -> u32 {
  return ((e / p.plane) * p.channels + c) * p.plane + e % p.plane;
}

/** The workgroup's sum of v (every invocation returns it). All invocations must call it (barriers). */
fn workgroup_sum(lid: u32, v: vec2f) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();  // before red is written again
  return total;
}

fn store(i: u32, v: f32) {
  y[i] = v;
  if (EPILOGUE) { out[i] = act_forward(ACT, v, p.act_alpha); }
}

@compute @workgroup_size(WG)
fn forward_train(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = p.batch * p.plane;
  let mf = f32(m);
  var s = 0.0;
  for (var e = lid; e < m; e += WG) { s += x_in[at(c, e)]; }
  let mean = workgroup_sum(lid, vec2f(s, 0.0)).x / mf;
  var q = 0.0;
  for (var e = lid; e < m; e += WG) {
    let d = x_in[at(c, e)] - mean;
    q += d * d;
  }
  let sq = workgroup_sum(lid, vec2f(q, 0.0)).x;
  let invstd = inverseSqrt(sq / mf + p.eps);
  let scale = invstd * gamma[c];
  let shift = beta[c];
  for (var e = lid; e < m; e += WG) {
    let i = at(c, e);
    store(i, (x_in[i] - mean) * scale + shift);
  }
  if (lid == 0u) {
    let nc = p.channels;
    saved[c] = mean;
    saved[nc + c] = invstd;
    let mom = p.momentum;
    running[c] = (1.0 - mom) * running[c] + mom * mean;
    running[nc + c] = (1.0 - mom) * running[nc + c] + mom * (sq / f32(m - 1u));
  }
}

@compute @workgroup_size(WG)
fn forward_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.batch * p.channels * p.plane) { return; }
  let nc = p.channels;
  let c = (i / p.plane) % nc;
  let scale = inverseSqrt(running_stats[nc + c] + p.eps) * gamma[c];
  store(i, (x_in[i] - running_stats[c]) * scale + beta[c]);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = p.batch * p.plane;
  let mf = f32(m);
  let mean = saved_stats[c];
  let invstd = saved_stats[p.channels + c];
  var acc = vec2f(0.0);
  for (var e = lid; e < m; e += WG) {
    let i = at(c, e);
    let g = dy[i];
    acc += vec2f(g, g * ((x_in[i] - mean) * invstd));
  }
  let sums = workgroup_sum(lid, acc);
  let sdy = sums.x;
  let sdyx = sums.y;
  if (lid == 0u) {
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
  }
  let k = gamma[c] * invstd / mf;
  for (var e = lid; e < m; e += WG) {
    let i = at(c, e);
    let xhat = (x_in[i] - mean) * invstd;
    dx[i] = k * (mf * dy[i] - sdy - xhat * sdyx);
  }
}
