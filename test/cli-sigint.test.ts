/**
 * Ctrl-C during `wgtrain train --save`, on the real command in a child process:
 * - SIGINT once training has started: the run stops after the current step, records the partial epoch, writes the
 *   checkpoint, prints the test result and exits 130; the checkpoint loads and holds the step the run reached;
 * - a second SIGINT (after the first was taken) quits at once with 130, and the checkpoint on disk still loads (saves
 *   are atomic), holding the interrupted run or a later complete save.
 * The signal is sent when the log says the run starts: the child handles it at its first yield to the event loop,
 * which the trainer takes only after 50 ms of steps, so at least one step is always done. CPU, a tiny model: seconds.
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
 * Runs `wgtrain train ...args`, sends SIGINT once stderr matches `start`, and, with `twice`, a second one once the
 * first was taken ("interrupted: ..."); resolves at the exit.
 */
function interrupt(args: string[], start: RegExp, twice: boolean): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, 'train', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let sent = 0;
  child.stdout.on('data', (d: Buffer) => void (out += d));
  child.stderr.on('data', (d: Buffer) => {
    err += d;
    if (sent === 0 && start.test(err)) sent = Number(child.kill('SIGINT'));
    if (twice && sent === 1 && err.includes('interrupted: stopping after this step')) sent += Number(child.kill('SIGINT'));
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
});
