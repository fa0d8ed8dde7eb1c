// Row softmax, log-softmax and fused softmax-cross-entropy over a B×C row-major matrix, plus the metrics
// accumulator the trainer dispatches every step (no readback).
//
// Shapes: B = p.rows, C = p.cols (C ≥ 1). z, y, dy, dz, sm: [B, C] f32 row-major; labels: [B] u32;
//         loss: [B] f32; flags: [B] u32.
// Row statistics, computed online in one read of the row (one exp per element):
//   m = max_j z_j,  a = argmax_j z_j (lowest index on ties),  t = Σ_{j≠a} exp(z_j − m),  s = 1 + t = Σ_j exp(z_j − m)
//   lse(z) = m + log1p(t)        (log1p by series below 1: WGSL's log has only 2^-21 *absolute* accuracy near 1)
//
// Entry points (one invocation per row; dispatch ceil(B / WG) workgroups, maybe as a 2-D grid):
//   softmax_forward       y_j  = exp(z_j − m) / s                                  (written)
//   log_softmax_forward   y_j  = z_j − m − log1p(t)                                (written)
//   softmax_backward      dz_j = sm_j · (dy_j − Σ_k dy_k·sm_k),  sm = softmax(z)   (written)
//   log_softmax_backward  dz_j = dy_j − exp(sm_j) · Σ_k dy_k,    sm = log_softmax(z)
//   xent_forward          loss_i = lse(z_i) − z_i[label_i] = log1p(t) + (m − z_i[label_i])
//                         flags_i = 1 if argmax == label (ties → lowest index), else 0
//   xent_train            as xent_forward, and dz_ij = (softmax(z_i)_j − [j == label_i]) · p.scale
//                         (p.scale = 1/B for a mean over the batch; a partial last batch passes 1/its size).
//                         For j == label == argmax, softmax_j − 1 is computed as −t/s (no cancellation).
//   metrics_accumulate (ONE workgroup of MWG invocations, MWG a power of two; dispatch 1×1×1):
//                         ACCUMULATES into the persistent `metrics` struct over rows i < mp.rows of row_loss/row_flags:
//                         loss_hi + loss_lo += Σ_{valid i} row_loss_i  (double-f32 accumulator: exact TwoSum error terms)
//                         correct += Σ_{valid i} row_flags_i,  rows += #valid,  invalid += #(row_flags_i == 0xffffffff),
//                         batches += 1.  Zero the buffer (clearBuffer) to start a new epoch/window.
//                         Also used by loss.wgsl's outputs (flags there count correct elements of the row).
//
// Labels out of range (label ≥ C): no out-of-bounds read. loss_i = NaN, flags_i = 0xffffffff (INVALID), the dz row
// is 0 (the sample contributes no gradient), and `metrics` counts the row in `invalid`, not in loss/correct/rows.
// The trainer should treat metrics.invalid ≠ 0 as an error in its data.
//
// Numerical caveats: with |z| ≲ 80 nothing overflows (z − m ≤ 0). A row containing +inf gives NaN; NaN in z
// propagates to the row's outputs. exp on a GPU is accurate to 3 + 2|x| ulp (WGSL); the tests' bounds follow from it
// and from the row sums (src/testing/bounds/softmax.ts). The TwoSum in `metrics` is exact only where the compiler keeps
// it (a driver may simplify it away); the tests assume only a plain sum's γ_rows·Σ loss.

override WG: u32 = 64u;
override MWG: u32 = 64u;  // metrics_accumulate workgroup size (a power of two)

const INVALID: u32 = 0xffffffffu;

struct Params {
  rows: u32,
  cols: u32,
  scale: f32, // dz scale (xent_train only)
}

struct MetricsParams {
  rows: u32,
}

struct Metrics {
  loss_hi: f32,  // Σ loss = loss_hi + loss_lo
  loss_lo: f32,
  correct: u32,
  rows: u32,
  invalid: u32,
  batches: u32,
  reserved0: u32,
  reserved1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> z: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> sm: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dz: array<f32>;
@group(0) @binding(6) var<storage, read> labels: array<u32>;
@group(0) @binding(7) var<storage, read_write> loss: array<f32>;
@group(0) @binding(8) var<storage, read_write> flags: array<u32>;

@group(0) @binding(9) var<uniform> mp: MetricsParams;
@group(0) @binding(10) var<storage, read> row_loss: array<f32>;
@group(0) @binding(11) var<storage, read> row_flags: array<u32>;
@group(0) @binding(12) var<storage, read_write> metrics: Metrics;

struct RowStats {
  m: f32,   // max
  t: f32,   // Σ_{j≠a} exp(z_j − m)
  a: u32,   // argmax, lowest index on ties
}

fn row_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

// One pass over z[base .. base+n): when a new maximum appears, the old maximum joins the "rest" sum t.
fn row_stats(base: u32, n: u32) -> RowStats {
  var m = z[base];
  var t = 0.0;
  var a = 0u;
  for (var j = 1u; j < n; j++) {
    let v = z[base + j];
    if (v > m) {
      t = (t + 1.0) * exp(m - v);
      m = v;
      a = j;
    } else {
      t += exp(v - m);
    }
  }
  return RowStats(m, t, a);
}

// log(1 + u) for u ≥ 0. Below 1: 2·atanh(s) with s = u/(2+u) ∈ [0, 1/3], odd series to s^17 (truncation < 2e-10
// relative); above 1 the argument of log is ≥ 2, where WGSL's log is accurate to 3 ulp.
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

@compute @workgroup_size(WG)
fn softmax_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  let n = p.cols;
  let base = i * n;
  let st = row_stats(base, n);
  let inv = 1.0 / (1.0 + st.t);
  for (var j = 0u; j < n; j++) {
    y[base + j] = exp(z[base + j] - st.m) * inv;
  }
}

@compute @workgroup_size(WG)
fn log_softmax_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  let n = p.cols;
  let base = i * n;
  let st = row_stats(base, n);
  let l = log1p_pos(st.t);
  for (var j = 0u; j < n; j++) {
    y[base + j] = (z[base + j] - st.m) - l;
  }
}

@compute @workgroup_size(WG)
fn softmax_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  let n = p.cols;
  let base = i * n;
  var d = 0.0;
  for (var j = 0u; j < n; j++) {
    d += dy[base + j] * sm[base + j];
  }
  for (var j = 0u; j < n; j++) {
    dz[base + j] = sm[base + j] * (dy[base + j] - d);
  }
}

@compute @workgroup_size(WG)
fn log_softmax_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  let n = p.cols;
  let base = i * n;
  var d = 0.0;
  for (var j = 0u; j < n; j++) {
    d += dy[base + j];
  }
  for (var j = 0u; j < n; j++) {
    dz[base + j] = dy[base + j] - exp(sm[base + j]) * d;
  }
}

// Writes loss_i and flags_i; returns the row statistics for the backward part.
fn xent_row(i: u32, base: u32, n: u32, label: u32) -> RowStats {
  let st = row_stats(base, n);
  if (label < n) {
    loss[i] = log1p_pos(st.t) + (st.m - z[base + label]);
    flags[i] = select(0u, 1u, label == st.a);
  } else {
    loss[i] = bitcast<f32>(0x7fc00000u | (label & 0u)); // quiet NaN (a runtime value: NaN may not be a constant)
    flags[i] = INVALID;
  }
  return st;
}

@compute @workgroup_size(WG)
fn xent_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  _ = xent_row(i, i * p.cols, p.cols, labels[i]);
}

@compute @workgroup_size(WG)
fn xent_train(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = row_index(wid, nwg, lid);
  if (i >= p.rows) { return; }
  let n = p.cols;
  let base = i * n;
  let label = labels[i];
  let st = xent_row(i, base, n, label);
  if (label >= n) {
    for (var j = 0u; j < n; j++) {
      dz[base + j] = 0.0;
    }
    return;
  }
  let k = p.scale / (1.0 + st.t); // scale / s
  for (var j = 0u; j < n; j++) {
    var g = exp(z[base + j] - st.m) * k;
    if (j == label) {
      g = select(g - p.scale, -st.t * k, j == st.a);
    }
    dz[base + j] = g;
  }
}

// --- metrics accumulator -------------------------------------------------------------------------------------

var<workgroup> w_hi: array<f32, MWG>;
var<workgroup> w_lo: array<f32, MWG>;
var<workgroup> w_correct: array<u32, MWG>;
var<workgroup> w_rows: array<u32, MWG>;
var<workgroup> w_invalid: array<u32, MWG>;

// Knuth's TwoSum: a + b = s + e exactly (s = fl(a + b)).
fn two_sum(a: f32, b: f32) -> vec2f {
  let s = a + b;
  let bb = s - a;
  let e = (a - (s - bb)) + (b - bb);
  return vec2f(s, e);
}

// (hi, lo) + (hi', lo') as a renormalised double-f32 pair.
// (Parameter names avoid the module's binding names: wgsl_reflect resolves identifiers by name.)
fn dd_add(da: vec2f, db: vec2f) -> vec2f {
  let s = two_sum(da.x, db.x);
  let lo = s.y + (da.y + db.y);
  return two_sum(s.x, lo);
}

@compute @workgroup_size(MWG)
fn metrics_accumulate(@builtin(local_invocation_index) lid: u32) {
  var acc = vec2f(0.0, 0.0);
  var correct = 0u;
  var rows = 0u;
  var invalid = 0u;
  for (var i = lid; i < mp.rows; i += MWG) {
    let f = row_flags[i];
    if (f == INVALID) {
      invalid += 1u;
    } else {
      acc = dd_add(acc, vec2f(row_loss[i], 0.0));
      correct += f;
      rows += 1u;
    }
  }
  w_hi[lid] = acc.x;
  w_lo[lid] = acc.y;
  w_correct[lid] = correct;
  w_rows[lid] = rows;
  w_invalid[lid] = invalid;
  workgroupBarrier();
  for (var h = MWG / 2u; h > 0u; h /= 2u) {
    if (lid < h) {
      let r = dd_add(vec2f(w_hi[lid], w_lo[lid]), vec2f(w_hi[lid + h], w_lo[lid + h]));
      w_hi[lid] = r.x;
      w_lo[lid] = r.y;
      w_correct[lid] += w_correct[lid + h];
      w_rows[lid] += w_rows[lid + h];
      w_invalid[lid] += w_invalid[lid + h];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let r = dd_add(vec2f(metrics.loss_hi, metrics.loss_lo), vec2f(w_hi[0], w_lo[0]));
    metrics.loss_hi = r.x;
    metrics.loss_lo = r.y;
    metrics.correct += w_correct[0];
    metrics.rows += w_rows[0];
    metrics.invalid += w_invalid[0];
    metrics.batches += 1u;
  }
}
