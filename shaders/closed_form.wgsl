// Closed-form test functions of the problems library (src/problems/): the course's bowl and quartic, Rosenbrock,
// Beale and a saddle. One invocation evaluates one function at one point (dispatch 1×1×1); they are tiny.
//
// Entry points, for each function F:
//   F        value and gradient:  fout[p.f_index] = f(x),  g[0..n) = ∇f(x)
//   F_hvp    Hessian-vector product: hv[0..n) = H(x)·v (exact, from the closed-form Hessian)
// Shapes: x, g, v, hv hold n = 1 (quartic) or 2 (the others) f32 values; fout is the minimizer's scalar buffer
// (array<f32>; only element p.f_index is written).
// Bindings: p (uniform FnParams), x (read), g (read_write, written), fout (read_write, one element written),
//           v (read), hv (read_write, written).
//
// Operation order (the same as each CPU reference in src/problems/<name>.ts; every operation rounds to f32):
//   bowl          f = (x·x + x·y) + y·y          g = ((2·x) + y,  x + (2·y))           H = [[2, 1], [1, 2]]
//   quartic       f = (((A4·x + A3)·x + A2)·x + A1)·x + A0            (A4 = 319/8400, A3 = 43/4200,
//                                                                       A2 = −6799/8400, A1 = −299/840, A0 = 6)
//                 g = ((D3·x + D2)·x + D1)·x + A1   (D3 = 4·A4, D2 = 3·A3, D1 = 2·A2, each rounded once)
//                 H = (H2·x + H1)·x + D1           (H2 = 12·A4, H1 = 6·A3)
//   rosenbrock2d  a = 1 − x0, r = x1 − x0·x0,  f = a·a + 100·(r·r)
//                 g0 = (−2·a) − 400·(x0·r),  g1 = 200·r
//                 H = [[(1200·(x0·x0) − 400·x1) + 2, −400·x0], [−400·x0, 200]]
//   beale         y2 = y·y, y3 = y2·y,  t1 = (1.5 − x) + x·y,  t2 = (2.25 − x) + x·y2,  t3 = (2.625 − x) + x·y3
//                 f = (t1·t1 + t2·t2) + t3·t3
//                 u = (y − 1, y2 − 1, y3 − 1) = ∂t/∂x,   w = (x, 2·(x·y), 3·(x·y2)) = ∂t/∂y
//                 g0 = 2·((t1·u1 + t2·u2) + t3·u3),  g1 = 2·((t1·w1 + t2·w2) + t3·w3)
//                 Hxx = 2·((u1·u1 + u2·u2) + u3·u3)
//                 Hxy = 2·(((w1·u1 + t1) + (w2·u2 + t2·(2·y))) + (w3·u3 + t3·(3·y2)))
//                 Hyy = 2·((w1·w1 + (w2·w2 + t2·(2·x))) + (w3·w3 + t3·(6·(x·y))))
//   saddle        f = x·x − y·y                   g = (2·x, −2·y)                       H = [[2, 0], [0, −2]]
//   hvp of a 2-D H: hv = (H00·v0 + H01·v1, H01·v0 + H11·v1)
// Numerical caveats: WGSL allows a compiler to contract a·b + c into a fused multiply-add, which rounds once where
// the CPU reference rounds twice: GPU and CPU agree to a few ulps of the largest term, not always bit for bit.
// Non-finite inputs propagate (no checks here; the minimizer tests f and g by bit pattern).

struct FnParams {
  f_index: u32,
}

@group(0) @binding(0) var<uniform> p: FnParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> g: array<f32>;
@group(0) @binding(3) var<storage, read_write> fout: array<f32>;
@group(0) @binding(4) var<storage, read> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> hv: array<f32>;

// The quartic's coefficients, each the f32 nearest to the exact rational (written as exact f32 values).
const A4: f32 = 0.03797619044780731;
const A3: f32 = 0.010238095186650753;
const A2: f32 = -0.8094047904014587;
const A1: f32 = -0.3559523820877075;
const A0: f32 = 6.0;
const D3: f32 = 0.15190476179122925;
const D2: f32 = 0.030714286491274834;
const D1: f32 = -1.6188095808029175;
const H2: f32 = 0.45571428537368774;
const H1: f32 = 0.06142857298254967;

fn hvp2(h00: f32, h01: f32, h11: f32) {
  hv[0] = h00 * v[0] + h01 * v[1];
  hv[1] = h01 * v[0] + h11 * v[1];
}

@compute @workgroup_size(1)
fn bowl() {
  let a = x[0];
  let b = x[1];
  fout[p.f_index] = (a * a + a * b) + b * b;
  g[0] = (2.0 * a) + b;
  g[1] = a + (2.0 * b);
}

@compute @workgroup_size(1)
fn bowl_hvp() {
  hvp2(2.0, 1.0, 2.0);
}

@compute @workgroup_size(1)
fn quartic() {
  let t = x[0];
  fout[p.f_index] = (((A4 * t + A3) * t + A2) * t + A1) * t + A0;
  g[0] = ((D3 * t + D2) * t + D1) * t + A1;
}

@compute @workgroup_size(1)
fn quartic_hvp() {
  let t = x[0];
  hv[0] = ((H2 * t + H1) * t + D1) * v[0];
}

@compute @workgroup_size(1)
fn rosenbrock2d() {
  let x0 = x[0];
  let x1 = x[1];
  let a = 1.0 - x0;
  let r = x1 - x0 * x0;
  fout[p.f_index] = a * a + 100.0 * (r * r);
  g[0] = (-2.0 * a) - 400.0 * (x0 * r);
  g[1] = 200.0 * r;
}

@compute @workgroup_size(1)
fn rosenbrock2d_hvp() {
  let x0 = x[0];
  let x1 = x[1];
  hvp2((1200.0 * (x0 * x0) - 400.0 * x1) + 2.0, -400.0 * x0, 200.0);
}

struct BealeTerms {
  t: vec3f, // t1, t2, t3
  u: vec3f, // ∂t/∂x
  w: vec3f, // ∂t/∂y
  y2: f32,
}

fn beale_terms(a: f32, b: f32) -> BealeTerms {
  let y2 = b * b;
  let y3 = y2 * b;
  let t = vec3f((1.5 - a) + a * b, (2.25 - a) + a * y2, (2.625 - a) + a * y3);
  let u = vec3f(b - 1.0, y2 - 1.0, y3 - 1.0);
  let w = vec3f(a, 2.0 * (a * b), 3.0 * (a * y2));
  return BealeTerms(t, u, w, y2);
}

@compute @workgroup_size(1)
fn beale() {
  let a = x[0];
  let b = x[1];
  let k = beale_terms(a, b);
  fout[p.f_index] = (k.t.x * k.t.x + k.t.y * k.t.y) + k.t.z * k.t.z;
  g[0] = 2.0 * ((k.t.x * k.u.x + k.t.y * k.u.y) + k.t.z * k.u.z);
  g[1] = 2.0 * ((k.t.x * k.w.x + k.t.y * k.w.y) + k.t.z * k.w.z);
}

@compute @workgroup_size(1)
fn beale_hvp() {
  let a = x[0];
  let b = x[1];
  let k = beale_terms(a, b);
  let hxx = 2.0 * ((k.u.x * k.u.x + k.u.y * k.u.y) + k.u.z * k.u.z);
  let hxy = 2.0 * (((k.w.x * k.u.x + k.t.x) + (k.w.y * k.u.y + k.t.y * (2.0 * b))) + (k.w.z * k.u.z + k.t.z * (3.0 * k.y2)));
  let hyy = 2.0 * ((k.w.x * k.w.x + (k.w.y * k.w.y + k.t.y * (2.0 * a))) + (k.w.z * k.w.z + k.t.z * (6.0 * (a * b))));
  hvp2(hxx, hxy, hyy);
}

@compute @workgroup_size(1)
fn saddle() {
  let a = x[0];
  let b = x[1];
  fout[p.f_index] = a * a - b * b;
  g[0] = 2.0 * a;
  g[1] = -2.0 * b;
}

@compute @workgroup_size(1)
fn saddle_hvp() {
  hvp2(2.0, 0.0, -2.0);
}
