/**
 * The benchmark scripts run end to end, at toy sizes, with the flags `scripts/device-check.sh` gives them on a real
 * GPU. Time on the GPU machine is minutes a session; a script that reaches into a renamed field or passes a plain
 * array where Dawn wants a typed one (both happened) must fail here, not there. Nothing is timed or compared: each
 * script must exit 0 and write every row it promises.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// The bench scripts import dist/index.js, as on the GPU machine.
beforeAll(() => void execFileSync(process.execPath, ['build.mjs', '--only', 'node'], { stdio: 'ignore' }));

function run(args: string[], timeout = 150_000): string {
  return execFileSync(process.execPath, args, { encoding: 'utf8', timeout, stdio: ['ignore', 'pipe', 'pipe'] });
}

interface StepRow {
  config: string;
  framework: string;
  msPerStep: number;
  breakdown?: { op: string; ms: number }[];
}

describe('bench scripts at toy sizes', () => {
  it('step.mjs: every framework, an MLP and the CNN, with the per-op breakdown and a CPU profile', () => {
    const json = join(dir, 'step.json');
    const prof = join(dir, 'prof');
    run(['--cpu-prof', `--cpu-prof-dir=${prof}`, 'bench/step.mjs', '--configs', '784-16-10@8,cnn@1', '--frameworks', 'wgtrain,wgtrain-noguard,tfjs,jax',
      '--repeats', '1', '--target-ms', '1', '--warmup', '1', '--examples', '32', '--breakdown', '--json', json], 240_000);
    const rows = (JSON.parse(readFileSync(json, 'utf8')) as { results: StepRow[] }).results;
    expect(rows.map((r) => `${r.config} ${r.framework}`)).toEqual([
      '784-16-10@8 wgtrain', '784-16-10@8 wgtrain-noguard', '784-16-10@8 tfjs', '784-16-10@8 jax',
      'cnn@1 wgtrain', 'cnn@1 wgtrain-noguard', 'cnn@1 tfjs', 'cnn@1 jax',
    ]);
    for (const r of rows) expect(r.msPerStep, `${r.config} ${r.framework}`).toBeGreaterThan(0);
    for (const r of rows.filter((x) => x.framework === 'wgtrain')) {
      const ops = r.breakdown!.map((b) => b.op);
      // Each op of the step, the optimizer's dispatches apart and together, and the bandwidth reference.
      expect(ops.filter((o) => o.startsWith('forward ')).length, r.config).toBeGreaterThan(1);
      expect(ops.some((o) => o.startsWith('backward ') && o.includes('['))).toBe(true); // a matmul names its variant
      expect(ops).toContain('optimizer all dispatches');
      expect(ops.some((o) => /^optimizer Adam update \(\d+ workgroups\)$/.test(o))).toBe(true);
      expect(ops.some((o) => o.startsWith('optimizer gradient statistics'))).toBe(true); // the guard's
      expect(ops.some((o) => o.startsWith('reference: copy'))).toBe(true);
      for (const b of r.breakdown!) expect(b.ms, b.op).toBeGreaterThanOrEqual(0);
    }
    const profiles = readdirSync(prof);
    expect(profiles.length).toBe(1);
    expect(run(['bench/profile-top.mjs', prof, '--top', '5'])).toMatch(/%/);
  });

  it('host-step.mjs: the host time of runner.step() per config', () => {
    const json = join(dir, 'host-step.json');
    run(['bench/host-step.mjs', '--configs', '784-16-10@8', '--seconds', '0', '--examples', '32', '--json', json]);
    const rows = (JSON.parse(readFileSync(json, 'utf8')) as { results: { config: string; steps: number; hostUsMedian: number }[] }).results;
    expect(rows.map((r) => r.config)).toEqual(['784-16-10@8']);
    expect(rows[0]!.steps).toBeGreaterThanOrEqual(10);
    expect(rows[0]!.hostUsMedian).toBeGreaterThan(0);
  });

  it('kernels.mjs and matmul-sweep.mjs: fixed variants, TF.js and jax-js, and the tuner\'s timing, at an awkward shape', () => {
    const json = join(dir, 'kernels.json');
    run(['bench/kernels.mjs', '--shapes', '19x23x29', '--impls', 'tiled,tiled8,tfjs,jax', '--repeats', '1', '--target-ms', '1', '--json', json]);
    const k = JSON.parse(readFileSync(json, 'utf8')) as { results: unknown[] };
    expect(k.results.length).toBeGreaterThanOrEqual(4);
    const sweep = join(dir, 'sweep.json');
    run(['bench/matmul-sweep.mjs', '--shapes', '19x23x29', '--top', '2', '--max-candidates', '3', '--json', sweep]);
    expect(readFileSync(sweep, 'utf8')).toContain('19x23x29');
  });

  it('conv.mjs: each op of the CNN preset\'s convolutions, the direct convolution, TF.js, and BatchNorm2d in both forms', () => {
    const json = join(dir, 'conv.json');
    run(['bench/conv.mjs', '--batch', '1', '--repeats', '1', '--target-ms', '1', '--json', json]);
    const rows = (JSON.parse(readFileSync(json, 'utf8')) as { rows: { impl: string }[] }).rows;
    expect(rows.length).toBeGreaterThan(0);
    // Per layer: forward and backward, single (the default on software adapters) and split.
    for (const form of [/\(single, default here\)/, /\(split \d+×\d+\)/]) {
      expect(rows.filter((r) => /^wgtrain bn2d(\+relu forward| backward) /.test(r.impl) && form.test(r.impl)).length, String(form)).toBe(8);
    }
  });

  it('the GPU machine\'s script parses, and the Python benchmarks compile', () => {
    execFileSync('bash', ['-n', 'scripts/device-check.sh']);
    execFileSync('python3', ['-m', 'py_compile', 'bench/torch_step.py', 'scripts/torch_cnn.py'], { env: { ...process.env, PYTHONPYCACHEPREFIX: dir } });
  });
});
