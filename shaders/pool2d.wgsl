// 2-D max and average pooling over NCHW activations, torch semantics (F.max_pool2d, F.avg_pool2d with ceil_mode =
// False, count_include_pad = True, dilation 1); global average pooling is avg_pool with the whole plane as window.
// (activation_fns.wgsl is composed in front: the backward entry points may apply an activation's derivative.)
//
// Shape legend: planes = N·C, each H×W in, OH×OW out; window kh×kw, stride (sh, sw), padding (ph, pw) with
//   ph ≤ kh/2, pw ≤ kw/2 (so every window holds at least one input element);
//   OH = ⌊(H + 2ph − kh) / sh⌋ + 1 (OW alike).  x, dx, z: [planes, H, W];  y, dy, argmax: [planes, OH, OW].
//   Window of output (oy, ox): rows oy·sh − ph + ky, columns ox·sw − pw + kx, ky < kh, kx < kw.
//
// max_forward:    y = max over the window's elements inside the image (the padding is −∞, never chosen);
//                 argmax = iy·W + ix of the FIRST maximum in (ky, kx) order, and a NaN wins (the last one):
//                 torch's update rule `if (v > max || isnan(v))`. NaN is tested by bit pattern (WGSL lets compilers
//                 assume isnan() is false).
// max_backward:   dx[iy, ix] = Σ dy[oy, ox] over the outputs whose argmax is (iy, ix)     (gather: no atomics)
// avg_forward:    y = (Σ window elements inside the image) / (kh·kw)    (zeros of the padding counted, as torch)
// avg_backward:   dx[iy, ix] = Σ dy[oy, ox] / (kh·kw) over the outputs whose window holds (iy, ix)
// With ACT_GRAD the backward entry points return dx · act'(z) instead: the backward of the activation whose output
// the pooling read (z its input), fused. dx is WRITTEN, not accumulated.
//
// Bindings (group 0; p: uniform Params, the rest storage):
//   max_forward:  x_in (read), y (read_write), argmax (read_write, u32)
//   max_backward: dy (read), argmax (read_write, u32; only read), dx (read_write), z (read; only with ACT_GRAD)
//   avg_forward:  x_in (read), y (read_write)
//   avg_backward: dy (read), dx (read_write), z (read; only with ACT_GRAD)
// Dispatch: one invocation per element of the output (y or dx), ceil(total / WG) workgroups, maybe as a 2-D grid
//   (linear index wid.x + wid.y·nwg.x).
// Numerics: max is exact; avg sums ≤ kh·kw terms in (ky, kx) order and multiplies by inv_count = 1 / (kh·kw)
//   (rounded once: exact for powers of two); the backward gathers ≤ ⌈kh/sh⌉·⌈kw/sw⌉ terms.

override WG: u32 = 256u;
override ACT: u32 = 0u;
override ACT_GRAD: bool = false;

struct Params {
  /** N·C */
  planes: u32,
  height: u32,
  width: u32,
  out_h: u32,
  out_w: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  /** Invocations that do work: elements of y (forward) or dx (backward). */
  total: u32,
  /** 1 / (kh·kw) */
  inv_count: f32,
  /** α of leaky_relu / elu for ACT_GRAD. */
  act_alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;
@group(0) @binding(4) var<storage, read> dy: array<f32>;
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;
@group(0) @binding(6) var<storage, read> z: array<f32>;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

fn is_nan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}

/** The outputs along one axis whose window holds input i: [first, last] (empty when first > last). */
fn covering(i: u32, pad: u32, k: u32, s: u32, n_out: u32) -> vec2u {
  let t = i + pad;                                  // position in the padded input
  var first = 0u;
  if (t + 1u > k) { first = (t + 1u - k + s - 1u) / s; }   // ⌈(t − k + 1) / s⌉
  let last = min(t / s, n_out - 1u);
  return vec2u(first, last);
}

/** Input element i: its plane, its index iy·W + ix in the plane, and the output rows and columns whose windows hold it. */
struct Cover {
  plane: u32,
  here: u32,
  rows: vec2u,
  cols: vec2u,
}

fn cover(i: u32) -> Cover {
  let ix = i % p.width;
  let iy = (i / p.width) % p.height;
  let rows = covering(iy, p.ph, p.kh, p.sh, p.out_h);
  let cols = covering(ix, p.pw, p.kw, p.sw, p.out_w);
  return Cover(i / (p.width * p.height), iy * p.width + ix, rows, cols);
}

/** The inputs along one axis in output o's window: [first, end), clipped to the image (never empty: pad ≤ k/2). */
fn spanning(o: u32, pad: u32, k: u32, s: u32, n_in: u32) -> vec2u {
  let t = o * s;                                    // the window's start in the padded input
  return vec2u(max(t, pad) - pad, min(t + k, n_in + pad) - pad);
}

/** Output element i: its plane's first input index, and the input rows and columns of its window inside the image. */
struct Window {
  base: u32,
  rows: vec2u,
  cols: vec2u,
}

fn window(i: u32) -> Window {
  let ox = i % p.out_w;
  let oy = (i / p.out_w) % p.out_h;
  let plane = i / (p.out_w * p.out_h);
  return Window(plane * p.height * p.width, spanning(oy, p.ph, p.kh, p.sh, p.height), spanning(ox, p.pw, p.kw, p.sw, p.width));
}

fn finish(i: u32, s: f32) {
  var v = s;
  if (ACT_GRAD) { v *= act_derivative(ACT, z[i], p.act_alpha); }
  dx[i] = v;
}

@compute @workgroup_size(WG)
fn max_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let w = window(i);
  var best = 0.0;
  var at = 0xffffffffu;
  for (var iy = w.rows.x; iy < w.rows.y; iy++) {
    for (var ix = w.cols.x; ix < w.cols.y; ix++) {
      let v = x_in[w.base + iy * p.width + ix];
      if (at == 0xffffffffu || v > best || is_nan(v)) {
        best = v;
        at = iy * p.width + ix;
      }
    }
  }
  y[i] = best;
  argmax[i] = at;
}

@compute @workgroup_size(WG)
fn max_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let c = cover(i);
  var s = 0.0;
  for (var oy = c.rows.x; oy <= c.rows.y; oy++) {
    for (var ox = c.cols.x; ox <= c.cols.y; ox++) {
      let o = (c.plane * p.out_h + oy) * p.out_w + ox;
      if (argmax[o] == c.here) { s += dy[o]; }
    }
  }
  finish(i, s);
}

@compute @workgroup_size(WG)
fn avg_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let w = window(i);
  var s = 0.0;
  for (var iy = w.rows.x; iy < w.rows.y; iy++) {
    for (var ix = w.cols.x; ix < w.cols.y; ix++) {
      s += x_in[w.base + iy * p.width + ix];
    }
  }
  y[i] = s * p.inv_count;
}

@compute @workgroup_size(WG)
fn avg_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let c = cover(i);
  var s = 0.0;
  for (var oy = c.rows.x; oy <= c.rows.y; oy++) {
    for (var ox = c.cols.x; ox <= c.cols.y; ox++) {
      s += dy[(c.plane * p.out_h + oy) * p.out_w + ox];
    }
  }
  finish(i, s * p.inv_count);
}
