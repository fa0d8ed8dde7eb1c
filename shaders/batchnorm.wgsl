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
//   split form: forward_partial: x, part_out (read_write [K·F] vec4);  forward_apply: forward_train's bindings with
//                  part_in (read [K·F] vec4);  backward_partial: x, dy, saved_stats, part_out;  backward_apply:
//                  backward's bindings with part_in.
//   γ, β, dγ, dβ may be 256-byte-aligned ranges of the flat parameter / gradient buffers.
// Dispatch: forward_train and backward: one thread per feature, ceil(F / WG) workgroups; each thread loops over the
//   B rows (three passes in forward, two in backward). No workgroup memory and no barriers: fast on software
//   adapters, and consecutive threads read consecutive features of a row (coalesced). forward_eval: one thread per
//   element, ceil(B·F / WG) workgroups. All possibly as a 2-D grid (linear index wid.x + wid.y·nwg.x).
// Numerics: sums run sequentially in f32 (error grows like B·2^-24 in the worst case, √B typically); the variance
//   is a second pass over x − mean (no Σx² − (Σx)² cancellation); inverseSqrt is within 2 ulp.
//
// SPLIT FORM (GPUs, where F threads leave most of the GPU idle and each runs 4·B dependent loads and stores): the
//   rows are cut into chunks of L = p.chunk rows, K' = ⌈B / L⌉ of them for the current B (the grid is planned for
//   the largest B, K chunks: threads of chunks k ≥ K' return at once). Grid: ceil(F / WG) × K workgroups, thread
//   (f = wid.x·WG + lid, chunk k = wid.y); two dispatches per op, the same math as batchnorm2d.wgsl's split form
//   (its header: why the shifted sums, and their bound):
//   forward_partial  over the chunk's n_k rows: S_k = Σ x, a_k = S_k / n_k, D_k = Σ (x − a_k), Q_k = Σ (x − a_k)²;
//                    part[k·F + f] = (S_k, a_k, D_k, Q_k)
//   forward_apply    each thread merges feature f's K' partials in order (so every thread of f finds the same
//                    statistics): mean = (Σ S_k) / B, Σ(x − mean)² = Σ_k [Q_k + 2·δ_k·D_k + n_k·δ_k²],
//                    δ_k = a_k − mean; then normalises its own chunk's rows; chunk 0 writes saved and running.
//   backward_partial (Σ dy, Σ dy·x̂) over the chunk → part[k·F + f].xy;  backward_apply merges them (chunk 0 writes
//                    dβ, dγ) and writes dx for its chunk's rows.
//   The merge reads 2·K' partials per thread, so L ≈ √B balances it against the chunk's own 4·L loads and stores.

override WG: u32 = 64u;

struct Params {
  rows: u32,      // B
  features: u32,  // F
  eps: f32,
  momentum: f32,
  /** Split form: L, rows per chunk (the single form ignores it). */
  chunk: u32,
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
@group(0) @binding(13) var<storage, read_write> part_out: array<vec4f>;
@group(0) @binding(14) var<storage, read> part_in: array<vec4f>;

/** Rows [lo, hi) of feature f: all of them (single form) or one chunk (split form). */
struct Rows {
  f: u32,
  lo: u32,
  hi: u32,
}

/** Chunks of the current rows (split form). */
fn chunk_count() -> u32 {
  return (p.rows + p.chunk - 1u) / p.chunk;
}

fn chunk_rows(f: u32, k: u32) -> Rows {
  let lo = k * p.chunk;
  return Rows(f, lo, min(lo + p.chunk, p.rows));
}

fn rows_sum(r: Rows) -> f32 {
  let nf = p.features;
  var s = 0.0;
  for (var b = r.lo; b < r.hi; b++) { s += x[b * nf + r.f]; }
  return s;
}

/** (Σ (x − a), Σ (x − a)²) over the rows. */
fn rows_deviations(r: Rows, a: f32) -> vec2f {
  let nf = p.features;
  var acc = vec2f(0.0);
  for (var b = r.lo; b < r.hi; b++) {
    let d = x[b * nf + r.f] - a;
    acc += vec2f(d, d * d);
  }
  return acc;
}

/** Σ (x − mean)² over the rows (the single form: its mean is the feature's, so no D term to keep). */
fn rows_squares(r: Rows, mean: f32) -> f32 {
  let nf = p.features;
  var q = 0.0;
  for (var b = r.lo; b < r.hi; b++) {
    let d = x[b * nf + r.f] - mean;
    q += d * d;
  }
  return q;
}

/** y over the rows from the feature's mean and Σ(x − mean)² = q; `writer` saves them and updates running. */
fn normalize_rows(r: Rows, mean: f32, q: f32, writer: bool) {
  let nf = p.features;
  let f = r.f;
  let bf = f32(p.rows);
  let invstd = inverseSqrt(q / bf + p.eps);
  let scale = invstd * gamma[f];
  let shift = beta[f];
  for (var b = r.lo; b < r.hi; b++) {
    let i = b * nf + f;
    y[i] = (x[i] - mean) * scale + shift;
  }
  if (writer) {
    saved[f] = mean;
    saved[nf + f] = invstd;
    let m = p.momentum;
    running[f] = (1.0 - m) * running[f] + m * mean;
    running[nf + f] = (1.0 - m) * running[nf + f] + m * (q / f32(p.rows - 1u));
  }
}

@compute @workgroup_size(WG)
fn forward_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = (wid.x + wid.y * nwg.x) * WG + lid;
  if (f >= p.features) { return; }
  let r = Rows(f, 0u, p.rows);
  let mean = rows_sum(r) / f32(p.rows);
  normalize_rows(r, mean, rows_squares(r, mean), true);
}

@compute @workgroup_size(WG)
fn forward_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * WG + lid;
  let k = wid.y;
  if (f >= p.features || k >= chunk_count()) { return; }
  let r = chunk_rows(f, k);
  let s = rows_sum(r);
  let a = s / f32(r.hi - r.lo);
  let dq = rows_deviations(r, a);
  part_out[k * p.features + f] = vec4f(s, a, dq.x, dq.y);
}

@compute @workgroup_size(WG)
fn forward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * WG + lid;
  let k = wid.y;
  let nk = chunk_count();
  if (f >= p.features || k >= nk) { return; }
  let nf = p.features;
  var s = 0.0;
  for (var j = 0u; j < nk; j++) { s += part_in[j * nf + f].x; }
  let mean = s / f32(p.rows);
  var q = 0.0;
  for (var j = 0u; j < nk; j++) {
    let pj = part_in[j * nf + f];
    let r = chunk_rows(f, j);
    let d = pj.y - mean;
    q += pj.w + 2.0 * d * pj.z + f32(r.hi - r.lo) * d * d;
  }
  normalize_rows(chunk_rows(f, k), mean, q, k == 0u);
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

/** (Σ dy, Σ dy·x̂) over the rows, x̂ = (x − mean)·invstd from saved_stats. */
fn rows_grad_sums(r: Rows) -> vec2f {
  let nf = p.features;
  let mean = saved_stats[r.f];
  let invstd = saved_stats[nf + r.f];
  var acc = vec2f(0.0);
  for (var b = r.lo; b < r.hi; b++) {
    let i = b * nf + r.f;
    let g = dy[i];
    acc += vec2f(g, g * ((x[i] - mean) * invstd));
  }
  return acc;
}

/** dx over the rows from the feature's (Σ dy, Σ dy·x̂); `writer` writes them as dβ, dγ. */
fn dx_rows(r: Rows, sums: vec2f, writer: bool) {
  let nf = p.features;
  let f = r.f;
  let bf = f32(p.rows);
  let mean = saved_stats[f];
  let invstd = saved_stats[nf + f];
  let sdy = sums.x;
  let sdyx = sums.y;
  if (writer) {
    dgamma[f] = sdyx;
    dbeta[f] = sdy;
  }
  let k = gamma[f] * invstd / bf;
  for (var b = r.lo; b < r.hi; b++) {
    let i = b * nf + f;
    let xhat = (x[i] - mean) * invstd;
    dx[i] = k * (bf * dy[i] - sdy - xhat * sdyx);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = (wid.x + wid.y * nwg.x) * WG + lid;
  if (f >= p.features) { return; }
  let r = Rows(f, 0u, p.rows);
  dx_rows(r, rows_grad_sums(r), true);
}

@compute @workgroup_size(WG)
fn backward_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * WG + lid;
  let k = wid.y;
  if (f >= p.features || k >= chunk_count()) { return; }
  part_out[k * p.features + f] = vec4f(rows_grad_sums(chunk_rows(f, k)), 0.0, 0.0);
}

@compute @workgroup_size(WG)
fn backward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let f = wid.x * WG + lid;
  let k = wid.y;
  let nk = chunk_count();
  if (f >= p.features || k >= nk) { return; }
  var acc = vec2f(0.0);
  for (var j = 0u; j < nk; j++) { acc += part_in[j * p.features + f].xy; }
  dx_rows(chunk_rows(f, k), acc, k == 0u);
}
