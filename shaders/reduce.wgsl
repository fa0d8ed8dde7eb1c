// Reductions for the training step: column sums (bias gradients) and statistics of flat buffers / ranges (gradient
// norms, max-abs, non-finite detection). No float atomics exist in WGSL: large inputs use two passes.
//
// colsum   x: [B, N] row-major → out: [N]
//            out_j = Σ_i x_ij                  (p.beta == 0: written; the old value is never read into the result)
//            out_j = β·out_j + Σ_i x_ij        (p.beta ≠ 0: accumulated, e.g. gradient accumulation over micro-batches)
//          One invocation per column (coalesced across j), Kahan-compensated loop over the B rows (the compensation
//          is a bonus: a compiler may simplify it away, and |error| ≤ γ_B·Σ_i|x_ij| holds either way).
//          Dispatch ceil(N / WG) workgroups (maybe a 2-D grid, linear index wid.x + wid.y·nwg.x).
//          Backward view: for y = xW + b, ∂L/∂b_j = Σ_i ∂L/∂y_ij, i.e. colsum of dY.
//
// stats    Over R ranges [start_r, end_r) of one or more f32 buffers (e.g. one flat gradient buffer and its layer
//          offset table), for each range and for all ranges together:
//            sum = Σ v,  sumsq = Σ v²,  norm = √sumsq (L2),  maxabs = max |v|,  count = #elements,
//            nonfinite = #{ v : v is NaN or ±inf },  first_nonfinite = the smallest index of one (0xffffffff if none)
//          Non-finite values are detected by bit pattern (exponent all ones; WGSL lets compilers assume isnan is false)
//          and EXCLUDED from sum, sumsq and maxabs, which stay well defined: check nonfinite before trusting them.
//          Pass 1 `stats_partial`: one workgroup per chunk of one range (chunk table built by the host once per plan;
//            a chunk never straddles two ranges), WG invocations striding over the chunk (coalesced), each Kahan-
//            summing its elements, then a binary tree in workgroup memory → parts[sp.part_base + chunk]. One dispatch
//            per input buffer.
//          Pass 2 `stats_final`: ONE workgroup; for each range a strided Kahan loop over its chunks' partials and a
//            binary tree → stats[1 + r]; a Kahan sum over ranges → stats[0] (global). Dispatch 1×1×1.
//          Summation: Kahan within each invocation's run, pairwise (tree) across invocations. Guaranteed whatever the
//          compiler does with the compensation: |error| ≤ γ_n·Σ|v|, n = the longest chain of additions, ⌈chunk/WG⌉ +
//          log2 WG + ⌈chunks of the range/FWG⌉ + log2 FWG (+ the number of ranges for the global record): the passes and
//          the workgroup-memory trees fix it (StatsOp.roundingChains; src/testing/sums.ts).
//          first_nonfinite is relative to the range's start in stats[1 + r], and an index into the concatenation of
//          all ranges (in order) in stats[0].
// Numerical caveats: sumsq overflows to +inf when |v| ≳ 1.8e19 (no rescaling pass); sums of mixed signs carry the
//          usual cancellation relative to Σ|v|. A driver may simplify Kahan's correction away (NVIDIA's was seen to):
//          no test relies on it. WG and FWG must be powers of two.

override WG: u32 = 256u;   // stats_partial workgroup size; also colsum's columns per workgroup
override FWG: u32 = 64u;   // stats_final workgroup size

const NONE: u32 = 0xffffffffu;

struct ColParams {
  rows: u32,
  cols: u32,
  beta: f32,
}

struct PartialParams {
  chunks: u32,     // chunks of this input buffer (= workgroups of this dispatch)
  part_base: u32,  // index of its first chunk in parts
}

struct FinalParams {
  ranges: u32,
}

struct Stats {
  sum: f32,
  sumsq: f32,
  maxabs: f32,
  norm: f32,
  count: u32,
  nonfinite: u32,
  first_nonfinite: u32,
  reserved: u32,
}

@group(0) @binding(0) var<uniform> cp: ColParams;
@group(0) @binding(1) var<storage, read> xc: array<f32>;
@group(0) @binding(2) var<storage, read_write> cout: array<f32>;

@group(0) @binding(3) var<uniform> sp: PartialParams;
@group(0) @binding(4) var<storage, read> data: array<f32>;
@group(0) @binding(5) var<storage, read> chunk_table: array<vec4u>;  // [start, end, range_start, 0] per chunk
@group(0) @binding(6) var<storage, read_write> parts: array<Stats>;

@group(0) @binding(7) var<uniform> fp: FinalParams;
@group(0) @binding(8) var<storage, read> range_table: array<vec4u>;  // [chunk_begin, chunk_end, length, flat_base]
@group(0) @binding(9) var<storage, read> parts_in: array<Stats>;
@group(0) @binding(10) var<storage, read_write> stats: array<Stats>;

struct Kahan {
  s: f32,
  c: f32, // running compensation: the error made by the last additions (subtracted from the next term)
}

fn kahan_add(k: Kahan, v: f32) -> Kahan {
  let yv = v - k.c;
  let tv = k.s + yv;
  return Kahan(tv, (tv - k.s) - yv);
}

fn kahan_value(k: Kahan) -> f32 {
  return k.s - k.c;
}

fn is_nonfinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(WG)
fn colsum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = (wid.x + wid.y * nwg.x) * WG + lid;
  if (j >= cp.cols) { return; }
  var k = Kahan(0.0, 0.0);
  for (var i = 0u; i < cp.rows; i++) {
    k = kahan_add(k, xc[i * cp.cols + j]);
  }
  let acc = kahan_value(k);
  if (cp.beta == 0.0) {
    cout[j] = acc;
  } else {
    cout[j] = cp.beta * cout[j] + acc;
  }
}

var<workgroup> w_sum: array<f32, WG>;
var<workgroup> w_sq: array<f32, WG>;
var<workgroup> w_max: array<f32, WG>;
var<workgroup> w_nf: array<u32, WG>;
var<workgroup> w_first: array<u32, WG>;

@compute @workgroup_size(WG)
fn stats_partial(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let chunk = wid.x + wid.y * nwg.x;
  if (chunk >= sp.chunks) { return; } // uniform across the workgroup
  let c = chunk_table[chunk];
  var ks = Kahan(0.0, 0.0);
  var kq = Kahan(0.0, 0.0);
  var mx = 0.0;
  var nf = 0u;
  var first = NONE;
  for (var i = c.x + lid; i < c.y; i += WG) {
    let v = data[i];
    if (is_nonfinite(v)) {
      nf += 1u;
      first = min(first, i - c.z);
    } else {
      ks = kahan_add(ks, v);
      kq = kahan_add(kq, v * v);
      mx = max(mx, abs(v));
    }
  }
  w_sum[lid] = kahan_value(ks);
  w_sq[lid] = kahan_value(kq);
  w_max[lid] = mx;
  w_nf[lid] = nf;
  w_first[lid] = first;
  workgroupBarrier();
  for (var h = WG / 2u; h > 0u; h /= 2u) {
    if (lid < h) {
      w_sum[lid] += w_sum[lid + h];
      w_sq[lid] += w_sq[lid + h];
      w_max[lid] = max(w_max[lid], w_max[lid + h]);
      w_nf[lid] += w_nf[lid + h];
      w_first[lid] = min(w_first[lid], w_first[lid + h]);
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    parts[sp.part_base + chunk] = Stats(w_sum[0], w_sq[0], w_max[0], 0.0, c.y - c.x, w_nf[0], w_first[0], 0u);
  }
}

var<workgroup> f_sum: array<f32, FWG>;
var<workgroup> f_sq: array<f32, FWG>;
var<workgroup> f_max: array<f32, FWG>;
var<workgroup> f_nf: array<u32, FWG>;
var<workgroup> f_first: array<u32, FWG>;
var<workgroup> f_count: array<u32, FWG>;

@compute @workgroup_size(FWG)
fn stats_final(@builtin(local_invocation_index) lid: u32) {
  var gs = Kahan(0.0, 0.0);
  var gq = Kahan(0.0, 0.0);
  var gmax = 0.0;
  var gnf = 0u;
  var gfirst = NONE;
  var gcount = 0u;
  for (var r = 0u; r < fp.ranges; r++) {
    let rt = range_table[r];
    var ks = Kahan(0.0, 0.0);
    var kq = Kahan(0.0, 0.0);
    var mx = 0.0;
    var nf = 0u;
    var first = NONE;
    var count = 0u;
    for (var k = rt.x + lid; k < rt.y; k += FWG) {
      let q = parts_in[k];
      ks = kahan_add(ks, q.sum);
      kq = kahan_add(kq, q.sumsq);
      mx = max(mx, q.maxabs);
      nf += q.nonfinite;
      first = min(first, q.first_nonfinite);
      count += q.count;
    }
    f_sum[lid] = kahan_value(ks);
    f_sq[lid] = kahan_value(kq);
    f_max[lid] = mx;
    f_nf[lid] = nf;
    f_first[lid] = first;
    f_count[lid] = count;
    workgroupBarrier();
    for (var h = FWG / 2u; h > 0u; h /= 2u) {
      if (lid < h) {
        f_sum[lid] += f_sum[lid + h];
        f_sq[lid] += f_sq[lid + h];
        f_max[lid] = max(f_max[lid], f_max[lid + h]);
        f_nf[lid] += f_nf[lid + h];
        f_first[lid] = min(f_first[lid], f_first[lid + h]);
        f_count[lid] += f_count[lid + h];
      }
      workgroupBarrier();
    }
    if (lid == 0u) {
      let sq = f_sq[0];
      stats[1u + r] = Stats(f_sum[0], sq, f_max[0], sqrt(sq), f_count[0], f_nf[0], f_first[0], 0u);
      gs = kahan_add(gs, f_sum[0]);
      gq = kahan_add(gq, sq);
      gmax = max(gmax, f_max[0]);
      gnf += f_nf[0];
      if (gfirst == NONE && f_first[0] != NONE) {
        gfirst = rt.w + f_first[0];
      }
      gcount += f_count[0];
    }
    workgroupBarrier(); // thread 0 has read f_*[0] before the next range overwrites them
  }
  if (lid == 0u) {
    let sq = kahan_value(gq);
    stats[0] = Stats(kahan_value(gs), sq, gmax, sqrt(sq), gcount, gnf, gfirst, 0u);
  }
}
