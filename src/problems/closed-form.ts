/**
 * The closed-form family (shaders/closed_form.wgsl): small functions of 1 or 2 variables whose value, gradient and
 * Hessian are formulas. Each function's module (bowl.ts, quartic.ts, rosenbrock.ts, beale.ts, saddle.ts) writes its
 * CPU math in the shader's operation order; this module turns that math into a `Problem` with the GPU objective.
 *
 * GPU: one 1×1×1 dispatch per evaluation (entry `<name>`), one per Hessian-vector product (`<name>_hvp`).
 */
import src from '../../shaders/closed_form.wgsl';
import { defineKernel, type Engine, type KernelDef } from '../gpu/index.js';
import type { GpuObjective, GpuPlan } from '../linalg/objective.js';
import { rounder, type Dtype, type FloatArray } from '../ref/dtype.js';
import { checkLength, pointOf, type KnownPoint, type Problem } from './problem.js';

const files = [{ file: 'closed_form.wgsl', text: src }];
const NAMES = ['bowl', 'quartic', 'rosenbrock2d', 'beale', 'saddle'] as const;
type ClosedFormName = (typeof NAMES)[number];

const valueKernels = Object.fromEntries(
  NAMES.map((name) => [name, defineKernel({ label: `closed_form.${name}`, files, entry: name, bindings: { p: 'uniform', x: 'read', g: 'read_write', fout: 'read_write' } })]),
) as Record<ClosedFormName, KernelDef>;
/** Functions whose Hessian is constant: their hvp entry does not read x. */
const CONSTANT_HESSIAN = new Set<ClosedFormName>(['bowl', 'saddle']);
const hvpKernels = Object.fromEntries(
  NAMES.map((name) => [
    name,
    defineKernel({
      label: `closed_form.${name}_hvp`,
      files,
      entry: `${name}_hvp`,
      bindings: CONSTANT_HESSIAN.has(name) ? { v: 'read', hv: 'read_write' } : { x: 'read', v: 'read', hv: 'read_write' },
    }),
  ]),
) as Record<ClosedFormName, KernelDef>;

/** A function's math, in the operation order of the shader header; `r` rounds each operation to the dtype. */
export interface ClosedFormMath {
  readonly name: ClosedFormName;
  readonly dim: 1 | 2;
  readonly formula: string;
  /** f(x); when `g` is given, the gradient's components are pushed into it. */
  value(x: readonly number[], r: (v: number) => number, g?: number[]): number;
  /** Hessian entries: [h00] (1-D) or [h00, h01, h11] (2-D, symmetric). */
  hessian(x: readonly number[], r: (v: number) => number): number[];
  readonly starts: readonly (readonly number[])[];
  readonly known: readonly KnownPoint[];
  readonly window: readonly (readonly [number, number])[];
}

/** A single dispatch of `kernel` with `resources`, in a compute pass of its own. */
async function singleDispatch(engine: Engine, def: KernelDef, resources: Record<string, GPUBuffer>, uniforms?: Record<string, number>): Promise<GpuPlan> {
  const k = await engine.kernel(def);
  const u = uniforms ? k.uniforms('p').set(uniforms) : null;
  u?.write();
  const used = Object.fromEntries(Object.entries(resources).filter(([name]) => name in def.bindings));
  const group = k.bind(u ? { ...used, p: u.buffer } : used);
  return {
    encode(encoder) {
      const pass = encoder.beginComputePass({ label: def.label });
      k.dispatch(pass, group, 1);
      pass.end();
    },
    destroy: () => u?.destroy(),
  };
}

export function closedFormProblem(math: ClosedFormMath): Problem {
  const problem: Problem = {
    name: math.name,
    dim: math.dim,
    formula: math.formula,
    starts: math.starts,
    known: math.known,
    window: math.window,
    evaluate(x: ArrayLike<number>, g?: FloatArray | null, dtype: Dtype = 'float64'): number {
      const xs = pointOf(problem, x, dtype);
      if (!g) return math.value(xs, rounder(dtype));
      checkLength(problem, g, 'g');
      const grad: number[] = [];
      const f = math.value(xs, rounder(dtype), grad);
      g.set(grad);
      return f;
    },
    hvp(x: ArrayLike<number>, v: ArrayLike<number>, out: FloatArray, dtype: Dtype = 'float64'): void {
      const r = rounder(dtype);
      const xs = pointOf(problem, x, dtype);
      checkLength(problem, v, 'v');
      checkLength(problem, out, 'out');
      const h = math.hessian(xs, r);
      if (math.dim === 1) {
        out[0] = r(h[0]! * r(v[0]!));
        return;
      }
      const [h00, h01, h11] = h as [number, number, number];
      const v0 = r(v[0]!), v1 = r(v[1]!);
      out[0] = r(r(h00 * v0) + r(h01 * v1));
      out[1] = r(r(h01 * v0) + r(h11 * v1));
    },
    hessian(x: ArrayLike<number>): Float64Array {
      const h = math.hessian(pointOf(problem, x, 'float64'), (v) => v);
      return math.dim === 1 ? Float64Array.of(h[0]!) : Float64Array.of(h[0]!, h[1]!, h[1]!, h[2]!);
    },
    gpu(engine: Engine): GpuObjective {
      return {
        n: math.dim,
        valueGrad: ({ x, g, f }) => singleDispatch(engine, valueKernels[math.name], { x, g, fout: f.buffer }, { f_index: f.index }),
        hvp: ({ x, v, out }) => singleDispatch(engine, hvpKernels[math.name], { x, v, hv: out }),
      };
    },
  };
  return problem;
}
