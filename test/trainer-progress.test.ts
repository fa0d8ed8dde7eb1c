import { describe, expect, it } from 'vitest';
import { formatDuration, formatEpoch, formatIteration, Progress } from '../src/train/progress.js';
import type { EpochRecord, IterationRecord, StepRecord } from '../src/train/trainer.js';

const record: EpochRecord = {
  epoch: 2, steps: 430, totalSteps: 860, trainLoss: 0.07123, trainAccuracy: 0.97851, valLoss: 0.0801, valAccuracy: 0.976,
  lr: 0.001, seconds: 12.34, stepsPerSecond: 34.8, skipped: 0, improved: true,
};

const step = (s: number, batch: number): StepRecord => ({
  step: s, epoch: 1, batch, batches: 10, rows: 128, lr: 1e-3,
  metrics: { steps: 1, lastStep: s, lossSum: 64, correct: 96, rows: 128, skipped: 0, loss: 0.5, accuracy: 0.75, invalid: 0 },
});

describe('progress output', () => {
  it('formats durations and epoch lines', () => {
    expect(formatDuration(5)).toBe('0:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Infinity)).toBe('?');
    expect(formatEpoch(record, 5)).toBe(
      'epoch 2/5  steps 860  loss 0.0712  acc 97.85%  val_loss 0.0801  val_acc 97.60%  lr 0.00100  34.8 steps/s  12.3 s  *',
    );
    expect(formatEpoch({ ...record, valLoss: undefined, trainAccuracy: NaN, partial: true, skipped: 2, improved: false })).toMatch(
      /^epoch 2 \(partial\)  steps 860  loss 0\.0712  acc -  lr .* skipped 2$/,
    );
  });

  it('draws a bar in place on a TTY (throttled, always on an epoch\'s last batch) and only whole lines elsewhere', () => {
    let tty = '';
    const bar = new Progress({ write: (t) => void (tty += t), isTTY: true, columns: 200 }, { totalSteps: 20, totalEpochs: 2 });
    for (let i = 0; i < 10; i++) bar.step(step(i, i));
    expect(tty.startsWith('\r\x1b[2Kepoch 1/2 [##')).toBe(true);
    expect(tty).toContain('10/10');
    expect(tty).toMatch(/loss 0\.5000 {2}acc 75\.00% {2}\d+ steps\/s {2}ETA \d+:\d\d/);
    expect(tty.split('\r').length - 1).toBeLessThan(10);
    bar.epoch(record);
    expect(tty.endsWith('\r\x1b[2K' + formatEpoch(record, 2) + '\n')).toBe(true);

    let plain = '';
    const lines = new Progress({ write: (t) => void (plain += t), isTTY: false }, { totalSteps: 20 });
    for (let i = 0; i < 10; i++) lines.step(step(i, i));
    expect(plain).toBe('');
    lines.epoch(record);
    expect(plain).toBe(formatEpoch(record) + '\n');
  });

  it('prints a plain progress line now and then when not on a terminal', () => {
    let plain = '';
    const saved = Progress.PLAIN_EVERY_MS;
    Progress.PLAIN_EVERY_MS = 0;
    try {
      const lines = new Progress({ write: (t) => void (plain += t), isTTY: false }, { totalSteps: 20 });
      lines.step(step(3, 3));
    } finally {
      Progress.PLAIN_EVERY_MS = saved;
    }
    expect(plain).toMatch(/^ {2}step 4\/20 \(epoch 1, batch 4\/10\) {2}loss 0\.5000 {2}acc 75\.00% {2}[\d.]+ steps\/s {2}ETA \d+:\d\d\n$/);
  });

  it('inside a long full-batch step: a line once the step has run 5 s, then at most every 5 s by the clock (an injected one)', () => {
    expect(Progress.ITERATION_EVERY_MS).toBe(5_000);
    const it = (iteration: number, seconds: number): IterationRecord => ({
      epoch: 2, iteration, maxIter: 20, totalSteps: 20 + iteration, evals: iteration + 2, loss: 0.35512, gradMax: 1.2e-3, seconds,
    });
    expect(formatIteration(it(7, 12.34), 5)).toBe('epoch 2/5  iteration 7/20 (27)  evals 9  loss 0.3551  max|g| 1.20e-3  12.3 s');
    let clock = 0;
    let plain = '';
    const lines = new Progress({ write: (t) => void (plain += t), isTTY: false }, { totalSteps: 0, totalEpochs: 5, now: () => clock });
    // A fast step prints nothing however long ago the last line was.
    clock = 60_000;
    lines.iteration(it(1, 4.99));
    expect(plain).toBe('');
    // Long enough: a line; the next ones only 5 s later by the clock, whatever the records say.
    lines.iteration(it(2, 5));
    clock += 4_999;
    lines.iteration(it(3, 9.9));
    clock += 1;
    lines.iteration(it(4, 10));
    clock += 100;
    lines.iteration(it(5, 10.1));
    expect(plain).toBe(`${formatIteration(it(2, 5), 5)}\n${formatIteration(it(4, 10), 5)}\n`);

    // On a TTY the line is redrawn in place and cleared before the epoch's line.
    let tty = '';
    clock = 0;
    const bar = new Progress({ write: (t) => void (tty += t), isTTY: true, columns: 200 }, { totalSteps: 0, totalEpochs: 5, now: () => clock });
    bar.iteration(it(3, 6));
    expect(tty).toBe(`\r\x1b[2K${formatIteration(it(3, 6), 5)}`);
    bar.epoch({ ...record, evals: 9, lossAfter: 0.3, gradMax: 1e-3, stop: 'interrupted', partial: true });
    expect(tty).toMatch(/\r\x1b\[2Kepoch 2\/5 \(partial\) {2}iterations 430 \(860\) {2}evals 9 .* stop interrupted  \*\n$/);
  });
});
