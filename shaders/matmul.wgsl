// Matrix multiply with a fused epilogue (activation functions: activation_fns.wgsl, composed in front of this file).
//
//   Z[i,j] = α · Σ_k op(A)[i,k] · op(B)[k,j]  +  β · C_old[i,j]  +  bias[j]        i < M, j < N, k < K
//   C[i,j] = act(Z[i,j])                      (and Z[i,j] stored to `z` when STORE_Z)
//
//   op(A) = A (A is M×K) or Aᵀ (TRANS_A: A is stored K×M);  op(B) = B (B is K×N) or Bᵀ (TRANS_B: B is stored N×K).
//   All matrices are row-major, dense f32: element (r, c) of an R×C matrix is at r·C + c.
//
// C is written. It is also read (accumulated into) only when β ≠ 0: with β = 0 the old contents of C are never
// read, so C may hold garbage or NaN (BLAS convention). β = 1 accumulates, e.g. gradients over micro-batches.
//
// How training uses it, for a dense layer Z = X·W + b, Y = act(Z)  (X: batch×in, W: in×out, b: out):
//   forward:  matmul NN with bias, ACT = act, STORE_Z (the backward pass needs Z for act'(Z))
//   backward: dZ = dY ⊙ act'(Z)               (activation.wgsl backward)
//             dX = dZ · Wᵀ                    matmul NT  (M = batch, N = in,  K = out)
//             dW = Xᵀ · dZ                    matmul TN  (M = in,    N = out, K = batch; β = 1 to accumulate)
//             db = column sums of dZ          (a reduction, not this kernel)
//
// Bindings (group 0):  p: Params (uniform)   a: [M·K] (read)   b: [K·N] (read)   c: [M·N] (read_write)
//                      bias: [N] (read; read only when HAS_BIAS)   z: [M·N] (read_write; written only when STORE_Z)
// Unused bias / z must still be bound (any buffer; z must not alias c).
//
// Overrides: TRANS_A, TRANS_B, ACT (activation code), HAS_BIAS, STORE_Z; tile shape per entry point (below).
//
// Entry points (same math, same bindings; the host picks one per adapter):
//   matmul_registers  Each invocation computes a 4×4 block of C in registers, reading A and B straight from storage
//                     (no workgroup memory, no barriers: fast on software adapters, where barriers are very slow).
//                     Workgroup RB_WG_X × RB_WG_Y invocations = a (4·RB_WG_Y) × (4·RB_WG_X) block of C.
//                     Dispatch (ceil(N / (4·RB_WG_X)), ceil(M / (4·RB_WG_Y))).
//                     Edges: row/column indices are clamped to M−1 / N−1 for loads (the extra lanes compute
//                     duplicates that are never stored), so the k loop has no branches; stores are bounds-checked.
//   matmul_tiled      Workgroup tiles of BM × BN = (4·TS_WG_Y) × (4·TS_WG_X) outputs, 4×4 per invocation, K walked in
//                     steps of TS_BK through workgroup memory (k-major, vec4 rows padded by one vec4 against bank
//                     conflicts on the transposing store). Dispatch (ceil(N / BN), ceil(M / BM)).
//                     Edges: out-of-range loads read 0, stores are bounds-checked; every invocation reaches every
//                     barrier (no early return).
// The 4×4 register block is a `const`: WGSL function-scope arrays cannot be sized by an override.
//
// Numerics: f32 accumulation in k order (registers) or in TS_BK chunks (tiled); the compiler may fuse multiply-adds.
// Error vs exact: ≲ K·u·Σ_k |a_ik·b_kj| (u = 2⁻²⁴), typically √K smaller. NaN/Inf in inputs propagate.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACT: u32 = 0u;
override HAS_BIAS: bool = false;
override STORE_Z: bool = false;

override RB_WG_X: u32 = 8u;
override RB_WG_Y: u32 = 8u;

override TS_WG_X: u32 = 16u;
override TS_WG_Y: u32 = 16u;
override TS_BK: u32 = 16u;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  alpha: f32,
  beta: f32,
  /** α of leaky_relu / elu (the activation's own parameter, not the matmul scale). */
  act_alpha: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> z: array<f32>;

/** Finishes one output element: scale, accumulate, bias, store Z, activate, store C. Caller checks bounds. */
fn epilogue(row: u32, col: u32, acc: f32) {
  let idx = row * p.N + col;
  var v = p.alpha * acc;
  if (p.beta != 0.0) { v += p.beta * c[idx]; }
  if (HAS_BIAS) { v += bias[col]; }
  if (STORE_Z) { z[idx] = v; }
  c[idx] = act_forward(ACT, v, p.act_alpha);
}

/** Epilogue for the 4 columns col0..col0+3 of one row, skipping those ≥ N. */
fn epilogue4(row: u32, col0: u32, acc: vec4f) {
  if (row >= p.M) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (col0 + j < p.N) { epilogue(row, col0 + j, acc[j]); }
  }
}

@compute @workgroup_size(RB_WG_X, RB_WG_Y)
fn matmul_registers(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 4u;
  let col0 = gid.x * 4u;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let M = p.M;
  let N = p.N;
  let K = p.K;
  // Clamped rows / columns: lanes past the edge load valid (duplicate) data and are not stored.
  let r = min(vec4u(row0) + vec4u(0u, 1u, 2u, 3u), vec4u(M - 1u));
  let q = min(vec4u(col0) + vec4u(0u, 1u, 2u, 3u), vec4u(N - 1u));
  // op(A)[r, k] = a[ra + k·sa];  op(B)[k, q] = b[qb + k·sb]
  let ra = select(r * K, r, TRANS_A);
  let sa = select(1u, M, TRANS_A);
  let qb = select(q, q * K, TRANS_B);
  let sb = select(N, 1u, TRANS_B);
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  var ka = 0u;
  var kb = 0u;
  for (var k = 0u; k < K; k++) {
    let bv = vec4f(b[qb.x + kb], b[qb.y + kb], b[qb.z + kb], b[qb.w + kb]);
    acc0 += a[ra.x + ka] * bv;
    acc1 += a[ra.y + ka] * bv;
    acc2 += a[ra.z + ka] * bv;
    acc3 += a[ra.w + ka] * bv;
    ka += sa;
    kb += sb;
  }
  epilogue4(row0, col0, acc0);
  epilogue4(row0 + 1u, col0, acc1);
  epilogue4(row0 + 2u, col0, acc2);
  epilogue4(row0 + 3u, col0, acc3);
}

// Tiles in workgroup memory, k-major: As[kk·(TS_WG_Y+1) + m/4][m%4] = op(A)[tileRow + m, k0 + kk] (one vec4 of padding
// per kk row), Bs[kk·(TS_WG_X+1) + n/4][n%4] = op(B)[k0 + kk, tileCol + n].
var<workgroup> As: array<vec4f, TS_BK * (TS_WG_Y + 1u)>;
var<workgroup> Bs: array<vec4f, TS_BK * (TS_WG_X + 1u)>;

@compute @workgroup_size(TS_WG_X, TS_WG_Y)
fn matmul_tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                @builtin(local_invocation_index) li: u32) {
  let BM = 4u * TS_WG_Y;
  let BN = 4u * TS_WG_X;
  let threads = TS_WG_X * TS_WG_Y;
  let M = p.M;
  let N = p.N;
  let K = p.K;
  let tileRow = wid.y * BM;
  let tileCol = wid.x * BN;
  let sA = TS_WG_Y + 1u;
  let sB = TS_WG_X + 1u;
  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var k0 = 0u; k0 < K; k0 += TS_BK) {
    // Cooperative loads; consecutive invocations read consecutive addresses of the stored layout (coalesced).
    for (var l = li; l < BM * TS_BK; l += threads) {
      var m: u32;
      var kk: u32;
      if (TRANS_A) { kk = l / BM; m = l % BM; } else { m = l / TS_BK; kk = l % TS_BK; }
      let gm = tileRow + m;
      let gk = k0 + kk;
      var v = 0.0;
      if (gm < M && gk < K) { v = a[select(gm * K + gk, gk * M + gm, TRANS_A)]; }
      As[kk * sA + m / 4u][m % 4u] = v;
    }
    for (var l = li; l < BN * TS_BK; l += threads) {
      var n: u32;
      var kk: u32;
      if (TRANS_B) { n = l / TS_BK; kk = l % TS_BK; } else { kk = l / BN; n = l % BN; }
      let gn = tileCol + n;
      let gk = k0 + kk;
      var v = 0.0;
      if (gn < N && gk < K) { v = b[select(gk * N + gn, gn * K + gk, TRANS_B)]; }
      Bs[kk * sB + n / 4u][n % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TS_BK; kk++) {
      let av = As[kk * sA + lid.y];
      let bv = Bs[kk * sB + lid.x];
      acc0 += av.x * bv;
      acc1 += av.y * bv;
      acc2 += av.z * bv;
      acc3 += av.w * bv;
    }
    workgroupBarrier();
  }
  let row0 = tileRow + 4u * lid.y;
  let col0 = tileCol + 4u * lid.x;
  epilogue4(row0, col0, acc0);
  epilogue4(row0 + 1u, col0, acc1);
  epilogue4(row0 + 2u, col0, acc2);
  epilogue4(row0 + 3u, col0, acc3);
}
