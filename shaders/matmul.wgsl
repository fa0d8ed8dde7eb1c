// Matrix multiply with a fused epilogue (activation functions: activation_fns.wgsl, composed in front of this file).
//
//   Z[i,j] = α · Σ_k op(A)[i,k] · op(B)[k,j]  +  β · C_old[i,j]  +  bias[j]        i < M, j < N, k < K
//   C[i,j] = act(Z[i,j])                      (and Z[i,j] stored to `z` when STORE_Z)
//   C[i,j] = Z[i,j] · act'(z[i,j])            instead, when ACT_GRAD: z holds the saved pre-activation of a layer and
//                                             the product is the gradient w.r.t. that activation's output, so C is
//                                             the gradient w.r.t. its input (the activation's backward, fused)
//   z[j]   = α · Σ_k op(B)[k,j] + β · z_old[j]   also, when ONES_ROW (matmul_tiled8 with TRANS_A only): op(A) gets
//                                             an extra row M of ones, whose output row goes to z — the bias gradient
//                                             db = 1ᵀ·dY beside dW = Xᵀ·dY in one dispatch
//
//   op(A) = A (A is M×K) or Aᵀ (TRANS_A: A is stored K×M);  op(B) = B (B is K×N) or Bᵀ (TRANS_B: B is stored N×K).
//   All matrices are row-major, dense f32: element (r, c) of an R×C matrix is at r·C + c — except C and z with
//   C_NCHW: rows are (g, q) pairs, i = g·P + q with P = c_plane (M a multiple of P), and element (i, j) is stored
//   at (g·N + j)·P + q. A convolution's im2col product has rows (example n, output pixel q) and columns (channel j):
//   this stores it as the (N, C, H, W) activation directly (conv2d.wgsl). Bias stays per column j.
//   c_offset (elements, default 0) is added to every index of C and z (not to z[j] of ONES_ROW): the product fills
//   a block of a larger output, e.g. one chunk of examples of a convolution (any offset: a binding offset would
//   have to be a multiple of minStorageBufferOffsetAlignment).
//
// C is written. It is also read (accumulated into) only when β ≠ 0: with β = 0 the old contents of C are never
// read, so C may hold garbage or NaN (BLAS convention). β = 1 accumulates, e.g. gradients over micro-batches.
//
// How training uses it, for a dense layer Z = X·W + b, Y = act(Z)  (X: batch×in, W: in×out, b: out):
//   forward:  matmul NN with bias, ACT = act, STORE_Z (the backward pass needs Z for act'(Z))
//   backward: dZ = dY ⊙ act'(Z)               (activation.wgsl backward, or fused into the dY matmul: ACT_GRAD)
//             dX = dZ · Wᵀ                    matmul NT  (M = batch, N = in,  K = out)
//             dW = Xᵀ · dZ                    matmul TN  (M = in,    N = out, K = batch; β = 1 to accumulate)
//             db = column sums of dZ          (a reduction, not this kernel)
//
// Bindings (group 0):  p: Params (uniform)   a: [M·K] (read)   b: [K·N] (read)   c: [M·N] (read_write)
//                      bias: [N] (read; read only when HAS_BIAS)   z: [M·N] (read_write; written only when STORE_Z,
//                      read only when ACT_GRAD)
//                      tiled8 also: av, bv (A and B again, as vec4); splitk_reduce: part [splits·M·N] (read)
// Unused bias / z must still be bound (any buffer; z must not alias c).
//
// Overrides: TRANS_A, TRANS_B, ACT (activation code), HAS_BIAS, STORE_Z, ACT_GRAD, C_NCHW; tile shape per entry point
// (below).
//
// Entry points (same math, same bindings; the host picks one per adapter):
//   matmul_registers  Each invocation computes a 4×4 block of C in registers, reading A and B straight from storage
//                     (no workgroup memory, no barriers: fast on software adapters, where barriers are very slow).
//                     Workgroup RB_WG_X × RB_WG_Y invocations = a (4·RB_WG_Y) × (4·RB_WG_X) block of C.
//                     Dispatch (ceil(N / (4·RB_WG_X)), ceil(M / (4·RB_WG_Y))).
//                     Edges: row/column indices are clamped to M−1 / N−1 for loads (the extra lanes compute
//                     duplicates that are never stored), so the k loop has no branches; stores are bounds-checked.
//   matmul_registers_vec4
//                     An 8×8 block of C per invocation (four 4×4 blocks in mat4x4f registers), A and B read as vec4
//                     through `a4` / `b4` (the same bindings 1 and 2 seen as array<vec4f>), no workgroup memory.
//                     On software adapters every load pays a bounds check and a per-lane gather, so fewer, wider
//                     loads and more FMAs per load are what count: per 4 k, NN/NT/TT load 16 vec4 for 256 FMAs and
//                     TN loads 16 vec4 for 256 FMAs over 4 single-k steps (the scalar kernel: 32 loads for 64 FMAs).
//                     Workgroup RB_WG_X × RB_WG_Y invocations = a (8·RB_WG_Y) × (8·RB_WG_X) block of C.
//                     Dispatch (ceil(N / (8·RB_WG_X)), ceil(M / (8·RB_WG_Y))).
//                     Usable only when each operand's stored rows are a multiple of 4 long (the host checks, and
//                     falls back to matmul_registers otherwise; the binding offsets must be 16-byte aligned):
//                       op(A): A (M×K) needs K % 4 = 0, read 4 k at a time;  Aᵀ (K×M) needs M % 4 = 0, 4 rows at a time;
//                       op(B): B (K×N) needs N % 4 = 0, read 4 columns;      Bᵀ (N×K) needs K % 4 = 0, 4 k at a time.
//                     So NN needs K, N % 4 = 0; TN: M, N; NT: K; TT: M, K. TN walks k one by one (K is free).
//                     Edges: along a scalar dimension indices are clamped as in matmul_registers; along a vector
//                     dimension the second 4-block is clamped to the last one (its outputs are duplicates, never
//                     stored). Every element read lies in the first M·K (resp. K·N) floats, a multiple of 16 bytes,
//                     so a binding whose size is not a multiple of 16 bytes is fine: its tail is never needed.
//   matmul_tiled      Workgroup tiles of BM × BN = (4·TS_WG_Y) × (4·TS_WG_X) outputs, 4×4 per invocation, K walked in
//                     steps of TS_BK through workgroup memory (k-major, vec4 rows padded by one vec4 against bank
//                     conflicts on the transposing store). Dispatch (ceil(N / BN), ceil(M / BM)).
//                     Edges: out-of-range loads read 0, stores are bounds-checked; every invocation reaches every
//                     barrier (no early return).
//   matmul_tiled8     The hardware kernel for large shapes: workgroup tiles of BM × BN = (8·T8_WG_Y) × (8·T8_WG_X),
//                     8×8 outputs per invocation held as four mat4x4f (rows 4·ty + i and 4·(ty + T8_WG_Y) + i, columns
//                     4·tx + j and 4·(tx + T8_WG_X) + j, so that each k step reads 2 + 2 conflict-free vec4 from
//                     workgroup memory for 64 FMAs). K is walked in steps of T8_BK through two workgroup buffers: the
//                     next step's global loads are issued into registers before the current step's FMAs and stored
//                     to the other buffer after them, so one barrier per step suffices and load latency hides behind
//                     math. Each invocation loads T8_BK·2/T8_WG_X vec4 of A and T8_BK·2/T8_WG_Y of B per step (1 or 2:
//                     the host checks). Global loads are vec4 along each operand's stored rows when VEC_A / VEC_B
//                     (through `av` / `bv`, the host sets them when the operand's layout allows, as for
//                     matmul_registers_vec4), else 4 bounds-checked scalars; out-of-range
//                     elements read 0, stores are bounds-checked. Dispatch (ceil(N / BN), ceil(M / BM), splits).
//                     Split-K (PARTIAL): workgroup z sums k in [z·k_chunk, min(K, (z+1)·k_chunk)) and stores its raw
//                     sum to c[z·R·N + i·N + j] (R = M, or M + 1 with ONES_ROW; no epilogue; c is then a
//                     splits·R·N scratch buffer), and
//                     matmul_splitk_reduce adds the `splits` partial sums in z order and applies the epilogue.
//                     This keeps every multiprocessor busy when M·N gives too few tiles (skinny layers, small batches).
//
// The register blocks are `const`: WGSL function-scope arrays cannot be sized by an override.
//
// Numerics: f32 accumulation in k order (registers), in k order within chunks of 4 k added to the running sum
// (registers_vec4 NN, NT, TT) or in TS_BK / T8_BK chunks (tiled, tiled8); split-K sums each chunk in k order and
// then the chunks' sums in z order; the compiler may fuse multiply-adds.
// Error vs exact: ≲ K·u·Σ_k |a_ik·b_kj| (u = 2⁻²⁴), typically √K smaller. NaN/Inf in inputs propagate.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
override ACT: u32 = 0u;
override HAS_BIAS: bool = false;
override STORE_Z: bool = false;
override ACT_GRAD: bool = false;
override ONES_ROW: bool = false;
override C_NCHW: bool = false;

override RB_WG_X: u32 = 8u;
override RB_WG_Y: u32 = 8u;

override TS_WG_X: u32 = 16u;
override TS_WG_Y: u32 = 16u;
override TS_BK: u32 = 16u;

override T8_WG_X: u32 = 16u;
override T8_WG_Y: u32 = 16u;
override T8_BK: u32 = 8u;
override VEC_A: bool = false;
override VEC_B: bool = false;
override PARTIAL: bool = false;

struct Params {
  M: u32,
  N: u32,
  K: u32,
  alpha: f32,
  beta: f32,
  /** α of leaky_relu / elu (the activation's own parameter, not the matmul scale). */
  act_alpha: f32,
  /** tiled8: k per split (a multiple of T8_BK; ≥ K without split-K). */
  k_chunk: u32,
  /** matmul_splitk_reduce: number of partial sums. */
  splits: u32,
  /** C_NCHW: rows per group (P, the output pixels of one example). */
  c_plane: u32,
  /** Element offset of C (and z) in their buffers. */
  c_offset: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> z: array<f32>;
// The same A and B seen as vec4 (matmul_registers_vec4 only; an entry point uses either a, b or a4, b4).
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
// Split-K partial sums, splits × M × N (matmul_splitk_reduce only).
@group(0) @binding(6) var<storage, read> part: array<f32>;
// matmul_tiled8 reads A and B both ways: as f32 (a, b) and, when VEC_A / VEC_B, as vec4 through these second
// bindings of the same ranges (read-only bindings may alias; one variable per binding keeps both in one entry point).
@group(0) @binding(7) var<storage, read> av: array<vec4f>;
@group(0) @binding(8) var<storage, read> bv: array<vec4f>;

/** Finishes one output element: scale, accumulate, bias, store Z, activate, store C. Caller checks bounds. */
fn epilogue(row: u32, col: u32, acc: f32) {
  var idx = row * p.N + col;
  if (C_NCHW) { idx = ((row / p.c_plane) * p.N + col) * p.c_plane + row % p.c_plane; }
  idx += p.c_offset;
  var v = p.alpha * acc;
  if (p.beta != 0.0) { v += p.beta * c[idx]; }
  if (HAS_BIAS) { v += bias[col]; }
  if (ACT_GRAD) {
    c[idx] = v * act_derivative(ACT, z[idx], p.act_alpha);
    return;
  }
  if (STORE_Z) { z[idx] = v; }
  c[idx] = act_forward(ACT, v, p.act_alpha);
}

/** The ones row's output (ONES_ROW): z[col] = α·acc + β·z_old[col]. */
fn epilogue_sum(col: u32, acc: f32) {
  var v = p.alpha * acc;
  if (p.beta != 0.0) { v += p.beta * z[col]; }
  z[col] = v;
}

/** Rows of output: M, plus the ones row. */
fn out_rows() -> u32 {
  return p.M + select(0u, 1u, ONES_ROW);
}

/** Epilogue for the 4 columns col0..col0+3 of one row, skipping those ≥ N. */
fn epilogue4(row: u32, col0: u32, acc: vec4f) {
  if (row >= out_rows()) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (col0 + j < p.N) {
      if (ONES_ROW && row == p.M) { epilogue_sum(col0 + j, acc[j]); } else { epilogue(row, col0 + j, acc[j]); }
    }
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

/** The 4×4 outer product: column i is `col` scaled by row[i] (i.e. mat[i][j] = row[i]·col[j]). */
fn outer4(col: vec4f, row: vec4f) -> mat4x4f {
  return mat4x4f(row.x * col, row.y * col, row.z * col, row.w * col);
}

// 8×8 outputs per invocation as four 4×4 blocks held in mat4x4f: cRC[i] = C[row0 + 4R + i, col0 + 4C .. col0 + 4C + 3]
// (one matrix column per output row). Each k step loads 4×4 blocks of op(A) and op(B) as mat4x4f and adds their
// product; which product and which transposes depend on the layout (commented per case).
@compute @workgroup_size(RB_WG_X, RB_WG_Y)
fn matmul_registers_vec4(@builtin(global_invocation_id) gid: vec3u) {
  let row0 = gid.y * 8u;
  let col0 = gid.x * 8u;
  if (row0 >= p.M || col0 >= p.N) { return; }
  let M = p.M;
  let N = p.N;
  let K = p.K;
  let M4 = M / 4u;
  let N4 = N / 4u;
  let K4 = K / 4u;
  let lane = vec4u(0u, 1u, 2u, 3u);
  // Along a scalar dimension each row / column index is clamped; along a vector dimension (a multiple of 4) the
  // second 4-block is clamped to the last one. Either way the extra outputs are duplicates that are never stored.
  let r0 = min(vec4u(row0) + lane, vec4u(M - 1u));
  let r1 = min(vec4u(row0 + 4u) + lane, vec4u(M - 1u));
  let q0 = min(vec4u(col0) + lane, vec4u(N - 1u));
  let q1 = min(vec4u(col0 + 4u) + lane, vec4u(N - 1u));
  let i0 = row0 / 4u;
  let i1 = min(i0 + 1u, max(M4, 1u) - 1u);
  let j0 = col0 / 4u;
  let j1 = min(j0 + 1u, max(N4, 1u) - 1u);
  var c00 = mat4x4f();
  var c01 = mat4x4f();
  var c10 = mat4x4f();
  var c11 = mat4x4f();
  if (!TRANS_A && !TRANS_B) {
    // NN, per 4 k: a·[i] = A[row i, 4 k] (a4[row·K4 + k4]), b·[kk] = B[k + kk, 4 columns] (b4[(k + kk)·N4 + j]);
    // C block row i += Σ_kk a[i][kk]·b[kk] = (b · a)[i].
    let ra0 = r0 * K4;
    let ra1 = r1 * K4;
    var kb = 0u;
    for (var k4 = 0u; k4 < K4; k4++) {
      let a0 = mat4x4f(a4[ra0.x + k4], a4[ra0.y + k4], a4[ra0.z + k4], a4[ra0.w + k4]);
      let a1 = mat4x4f(a4[ra1.x + k4], a4[ra1.y + k4], a4[ra1.z + k4], a4[ra1.w + k4]);
      let b0 = mat4x4f(b4[kb + j0], b4[kb + N4 + j0], b4[kb + 2u * N4 + j0], b4[kb + 3u * N4 + j0]);
      let b1 = mat4x4f(b4[kb + j1], b4[kb + N4 + j1], b4[kb + 2u * N4 + j1], b4[kb + 3u * N4 + j1]);
      c00 += b0 * a0;
      c01 += b1 * a0;
      c10 += b0 * a1;
      c11 += b1 * a1;
      kb += 4u * N4;
    }
  } else if (TRANS_A && !TRANS_B) {
    // TN, per k: a = op(A)[4 rows, k] (a4[k·M4 + i]), b = B[k, 4 columns] (b4[k·N4 + j]); C block += outer product.
    var ka = 0u;
    var kb = 0u;
    for (var k = 0u; k < K; k++) {
      let a0 = a4[ka + i0];
      let a1 = a4[ka + i1];
      let b0 = b4[kb + j0];
      let b1 = b4[kb + j1];
      c00 += outer4(b0, a0);
      c01 += outer4(b1, a0);
      c10 += outer4(b0, a1);
      c11 += outer4(b1, a1);
      ka += M4;
      kb += N4;
    }
  } else if (!TRANS_A && TRANS_B) {
    // NT, per 4 k: a as in NN, b·[j] = B[column j, 4 k] (b4[column·K4 + k4]); C[i][j] += dot(a[i], b[j]) = (bᵀ·a)[i][j].
    let ra0 = r0 * K4;
    let ra1 = r1 * K4;
    let qb0 = q0 * K4;
    let qb1 = q1 * K4;
    for (var k4 = 0u; k4 < K4; k4++) {
      let a0 = mat4x4f(a4[ra0.x + k4], a4[ra0.y + k4], a4[ra0.z + k4], a4[ra0.w + k4]);
      let a1 = mat4x4f(a4[ra1.x + k4], a4[ra1.y + k4], a4[ra1.z + k4], a4[ra1.w + k4]);
      let b0 = transpose(mat4x4f(b4[qb0.x + k4], b4[qb0.y + k4], b4[qb0.z + k4], b4[qb0.w + k4]));
      let b1 = transpose(mat4x4f(b4[qb1.x + k4], b4[qb1.y + k4], b4[qb1.z + k4], b4[qb1.w + k4]));
      c00 += b0 * a0;
      c01 += b1 * a0;
      c10 += b0 * a1;
      c11 += b1 * a1;
    }
  } else {
    // TT, per 4 k: a·[kk] = op(A)[4 rows, k + kk] (a4[(k + kk)·M4 + i]), b as in NT;
    // C[i][j] += Σ_kk a[kk][i]·b[j][kk] = (a · b)[j][i].
    let qb0 = q0 * K4;
    let qb1 = q1 * K4;
    var ka = 0u;
    for (var k4 = 0u; k4 < K4; k4++) {
      let a0 = mat4x4f(a4[ka + i0], a4[ka + M4 + i0], a4[ka + 2u * M4 + i0], a4[ka + 3u * M4 + i0]);
      let a1 = mat4x4f(a4[ka + i1], a4[ka + M4 + i1], a4[ka + 2u * M4 + i1], a4[ka + 3u * M4 + i1]);
      let b0 = mat4x4f(b4[qb0.x + k4], b4[qb0.y + k4], b4[qb0.z + k4], b4[qb0.w + k4]);
      let b1 = mat4x4f(b4[qb1.x + k4], b4[qb1.y + k4], b4[qb1.z + k4], b4[qb1.w + k4]);
      c00 += transpose(a0 * b0);
      c01 += transpose(a0 * b1);
      c10 += transpose(a1 * b0);
      c11 += transpose(a1 * b1);
      ka += 4u * M4;
    }
  }
  finish8x8(0u, row0, row0 + 4u, col0, col0 + 4u, c00, c01, c10, c11);
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

// ---- matmul_tiled8 ----------------------------------------------------------------------------------------------
// Workgroup buffers: A8[buf][kk][m4] = op(A)[tileRow + 4·m4 .. +3, k0 + kk], B8[buf][kk][n4] = op(B)[k0 + kk,
// tileCol + 4·n4 .. +3]; buf alternates per k step.
var<workgroup> A8: array<vec4f, 4u * T8_BK * T8_WG_Y>;
var<workgroup> B8: array<vec4f, 4u * T8_BK * T8_WG_X>;

/**
 * 4 consecutive elements of A's stored row `row` (of `stride` floats) from column `col` (col % 4 = 0); zero where
 * row ≥ rowEnd or column ≥ colEnd. With VEC_A, stride and colEnd are multiples of 4: a vec4 is all in or all out.
 */
fn load_a4(row: u32, col: u32, rowEnd: u32, colEnd: u32, stride: u32) -> vec4f {
  if (row >= rowEnd) { return vec4f(0.0); }
  if (VEC_A) {
    if (col >= colEnd) { return vec4f(0.0); }
    return av[(row * stride + col) / 4u];
  }
  var v = vec4f(0.0);
  let base = row * stride;
  for (var i = 0u; i < 4u; i++) {
    if (col + i < colEnd) { v[i] = a[base + col + i]; }
  }
  return v;
}

fn load_b4(row: u32, col: u32, rowEnd: u32, colEnd: u32, stride: u32) -> vec4f {
  if (row >= rowEnd) { return vec4f(0.0); }
  if (VEC_B) {
    if (col >= colEnd) { return vec4f(0.0); }
    return bv[(row * stride + col) / 4u];
  }
  var v = vec4f(0.0);
  let base = row * stride;
  for (var i = 0u; i < 4u; i++) {
    if (col + i < colEnd) { v[i] = b[base + col + i]; }
  }
  return v;
}

/**
 * The vec4 number s (of the tile's BM·BK/4) of op(A)'s tile at k0, for k < kEnd (the end of this split; later k read
 * 0, so the k loop never needs a bound). Stored rows run along k (A, M×K) or along m (Aᵀ, K×M).
 */
fn fetch_a(s: u32, tileRow: u32, k0: u32, kEnd: u32) -> vec4f {
  let BM4 = 2u * T8_WG_Y;
  if (TRANS_A) {
    let k = k0 + s / BM4;
    let m0 = tileRow + 4u * (s % BM4);
    var v = load_a4(k, m0, kEnd, p.M, p.M);
    if (ONES_ROW && k < kEnd && p.M >= m0 && p.M < m0 + 4u) { v[p.M - m0] = 1.0; }
    return v;
  }
  let BK4 = T8_BK / 4u;
  return load_a4(tileRow + s / BK4, k0 + 4u * (s % BK4), p.M, kEnd, p.K);
}

fn fetch_b(s: u32, tileCol: u32, k0: u32, kEnd: u32) -> vec4f {
  let BN4 = 2u * T8_WG_X;
  if (!TRANS_B) {
    return load_b4(k0 + s / BN4, tileCol + 4u * (s % BN4), kEnd, p.N, p.N);
  }
  let BK4 = T8_BK / 4u;
  return load_b4(tileCol + s / BK4, k0 + 4u * (s % BK4), p.N, kEnd, p.K);
}

/** Stores a vec4 fetched by fetch_a for slot s into buffer `buf`: directly (Aᵀ) or scattered across 4 kk rows (A). */
fn stash_a(buf: u32, s: u32, v: vec4f) {
  let BM4 = 2u * T8_WG_Y;
  let base = buf * T8_BK * BM4;
  if (TRANS_A) {
    A8[base + s] = v;
  } else {
    let BK4 = T8_BK / 4u;
    let m = s / BK4;
    let kk = 4u * (s % BK4);
    for (var i = 0u; i < 4u; i++) { A8[base + (kk + i) * BM4 + m / 4u][m % 4u] = v[i]; }
  }
}

fn stash_b(buf: u32, s: u32, v: vec4f) {
  let BN4 = 2u * T8_WG_X;
  let base = buf * T8_BK * BN4;
  if (!TRANS_B) {
    B8[base + s] = v;
  } else {
    let BK4 = T8_BK / 4u;
    let n = s / BK4;
    let kk = 4u * (s % BK4);
    for (var i = 0u; i < 4u; i++) { B8[base + (kk + i) * BN4 + n / 4u][n % 4u] = v[i]; }
  }
}

/** Stores the raw sums of one row's 4 columns into the split's slice of the partial-sum buffer `c`. */
fn store_partial4(z: u32, row: u32, col0: u32, acc: vec4f) {
  if (row >= out_rows()) { return; }
  let base = z * out_rows() * p.N + row * p.N;
  for (var j = 0u; j < 4u; j++) {
    if (col0 + j < p.N) { c[base + col0 + j] = acc[j]; }
  }
}

fn finish4(z: u32, row: u32, col0: u32, acc: vec4f) {
  if (PARTIAL) { store_partial4(z, row, col0, acc); } else { epilogue4(row, col0, acc); }
}

/**
 * Stores an 8×8 register block (cRC[i] = row (R ? row1 : row0) + i, columns (C ? col1 : col0) .. +3). Written out
 * with constant indices on purpose: a loop over i indexes the matrices dynamically, and a compiler that does not
 * unroll it (seen on NVIDIA's, when the loop body is the inlined epilogue) moves all 64 accumulators to local memory
 * for the whole kernel — a 4–7× slowdown.
 */
fn finish8x8(z: u32, row0: u32, row1: u32, col0: u32, col1: u32, c00: mat4x4f, c01: mat4x4f, c10: mat4x4f, c11: mat4x4f) {
  finish4(z, row0, col0, c00[0]);
  finish4(z, row0 + 1u, col0, c00[1]);
  finish4(z, row0 + 2u, col0, c00[2]);
  finish4(z, row0 + 3u, col0, c00[3]);
  finish4(z, row0, col1, c01[0]);
  finish4(z, row0 + 1u, col1, c01[1]);
  finish4(z, row0 + 2u, col1, c01[2]);
  finish4(z, row0 + 3u, col1, c01[3]);
  finish4(z, row1, col0, c10[0]);
  finish4(z, row1 + 1u, col0, c10[1]);
  finish4(z, row1 + 2u, col0, c10[2]);
  finish4(z, row1 + 3u, col0, c10[3]);
  finish4(z, row1, col1, c11[0]);
  finish4(z, row1 + 1u, col1, c11[1]);
  finish4(z, row1 + 2u, col1, c11[2]);
  finish4(z, row1 + 3u, col1, c11[3]);
}

@compute @workgroup_size(T8_WG_X, T8_WG_Y)
fn matmul_tiled8(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
                 @builtin(local_invocation_index) li: u32) {
  let threads = T8_WG_X * T8_WG_Y;
  let loadsA = 2u * T8_BK / T8_WG_X;  // vec4 of A per invocation per k step (1 or 2)
  let loadsB = 2u * T8_BK / T8_WG_Y;
  let BM4 = 2u * T8_WG_Y;
  let BN4 = 2u * T8_WG_X;
  let tileRow = wid.y * 8u * T8_WG_Y;
  let tileCol = wid.x * 8u * T8_WG_X;
  let kBegin = wid.z * p.k_chunk;
  let kEnd = min(p.K, kBegin + p.k_chunk);
  var steps = 0u;
  if (kEnd > kBegin) { steps = (kEnd - kBegin + T8_BK - 1u) / T8_BK; }
  var ra0 = vec4f(0.0);
  var ra1 = vec4f(0.0);
  var rb0 = vec4f(0.0);
  var rb1 = vec4f(0.0);
  if (steps > 0u) {
    ra0 = fetch_a(li, tileRow, kBegin, kEnd);
    if (loadsA > 1u) { ra1 = fetch_a(li + threads, tileRow, kBegin, kEnd); }
    rb0 = fetch_b(li, tileCol, kBegin, kEnd);
    if (loadsB > 1u) { rb1 = fetch_b(li + threads, tileCol, kBegin, kEnd); }
    stash_a(0u, li, ra0);
    if (loadsA > 1u) { stash_a(0u, li + threads, ra1); }
    stash_b(0u, li, rb0);
    if (loadsB > 1u) { stash_b(0u, li + threads, rb1); }
  }
  workgroupBarrier();
  var c00 = mat4x4f();
  var c01 = mat4x4f();
  var c10 = mat4x4f();
  var c11 = mat4x4f();
  for (var t = 0u; t < steps; t++) {
    let cur = t & 1u;
    let more = t + 1u < steps;
    // The next step's loads go out before this step's math.
    if (more) {
      let k1 = kBegin + (t + 1u) * T8_BK;
      ra0 = fetch_a(li, tileRow, k1, kEnd);
      if (loadsA > 1u) { ra1 = fetch_a(li + threads, tileRow, k1, kEnd); }
      rb0 = fetch_b(li, tileCol, k1, kEnd);
      if (loadsB > 1u) { rb1 = fetch_b(li + threads, tileCol, k1, kEnd); }
    }
    let baseA = cur * T8_BK * BM4;
    let baseB = cur * T8_BK * BN4;
    for (var kk = 0u; kk < T8_BK; kk++) {
      let a0 = A8[baseA + kk * BM4 + lid.y];
      let a1 = A8[baseA + kk * BM4 + lid.y + T8_WG_Y];
      let b0 = B8[baseB + kk * BN4 + lid.x];
      let b1 = B8[baseB + kk * BN4 + lid.x + T8_WG_X];
      c00 += outer4(b0, a0);
      c01 += outer4(b1, a0);
      c10 += outer4(b0, a1);
      c11 += outer4(b1, a1);
    }
    if (more) {
      let nxt = 1u - cur;
      stash_a(nxt, li, ra0);
      if (loadsA > 1u) { stash_a(nxt, li + threads, ra1); }
      stash_b(nxt, li, rb0);
      if (loadsB > 1u) { stash_b(nxt, li + threads, rb1); }
    }
    workgroupBarrier();
  }
  finish8x8(wid.z, tileRow + 4u * lid.y, tileRow + 4u * (lid.y + T8_WG_Y), tileCol + 4u * lid.x, tileCol + 4u * (lid.x + T8_WG_X), c00, c01, c10, c11);
}

// Sums the split-K partial sums of each element of C (and of the ones row) in z order, then applies the epilogue.
// Dispatch: ceil(out_rows·N / 256) workgroups (2-D grid when over the per-dimension limit).
@compute @workgroup_size(256)
fn matmul_splitk_reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let idx = gid.x + gid.y * nwg.x * 256u;
  let MN = out_rows() * p.N;
  if (idx >= MN) { return; }
  var s = 0.0;
  for (var zz = 0u; zz < p.splits; zz++) { s += part[zz * MN + idx]; }
  let row = idx / p.N;
  if (ONES_ROW && row == p.M) { epilogue_sum(idx % p.N, s); } else { epilogue(row, idx % p.N, s); }
}
