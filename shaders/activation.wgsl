// Element-wise activations (functions and their derivatives: activation_fns.wgsl).
//
//   forward:  y[i]  = f(x[i])                 i < n
//   backward: dx[i] = dy[i] · f'(x[i])        (x is the pre-activation input; dx is written, not accumulated)
//
// Shapes: x, y, dy, dx: [n] f32. Overrides: ACT (activation code), WG (workgroup size).
// Dispatch: ceil(n / WG) workgroups, possibly as a 2-D grid (linear index wid.x + wid.y·nwg.x); threads past n exit.

override ACT: u32 = 0u;
override WG: u32 = 64u;

struct Params {
  n: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  y[i] = act_forward(ACT, x[i], p.alpha);
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  dx[i] = dy[i] * act_derivative(ACT, x[i], p.alpha);
}
