/**
 * Fused multiply-add a·b + c with one rounding, in float64 and in float32, for the CPU references of operations
 * torch computes with a fused multiply-add (torch.add(x, y, alpha=a), i.e. x + a·y, uses vectorised fmadd on the
 * CPU in both precisions; checked against torch 1.13). JavaScript has no Math.fma.
 *
 * float64: Boldo & Melquiond, "Emulation of FMA and correctly rounded sums: proved algorithms using rounding to odd"
 * (IEEE Trans. Computers 2008), Algorithm 5.4: (u_h, u_l) = a·b exactly (Dekker's product), (t_h, t_l) = c + u_h
 * exactly (Knuth's TwoSum), v = RO(t_l + u_l) rounded to odd, result RN(t_h + v).
 * float32 (a, b, c float32 values): a·b is exact in a double; RO(a·b + c) in double then RN to float32 is the
 * correctly rounded float32 fma (rounding to odd with 29 extra bits makes the second rounding exact).
 * Range: exact for operands whose products neither overflow nor fall into the subnormal range of double.
 */

const SPLIT = 134217729; // 2^27 + 1
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

function twoSum(a: number, b: number): [number, number] {
  const s = a + b;
  const bb = s - a;
  return [s, a - (s - bb) + (b - bb)];
}

function twoProduct(a: number, b: number): [number, number] {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a), al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b), bl = b - bh;
  return [p, ah * bh - p + ah * bl + al * bh + al * bl];
}

/** s rounded to odd given the exact remainder e (s + e exact, s = RN(s + e)). */
function roundToOdd(s: number, e: number): number {
  if (e === 0 || !Number.isFinite(s)) return s;
  f64[0] = s;
  if ((u32[0]! & 1) === 1) return s;
  // Even last bit and inexact: move one ulp towards the exact value (away from zero when e has s's sign).
  const away = e > 0 === s > 0;
  if (away) {
    u32[0] = (u32[0]! + 1) >>> 0;
    if (u32[0] === 0) u32[1] = (u32[1]! + 1) >>> 0;
  } else {
    if (u32[0] === 0) u32[1] = (u32[1]! - 1) >>> 0;
    u32[0] = (u32[0]! - 1) >>> 0;
  }
  return f64[0]!;
}

/** a·b + c rounded once to float64. */
export function fma64(a: number, b: number, c: number): number {
  const [uh, ul] = twoProduct(a, b);
  if (!Number.isFinite(uh)) return uh + c;
  const [th, tl] = twoSum(c, uh);
  const [s, e] = twoSum(tl, ul);
  return th + roundToOdd(s, e);
}

/** a·b + c rounded once to float32 (a, b, c float32 values). */
export function fma32(a: number, b: number, c: number): number {
  const [s, e] = twoSum(a * b, c);
  return Math.fround(roundToOdd(s, e));
}
