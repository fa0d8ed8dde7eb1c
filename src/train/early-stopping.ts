/**
 * Early stopping: stop training when a monitored epoch metric has stopped improving (Keras' EarlyStopping rules).
 *
 *   better(x) = x < best − min_delta     mode 'min' (losses)
 *             = x > best + min_delta     mode 'max' (accuracies)
 *
 *   after each epoch, x = the monitored metric:
 *     if better(x): best = x, bestEpoch = epoch, wait = 0      (the trainer snapshots the weights here)
 *     else:         wait += 1;  if wait >= patience: stop
 *
 * best starts at +∞ ('min') or −∞ ('max'), so the first epoch always improves (unless its metric is NaN: a NaN is
 * never better, so it counts as a bad epoch). mode 'auto' picks 'max' for accuracies and 'min' otherwise.
 * `restoreBestWeights` (default true here; Keras defaults to false) makes the trainer keep the best epoch's
 * RunnerState in memory and import it when early stopping ends the run (as Keras: a run that uses up its epochs
 * keeps its last weights).
 *
 * The state (`EarlyStoppingState`) is plain JSON and goes into checkpoints, so a resumed run stops where the
 * uninterrupted run would have; the best weights themselves are not checkpointed (see trainer.ts).
 *
 * CLI form: `patience=3[,monitor=val_loss][,mode=min][,min_delta=0.001][,restore=true][,start=0]`; a bare number
 * is the patience (`--early-stopping 3`).
 */

export type Monitor = 'val_loss' | 'val_accuracy' | 'train_loss' | 'train_accuracy';
export const MONITORS: readonly Monitor[] = ['val_loss', 'val_accuracy', 'train_loss', 'train_accuracy'];

/** The value `monitor` names in an epoch's record (NaN when the epoch has none, e.g. no validation set). */
export function monitorValue(record: { valLoss?: number; valAccuracy?: number; trainLoss: number; trainAccuracy: number }, monitor: Monitor): number {
  return { val_loss: record.valLoss, val_accuracy: record.valAccuracy, train_loss: record.trainLoss, train_accuracy: record.trainAccuracy }[monitor] ?? NaN;
}

export interface EarlyStoppingOptions {
  /** Metric of the epoch record to watch (default 'val_loss'). */
  monitor?: Monitor;
  /** 'min', 'max', or 'auto' (default): 'max' for accuracies, 'min' for losses. */
  mode?: 'min' | 'max' | 'auto';
  /** Epochs without improvement before stopping (default 0: stop at the first epoch that does not improve). */
  patience?: number;
  /** Smallest change that counts as an improvement (default 0; must be >= 0). */
  minDelta?: number;
  /** Import the best epoch's weights when early stopping ends the run (default true). */
  restoreBestWeights?: boolean;
  /** Epochs (1-based numbers) up to this one never stop the run nor count as bad (warm-up); default 0. */
  startFromEpoch?: number;
}

export interface EarlyStoppingState {
  format: 'wgtrain.early-stopping/1';
  monitor: Monitor;
  mode: 'min' | 'max';
  patience: number;
  minDelta: number;
  /** JSON has no infinities: null while no epoch has been seen. */
  best: number | null;
  /** 1-based number of the best epoch, 0 while none. */
  bestEpoch: number;
  wait: number;
  /** 1-based number of the epoch that triggered the stop, 0 while running. */
  stoppedEpoch: number;
}

export interface EarlyStoppingDecision {
  improved: boolean;
  stop: boolean;
}

export class EarlyStopping {
  readonly monitor: Monitor;
  readonly mode: 'min' | 'max';
  readonly patience: number;
  readonly minDelta: number;
  readonly restoreBestWeights: boolean;
  readonly startFromEpoch: number;
  best: number;
  bestEpoch = 0;
  wait = 0;
  stoppedEpoch = 0;

  constructor(options: EarlyStoppingOptions = {}) {
    const monitor = options.monitor ?? 'val_loss';
    if (!MONITORS.includes(monitor)) {
      throw new Error(`early stopping: monitor ${JSON.stringify(monitor)} is not one of ${MONITORS.join(', ')}`);
    }
    const mode = options.mode ?? 'auto';
    if (mode !== 'min' && mode !== 'max' && mode !== 'auto') {
      throw new Error(`early stopping: mode ${JSON.stringify(mode)} must be min, max or auto`);
    }
    const patience = options.patience ?? 0;
    if (!Number.isInteger(patience) || patience < 0) {
      throw new Error(`early stopping: patience must be an integer >= 0, got ${patience}`);
    }
    const minDelta = options.minDelta ?? 0;
    if (!(Number.isFinite(minDelta) && minDelta >= 0)) {
      throw new Error(`early stopping: min_delta must be a finite number >= 0, got ${minDelta}`);
    }
    const start = options.startFromEpoch ?? 0;
    if (!Number.isInteger(start) || start < 0) throw new Error(`early stopping: start must be an integer >= 0, got ${start}`);
    this.monitor = monitor;
    this.mode = mode === 'auto' ? (monitor.endsWith('accuracy') ? 'max' : 'min') : mode;
    this.patience = patience;
    this.minDelta = minDelta;
    this.restoreBestWeights = options.restoreBestWeights ?? true;
    this.startFromEpoch = start;
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** Whether `value` improves on the best so far by more than min_delta (NaN never does). */
  isBetter(value: number): boolean {
    return this.mode === 'min' ? value < this.best - this.minDelta : value > this.best + this.minDelta;
  }

  /** Feeds the monitored metric of epoch `epoch` (1-based); says whether it improved and whether to stop now. */
  update(value: number, epoch: number): EarlyStoppingDecision {
    if (this.isBetter(value)) {
      this.best = value;
      this.bestEpoch = epoch;
      this.wait = 0;
      return { improved: true, stop: false };
    }
    if (epoch <= this.startFromEpoch) return { improved: false, stop: false };
    this.wait += 1;
    if (this.wait >= this.patience) {
      this.stoppedEpoch = epoch;
      return { improved: false, stop: true };
    }
    return { improved: false, stop: false };
  }

  state(): EarlyStoppingState {
    return {
      format: 'wgtrain.early-stopping/1',
      monitor: this.monitor,
      mode: this.mode,
      patience: this.patience,
      minDelta: this.minDelta,
      best: Number.isFinite(this.best) ? this.best : null,
      bestEpoch: this.bestEpoch,
      wait: this.wait,
      stoppedEpoch: this.stoppedEpoch,
    };
  }

  /** Resumes from `state()` of an identically configured EarlyStopping. */
  load(s: EarlyStoppingState): void {
    if (s?.format !== 'wgtrain.early-stopping/1') {
      throw new Error(`early stopping state: format must be 'wgtrain.early-stopping/1', got ${JSON.stringify(s?.format)}`);
    }
    for (const key of ['monitor', 'mode', 'patience', 'minDelta'] as const) {
      if (s[key] !== this[key]) {
        throw new Error(`early stopping state: saved ${key} ${JSON.stringify(s[key])} differs from this run's ${JSON.stringify(this[key])}`);
      }
    }
    for (const key of ['bestEpoch', 'wait', 'stoppedEpoch'] as const) {
      if (!Number.isInteger(s[key]) || s[key] < 0) throw new Error(`early stopping state: ${key} must be an integer >= 0, got ${s[key]}`);
    }
    if (s.best !== null && typeof s.best !== 'number') throw new Error(`early stopping state: best must be a number or null`);
    this.best = s.best ?? (this.mode === 'min' ? Infinity : -Infinity);
    this.bestEpoch = s.bestEpoch;
    this.wait = s.wait;
    this.stoppedEpoch = s.stoppedEpoch;
  }
}

/** Parses the CLI form (see the module comment) into options; errors name the bad field and list the valid ones. */
export function parseEarlyStopping(spec: string): EarlyStoppingOptions {
  const keys = 'patience, monitor, mode, min_delta, restore, start';
  const out: EarlyStoppingOptions = {};
  const text = spec.trim();
  if (text === '') throw new Error(`early stopping: empty spec; write e.g. patience=3,monitor=val_loss (fields: ${keys})`);
  text.split(',').forEach((part, i) => {
    const eq = part.indexOf('=');
    const key = eq < 0 ? (i === 0 ? 'patience' : '') : part.slice(0, eq).trim();
    const value = (eq < 0 ? part : part.slice(eq + 1)).trim();
    const number = (what: string): number => {
      const x = value === '' ? NaN : Number(value);
      if (!Number.isFinite(x)) throw new Error(`early stopping: ${key} must be ${what}, got ${JSON.stringify(value)}`);
      return x;
    };
    switch (key) {
      case 'patience':
        out.patience = number('an integer >= 0');
        break;
      case 'monitor':
        if (!MONITORS.includes(value as Monitor)) throw new Error(`early stopping: monitor ${JSON.stringify(value)} is not one of ${MONITORS.join(', ')}`);
        out.monitor = value as Monitor;
        break;
      case 'mode':
        if (value !== 'min' && value !== 'max' && value !== 'auto') throw new Error(`early stopping: mode must be min, max or auto, got ${JSON.stringify(value)}`);
        out.mode = value;
        break;
      case 'min_delta':
      case 'delta':
        out.minDelta = number('a number >= 0');
        break;
      case 'restore':
        if (!['true', 'false', '1', '0'].includes(value)) throw new Error(`early stopping: restore must be true or false, got ${JSON.stringify(value)}`);
        out.restoreBestWeights = value === 'true' || value === '1';
        break;
      case 'start':
        out.startFromEpoch = number('an integer >= 0');
        break;
      default:
        throw new Error(`early stopping: ${eq < 0 ? `${JSON.stringify(part.trim())} has no key` : `unknown field ${JSON.stringify(key)}`}; fields: ${keys}`);
    }
  });
  new EarlyStopping(out); // range checks now, with the same messages
  return out;
}
