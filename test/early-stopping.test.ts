import { describe, expect, it } from 'vitest';
import { EarlyStopping, parseEarlyStopping } from '../src/train/early-stopping.js';

/** Feeds a metric sequence; returns the 1-based epoch that stopped the run (0: never) and the final object. */
function run(values: number[], options: ConstructorParameters<typeof EarlyStopping>[0]) {
  const es = new EarlyStopping(options);
  for (let i = 0; i < values.length; i++) {
    if (es.update(values[i]!, i + 1).stop) return { stoppedAt: i + 1, es };
  }
  return { stoppedAt: 0, es };
}

describe('EarlyStopping', () => {
  it('stops after `patience` epochs without improvement (min mode) and remembers the best epoch', () => {
    const { stoppedAt, es } = run([1.0, 0.8, 0.7, 0.72, 0.71, 0.75, 0.6], { monitor: 'val_loss', patience: 3 });
    expect(stoppedAt).toBe(6);
    expect(es.best).toBe(0.7);
    expect(es.bestEpoch).toBe(3);
    expect(es.stoppedEpoch).toBe(6);
  });

  it('patience 0 stops at the first epoch that does not improve', () => {
    expect(run([0.5, 0.4, 0.4], { patience: 0 }).stoppedAt).toBe(3);
  });

  it('an improvement resets the wait', () => {
    const { stoppedAt, es } = run([1, 1.1, 0.9, 1.0, 0.8, 0.85, 0.81], { patience: 2 });
    expect(stoppedAt).toBe(7);
    expect(es.bestEpoch).toBe(5);
  });

  it('min_delta: smaller changes do not count as improvements', () => {
    const { stoppedAt, es } = run([1.0, 0.995, 0.99, 0.985], { patience: 2, minDelta: 0.01 });
    expect(stoppedAt).toBe(3);
    expect(es.best).toBe(1.0);
    // a change of exactly min_delta is not an improvement either (strict, as Keras)
    expect(run([1.0, 0.75], { patience: 0, minDelta: 0.25 }).stoppedAt).toBe(2);
  });

  it('accuracies are maximised (auto mode), and mode can be forced', () => {
    const acc = run([0.9, 0.95, 0.94, 0.93], { monitor: 'val_accuracy', patience: 2 });
    expect(acc.es.mode).toBe('max');
    expect(acc.stoppedAt).toBe(4);
    expect(acc.es.bestEpoch).toBe(2);
    expect(new EarlyStopping({ monitor: 'val_loss', mode: 'max' }).mode).toBe('max');
  });

  it('NaN never improves: it counts as a bad epoch', () => {
    const { stoppedAt, es } = run([0.5, NaN, NaN], { patience: 2 });
    expect(stoppedAt).toBe(3);
    expect(es.best).toBe(0.5);
    expect(run([NaN], { patience: 0 }).stoppedAt).toBe(1);
  });

  it('startFromEpoch: bad epochs during the warm-up do not count', () => {
    expect(run([1, 2, 3, 4], { patience: 1, startFromEpoch: 3 }).stoppedAt).toBe(4);
  });

  it('state round trip resumes identically (JSON-safe, infinities as null)', () => {
    const seq = [1.0, 0.8, 0.85, 0.9, 0.7, 0.75, 0.76, 0.77];
    const whole = run(seq, { patience: 3 });
    const first = new EarlyStopping({ patience: 3 });
    expect(first.state().best).toBeNull();
    for (let i = 0; i < 4; i++) first.update(seq[i]!, i + 1);
    const second = new EarlyStopping({ patience: 3 });
    second.load(JSON.parse(JSON.stringify(first.state())));
    let stoppedAt = 0;
    for (let i = 4; i < seq.length && !stoppedAt; i++) if (second.update(seq[i]!, i + 1).stop) stoppedAt = i + 1;
    expect(stoppedAt).toBe(whole.stoppedAt);
    expect(second.state()).toEqual(whole.es.state());
    expect(() => new EarlyStopping({ patience: 4 }).load(first.state())).toThrow(/patience 3 differs from this run's 4/);
  });

  it('rejects bad options with the field named', () => {
    expect(() => new EarlyStopping({ patience: -1 })).toThrow(/patience must be an integer >= 0/);
    expect(() => new EarlyStopping({ patience: 1.5 })).toThrow(/patience/);
    expect(() => new EarlyStopping({ minDelta: -0.1 })).toThrow(/min_delta/);
    expect(() => new EarlyStopping({ monitor: 'loss' as never })).toThrow(/monitor "loss" is not one of val_loss, val_accuracy/);
  });
});

describe('parseEarlyStopping', () => {
  it('parses the CLI form', () => {
    expect(parseEarlyStopping('patience=3')).toEqual({ patience: 3 });
    expect(parseEarlyStopping('5')).toEqual({ patience: 5 });
    expect(parseEarlyStopping('patience=2,monitor=val_accuracy,min_delta=0.001,restore=false,mode=max,start=1')).toEqual({
      patience: 2, monitor: 'val_accuracy', minDelta: 0.001, restoreBestWeights: false, mode: 'max', startFromEpoch: 1,
    });
  });
  it('names the bad field', () => {
    expect(() => parseEarlyStopping('patients=3')).toThrow(/unknown field "patients"; fields: patience, monitor/);
    expect(() => parseEarlyStopping('patience=x')).toThrow(/patience must be an integer >= 0, got "x"/);
    expect(() => parseEarlyStopping('patience=3,4')).toThrow(/"4" has no key/);
    expect(() => parseEarlyStopping('monitor=val_acc')).toThrow(/monitor "val_acc" is not one of/);
    expect(() => parseEarlyStopping('')).toThrow(/empty spec/);
  });
});
