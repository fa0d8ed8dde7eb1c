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
//   split form (below): forward_partial: x_in, part_out (read_write [C·K] vec4);  forward_apply: forward_train's
//                  bindings with part_in (read [C·K] vec4);  backward_partial: x_in, dy, saved_stats, part_out;
//                  backward_apply: backward's bindings with part_in.
// Dispatch, single form: forward_train and backward: one workgroup of WG invocations per channel (C workgroups); each
//   invocation strides over the channel's m values (index e → n = e / P, q = e % P), partial sums meet in a binary
//   tree in workgroup memory. forward_eval: one invocation per element, ceil(N·C·P / WG) workgroups (maybe a 2-D grid:
//   linear index wid.x + wid.y·nwg.x).
// Numerics, single form: each sum is a per-invocation run of ≤ ⌈m/WG⌉ terms then log2(WG) tree levels, so no term
//   passes more than ⌈m/WG⌉ + log2(WG) roundings (the barriers fix the tree); inverseSqrt is within 2 ulp. WG is a
//   power of 2.
//
// SPLIT FORM (GPUs, where C workgroups leave most multiprocessors idle): each channel's m values are cut into K
//   chunks of L = p.chunk consecutive values e ∈ [k·L, min((k+1)·L, m)), n_k values each (the last may be shorter);
//   a 2-D grid of K × C workgroups (wid.x = chunk k, wid.y = channel c), two dispatches per op:
//   forward_partial  per chunk: S_k = Σ x,  a_k = S_k / n_k (rounded: any value serves as the shift below),
//                    D_k = Σ (x − a_k),  Q_k = Σ (x − a_k)²;   part[c·K + k] = (S_k, a_k, D_k, Q_k)
//   forward_apply    every workgroup of channel c merges the channel's K partials (same code, same order, so the
//                    same mean and invstd in all of them): mean = (Σ_k S_k) / m,
//                    Σ(x − mean)² = Σ_k [Q_k + 2·δ_k·D_k + n_k·δ_k²],  δ_k = a_k − mean   (exact for ANY shift a_k:
//                    Σ_k∈chunk (x − mean)² = Σ ((x − a) + (a − mean))²), then normalises its own chunk as
//                    forward_train does; chunk 0's invocation 0 writes saved and running.
//   backward_partial per chunk: (Σ dy, Σ dy·x̂) → part[c·K + k].xy
//   backward_apply   merges them (dβ, dγ: chunk 0 writes them) and writes dx for its own chunk.
//   The merge strides over k and meets in the same workgroup tree, so K may exceed WG.
// Numerics, split form. The means and the backward's sums are plain sums of the m terms in another order: the same
//   γ_m·Σ|terms| bound. The variance: why the shifted form with D_k. Chan et al.'s pairwise merge
//   Σ_k [M2_k + n_k·(mean_k − mean)²] assumes exact chunk means; with rounded ones its error is first order,
//   2·n_k·|mean_k − mean|·|a_k − mean_k| ≈ 2·|mean_k − mean|·γ_(n_k)·Σ_chunk|x|, which grows with |x| (a channel's
//   offset), not with its spread, and chunks of an image plane do have means that differ. Keeping D_k makes the
//   identity exact whatever a_k is, so a_k's error drops out; D_k itself is ≈ 0 (n_k·|a_k − mean_k|), and every other
//   merged term is ≥ 0, so nothing cancels. Σx and Σx² about one common shift would cancel by (mean − shift)²/var,
//   and no good shift is known before the pass. The bound (src/testing/bounds/batchnorm.ts, `split`):
//     |Σ̂ − Σ(x − mean)²| ≤ Σ_k [γ_(n_k+1)·Σ_chunk (x − a_k)² + 2|δ_k|·γ_(n_k)·Σ_chunk|x − a_k|]
//                          + γ_(3K+3)·Σ_k [Q_k + 2|δ_k·D_k| + n_k·δ_k²]  (+ x's own errors; flushed subnormals)
//   i.e. ≈ (n_k + 3K)·u relative to Σ(x − mean)² plus a cross term of second order in the deviations; the single
//   form's bound has γ_m·Σ(x − mean)² and a term first order in the mean's error (2·Σ|x − mean|·e_mean).

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
  /** Split form: L, values per chunk (the single form ignores it). */
  chunk: u32,
  /** Split form: K = ⌈m / L⌉ chunks per channel. */
  chunks: u32,
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
@group(0) @binding(14) var<storage, read_write> part_out: array<vec4f>;
@group(0) @binding(15) var<storage, read> part_in: array<vec4f>;

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

/** Values [lo, hi) of channel c: the whole channel (single form) or one chunk (split form). */
struct Span {
  c: u32,
  lo: u32,
  hi: u32,
}

fn channel_span(c: u32) -> Span {
  return Span(c, 0u, p.batch * p.plane);
}

/** Chunk k of channel c (split form). */
fn chunk_span(c: u32, k: u32) -> Span {
  let lo = k * p.chunk;
  return Span(c, lo, min(lo + p.chunk, p.batch * p.plane));
}

/** Σ x over the span (every invocation returns it). */
fn span_sum(lid: u32, sp: Span) -> f32 {
  var s = 0.0;
  for (var e = sp.lo + lid; e < sp.hi; e += WG) { s += x_in[at(sp.c, e)]; }
  return workgroup_sum(lid, vec2f(s, 0.0)).x;
}

/** (Σ (x − a), Σ (x − a)²) over the span. */
fn span_deviations(lid: u32, sp: Span, a: f32) -> vec2f {
  var acc = vec2f(0.0);
  for (var e = sp.lo + lid; e < sp.hi; e += WG) {
    let d = x_in[at(sp.c, e)] - a;
    acc += vec2f(d, d * d);
  }
  return workgroup_sum(lid, acc);
}

/** Σ (x − mean)² over the whole channel (single form: no D term to keep). */
fn span_squares(lid: u32, sp: Span, mean: f32) -> f32 {
  var q = 0.0;
  for (var e = sp.lo + lid; e < sp.hi; e += WG) {
    let d = x_in[at(sp.c, e)] - mean;
    q += d * d;
  }
  return workgroup_sum(lid, vec2f(q, 0.0)).x;
}

fn store(i: u32, v: f32) {
  y[i] = v;
  if (EPILOGUE) { out[i] = act_forward(ACT, v, p.act_alpha); }
}

/** y over the span from the channel's mean and Σ(x − mean)² = sq; lid 0 of `writer` saves them and updates running. */
fn normalize_span(lid: u32, sp: Span, mean: f32, sq: f32, writer: bool) {
  let c = sp.c;
  let m = p.batch * p.plane;
  let invstd = inverseSqrt(sq / f32(m) + p.eps);
  let scale = invstd * gamma[c];
  let shift = beta[c];
  for (var e = sp.lo + lid; e < sp.hi; e += WG) {
    let i = at(c, e);
    store(i, (x_in[i] - mean) * scale + shift);
  }
  if (writer && lid == 0u) {
    let nc = p.channels;
    saved[c] = mean;
    saved[nc + c] = invstd;
    let mom = p.momentum;
    running[c] = (1.0 - mom) * running[c] + mom * mean;
    running[nc + c] = (1.0 - mom) * running[nc + c] + mom * (sq / f32(m - 1u));
  }
}

@compute @workgroup_size(WG)
fn forward_train(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sp = channel_span(wid.x);
  let mean = span_sum(lid, sp) / f32(sp.hi);
  let sq = span_squares(lid, sp, mean);
  normalize_span(lid, sp, mean, sq, true);
}

@compute @workgroup_size(WG)
fn forward_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sp = chunk_span(wid.y, wid.x);
  let s = span_sum(lid, sp);
  let a = s / f32(sp.hi - sp.lo);
  let dq = span_deviations(lid, sp, a);
  if (lid == 0u) { part_out[sp.c * p.chunks + wid.x] = vec4f(s, a, dq.x, dq.y); }
}

@compute @workgroup_size(WG)
fn forward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let nk = p.chunks;
  let base = c * nk;
  let m = p.batch * p.plane;
  var s = 0.0;
  for (var k = lid; k < nk; k += WG) { s += part_in[base + k].x; }
  let mean = workgroup_sum(lid, vec2f(s, 0.0)).x / f32(m);
  var q = 0.0;
  for (var k = lid; k < nk; k += WG) {
    let pk = part_in[base + k];
    let sp = chunk_span(c, k);
    let d = pk.y - mean;
    q += pk.w + 2.0 * d * pk.z + f32(sp.hi - sp.lo) * d * d;
  }
  let sq = workgroup_sum(lid, vec2f(q, 0.0)).x;
  normalize_span(lid, chunk_span(c, wid.x), mean, sq, wid.x == 0u);
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

/** (Σ dy, Σ dy·x̂) over the span, x̂ = (x − mean)·invstd from saved_stats. */
fn span_grad_sums(lid: u32, sp: Span) -> vec2f {
  let mean = saved_stats[sp.c];
  let invstd = saved_stats[p.channels + sp.c];
  var acc = vec2f(0.0);
  for (var e = sp.lo + lid; e < sp.hi; e += WG) {
    let i = at(sp.c, e);
    let g = dy[i];
    acc += vec2f(g, g * ((x_in[i] - mean) * invstd));
  }
  return workgroup_sum(lid, acc);
}

/** dx over the span from the channel's sums (Σ dy, Σ dy·x̂); lid 0 of `writer` writes them as dβ, dγ. */
fn dx_span(lid: u32, sp: Span, sums: vec2f, writer: bool) {
  let c = sp.c;
  let mf = f32(p.batch * p.plane);
  let mean = saved_stats[c];
  let invstd = saved_stats[p.channels + c];
  let sdy = sums.x;
  let sdyx = sums.y;
  if (writer && lid == 0u) {
    dbeta[c] = sdy;
    dgamma[c] = sdyx;
  }
  let k = gamma[c] * invstd / mf;
  for (var e = sp.lo + lid; e < sp.hi; e += WG) {
    let i = at(c, e);
    let xhat = (x_in[i] - mean) * invstd;
    dx[i] = k * (mf * dy[i] - sdy - xhat * sdyx);
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sp = channel_span(wid.x);
  dx_span(lid, sp, span_grad_sums(lid, sp), true);
}

@compute @workgroup_size(WG)
fn backward_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let sp = chunk_span(wid.y, wid.x);
  let sums = span_grad_sums(lid, sp);
  if (lid == 0u) { part_out[sp.c * p.chunks + wid.x] = vec4f(sums, 0.0, 0.0); }
}

@compute @workgroup_size(WG)
fn backward_apply(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wid.y;
  let base = c * p.chunks;
  var acc = vec2f(0.0);
  for (var k = lid; k < p.chunks; k += WG) { acc += part_in[base + k].xy; }
  dx_span(lid, chunk_span(c, wid.x), workgroup_sum(lid, acc), wid.x == 0u);
}
