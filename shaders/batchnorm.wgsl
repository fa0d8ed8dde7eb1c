// BatchNorm1d over a mini-batch, with torch.nn.BatchNorm1d semantics (affine, track_running_stats, eps 1e-5,
// momentum 0.1 by default; momentum = None, torch's cumulative average, is not supported).
//
// Shape legend: B rows (examples) of F features; x, y, dy, dx: [B, F] f32 row-major; γ, β, dγ, dβ: [F];
//   running: [2F] = (running_mean [F], running_var [F]); saved: [2F] = (batch mean [F], invstd [F]).
//
// forward_train (per feature f, over the batch):
//   mean    = (1/B) Σ_b x[b,f]
//   var     = (1/B) Σ_b (x[b,f] − mean)²                 biased: used to normalise
//   invstd  = 1 / sqrt(var + eps)
//   x̂[b,f]  = (x[b,f] − mean) · invstd
//   y[b,f]  = x̂[b,f] · γ[f] + β[f]                       computed as (x − mean) · (invstd·γ) + β
//   saved   = (mean, invstd)                              for backward
//   running_mean = (1 − m) · running_mean + m · mean
//   running_var  = (1 − m) · running_var  + m · var·B/(B − 1)   UNBIASED, as torch
//   B = 1 is rejected at plan time (torch raises "Expected more than 1 value per channel when training": the
//   unbiased variance divides by zero).
// forward_eval (per element): y = (x − running_mean) / sqrt(running_var + eps) · γ + β.
// backward (per feature; x̂ recomputed from x and saved, so y need not be kept):
//   dβ[f] = Σ_b dy[b,f]                dγ[f] = Σ_b dy[b,f] · x̂[b,f]            (WRITTEN, not accumulated)
//   dx[b,f] = (γ[f] · invstd / B) · (B · dy[b,f] − dβ[f] − x̂[b,f] · dγ[f])       (written)
//   This is the gradient through the batch statistics (training mode); the running-stat update has no gradient.
//
// Bindings (group 0; p is the uniform Params, the rest storage):
//   forward_train: x (read), y (read_write), gamma (read), beta (read), running (read_write [2F]),
//                  saved (read_write [2F])
//   forward_eval:  x (read), y (read_write), gamma (read), beta (read), running_stats (read [2F])
//   backward:      x (read), dy (read), gamma (read), saved_stats (read [2F]), dx (read_write),
//                  dgamma (read_write [F]), dbeta (read_write [F])
//   γ, β, dγ, dβ may be 256-byte-aligned ranges of the flat parameter / gradient buffers.
// Dispatch: forward_train and backward: one thread per feature, ceil(F / WG) workgroups; each thread loops over the
//   B rows (three passes in forward, two in backward). No workgroup memory and no barriers: fast on software
//   adapters, and consecutive threads read consecutive features of a row (coalesced). forward_eval: one thread per
//   element, ceil(B·F / WG) workgroups. All possibly as a 2-D grid (linear index wid.x + wid.y·nwg.x).
// Numerics: sums run sequentially in f32 (error grows like B·2^-24 in the worst case, √B typically); the variance
//   is a second pass over x − mean (no Σx² − (Σx)² cancellation); inverseSqrt is within 2 ulp.

override WG: u32 = 64u;

struct Params {
  rows: u32,      // B
  features: u32,  // F
  eps: f32,
  momentum: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> running: array<f32>;
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;
@group(0) @binding(7) var<storage, read> running_stats: array<f32>;
@group(0) @binding(8) var<storage, read> dy: array<f32>;
@group(0) @binding(9) var<storage, read> saved_stats: array<f32>;
@group(0) @binding(10) var<storage, read_write> dx: array<f32>;
@group(0) @binding(11) var<storage, read_write> dgamma: array<f32>;
@group(0) @binding(12) var<storage, read_write> dbeta: array<f32>;

@compute @workgroup_size(WG)
fn forward_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = (wid.x + wid.y * nwg.x) * WG + lid;
  let nf = p.features;
  if (f >= nf) { return; }
  let nb = p.rows;
  let bf = f32(nb);
  var s = 0.0;
  for (var b = 0u; b < nb; b++) { s += x[b * nf + f]; }
  let mean = s / bf;
  var q = 0.0;
  for (var b = 0u; b < nb; b++) {
    let d = x[b * nf + f] - mean;
    q += d * d;
  }
  let invstd = inverseSqrt(q / bf + p.eps);
  saved[f] = mean;
  saved[nf + f] = invstd;
  let scale = invstd * gamma[f];
  let shift = beta[f];
  for (var b = 0u; b < nb; b++) {
    let i = b * nf + f;
    y[i] = (x[i] - mean) * scale + shift;
  }
  let m = p.momentum;
  running[f] = (1.0 - m) * running[f] + m * mean;
  running[nf + f] = (1.0 - m) * running[nf + f] + m * (q / f32(nb - 1u));
}

@compute @workgroup_size(WG)
fn forward_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let nf = p.features;
  if (i >= p.rows * nf) { return; }
  let f = i % nf;
  let scale = inverseSqrt(running_stats[nf + f] + p.eps) * gamma[f];
  y[i] = (x[i] - running_stats[f]) * scale + beta[f];
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = (wid.x + wid.y * nwg.x) * WG + lid;
  let nf = p.features;
  if (f >= nf) { return; }
  let nb = p.rows;
  let bf = f32(nb);
  let mean = saved_stats[f];
  let invstd = saved_stats[nf + f];
  var sdy = 0.0;
  var sdyx = 0.0;
  for (var b = 0u; b < nb; b++) {
    let i = b * nf + f;
    let g = dy[i];
    sdy += g;
    sdyx += g * ((x[i] - mean) * invstd);
  }
  dgamma[f] = sdyx;
  dbeta[f] = sdy;
  let k = gamma[f] * invstd / bf;
  for (var b = 0u; b < nb; b++) {
    let i = b * nf + f;
    let xhat = (x[i] - mean) * invstd;
    dx[i] = k * (bf * dy[i] - sdy - xhat * sdyx);
  }
}
