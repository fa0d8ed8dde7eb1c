/**
 * `wgtrain minimize` and function-spec `wgtrain trace` in-process: text and JSON output, the torch fixture through the
 * CLI, argument errors (exit 2, the flag named), and a stall (exit 1, the reason on stderr).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli.js';
import type { CliIO } from '../src/cli/args.js';

async function run(argv: string[]) {
  const io = { out: '', err: '', stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t), stdoutIsTTY: false, stderrIsTTY: false } satisfies CliIO & { out: string; err: string };
  const code = await main(argv, io);
  return { code, out: io.out, err: io.err };
}

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-minimize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('wgtrain minimize', () => {
  it('prints one line per step and the result; --json gives the trajectory', async () => {
    const text = await run(['minimize', '--function', 'rosenbrock2d', '--method', 'lbfgs', '--start', '-1.2,1', '--line-search-fn', 'strong_wolfe', '--history-size', '10']);
    expect(text.code, text.err).toBe(0);
    expect(text.out).toMatch(/^LBFGS on rosenbrock2d \(f\(x, y\) = \(1 − x\)² \+ 100·\(y − x²\)²\), cpu float64\n\s+step\s+f\s+max\|∇f\|\s+evals\s+x\n\s+0\s+24\.20000\s+215\.6000\s+\d+\s+-1\.200000, 1\.000000\n/);
    expect(text.out).toMatch(/converged \(.*\) after \d+ steps, \d+ evaluations\nx = \[0\.99999\d*, 0\.9999\d*\]/);
    const json = await run(['minimize', '--function', 'bowl', '--method', 'Newton', '--json']);
    expect(json.code).toBe(0);
    const r = JSON.parse(json.out);
    expect(r).toMatchObject({ method: 'Newton', problem: 'bowl', converged: true, device: 'cpu', dtype: 'float64' });
    expect(r.history[0]).toMatchObject({ step: 0, x: [3, -2], f: 7, gradMax: 4 });
    expect(Math.max(...r.x.map(Math.abs))).toBeLessThan(1e-6);
  });

  it('first-order optimizers and their hyperparameter flags: the quartic with momentum reaches the global minimum', async () => {
    const r = await run(['minimize', '--function', 'quartic', '--method', 'sgd', '--lr', '0.15', '--momentum', '0.9', '--start', '-5', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).x[0]).toBeCloseTo(3.2728, 3);
    const gd = await run(['minimize', '--function', 'quartic', '--method', 'SGD', '--lr', '0.15', '--start', '-5', '--json']);
    expect(JSON.parse(gd.out).x[0]).toBeCloseTo(-3.255, 3);
  });

  it('on the GPU', async () => {
    const r = await run(['minimize', '--function', 'bowl', '--method', 'NonlinearCG', '--device', 'gpu', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ device: 'gpu', dtype: 'float32', converged: true });
  });

  it('argument errors exit 2 and name the flag', async () => {
    const cases: [string[], string][] = [
      [['minimize', '--method', 'LBFGS'], '--function is required'],
      [['minimize', '--function', 'bowl'], '--method is required'],
      [['minimize', '--function', 'bowl', '--method', 'BFGS'], '--method "BFGS" is not one of LBFGS, NonlinearCG, Newton'],
      [['minimize', '--function', 'rosenbrock3d', '--method', 'LBFGS'], '--function: problem.name: unknown problem "rosenbrock3d"'],
      [['minimize', '--function', 'rosenbrock2d', '--method', 'LBFGS', '--start', '1,2,3'], '--start has 3 coordinates but rosenbrock2d is 2-dimensional'],
      [['minimize', '--function', 'rosenbrock2d', '--method', 'LBFGS', '--start', '1,x'], '--start "1,x": coordinate 2 ("x") is not a number'],
      [['minimize', '--function', 'bowl', '--method', 'LBFGS', '--momentum', '0.9'], '--momentum: LBFGS has no hyperparameter momentum'],
      [['minimize', '--function', 'bowl', '--method', 'LBFGS', '--line-search-fn', 'wolfe'], '--line-search-fn must be one of strong_wolfe, none'],
      [['minimize', '--function', 'bowl', '--method', 'LBFGS', '--hyperparams', '{'], '--hyperparams is not JSON'],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain(msg);
    }
    const hist = await run(['minimize', '--function', 'bowl', '--method', 'LBFGS', '--history-size', '0']);
    expect(hist).toMatchObject({ code: 1 });
    expect(hist.err).toContain('history_size must be at least 1');
  });

  it('a stall exits 1 with the reason', async () => {
    const r = await run(['minimize', '--function', 'rosenbrock2d', '--method', 'LBFGS', '--start', '-1.5,2.5', '--dtype', 'float32', '--steps', '3000']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/wgtrain minimize: stalled: the LBFGS direction is not a descent direction/);
  });
});

describe('wgtrain trace with a function spec', () => {
  it('runs a torch fixture and reproduces it (float64)', async () => {
    const fixture = join(import.meta.dirname, 'fixtures', 'torch_functions', 'lbfgs_wolfe_rosenbrock_0.json');
    const out = join(dir, 'out.json');
    const r = await run(['trace', '--spec', fixture, '--out', out]);
    expect(r.code, r.err).toBe(0);
    const got = JSON.parse(readFileSync(out, 'utf8'));
    const fx = JSON.parse(readFileSync(fixture, 'utf8'));
    expect(got.params_after_each_step).toEqual(fx.torch.float64.params_after_each_step);
    expect(got.loss_returned_by_each_step).toEqual(fx.torch.float64.loss_returned_by_each_step);
    expect(got.evals_per_step).toEqual(fx.torch.float64.evals_per_step);
    expect(got).toMatchObject({ optimizer: 'LBFGS', dtype: 'float64', device: 'cpu', final_state: fx.torch.float64.final_state });
  });

  it('errors name the field', async () => {
    const spec = join(dir, 'bad.json');
    writeFileSync(spec, JSON.stringify({ kind: 'function', optimizer: 'LBFGS', x0: [1], problem: { name: 'rosenbrock2d' } }));
    const r = await run(['trace', '--spec', spec]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('x0 has 1 numbers but rosenbrock2d is 2-dimensional');
  });
});
