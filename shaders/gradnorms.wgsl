// Gradient norms for monitoring: the L2 norm of each group of ranges of a flat buffer (one group per layer: the
// layer's weight and bias gradients) and of all of them, accumulated over the steps of a metrics window, so that
// vanishing and exploding gradients show without reading the gradients back. Composed after reduce.wgsl, whose
// `stats` pass (two dispatches) has just written one `Stats` record per range, [global, range 0, range 1, …];
// group g owns the consecutive records [first_g, end_g) of that list (indices into it, so ≥ 1).
//
// gradnorm_accumulate, record i = 0 (global) or 1 + g (group g), once per step:
//   sumsq_i = sumsq of record 0                    (i = 0)
//           = Σ_{r in [first_g, end_g)} sumsq_r     (i = 1 + g; zero ranges give 0)
//   norm_i  = √sumsq_i
//   a step is non-finite for record i when any element it covers is NaN/±inf (Σ nonfinite_r > 0; reduce.wgsl leaves
//   those elements out of sumsq) or when norm_i itself is not finite (sumsq overflowed: |v| ≳ 1.8e19)
//   norms[i]: finite step:     sum += norm_i,  max = max(max, norm_i),  last = norm_i,  last_bad = 0,  steps += 1
//             non-finite step: nonfinite += 1,  last = 0,  last_bad = 1,                            steps += 1
//   ACCUMULATED: the caller zeroes `norms` before the first step of a window (the metrics ring clears it when it copies
//   it out). Reading the record: mean = sum / (steps − nonfinite) and max, or +inf for both when nonfinite > 0; last,
//   or +inf when last_bad. No shader value is ever ±inf or NaN.
//
// Shapes: R ranges, G groups, G + 1 records.
// Bindings: gp (uniform: groups), group_table (read: [first, end] per group, u32 pairs), stats_in (read: R + 1 Stats
//   records), norms (read_write: G + 1 NormAcc records, accumulated).
// Dispatch: ceil((G + 1) / 64) workgroups; invocation i owns record i (no barriers, no races).
// Numerical caveats: sumsq_i sums at most R partial sums of squares (all ≥ 0, so the relative error of a sum of n
//   squares is ≤ γ_n, see reduce.wgsl); √ adds WGSL's sqrt error; `sum` adds the window's norms one after another in
//   one invocation (≤ γ_steps relative). Non-finite values are detected by bit pattern, not isnan/isinf (WGSL lets a
//   compiler assume neither occurs), and are never fed to max().

struct GradNormParams {
  groups: u32,
}

struct NormAcc {
  sum: f32,
  max: f32,
  last: f32,
  steps: u32,
  nonfinite: u32,
  last_bad: u32,
}

@group(0) @binding(11) var<uniform> gp: GradNormParams;
@group(0) @binding(12) var<storage, read> group_table: array<vec2u>;
@group(0) @binding(13) var<storage, read> stats_in: array<Stats>;
@group(0) @binding(14) var<storage, read_write> norms: array<NormAcc>;

@compute @workgroup_size(64)
fn gradnorm_accumulate(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i > gp.groups) { return; }
  var sumsq = 0.0;
  var bad = 0u;
  if (i == 0u) {
    sumsq = stats_in[0].sumsq;
    bad = stats_in[0].nonfinite;
  } else {
    let g = group_table[i - 1u];
    for (var r = g.x; r < g.y; r++) {
      sumsq += stats_in[r].sumsq;
      bad += stats_in[r].nonfinite;
    }
  }
  let norm = sqrt(sumsq);
  var a = norms[i];
  a.steps += 1u;
  if (bad > 0u || is_nonfinite(norm)) {
    a.nonfinite += 1u;
    a.last = 0.0;
    a.last_bad = 1u;
  } else {
    a.sum += norm;
    a.max = max(a.max, norm);
    a.last = norm;
    a.last_bad = 0u;
  }
  norms[i] = a;
}
