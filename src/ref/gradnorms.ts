/**
 * CPU reference of shaders/gradnorms.wgsl: per-group and global L2 norms of a flat buffer, accumulated over steps
 * (float64 plain loops). A step whose group holds a NaN/±inf element (or whose sum of squares overflows) counts as
 * non-finite for that group and for the global norm: its mean and max become +inf.
 */

/** A norm over the steps of a window. mean and max are +inf when any step's norm was not finite. */
export interface NormSummary {
  mean: number;
  max: number;
  /** The window's last step (+inf when it was not finite). */
  last: number;
  /** Steps accumulated, and how many of them had a non-finite norm (a NaN/±inf gradient element, or overflow). */
  steps: number;
  nonfinite: number;
}

type Range = readonly [number, number];

/** The norms of `groups` (each a list of ranges) of every buffer in `steps`, summarised as the GPU op does. */
export function gradNormsRef(steps: ArrayLike<number>[], groups: ReadonlyArray<ReadonlyArray<Range>>): { global: NormSummary; groups: NormSummary[] } {
  const acc = Array.from({ length: groups.length + 1 }, () => ({ sum: 0, max: 0, last: NaN, steps: 0, nonfinite: 0 }));
  for (const data of steps) {
    const perGroup = groups.map((ranges) => {
      let sumsq = 0;
      let bad = false;
      for (const [s, e] of ranges) {
        for (let i = s; i < e; i++) {
          const v = data[i]!;
          if (Number.isFinite(v)) sumsq += v * v;
          else bad = true;
        }
      }
      return { sumsq, bad };
    });
    const global = perGroup.reduce((a, g) => ({ sumsq: a.sumsq + g.sumsq, bad: a.bad || g.bad }), { sumsq: 0, bad: false });
    [global, ...perGroup].forEach((g, k) => {
      const a = acc[k]!;
      const norm = Math.sqrt(g.sumsq);
      a.steps++;
      if (g.bad || !Number.isFinite(norm)) {
        a.nonfinite++;
        a.last = Infinity;
      } else {
        a.sum += norm;
        a.max = Math.max(a.max, norm);
        a.last = norm;
      }
    });
  }
  const out: NormSummary[] = acc.map((a) => {
    const finite = a.steps - a.nonfinite;
    return {
      mean: a.nonfinite ? Infinity : finite ? a.sum / finite : NaN,
      max: a.nonfinite ? Infinity : finite ? a.max : NaN,
      last: a.last,
      steps: a.steps,
      nonfinite: a.nonfinite,
    };
  });
  return { global: out[0]!, groups: out.slice(1) };
}
