// 2-D convolution (cross-correlation, as torch.nn.functional.conv2d) over NCHW activations, computed as im2col plus
// the matmul family (matmul.wgsl): this file holds the data movement around the three products; the products,
// the bias and the fused activation are matmul.wgsl's (activation functions: activation_fns.wgsl, composed in front).
//
// Shape legend: N examples, C input channels of H×W, F filters (output channels) of OH×OW; kernel kh×kw, stride
//   (sh, sw), zero padding (ph, pw), dilation (dh, dw):  OH = ⌊(H + 2ph − dh·(kh − 1) − 1) / sh⌋ + 1  (OW alike).
//   P = OH·OW output pixels per example; K = C·kh·kw taps per output; k = (c·kh + ky)·kw + kx.
//   x, dx: [N, C, H, W];  y, dy: [N, F, OH, OW];  weight W: [C, kh, kw, F] = K × F row-major (like a Dense layer's
//   in × out);  bias b: [F];  cols, dcols: [N·P, K];  rows: [N·P, F].
//
// Forward:   y[n,f,oy,ox] = b[f] + Σ_k X̃[(n,oy,ox), k] · W[k, f]
//              X̃[(n,oy,ox), k] = x[n, c, oy·sh − ph + ky·dh, ox·sw − pw + kx·dw]   (0 outside the image)
//            im2col writes X̃ to `cols`; matmul NN (M = N·P, N = F, K = K) with bias, the next layer's activation
//            and C_NCHW (row (n, q) of the product lands at y[n, :, q]) writes y (and z, the pre-activation).
// Backward:  dyᵀ: rows[(n,q), f] = dy[n, f, q]                                   nchw_to_rows
//            dW = X̃ᵀ · rows  (matmul TN: M = K, N = F, K = N·P),  db = 1ᵀ · rows  (its columnSums)
//            dX̃ = rows · Wᵀ  (matmul NT: M = N·P, N = K, K = F), written over `cols` once dW has read it
//            dx[n,c,iy,ix] = Σ_{ky,kx} dX̃[(n,oy,ox), k]  over the taps that read (iy, ix):                col2im
//              oy = (iy + ph − ky·dh) / sh when that divides exactly and 0 ≤ oy < OH (ox alike)
//            With ACT_GRAD, col2im also applies the backward of the activation before the convolution:
//              dx = (Σ …) · act'(z), z (read, the shape of dx) that activation's input.
// Every output is WRITTEN, not accumulated.
//
// Why im2col and not an implicit GEMM (the tap gathered inside the product's loads): the products then run on the
// matmul kernels as they are — on hardware adapters 'tiled8' with plan-time tuning and split-K (measured at 30+
// TFLOP/s on an H200, BENCHMARKS.md), on software adapters 'registers-vec4' / 'registers' — and the extra traffic
// is one write and one read of N·P·K floats per pass (im2col, col2im) plus the N·P·F transpose: bandwidth-bound
// passes that should cost a few percent of the products on a GPU for the layers of an MNIST CNN (K = 9…576,
// F = 32…64; reasoning, not yet measured there). Measured on SwiftShader (bench/conv.mjs, batch 8, the CNN
// preset's 32→32 3×3 layer at 28×28): im2col 111 ms + product 78 ms (1.5 GFLOP/s, 'registers-vec4') against
// 1475 ms (0.08 GFLOP/s) for a direct convolution with one output per invocation (bench/direct-conv.wgsl, an
// implicit GEMM without register blocking) and 741 ms for TF.js's conv2d. im2col is written one element per
// invocation so that consecutive invocations store consecutive addresses (coalesced on GPUs); on SwiftShader its
// index arithmetic makes it cost about as much as the product. The price is memory: `cols` holds N·P·K floats
// (115 MB for a batch of 128 at 28×28 with C = 32, 3×3).
//
// Chunks: when N·P·K (or N·P·F) floats exceed one storage binding (maxStorageBufferBindingSize, 128 MiB on many
// adapters), the host runs the batch in chunks of R examples (src/kernels/conv2d-chunk.ts): every dispatch above
// covers examples first … first + R − 1 (`first` in Params, N = R in the shapes above): x, dx, z and dy are read or
// written at that example offset, cols and rows hold only the chunk, and the forward product stores at an element
// offset of y (matmul.wgsl's c_offset, not a binding offset, which would have to be a multiple of 256 bytes). The
// backward runs chunks from the last (whose im2col the forward left in cols) to the first, redoing im2col for the
// others; dW and db accumulate over chunks with β = 1 — one summation of the same N·P products in another order,
// so the bound is unchanged. Without chunks (the usual case) first = 0 and R = N.
//
// Bindings (group 0; p: uniform Params, the rest storage):
//   im2col, im2col_rows:  x_in (read [N·C·H·W]: x), cols (read_write [N·P·K])
//   col2im:        dcols (read [N·P·K]), dx (read_write [N·C·H·W]), z (read: only with ACT_GRAD; else any buffer)
//   nchw_to_rows:  dy (read [N·F·P]), rows (read_write [N·P·F])
// Dispatch: one invocation per output element, ceil(total / WG) workgroups, maybe as a 2-D grid (linear index
//   wid.x + wid.y·nwg.x); `total` is that count (N·P·K, N·C·H·W, N·P·F), or for im2col_rows one per row (N·P).
// Numerics: im2col and nchw_to_rows copy exactly; col2im adds at most kh·kw terms in (ky, kx) order.

override WG: u32 = 256u;
override ACT: u32 = 0u;
override ACT_GRAD: bool = false;

struct Params {
  batch: u32,
  channels: u32,
  height: u32,
  width: u32,
  filters: u32,
  kh: u32,
  kw: u32,
  sh: u32,
  sw: u32,
  ph: u32,
  pw: u32,
  dh: u32,
  dw: u32,
  out_h: u32,
  out_w: u32,
  /** Invocations that do work (the element count of the output). */
  total: u32,
  /** α of leaky_relu / elu for ACT_GRAD. */
  act_alpha: f32,
  /** Chunking: the first example this dispatch covers in x, dx, z and dy (cols and rows hold only its `batch`). */
  first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> cols: array<f32>;
@group(0) @binding(3) var<storage, read> dcols: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read> z: array<f32>;
@group(0) @binding(6) var<storage, read> dy: array<f32>;
@group(0) @binding(7) var<storage, read_write> rows: array<f32>;

fn linear_index(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn im2col(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let K = p.channels * p.kh * p.kw;
  let k = i % K;
  let r = i / K;                 // (n, oy, ox)
  let ox = r % p.out_w;
  let oy = (r / p.out_w) % p.out_h;
  let n = r / (p.out_w * p.out_h);
  let kx = k % p.kw;
  let ky = (k / p.kw) % p.kh;
  let c = k / (p.kw * p.kh);
  // Unsigned arithmetic: a row above the image wraps to a huge value and fails the bounds test like one below it.
  let iy = oy * p.sh + ky * p.dh - p.ph;
  let ix = ox * p.sw + kx * p.dw - p.pw;
  var v = 0.0;
  if (iy < p.height && ix < p.width) { v = x_in[(((n + p.first) * p.channels + c) * p.height + iy) * p.width + ix]; }
  cols[i] = v;
}

// The same output, one invocation per row (n, oy, ox) of `cols` writing its K taps in order (total = N·P): for
// software adapters, where integer division is emulated lane by lane and the element form's six divisions per
// element cost more than the copy; a GPU prefers the element form's coalesced stores.
@compute @workgroup_size(WG)
fn im2col_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let r = linear_index(wid, nwg, lid);
  if (r >= p.total) { return; }
  let t = r / p.out_w;
  let ox = r - t * p.out_w;
  let n = t / p.out_h;
  let oy = t - n * p.out_h;
  let y0 = oy * p.sh - p.ph;     // unsigned: wraps above the image, as in im2col
  let x0 = ox * p.sw - p.pw;
  var o = r * p.channels * p.kh * p.kw;
  for (var c = 0u; c < p.channels; c++) {
    let plane = ((n + p.first) * p.channels + c) * p.height;
    for (var ky = 0u; ky < p.kh; ky++) {
      let iy = y0 + ky * p.dh;
      let row = (plane + iy) * p.width;
      for (var kx = 0u; kx < p.kw; kx++) {
        let ix = x0 + kx * p.dw;
        var v = 0.0;
        if (iy < p.height && ix < p.width) { v = x_in[row + ix]; }
        cols[o] = v;
        o++;
      }
    }
  }
}

@compute @workgroup_size(WG)
fn col2im(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let ix = i % p.width;
  let iy = (i / p.width) % p.height;
  let c = (i / (p.width * p.height)) % p.channels;
  let n = i / (p.width * p.height * p.channels);
  let K = p.channels * p.kh * p.kw;
  var s = 0.0;
  for (var ky = 0u; ky < p.kh; ky++) {
    let ty = iy + p.ph;            // ≥ 0; the tap ky reads row iy from output row oy = (ty − ky·dh) / sh
    if (ty < ky * p.dh) { break; }
    let ry = ty - ky * p.dh;
    var oy = ry;                   // stride 1 (uniform branch): no division, which software adapters emulate
    if (p.sh != 1u) {
      oy = ry / p.sh;
      if (oy * p.sh != ry) { continue; }
    }
    if (oy >= p.out_h) { continue; }
    for (var kx = 0u; kx < p.kw; kx++) {
      let tx = ix + p.pw;
      if (tx < kx * p.dw) { break; }
      let rx = tx - kx * p.dw;
      var ox = rx;
      if (p.sw != 1u) {
        ox = rx / p.sw;
        if (ox * p.sw != rx) { continue; }
      }
      if (ox >= p.out_w) { continue; }
      s += dcols[((n * p.out_h + oy) * p.out_w + ox) * K + (c * p.kh + ky) * p.kw + kx];
    }
  }
  let o = i + p.first * p.channels * p.height * p.width;
  if (ACT_GRAD) { s *= act_derivative(ACT, z[o], p.act_alpha); }
  dx[o] = s;
}

@compute @workgroup_size(WG)
fn nchw_to_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_index(wid, nwg, lid);
  if (i >= p.total) { return; }
  let P = p.out_h * p.out_w;
  let f = i % p.filters;
  let r = i / p.filters;         // (n, q)
  let q = r % P;
  let n = r / P;
  rows[i] = dy[((n + p.first) * p.filters + f) * P + q];
}
