/**
 * `wgtrain trace` on the CPU against real torch.optim (fixtures from scripts/torch_traces.py, torch 1.13; NAdam via
 * foreach=True, the torch >= 2.0 formula).
 *
 * Tolerances: float32 1e-5 relative, float64 1e-10 relative, measured against the distance each element has moved
 * from x0 (the size of what the optimizer did), both normwise per step and per element. Per element we also allow
 * two units in the last place of the stored parameter: an element that barely moves is dominated by the rounding of
 * x0 + update to the storage precision, which both sides do independently.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Engine } from '../src/gpu/index.js';
import { createEngine } from '../src/gpu/node.js';
import { runTrace } from '../src/cli/trace.js';

const DIR = join(import.meta.dirname, 'fixtures', 'torch');
const files = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

interface TorchRun { params_after_each_step: number[][]; final_state: Record<string, number[]> }
interface Fixture { name: string; optimizer: string; x0: number[]; grads: number[][]; torch: Record<'float32' | 'float64', TorchRun> }

const TOL = { float32: { rtol: 1e-5, ulp: 2 ** -23 }, float64: { rtol: 1e-10, ulp: 2 ** -52 } } as const;

/** Returns the first mismatches (empty when all match); NaN never matches. */
export function compareTrace(
  got: number[][], ref: number[][], x0: number[], dtype: 'float32' | 'float64',
): string[] {
  const { rtol, ulp } = TOL[dtype];
  const bad: string[] = [];
  if (got.length !== ref.length) return [`got ${got.length} steps, torch has ${ref.length}`];
  for (let k = 0; k < ref.length; k++) {
    let errSq = 0, moveSq = 0;
    for (let i = 0; i < x0.length; i++) {
      const r = ref[k]![i]!, g = got[k]![i]!;
      const moved = Math.abs(r - x0[i]!);
      errSq += (g - r) ** 2;
      moveSq += moved ** 2;
      const ok = Math.abs(g - r) <= rtol * moved + 2 * ulp * Math.abs(r);
      if (!ok && bad.length < 8) bad.push(`step ${k + 1} [${i}]: got ${g}, torch ${r}, moved ${moved}, x0 ${x0[i]}`);
    }
    const normOk = Math.sqrt(errSq) <= rtol * Math.sqrt(moveSq) + 2 * ulp * Math.sqrt(ref[k]!.reduce((s, v) => s + v * v, 0));
    if (!normOk && bad.length < 8) bad.push(`step ${k + 1}: normwise error ${Math.sqrt(errSq)} vs moved ${Math.sqrt(moveSq)}`);
  }
  return bad;
}

describe('trace on CPU matches torch.optim', () => {
  it('has fixtures for every optimizer', () => {
    const names = new Set(files.map((f) => (JSON.parse(readFileSync(join(DIR, f), 'utf8')) as Fixture).optimizer));
    expect([...names].sort()).toEqual(
      ['ASGD', 'Adadelta', 'Adagrad', 'Adam', 'AdamW', 'Adamax', 'NAdam', 'RAdam', 'RMSprop', 'Rprop', 'SGD'],
    );
  });

  for (const file of files) {
    for (const dtype of ['float32', 'float64'] as const) {
      it(`${file.replace('.json', '')} ${dtype}`, async () => {
        const fx = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
        const out = await runTrace({ ...fx, dtype }, { device: 'cpu' });
        // float32 results are stored in their shortest float32 spelling: read them back as float32.
        const r = dtype === 'float32' ? Math.fround : (x: number) => x;
        const raw = fx.torch[dtype];
        const ref = {
          params_after_each_step: raw.params_after_each_step.map((row) => row.map(r)),
          final_state: Object.fromEntries(Object.entries(raw.final_state).map(([k, v]) => [k, v.map(r)])),
        };
        const bad = compareTrace(out.params_after_each_step, ref.params_after_each_step, fx.x0, dtype);
        expect(bad, bad.join('\n')).toEqual([]);
        // Final state: every state name torch has must be ours too, with the same numbers.
        const { rtol } = TOL[dtype];
        for (const [name, vals] of Object.entries(ref.final_state)) {
          const mine = out.final_state[name];
          expect(mine, `state ${name} missing`).toBeDefined();
          expect(mine!.length).toBe(vals.length);
          const sbad: string[] = [];
          vals.forEach((want, i) => {
            const g = mine![i]!;
            if (!(Math.abs(g - want) <= rtol * Math.abs(want) + 1e-30) && sbad.length < 5) sbad.push(`${name}[${i}]: got ${g}, torch ${want}`);
          });
          expect(sbad, sbad.join('\n')).toEqual([]);
        }
      });
    }
  }
});

/**
 * The same torch traces through the fused GPU update (`runTrace(spec, {device: 'gpu'})`), float32 only.
 * GPU arithmetic rounds differently from torch's CPU kernels (WGSL sqrt/division are not correctly rounded and
 * SwiftShader's fma is unfused), so a per-step difference of ~1e-6 relative carries into later steps. The per-element
 * scale is therefore the path each element travelled in torch's run, L_k = Σ_{j≤k} |x_j − x_{j−1}| (the sum of step
 * sizes, what rounding errors grow with), not the net distance from x0, which can be far smaller when steps cancel.
 */
describe('trace on the GPU matches torch.optim (float32)', () => {
  let engine: Engine | undefined;
  afterAll(() => engine?.destroy());

  for (const file of files) {
    it(`${file.replace('.json', '')} gpu`, async () => {
      engine ??= await createEngine({ log: false });
      const fx = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as Fixture;
      const out = await runTrace({ ...fx, dtype: 'float32' }, { device: 'gpu', engine });
      expect(out.device).toBe('gpu');
      const ref = fx.torch.float32.params_after_each_step.map((row) => row.map(Math.fround));
      const path = new Float64Array(fx.x0.length);
      const bad: string[] = [];
      ref.forEach((row, k) => {
        const prev = k ? ref[k - 1]! : fx.x0;
        let errSq = 0, pathSq = 0;
        row.forEach((r, i) => {
          path[i]! += Math.abs(r - prev[i]!);
          const g = out.params_after_each_step[k]![i]!;
          errSq += (g - r) ** 2;
          pathSq += path[i]! ** 2;
          const tol = 1e-5 * path[i]! + 4 * (k + 1) * 2 ** -24 * Math.abs(r);
          if (!(Math.abs(g - r) <= tol) && bad.length < 8) bad.push(`step ${k + 1} [${i}]: gpu ${g}, torch ${r}, path ${path[i]}`);
        });
        if (!(Math.sqrt(errSq) <= 1e-5 * Math.sqrt(pathSq) + 4 * (k + 1) * 2 ** -24 * Math.hypot(...row)) && bad.length < 8) {
          bad.push(`step ${k + 1}: normwise error ${Math.sqrt(errSq)} vs path ${Math.sqrt(pathSq)}`);
        }
      });
      expect(bad, bad.join('\n')).toEqual([]);
      expect(out.final_state.step).toEqual(fx.torch.float32.final_state.step ?? [fx.grads.length]);
    });
  }
});
