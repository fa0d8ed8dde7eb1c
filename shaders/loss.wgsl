// Regression and binary losses over a B×N row-major matrix, one invocation per row; per-row outputs feed the
// metrics accumulator of softmax.wgsl (`metrics_accumulate`), so the trainer reads nothing back per step.
//
// Shapes: B = p.rows, N = p.cols (N ≥ 1). pred, targets, grad: [B, N] f32 row-major; loss: [B] f32; flags: [B] u32.
// The per-row loss is the MEAN over the row's N elements, so (1/B) Σ_i loss_i is the mean over all B·N elements
// (torch's reduction='mean'). Gradients are of  scale · Σ_i loss_i  (scale = 1/B for the batch mean; a partial last
// batch passes 1/its size), hence the 1/N below. A per-element loss is the same kernel on a (B·N)×1 view.
//
//   mse:          loss_i = (1/N) Σ_j (y_ij − t_ij)²                       grad_ij = 2 (y_ij − t_ij) · scale / N
//                 flags_i = 0 (no notion of a correct prediction)
//   bce (logits): ℓ(z, t) = max(z, 0) − z·t + log1p(exp(−|z|))          (= −t log σ(z) − (1−t) log(1 − σ(z)))
//                 with max(z, 0) − z·t computed as z(1−t) or −z·t (no cancellation)
//                 loss_i = (1/N) Σ_j ℓ(z_ij, t_ij)                         grad_ij = (σ(z_ij) − t_ij) · scale / N
//                 flags_i = #{ j : (z_ij > 0) == (t_ij ≥ 0.5) }  (correct elements; accuracy = Σ flags / (B·N))
//                 t may be soft (any value in [0, 1]).
//
// Entry points: mse_forward, mse_train, bce_forward, bce_train; *_forward write loss + flags, *_train also write
// grad (written, not accumulated). Dispatch ceil(B / WG) workgroups (maybe a 2-D grid; linear index wid.x + wid.y·nwg.x).
//
// Numerical caveats: the row sums are Kahan-compensated (N may be large, e.g. an autoencoder's 784 outputs) where the
// compiler keeps the compensation; the tests assume only γ_N·Σ terms (src/testing/bounds/loss.ts). bce never
// evaluates exp of a positive number, so |z| up to f32 max is fine; log1p is a series below 1 because WGSL's log has
// only 2^-21 absolute accuracy near 1 (a plain log(1 + u) would lose all digits of the loss of a confident, correct
// prediction). σ(z) = 1/(1+e) or e/(1+e) with e = exp(−|z|). mse of values beyond ~1.8e19 overflows to inf.

override WG: u32 = 64u;

struct Params {
  rows: u32,
  cols: u32,
  scale: f32, // gradient scale (the *_train entries)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> pred: array<f32>;
@group(0) @binding(2) var<storage, read> targets: array<f32>;
@group(0) @binding(3) var<storage, read_write> loss: array<f32>;
@group(0) @binding(4) var<storage, read_write> flags: array<u32>;
@group(0) @binding(5) var<storage, read_write> grad: array<f32>;

fn row_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// log(1 + u) for u ≥ 0 (the same function as in softmax.wgsl; WGSL has no include).
fn log1p_pos(u: f32) -> f32 {
  if (u > 1.0) {
    return log(1.0 + u);
  }
  let s = u / (2.0 + u);
  let q = s * s;
  let poly = 1.0 + q * (1.0 / 3.0 + q * (1.0 / 5.0 + q * (1.0 / 7.0 + q * (1.0 / 9.0 + q * (1.0 / 11.0
    + q * (1.0 / 13.0 + q * (1.0 / 15.0 + q * (1.0 / 17.0))))))));
  return 2.0 * s * poly;
}

// Kahan summation state: sum and compensation (the low-order part lost so far, negated).
struct Kahan {
  s: f32,
  c: f32,
}

fn kahan_add(k: Kahan, v: f32) -> Kahan {
  let yv = v - k.c;
  let tv = k.s + yv;
  return Kahan(tv, (tv - k.s) - yv);
}

// max(z, 0) − z·t is evaluated as z·(1 − t) for z ≥ 0 and −z·t below: no cancellation for t ∈ [0, 1] (1 − t is exact
// for t ≥ 0.5), so the loss of a confident prediction keeps its relative accuracy even at |z| = 80.
fn bce_elem(zv: f32, tv: f32) -> f32 {
  let lin = select(-zv * tv, zv * (1.0 - tv), zv >= 0.0);
  return lin + log1p_pos(exp(-abs(zv)));
}

fn sigmoid(zv: f32) -> f32 {
  let e = exp(-abs(zv));
  return select(e / (1.0 + e), 1.0 / (1.0 + e), zv >= 0.0);
}

fn mse_row(i: u32) {
  let n = p.cols;
  let base = i * n;
  var k = Kahan(0.0, 0.0);
  for (var j = 0u; j < n; j++) {
    let d = pred[base + j] - targets[base + j];
    k = kahan_add(k, d * d);
  }
  loss[i] = k.s / f32(n);
  flags[i] = 0u;
}

fn bce_row(i: u32) {
  let n = p.cols;
  let base = i * n;
  var k = Kahan(0.0, 0.0);
  var correct = 0u;
  for (var j = 0u; j < n; j++) {
    let zv = pred[base + j];
    let tv = targets[base + j];
    k = kahan_add(k, bce_elem(zv, tv));
    correct += select(0u, 1u, (zv > 0.0) == (tv >= 0.5));
  }
  loss[i] = k.s / f32(n);
  flags[i] = correct;
}

@compute @workgroup_size(WG)
fn mse_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  mse_row(i);
}

@compute @workgroup_size(WG)
fn mse_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  mse_row(i);
  let n = p.cols;
  let base = i * n;
  let g = 2.0 * p.scale / f32(n);
  for (var j = 0u; j < n; j++) {
    grad[base + j] = (pred[base + j] - targets[base + j]) * g;
  }
}

@compute @workgroup_size(WG)
fn bce_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  bce_row(i);
}

@compute @workgroup_size(WG)
fn bce_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  bce_row(i);
  let n = p.cols;
  let base = i * n;
  let g = p.scale / f32(n);
  for (var j = 0u; j < n; j++) {
    grad[base + j] = (sigmoid(pred[base + j]) - targets[base + j]) * g;
  }
}
