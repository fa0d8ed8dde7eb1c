import { describe, expect, it } from 'vitest';
import { formatDuration, formatEpoch, Progress } from '../src/train/progress.js';
import type { EpochRecord, StepRecord } from '../src/train/trainer.js';

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
});
