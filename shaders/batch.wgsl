// Mini-batch gather: copies the rows of this step's batch out of a dataset that lives on the GPU for the whole run.
//
// Shape legend
//   N  rows in the dataset           D  features per row (u8 images: bytes per image)
//   K  target values per row (float variant)
//   L  length of the permutation (normally N; a subset of row indices, e.g. a train split, works too)
//   B  rows of the batch buffers (p.batch)
//   start = stepinfo[1]  (position of this batch's first row in the permutation; written by the host each step)
//   count = min(fill, L - start), 0 when start >= L, where fill ≤ B is p.fill (normally B): the last partial batch of
//           an epoch fills only `count` rows with no help from the host
//
// gather_u8 (training images stored as bytes, labels as u32):
//   r = perm[start + b]
//   x[b, d]    = f32(byte(images, r·D + d)) · scale + shift      b < count, d < D
//   labels[b]  = label_data[r]
//   byte(images, j) = (images[j >> 2] >> (8·(j & 3))) & 255    (4 bytes per u32, little-endian: a Uint8Array of the
//                    N·D bytes uploaded as is; rows need not start on a word boundary, so any D works)
//   MNIST normalisation: scale = 1 / (255 · 0.3081), shift = -0.1307 / 0.3081.
// gather_f32 (users' float arrays):
//   x[b, d] = data[r·D + d],  targets[b, k] = target_data[r·K + k]
// gather_f32_labels (users' float arrays with class labels):
//   x[b, d] = data[r·D + d],  labels[b] = label_data[r]
//
// Rows count ≤ b < B are written as zeros (x, targets and labels = 0), so a kernel that reads a full B-row batch sees
// finite values; a row index r ≥ N found in the permutation also yields a zero row. Nothing is ever read out of
// bounds. Outputs are written, not accumulated. There is no backward (the data are not trained).
//
// Bindings: p (uniform Params), stepinfo (read, u32: [0] step, [1] start), perm (read, u32 [L]),
//   gather_u8:  images (read, u32 [ceil(N·D/4)]), label_data (read, u32 [N]), x (read_write, f32 [B·D]),
//               labels (read_write, u32 [B])
//   gather_f32: data (read, f32 [N·D]), target_data (read, f32 [N·K]), x (read_write, f32 [B·D]),
//               targets (read_write, f32 [B·K])
//   gather_f32_labels: data (read, f32 [N·D]), label_data (read, u32 [N]), x (read_write, f32 [B·D]),
//               labels (read_write, u32 [B])
// Dispatch: one thread per output element: ceil(B·D / WG) workgroups (gather_u8; the thread of d = 0 also writes the
// label) or ceil(B·(D + K) / WG) (gather_f32), possibly as a 2-D grid (linear index wid.x + wid.y·nwg.x).
// Numerics: byte·scale + shift may be evaluated with a fused multiply-add (≤ 1 ulp from the two-rounding CPU value).

override WG: u32 = 64u;

struct Params {
  batch: u32,     // B (rows of the output buffers; the dispatch covers them)
  fill: u32,      // rows to fill at most (≤ B; normally B)
  dim: u32,       // D
  target_dim: u32, // K (gather_f32 only)
  perm_len: u32,  // L
  rows: u32,      // N
  scale: f32,     // gather_u8 only
  shift: f32,     // gather_u8 only
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> stepinfo: array<u32>;
@group(0) @binding(2) var<storage, read> perm: array<u32>;
@group(0) @binding(3) var<storage, read> images: array<u32>;
@group(0) @binding(4) var<storage, read> label_data: array<u32>;
@group(0) @binding(5) var<storage, read_write> labels: array<u32>;
@group(0) @binding(6) var<storage, read> data: array<f32>;
@group(0) @binding(7) var<storage, read> target_data: array<f32>;
@group(0) @binding(8) var<storage, read_write> x: array<f32>;
@group(0) @binding(9) var<storage, read_write> targets: array<f32>;

// Row of the dataset that batch row b comes from, or 0xffffffff when b is past the batch's count (or the
// permutation names a row that does not exist).
fn source_row(b: u32) -> u32 {
  let start = stepinfo[1];
  if (b >= p.fill || start >= p.perm_len || b >= p.perm_len - start) { return 0xffffffffu; }
  let r = perm[start + b];
  if (r >= p.rows) { return 0xffffffffu; }
  return r;
}

@compute @workgroup_size(WG)
fn gather_u8(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.batch * p.dim) { return; }
  let b = i / p.dim;
  let d = i - b * p.dim;
  let r = source_row(b);
  if (r == 0xffffffffu) {
    x[i] = 0.0;
    if (d == 0u) { labels[b] = 0u; }
    return;
  }
  let j = r * p.dim + d;
  let v = (images[j >> 2u] >> (8u * (j & 3u))) & 0xffu;
  x[i] = f32(v) * p.scale + p.shift;
  if (d == 0u) { labels[b] = label_data[r]; }
}

@compute @workgroup_size(WG)
fn gather_f32(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  let nx = p.batch * p.dim;
  if (i < nx) {
    let b = i / p.dim;
    let d = i - b * p.dim;
    let r = source_row(b);
    if (r == 0xffffffffu) { x[i] = 0.0; } else { x[i] = data[r * p.dim + d]; }
    return;
  }
  let t = i - nx;
  if (t >= p.batch * p.target_dim) { return; }
  let b = t / p.target_dim;
  let k = t - b * p.target_dim;
  let r = source_row(b);
  if (r == 0xffffffffu) { targets[t] = 0.0; } else { targets[t] = target_data[r * p.target_dim + k]; }
}

@compute @workgroup_size(WG)
fn gather_f32_labels(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.batch * p.dim) { return; }
  let b = i / p.dim;
  let d = i - b * p.dim;
  let r = source_row(b);
  if (r == 0xffffffffu) {
    x[i] = 0.0;
    if (d == 0u) { labels[b] = 0u; }
    return;
  }
  x[i] = data[r * p.dim + d];
  if (d == 0u) { labels[b] = label_data[r]; }
}
