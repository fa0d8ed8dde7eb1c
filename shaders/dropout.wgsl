// Inverted dropout with a regenerated mask. Composed after random.wgsl (Philox4x32-10; host: random.wgsl first).
//
//   keep[i] = (word_i >> 8) >= threshold,   word_i = word i of (seed, stream, step = stepinfo[0])  (random.wgsl)
//             threshold = ceil(p · 2^24), so P(keep) = 1 − threshold / 2^24 = 1 − p up to 2^-24, and keep[i] is
//             exactly `uniformAt(seed, stream, step, i) >= p` on the CPU (src/random.ts): CPU and GPU masks are
//             bit-identical.
//   forward:  y[i]  = x[i]  · (keep[i] ? scale : 0),   scale = f32(1 / (1 − p))
//   backward: dx[i] = dy[i] · (keep[i] ? scale : 0)    (the same mask, regenerated: nothing is stored between the
//             passes; backward must run in the same step, i.e. before the host rewrites stepinfo[0]; dx is written)
//   threshold = 0 (p = 0, or evaluation mode with scale = 1) skips the generator: y = x · scale, a plain copy.
//   Both products are single f32 multiplies (correctly rounded), so y and dx equal the float32 CPU reference bit for
//   bit. As in torch, a dropped NaN/inf input gives NaN (x · 0).
//
// Shapes: x, y, dy, dx: [n] f32 (any layout: the mask is indexed by the flat element index i).
// Uniforms (Params): n, threshold, scale, stream (one per dropout layer; see dropoutStream in src/kernels/dropout.ts),
//   key = (seed mod 2^32, seed / 2^32).
// Bindings: p (uniform), stepinfo (read, u32: [0] = global step index), forward: x (read), y (read_write);
//   backward: dy (read), dx (read_write).
// Dispatch: one thread per 4 consecutive elements (one Philox block gives the 4 words of elements 4t..4t+3):
//   ceil(ceil(n / 4) / WG) workgroups, possibly as a 2-D grid (linear index wid.x + wid.y·nwg.x).

override WG: u32 = 64u;

struct Params {
  n: u32,
  threshold: u32,
  scale: f32,
  stream: u32,
  key: vec2<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> stepinfo: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;

// The factors (0 or scale) of elements 4t..4t+3.
fn dropout_factors(t: u32) -> vec4<f32> {
  if (p.threshold == 0u) { return vec4<f32>(p.scale); }
  let w = rng_block(p.key, p.stream, stepinfo[0], t);
  return select(vec4<f32>(0.0), vec4<f32>(p.scale), (w >> vec4<u32>(8u)) >= vec4<u32>(p.threshold));
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= (p.n + 3u) / 4u) { return; }
  let k = dropout_factors(t);
  for (var j = 0u; j < 4u; j++) {
    let i = 4u * t + j;
    if (i < p.n) { y[i] = x[i] * k[j]; }
  }
}

@compute @workgroup_size(WG)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= (p.n + 3u) / 4u) { return; }
  let k = dropout_factors(t);
  for (var j = 0u; j < 4u; j++) {
    let i = 4u * t + j;
    if (i < p.n) { dx[i] = dy[i] * k[j]; }
  }
}
