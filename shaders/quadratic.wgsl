// The n-dimensional quadratic of the problems library (src/problems/quadratic.ts):
//   f(x) = ½·xᵀAx − bᵀx,   ∇f(x) = Ax − b,   H = A   (A symmetric, n×n row-major; b, x: [n])
//
// value_grad   one invocation per row i (dispatch ceil(n / 64), maybe a 2-D grid):
//                v_i = Σ_j A_ij·x_j  (j ascending, sequential),  g_i = v_i − b_i,  terms_i = x_i·(0.5·v_i − b_i)
//              then f = Σ_i terms_i by vector.wgsl's two-pass sum (VectorSumOp) into the minimizer's f slot.
// hvp          hv_i = Σ_j A_ij·v_j (j ascending).
// Bindings: qp (uniform: n), a, b, x, v (read), g, terms, hv (read_write; written, never accumulated).
// Operation order = the CPU reference's, except the sum over i (a tree on the GPU, sequential on the CPU): f agrees
// within the sum's bound γ_h·Σ|terms_i|, g and hv to a few ulps of Σ_j |A_ij·x_j| (fused multiply-adds allowed).

override WG: u32 = 64u;

struct QuadParams {
  n: u32,
}

@group(0) @binding(0) var<uniform> qp: QuadParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read_write> g: array<f32>;
@group(0) @binding(5) var<storage, read_write> terms: array<f32>;
@group(0) @binding(6) var<storage, read> v: array<f32>;
@group(0) @binding(7) var<storage, read_write> hv: array<f32>;

@compute @workgroup_size(WG)
fn value_grad(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= qp.n) { return; }
  var s = 0.0;
  for (var j = 0u; j < qp.n; j++) {
    s += a[i * qp.n + j] * x[j];
  }
  g[i] = s - b[i];
  terms[i] = x[i] * (0.5 * s - b[i]);
}

@compute @workgroup_size(WG)
fn hvp(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= qp.n) { return; }
  var s = 0.0;
  for (var j = 0u; j < qp.n; j++) {
    s += a[i * qp.n + j] * v[j];
  }
  hv[i] = s;
}
