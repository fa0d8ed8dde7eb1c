// random.wgsl: Philox4x32-10 counter-based random numbers, the WGSL twin of src/random.ts.
//
// A function library with no bindings and no entry points: the host prepends it to a kernel's source. Every name
// starts with `rng_` to stay out of the including shader's way.
//
// Math (Salmon et al., SC'11; Random123):
//   key     = (seed mod 2^32, seed / 2^32)                    vec2<u32>, from a uniform
//   counter = (block, step, stream, 0)                        vec4<u32>
//   round:  (hi0, lo0) = M0 * c.x, (hi1, lo1) = M1 * c.z      32×32 → 64-bit products
//           c = (hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0)
//   10 rounds; the key is bumped by (W0, W1) before rounds 2..10.
//   word w of (seed, stream, step) = philox(counter with block = w >> 2)[w & 3]
// A kernel taking one number per element i (dropout) uses word i of (seed, stream, step = training step), so
// four neighbouring elements share one Philox block and may be computed by one thread.
//
// Conversions (same as the CPU):
//   rng_unit(x)        = f32(x >> 8) * 2^-24 in [0, 1 - 2^-24]; exact, bit-equal to the CPU value.
//   rng_box_muller(a,b) = r * (cos θ, sin θ), r = sqrt(-2 ln u1), θ = π (2 u2 - 1) in [-π, π),
//                         u1 = ((a >> 8) + 1) 2^-24 in (0, 1], u2 = rng_unit(b).
//   WGSL bounds cos/sin error (2^-11 absolute) only on [-π, π], hence the centred θ; with r <= 5.77 the normals
//   match the CPU to about 3e-3 absolute, not bit for bit.
//
// Only wrapping u32 multiply, add, xor and shifts are used: WGSL has no 64-bit integers, so the high half of a
// product is assembled from 16-bit partial products.

const RNG_M0: u32 = 0xd2511f53u;
const RNG_M1: u32 = 0xcd9e8d57u;
const RNG_W0: u32 = 0x9e3779b9u;
const RNG_W1: u32 = 0xbb67ae85u;

// High 32 bits of the 64-bit product a * b.
fn rng_mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = (p00 >> 16u) + (p01 & 0xffffu) + (p10 & 0xffffu);
  return p11 + (p01 >> 16u) + (p10 >> 16u) + (mid >> 16u);
}

fn rng_philox_round(c: vec4<u32>, k: vec2<u32>) -> vec4<u32> {
  let hi0 = rng_mulhi(RNG_M0, c.x);
  let lo0 = RNG_M0 * c.x;
  let hi1 = rng_mulhi(RNG_M1, c.z);
  let lo1 = RNG_M1 * c.z;
  return vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
}

fn rng_philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = rng_philox_round(counter, key);
  var k = key;
  for (var i = 1u; i < 10u; i++) {
    k += vec2<u32>(RNG_W0, RNG_W1);
    c = rng_philox_round(c, k);
  }
  return c;
}

// Words 4*block_index .. 4*block_index+3 of (key, stream, step).
fn rng_block(key: vec2<u32>, stream: u32, step_no: u32, block_index: u32) -> vec4<u32> {
  return rng_philox4x32_10(vec4<u32>(block_index, step_no, stream, 0u), key);
}

// Word `index` of (key, stream, step); equals randomU32At on the CPU.
fn rng_u32_at(key: vec2<u32>, stream: u32, step_no: u32, index: u32) -> u32 {
  return rng_block(key, stream, step_no, index >> 2u)[index & 3u];
}

fn rng_unit(x: u32) -> f32 {
  return f32(x >> 8u) * (1.0 / 16777216.0);
}

// Uniform in [0, 1) from word `index`; equals uniformAt on the CPU bit for bit.
fn rng_uniform_at(key: vec2<u32>, stream: u32, step_no: u32, index: u32) -> f32 {
  return rng_unit(rng_u32_at(key, stream, step_no, index));
}

// Two standard normals from two words (Box–Muller); CPU twin: boxMuller.
fn rng_box_muller(a: u32, b: u32) -> vec2<f32> {
  let u1 = f32((a >> 8u) + 1u) * (1.0 / 16777216.0);
  let r = sqrt(-2.0 * log(u1));
  let theta = 3.141592653589793 * (2.0 * rng_unit(b) - 1.0);
  return r * vec2<f32>(cos(theta), sin(theta));
}
