// Vector algebra on flat f32 buffers for the minimizers (src/minimize/, through src/linalg/gpu-machine.ts) and the
// problems' sums (src/problems/): reductions in two passes and scaled additions whose coefficients may come from
// scalars computed earlier on the GPU, so a whole L-BFGS two-loop recursion runs without the host seeing a number.
//
// Scalars: `sc` is the minimizer's scalar buffer (array<f32>). A coefficient is
//   coef(c, slot, sub) = c                          (slot = sub = NONE: a host constant)
//                      = c·(A − B),  A = sc[slot] (1 if slot = NONE),  B = sc[sub] (0 if sub = NONE)
// (e.g. −al_j as (−1, al_j, NONE), al_j − be_j as (1, al_j, be_j), a step t as (t, NONE, NONE)).
//
// reduce_partial  over x, y: [n]. Workgroup w takes the chunk [w·chunk, min((w+1)·chunk, n)) (op.parts
//                 workgroups; dispatch op.parts, maybe as a 2-D grid); its WG invocations stride over the chunk
//                 (coalesced), each summing sequentially, then a binary tree in workgroup memory:
//                   parts[w] = (Σ x_i·y_i,  max |x_i|,  Σ |x_i|,  #{i : x_i or y_i non-finite})
//                 op.mode = 1 sums x_i alone (y is bound but not read). Non-finite pairs (NaN/±inf, detected by bit
//                 pattern: WGSL lets compilers assume isnan() is false) are left out of the sums and counted.
// reduce_final    ONE workgroup of FWG invocations: strided sequential sums over the partials, then a tree:
//                   sc[op.out] = op.scale·Σ,  and when op.outputs = 4 also
//                   sc[op.out + 1] = max|x|,  sc[op.out + 2] = Σ|x|,  sc[op.out + 3] = non-finite count (as f32).
//                 Dispatch 1×1×1. Written, never accumulated.
// axpby           z = α·x + β·y,  α = coef(a), β = coef(b)    (z must not alias x or y; β = 0 still reads y)
// axpy            z = β·z + α·x   in place                    (z must not alias x)
//                 One invocation per element, EWG per workgroup; dispatch ceil(n / EWG) (maybe a 2-D grid).
// scalar_op       one invocation: sc[op.out] = A / B (mode 0), A·√B (mode 1), A / √B (mode 2; 0 when B = 0),
//                 A = coef(a), B = coef(b) read from sc itself (CG's α = rᵀr / pᵀAp, β, a finite-difference step).
// Bindings: op (uniform VecOp, dynamic offset: one 256-byte record per dispatch), x, y (read), z (read_write),
//           sc_in (read: coefficients), sc (read_write: reduce_final's and scalar_op's outputs), parts (read_write,
//           partial pass), parts_in (read, final pass).
// Accuracy: a term of a sum goes through at most h = ⌈chunk/WG⌉ + log2 WG + ⌈parts/FWG⌉ + log2 FWG additions, so
//           |error| ≤ γ_(h+1)·Σ|x_i·y_i| + (h+1)·2⁻¹²⁶ (γ_k = k·u/(1 − k·u), u = 2⁻²⁴; +1 for the product; the floor
//           for flushed subnormals) on any GPU whose f32 add and multiply are correctly rounded (WGSL requires it):
//           the passes and the trees are ordered by dispatches and barriers; within an invocation's loop a compiler
//           may reassociate freely, which the chain length already allows for (src/testing/sums.ts, vector.ts sumDepth).
//           Overflow of a product to ±inf is not detected as non-finite input.

override WG: u32 = 256u;   // reduce_partial workgroup size (power of two)
override FWG: u32 = 64u;   // reduce_final workgroup size (power of two)
override EWG: u32 = 64u;   // elementwise workgroup size

const NONE: u32 = 0xffffffffu;

struct VecOp {
  n: u32,
  mode: u32,      // reduce: 0 Σ x·y, 1 Σ x;  scalar_op: 0 A/B, 1 A·√B, 2 A/√B
  parts: u32,     // reduce: partial records (workgroups of the partial pass)
  chunk: u32,     // reduce: elements per partial workgroup
  out: u32,       // reduce_final: first scalar written
  outputs: u32,   // reduce_final: 1 (the sum) or 4 (sum, maxabs, sumabs, non-finite count)
  scale: f32,     // reduce_final: the sum is multiplied by this
  a_const: f32,
  a_slot: u32,
  a_sub: u32,
  b_const: f32,
  b_slot: u32,
  b_sub: u32,
}

@group(0) @binding(0) var<uniform> op: VecOp;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> z: array<f32>;
@group(0) @binding(4) var<storage, read> sc_in: array<f32>;
@group(0) @binding(5) var<storage, read_write> sc: array<f32>;
@group(0) @binding(6) var<storage, read_write> parts: array<vec4f>;
@group(0) @binding(7) var<storage, read> parts_in: array<vec4f>;

fn nonfinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

fn coef(c: f32, slot: u32, sub: u32) -> f32 {
  if (slot == NONE && sub == NONE) { return c; }
  var a = 1.0;
  var b = 0.0;
  if (slot != NONE) { a = sc_in[slot]; }
  if (sub != NONE) { b = sc_in[sub]; }
  return c * (a - b);
}

var<workgroup> w_dot: array<f32, WG>;
var<workgroup> w_max: array<f32, WG>;
var<workgroup> w_abs: array<f32, WG>;
var<workgroup> w_bad: array<f32, WG>;

@compute @workgroup_size(WG)
fn reduce_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= op.parts) { return; } // uniform across the workgroup
  let start = w * op.chunk;
  let end = min(start + op.chunk, op.n);
  var s = 0.0;
  var mx = 0.0;
  var sa = 0.0;
  var bad = 0.0;
  for (var i = start + lid; i < end; i += WG) {
    let xv = x[i];
    var yv = 1.0;
    if (op.mode == 0u) { yv = y[i]; }
    if (nonfinite(xv) || nonfinite(yv)) {
      bad += 1.0;
    } else {
      s += xv * yv;
      mx = max(mx, abs(xv));
      sa += abs(xv);
    }
  }
  w_dot[lid] = s;
  w_max[lid] = mx;
  w_abs[lid] = sa;
  w_bad[lid] = bad;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h /= 2u) {
    if (lid < h) {
      w_dot[lid] += w_dot[lid + h];
      w_max[lid] = max(w_max[lid], w_max[lid + h]);
      w_abs[lid] += w_abs[lid + h];
      w_bad[lid] += w_bad[lid + h];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    parts[w] = vec4f(w_dot[0], w_max[0], w_abs[0], w_bad[0]);
  }
}

var<workgroup> f_dot: array<f32, FWG>;
var<workgroup> f_max: array<f32, FWG>;
var<workgroup> f_abs: array<f32, FWG>;
var<workgroup> f_bad: array<f32, FWG>;

@compute @workgroup_size(FWG)
fn reduce_final(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  var mx = 0.0;
  var sa = 0.0;
  var bad = 0.0;
  for (var k = lid; k < op.parts; k += FWG) {
    let q = parts_in[k];
    s += q.x;
    mx = max(mx, q.y);
    sa += q.z;
    bad += q.w;
  }
  f_dot[lid] = s;
  f_max[lid] = mx;
  f_abs[lid] = sa;
  f_bad[lid] = bad;
  workgroupBarrier();
  for (var h = FWG / 2u; h > 0u; h /= 2u) {
    if (lid < h) {
      f_dot[lid] += f_dot[lid + h];
      f_max[lid] = max(f_max[lid], f_max[lid + h]);
      f_abs[lid] += f_abs[lid + h];
      f_bad[lid] += f_bad[lid + h];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    sc[op.out] = op.scale * f_dot[0];
    if (op.outputs == 4u) {
      sc[op.out + 1u] = f_max[0];
      sc[op.out + 2u] = f_abs[0];
      sc[op.out + 3u] = f_bad[0];
    }
  }
}

@compute @workgroup_size(EWG)
fn axpby(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * EWG + lid;
  if (i >= op.n) { return; }
  let alpha = coef(op.a_const, op.a_slot, op.a_sub);
  let beta = coef(op.b_const, op.b_slot, op.b_sub);
  z[i] = alpha * x[i] + beta * y[i];
}

@compute @workgroup_size(EWG)
fn axpy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * EWG + lid;
  if (i >= op.n) { return; }
  let alpha = coef(op.a_const, op.a_slot, op.a_sub);
  let beta = coef(op.b_const, op.b_slot, op.b_sub);
  z[i] = beta * z[i] + alpha * x[i];
}

fn coef_sc(c: f32, slot: u32, sub: u32) -> f32 {
  if (slot == NONE && sub == NONE) { return c; }
  var a = 1.0;
  var b = 0.0;
  if (slot != NONE) { a = sc[slot]; }
  if (sub != NONE) { b = sc[sub]; }
  return c * (a - b);
}

@compute @workgroup_size(1)
fn scalar_op() {
  let a = coef_sc(op.a_const, op.a_slot, op.a_sub);
  let b = coef_sc(op.b_const, op.b_slot, op.b_sub);
  var v = a / b;
  if (op.mode == 1u) {
    v = a * sqrt(b);
  } else if (op.mode == 2u) {
    v = select(a / sqrt(b), 0.0, b == 0.0);
  }
  sc[op.out] = v;
}
