/**
 * The `wgtrain` command in-process (main() with captured output): dispatch, argument errors, and a short CPU
 * training run whose --json output is one record per epoch and a summary line; its checkpoint feeds
 * `wgtrain evaluate` and `--resume`, and a corrupted checkpoint is refused with the file named.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { VERSION } from '../src/cli.js';
import { runCli as run } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A small model and 10 steps (batch 128) keep the run to seconds on the CPU reference.
const SMALL = ['--device', 'cpu', '--model', '784-16-10', '--validation', '500', '--batch', '128'];

describe('wgtrain dispatch and arguments', () => {
  it('--version, --help, unknown commands', async () => {
    expect(await run(['--version'])).toEqual({ code: 0, out: `wgtrain ${VERSION}\n`, err: '' });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/train .*\n.*evaluate .*\n.*trace .*\n.*selftest/);
    const bad = await run(['fly']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown command "fly"; commands: train, evaluate, trace, selftest');
    expect((await run([])).code).toBe(2);
  });

  it('argument errors exit 2 and name the flag', async () => {
    const unknown = await run(['train', '--epoch', '3']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown flag --epoch (did you mean --epochs?); valid flags: --model, --optimizer');
    const both = await run(['train', '--epochs', '1', '--steps', '5']);
    expect(both).toMatchObject({ code: 2, err: 'wgtrain train: give --epochs or --steps, not both\n' });
    const opt = await run(['train', '--optimizer', 'adamm']);
    expect(opt.code).toBe(2);
    expect(opt.err).toContain('--optimizer "adamm" is not one of SGD, Adagrad, RMSprop, Adadelta, Adam, AdamW');
    expect((await run(['train', '--clip', 'norm=-1'])).err).toContain('--clip "norm=-1": write norm=X and/or value=Y');
    expect((await run(['train', '--model', '784-x-10'])).err).toContain("--model: model spec '784-x-10'");
    expect((await run(['train', '--device', 'tpu'])).err).toContain('--device must be one of gpu, cpu, got "tpu"');
    expect((await run(['train', '--early-stopping', 'patiense=2'])).err).toContain('--early-stopping: early stopping: unknown field "patiense"');
    expect((await run(['evaluate'])).err).toContain('--checkpoint FILE is required');
    expect((await run(['train', '--resume', 'x.ckpt', '--lr', '0.1'])).err).toContain('--lr cannot be changed with --resume');
  });
});

describe('wgtrain train: CNNs', () => {
  it('a conv layer list without an input shape reads MNIST as 1x28x28 and trains (CPU); --model cnn names the preset', async () => {
    const r = await run(['train', '--device', 'cpu', '--model', 'conv(2,5,stride=3)-relu-flatten-dense(10)', '--steps', '3', '--batch', '32', '--validation', '100', '--json']);
    expect(r.err).not.toMatch(/wgtrain train: /);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/model 1x28x28-2x8x8-128-10 relu \(softmax_ce\)/);
    const summary = JSON.parse(r.out.trimEnd().split('\n').pop()!);
    expect(summary).toMatchObject({ steps: 3, adapter: 'cpu float32' });
    // The preset's recipe fills what the flags leave out; a flag given wins (here the optimizer, and a bad one fails
    // before any data is read).
    const bad = await run(['train', '--model', 'cnn', '--optimizer', 'adamm']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--optimizer "adamm" is not one of');
    const help = await run(['train', '--help']);
    expect(help.out).toMatch(/Built-in models \(--model NAME.*\n  mlp .*\n  cnn   two blocks of two 3×3 convolutions/);
    expect(help.out).toContain('conv(F,K[,stride=S][,pad=P][,dilation=D])');
  });
});

describe('wgtrain train --json (CPU)', () => {
  const ckpt = join(dir, 'small.safetensors');
  let first: { code: number; out: string; err: string };

  it('prints one JSON record per epoch and a summary line last; logs go to stderr', async () => {
    first = await run(['train', ...SMALL, '--steps', '6', '--optimizer', 'ADAM', '--lr', '3e-3', '--save', ckpt, '--json']);
    expect(first.err).not.toMatch(/wgtrain train: /);
    expect(first.code).toBe(0);
    const lines = first.out.trimEnd().split('\n');
    const records = lines.map((l) => JSON.parse(l));
    // 55000 - 500 = 59500 training examples / 128 = 465 batches: 6 steps is one partial epoch.
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({ epoch: 1, steps: 6, totalSteps: 6, partial: true, skipped: 0 });
    for (const k of ['trainLoss', 'trainAccuracy', 'valLoss', 'valAccuracy', 'lr', 'seconds', 'stepsPerSecond']) {
      expect(typeof records[0][k]).toBe('number');
    }
    const summary = records[1];
    expect(Object.keys(summary)).toEqual(['testAccuracy', 'testLoss', 'steps', 'seconds', 'stepsPerSecond', 'adapter', 'skipped', 'diverged']);
    expect(summary).toMatchObject({ skipped: 0, diverged: false });
    expect(summary.steps).toBe(6);
    expect(summary.adapter).toBe('cpu float32');
    expect(summary.testAccuracy).toBeGreaterThan(0.2);
    expect(first.err).toMatch(/data: MNIST 59500 train \/ 500 validation \/ 10000 test/);
    expect(first.err).toMatch(/test loss \d\.\d{4}  accuracy \d+\.\d\d%/);
  });

  it('evaluate --checkpoint reproduces the final test numbers; --resume continues the step count', async () => {
    const summary = JSON.parse(first.out.trimEnd().split('\n').pop()!);
    const ev = await run(['evaluate', '--checkpoint', ckpt, '--device', 'cpu', '--json']);
    expect(ev.code).toBe(0);
    const r = JSON.parse(ev.out);
    expect(r).toMatchObject({ split: 'test', count: 10000, step: 6, epoch: 0 });
    expect(r.accuracy).toBe(summary.testAccuracy);
    expect(r.loss).toBe(summary.testLoss);

    const more = await run(['train', '--device', 'cpu', '--validation', '500', '--resume', ckpt, '--steps', '9', '--json']);
    expect(more.code).toBe(0);
    const recs = more.out.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(recs[0]).toMatchObject({ epoch: 1, steps: 3, totalSteps: 9, partial: true });
    expect(recs[1].steps).toBe(3);
    expect(more.err).toContain('resumed from');

    // Without --device the run continues where it was written: the CPU runner, in the checkpoint's dtype.
    const here = await run(['train', '--validation', '500', '--resume', ckpt, '--steps', '8', '--json']);
    expect(here.err).toContain(`resuming on the CPU runner (float32), where ${ckpt} was written; --device gpu to move it`);
    expect(here.code).toBe(0);
    expect(JSON.parse(here.out.trimEnd().split('\n').pop()!)).toMatchObject({ steps: 2, adapter: 'cpu float32' });
  });

  it('refuses a corrupted checkpoint, naming the file', async () => {
    const bytes = readFileSync(ckpt);
    bytes[bytes.length - 3]! ^= 0xff;
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, bytes);
    const ev = await run(['evaluate', '--checkpoint', bad, '--device', 'cpu']);
    expect(ev.code).toBe(1);
    expect(ev.err).toMatch(/^wgtrain evaluate: .*bad\.safetensors: checksum mismatch in tensor '[^']+' \(stored crc32 [0-9a-f]+, computed [0-9a-f]+\): its data is corrupted\.\n$/);
  });
});
