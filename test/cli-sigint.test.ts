/**
 * Ctrl-C during `wgtrain train --save`, on the real command in a child process:
 * - SIGINT once training has started: the run stops after the current step, records the partial epoch, writes the
 *   checkpoint, prints the test result and exits 130; the checkpoint loads and holds the step the run reached;
 * - a second SIGINT (after the first was taken) quits at once with 130, and the checkpoint on disk still loads (saves
 *   are atomic), holding the interrupted run or a later complete save.
 * - SIGINT inside a full-batch L-BFGS step (one long step: up to 10⁶ iterations): the run stops at the next iteration
 *   boundary, records the partial epoch (stop 'interrupted'), writes a checkpoint holding the point after the last
 *   completed iteration and the step's counters, and exits 130; --resume with --steps finishes 3 more iterations of
 *   that step, starting from the loss where it was cut (the same number: nothing recomputed differently) and lowering it.
 * The signal is sent when the log says the run starts: the child handles it at its first yield to the event loop,
 * which the trainer takes only after 50 ms of steps, so at least one step is always done (the full-batch run: after a
 * delay, so that the step has usually made some iterations; the test holds for any number of them, 0 included).
 * CPU, a tiny model: seconds.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrainingCheckpoint } from '../src/train/checkpoint-file.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-sigint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLI = resolve('dist/cli.js');
// The command as users run it, built from this checkout (npm test builds it too; a single-file run needs it fresh).
beforeAll(() => void execFileSync(process.execPath, ['build.mjs', '--only', 'cli'], { stdio: 'ignore' }));

/**
 * Runs `wgtrain <command> ...args`, sends SIGINT once stderr (or, with `watch` 'stdout', stdout) matches `start`, and,
 * with `twice`, a second one once the first was taken ("interrupted: ..."); resolves at the exit.
 */
function interrupt(args: string[], start: RegExp, twice: boolean, delayMs = 0, command = 'train', watch: 'stderr' | 'stdout' = 'stderr'): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, command, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sent = 0;
  const maybeSend = () => {
    if (sent === 0 && start.test(watch === 'stdout' ? out : err)) {
      sent = 0.5;
      setTimeout(() => void (sent = Number(child.kill('SIGINT'))), delayMs);
    }
    if (twice && sent === 1 && err.includes('interrupted: stopping after this step')) sent += Number(child.kill('SIGINT'));
  };
  child.stdout.on('data', (d: Buffer) => {
    out += d;
    maybeSend();
  });
  child.stderr.on('data', (d: Buffer) => {
    err += d;
    maybeSend();
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`no exit within 60 s (SIGINTs sent: ${sent})\n${err}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, out, err });
    });
  });
}

describe('Ctrl-C during train --save', () => {
  it('stops after the current step, saves a checkpoint that loads and exits 130; a second Ctrl-C quits at once', async () => {
    const save = join(dir, 'run.safetensors');
    // Epochs of 60 steps (1,000 examples each): the first epoch is still running when the signal comes.
    const args = ['--device', 'cpu', '--model', '784-8-10', '--batch', '1000', '--validation', '0', '--epochs', '1000', '--save', save, '--json'];
    const r = await interrupt(args, /^model 784-8-10 /m, false);
    expect(r.code, r.err).toBe(130);
    expect(r.err).toContain('interrupted: stopping after this step');
    expect(r.err).toMatch(/test loss [\d.]+ {2}accuracy/);
    const [epoch, summary] = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(epoch).toMatchObject({ epoch: 1, partial: true });
    expect(summary).toMatchObject({ diverged: false });
    expect(summary.steps).toBeGreaterThanOrEqual(1);
    expect(summary.steps).toBe(epoch.steps);
    const saved = /checkpoint: .*run\.safetensors \(step (\d+)\)/.exec(r.err);
    expect(Number(saved?.[1]), r.err).toBe(summary.steps);
    const s = await loadTrainingCheckpoint(save);
    expect(s.position).toEqual({ step: summary.steps, epoch: 0, batch: summary.steps });
    expect(s.history).toHaveLength(1);
    expect(s.history[0]!.trainLoss).toBe(epoch.trainLoss);

    // Resumed into the same file, then Ctrl-C twice: the second exits at once (or the first's save won the race).
    const again = await interrupt(['--device', 'cpu', '--resume', save, '--epochs', '1000', '--save', save, '--json'], /^resumed from /m, true);
    expect(again.code, again.err).toBe(130);
    const after = await loadTrainingCheckpoint(save);
    expect(after.position.step).toBeGreaterThanOrEqual(s.position.step);
  });

  it('inside a full-batch L-BFGS step: stops at the next iteration, saves the point reached, exits 130; --resume finishes the step', async () => {
    const save = join(dir, 'lbfgs.safetensors');
    const args = [
      '--device', 'cpu', '--model', '784-10', '--optimizer', 'lbfgs', '--line-search-fn', 'strong_wolfe', '--max-iter', '1000000', '--tolerance-grad', '0',
      '--tolerance-change', '0', '--train-examples', '2000', '--chunk', '250', '--validation', '0', '--epochs', '1', '--save', save, '--json',
    ];
    const r = await interrupt(args, /^model 784-10 .*LBFGS/m, false, 1000);
    expect(r.code, r.err).toBe(130);
    expect(r.err).toContain('interrupted: stopping after this LBFGS iteration');
    const [epoch, summary] = r.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(epoch).toMatchObject({ epoch: 1, partial: true, stop: 'interrupted' });
    expect(summary).toMatchObject({ diverged: false, stop: 'interrupted', iterations: epoch.steps, trainLoss: epoch.lossAfter });
    const s = await loadTrainingCheckpoint(save);
    expect(s.position).toEqual({ step: epoch.steps, epoch: 0, batch: epoch.steps });
    expect(s.method!.scalars).toMatchObject({ step_iter: epoch.steps, step_evals: epoch.evals });
    expect(s.history).toEqual([expect.objectContaining({ partial: true, lossAfter: epoch.lossAfter })]);

    const steps = String(epoch.steps + 3);
    const resumed = await interrupt(['--device', 'cpu', '--resume', save, '--steps', steps, '--json'], /^$never/, false);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain(epoch.steps > 0 ? `(iteration ${epoch.steps} of its step), step ${epoch.steps}` : 'epoch 0, step 0');
    const [rest] = resumed.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(rest).toMatchObject({ epoch: 1, steps: 3, totalSteps: epoch.steps + 3, partial: true, stop: 'steps', trainLoss: epoch.lossAfter });
    expect(rest.lossAfter).toBeLessThan(rest.trainLoss);
  });
});

describe('Ctrl-C during minimize', () => {
  it('stops at the next iteration, prints the point reached and exits 130', async () => {
    // SGD with a tiny lr on Rosenbrock's valley: far more steps than run before the signal (CPU, float64).
    const r = await interrupt(['--function', 'rosenbrock2d', '--method', 'SGD', '--lr', '1e-7', '--steps', '100000000', '--every', '1000'],
      /^ +2000 /m, false, 0, 'minimize', 'stdout');
    expect(r.code, r.err).toBe(130);
    expect(r.err).toContain('wgtrain minimize: interrupted: stopping after this iteration');
    const m = /^aborted after (\d+) steps, (\d+) evaluations\nx = \[(.*)\]  f = (\S+)/m.exec(r.out);
    expect(m, r.out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(2000);
    expect(Number(m![1])).toBeLessThan(1e8);
    expect(m![3]!.split(', ').map(Number).every(Number.isFinite)).toBe(true);
  });
});
