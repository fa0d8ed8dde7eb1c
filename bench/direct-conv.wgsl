// A direct 2-D convolution for bench/conv.mjs only: one output element per invocation, its C·kh·kw taps read
// straight from x and W (an implicit GEMM with no register blocking and no workgroup tiles). Stride 1, zero padding
// (ph, pw). x [N, C, H, W]; w [C, kh, kw, F]; y [N, F, OH, OW]. The comparison point for wgtrain's im2col + matmul.
struct P { n: u32, c: u32, h: u32, w: u32, f: u32, kh: u32, kw: u32, ph: u32, pw: u32, oh: u32, ow: u32, total: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + lid;
  if (i >= p.total) { return; }
  let ox = i % p.ow;
  let oy = (i / p.ow) % p.oh;
  let f = (i / (p.ow * p.oh)) % p.f;
  let n = i / (p.ow * p.oh * p.f);
  var s = 0.0;
  for (var c = 0u; c < p.c; c++) {
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = oy + ky - p.ph;
      if (iy >= p.h) { continue; }
      for (var kx = 0u; kx < p.kw; kx++) {
        let ix = ox + kx - p.pw;
        if (ix >= p.w) { continue; }
        s += x[((n * p.c + c) * p.h + iy) * p.w + ix] * wt[((c * p.kh + ky) * p.kw + kx) * p.f + f];
      }
    }
  }
  y[i] = s;
}
