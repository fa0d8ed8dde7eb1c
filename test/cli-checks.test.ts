/**
 * Nothing wrong comes back with exit 0, and bad arguments fail before any work:
 * - every argument error exits 2 with one message naming the flag, before MNIST loads or a GPU engine is created
 *   (both are spied on here);
 * - WGTRAIN_ADAPTER is honoured when --adapter is not given, and a bogus value is an error;
 * - the data split of `evaluate --split validation` and `train --resume` is the checkpoint's; a conflicting
 *   --validation / --seed is an error naming both values;
 * - resume edge cases: a target already reached, a run past the cosine schedule's T_max (warning), --schedule on
 *   resume (replaces the checkpoint's from its step on), a one-cycle schedule the run outlasts (refused);
 * - a run that diverges exits 3 and says so, also in the JSON summary.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadMnist } from '../src/data/mnist-node.js';
import { createEngine } from '../src/gpu/node.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from '../src/train/checkpoint-file.js';
import { fromJson } from '../src/json-numbers.js';
import { expectRefusedEarly, runCli as run } from './helpers/cli.js';

vi.mock('../src/data/mnist-node.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/data/mnist-node.js')>();
  return { ...real, loadMnist: vi.fn(real.loadMnist) };
});
vi.mock('../src/gpu/node.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/gpu/node.js')>();
  return { ...real, createEngine: vi.fn(real.createEngine) };
});

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-cli-checks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const savedEnv = process.env.WGTRAIN_ADAPTER;
beforeEach(() => {
  vi.mocked(loadMnist).mockClear();
  vi.mocked(createEngine).mockClear();
});
afterEach(() => {
  if (savedEnv === undefined) delete process.env.WGTRAIN_ADAPTER;
  else process.env.WGTRAIN_ADAPTER = savedEnv;
});

/** Exit 2 with `message` on stderr, no doubled prefix, and neither the data nor the GPU touched. */
const refusedEarly = (argv: string[], message: string | RegExp) => expectRefusedEarly(argv, message, [vi.mocked(loadMnist), vi.mocked(createEngine)]);

describe('arguments are checked before the data loads or the GPU starts', () => {
  it('optimizer hyperparameters name their flag', async () => {
    const err = await refusedEarly(['train', '--lr', '-0.1'], 'wgtrain train: --lr -0.1: lr must be >= 0');
    expect(err).not.toContain('CosineAnnealingLR');
    await refusedEarly(['train', '--weight-decay', '-1'], 'wgtrain train: --weight-decay -1: weight_decay must be >= 0');
    await refusedEarly(['train', '--optimizer', 'rprop', '--weight-decay', '0.1'], /--weight-decay 0\.1: .*Rprop has no hyperparameter "weight_decay"/);
  });

  it('the model must fit MNIST', async () => {
    await refusedEarly(['train', '--model', '10-10'], '--model 10-10 takes 10 inputs but MNIST images have 784 pixels (28×28)');
    await refusedEarly(['train', '--model', '784-32-5'], '--model 784-32-5 has 5 outputs but MNIST has 10 classes');
    await refusedEarly(['train', '--model', '784-10:loss=mse'], 'has loss=mse, which needs float targets');
  });

  it('every bad --schedule exits 2 with one prefix, and so do schedules the run outlasts or that need a metric per step', async () => {
    await refusedEarly(['train', '--schedule', 'bogus'], /^wgtrain train: --schedule: unknown schedule "bogus"; known: constant/);
    await refusedEarly(['train', '--schedule', 'cosine:T=-1'], 'wgtrain train: --schedule: CosineAnnealingLR: T_max must be a finite number > 0');
    await refusedEarly(['train', '--schedule', 'warmup:10'], 'a warmup needs the schedule it hands over to');
    await refusedEarly(['train', '--schedule', 'onecycle:total=100', '--steps', '200'], /--schedule onecycle\(.*\) ends at step 100, but this run goes to step 200/);
    await refusedEarly(['train', '--schedule', 'plateau:unit=step'], "'plateau' is fed a validation metric, so it must step per epoch");
  });

  it('--save must be writable: probed up front', async () => {
    await refusedEarly(['train', '--save', join(dir, 'missing', 'run.safetensors')], `the folder ${join(dir, 'missing')} does not exist; create it first`);
    writeFileSync(join(dir, 'a-file'), 'x');
    await refusedEarly(['train', '--save', join(dir, 'a-file', 'run.safetensors')], /--save .*a-file\/run\.safetensors: cannot write in/);
    await refusedEarly(['train', '--save', dir], `--save ${dir} is a directory; give a file name`);
    await refusedEarly(['train', '--save', ''], '--save must be a non-empty FILE, got ""');
    // Root writes anywhere, so the read-only case can only be shown to other users.
    if (process.getuid?.() !== 0) {
      const ro = join(dir, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      await refusedEarly(['train', '--save', join(ro, 'run.safetensors')], `no permission to write in ${ro}`);
    }
  });

  it('repeated settings are rejected, not last-wins; --dtype float64 needs the CPU; trace exits 2 as train does', async () => {
    await refusedEarly(['train', '--clip', 'norm=1,norm=2'], '--clip "norm=1,norm=2": norm is given twice');
    await refusedEarly(['trace', '--spec', 'a.json', '--spec', 'b.json'], 'wgtrain trace: --spec is given twice');
    await refusedEarly(['train', '--dtype', 'float64'], '--dtype float64 needs --device cpu; the GPU computes in float32');
    await refusedEarly(['evaluate', '--checkpoint', 'x', '--dtype', 'float64'], '--dtype float64 needs --device cpu');
    const train = await refusedEarly(['train', '--device', 'tpu'], '--device must be one of gpu, cpu, got "tpu"');
    const trace = await refusedEarly(['trace', '--spec', 'a.json', '--device', 'tpu'], '--device must be one of cpu, gpu, got "tpu"');
    expect(train.split(':')[0]).toBe('wgtrain train');
    expect(trace.split(':')[0]).toBe('wgtrain trace');
  });

  it('trace refuses inputs float32 cannot hold', async () => {
    const spec = join(dir, 'big.json');
    writeFileSync(spec, JSON.stringify({ optimizer: 'SGD', hyperparams: { lr: 0.1 }, x0: [1e39], grads: [[1]] }));
    const r = await run(['trace', '--spec', spec]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('x0[0] = 1e+39 does not fit in float32 (largest 3.4028235e+38); use "dtype": "float64" on the CPU');
    writeFileSync(spec, JSON.stringify({ optimizer: 'SGD', hyperparams: { lr: 0.1 }, dtype: 'float64', x0: [1e39], grads: [[1]] }));
    const ok = await run(['trace', '--spec', spec]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).params_after_each_step[0][0]).toBe(1e39 - 0.1);
  });
});

describe('WGTRAIN_ADAPTER', () => {
  it('a bogus value is an error; --adapter, when given, wins', async () => {
    process.env.WGTRAIN_ADAPTER = 'bogus';
    for (const command of ['train', 'selftest']) {
      await refusedEarly([command], `wgtrain ${command}: WGTRAIN_ADAPTER must be one of auto, hardware, software, got "bogus"`);
    }
    await refusedEarly(['evaluate', '--checkpoint', 'x'], 'WGTRAIN_ADAPTER must be one of');
    // With the flag the variable is not consulted: the next error found is about --lr.
    await refusedEarly(['train', '--adapter', 'software', '--lr', '-1'], '--lr -1: lr must be >= 0');
  });

  it('is honoured when --adapter is not given', async () => {
    const stop = new Error('engine requested');
    for (const [env, flag, want] of [['software', [], 'software'], ['hardware', [], 'hardware'], ['hardware', ['--adapter', 'software'], 'software']] as const) {
      process.env.WGTRAIN_ADAPTER = env;
      vi.mocked(createEngine).mockClear();
      vi.mocked(createEngine).mockRejectedValueOnce(stop);
      const r = await run(['train', '--model', '784-8-10', '--steps', '1', ...flag]);
      expect(r).toMatchObject({ code: 1, err: 'wgtrain train: engine requested\n' });
      expect(vi.mocked(createEngine).mock.calls[0]![0]).toMatchObject({ adapter: want });
      expect(loadMnist).not.toHaveBeenCalled(); // the device is acquired before the data loads
    }
  });
});

describe('resume and evaluate respect the saved run (CPU)', () => {
  const ckpt = join(dir, 'v500.safetensors');
  const SMALL = ['--device', 'cpu', '--model', '784-8-10', '--batch', '128'];

  beforeAll(async () => {
    const r = await run(['train', ...SMALL, '--validation', '500', '--steps', '5', '--save', ckpt]);
    expect(r.code, r.err).toBe(0);
  });

  it('evaluate --split validation uses the checkpoint\'s split; a conflicting or empty split is refused', async () => {
    const ev = await run(['evaluate', '--checkpoint', ckpt, '--split', 'validation', '--device', 'cpu', '--json']);
    expect(ev.code, ev.err).toBe(0);
    expect(JSON.parse(ev.out)).toMatchObject({ split: 'validation', count: 500 });
    const conflict = await run(['evaluate', '--checkpoint', ckpt, '--split', 'validation', '--device', 'cpu', '--validation', '5000']);
    expect(conflict).toMatchObject({ code: 2, out: '' });
    expect(conflict.err).toContain("--validation 5000 differs from the checkpoint's split (500 validation examples, seed 0)");
    const zero = await run(['evaluate', '--checkpoint', ckpt, '--split', 'validation', '--device', 'cpu', '--validation', '0']);
    expect(zero.code).toBe(2);
    expect(zero.err).toContain('--validation 0 differs');
    // A checkpoint trained without a validation split (as `train --validation 0` writes it) has none to evaluate.
    const none = join(dir, 'v0.safetensors');
    const s = await loadTrainingCheckpoint(ckpt);
    await saveTrainingCheckpoint(none, { ...s, data: { ...s.data, examples: 60000, split: { source: 'mnist', validation: 0, seed: 0 } } });
    const empty = await run(['evaluate', '--checkpoint', none, '--split', 'validation', '--device', 'cpu']);
    expect(empty.code).toBe(2);
    expect(empty.err).toContain('was trained with --validation 0: it has no validation split; use --split test');
    expect(empty.out).not.toContain('NaN');
  });

  it('a checkpoint from before data.split existed implies it from its example count and seed', async () => {
    const old = join(dir, 'old.safetensors');
    const s = await loadTrainingCheckpoint(ckpt);
    expect(s.data.split).toEqual({ source: 'mnist', validation: 500, seed: 0 });
    delete s.data.split;
    await saveTrainingCheckpoint(old, s);
    const ev = await run(['evaluate', '--checkpoint', old, '--split', 'validation', '--device', 'cpu', '--json']);
    expect(JSON.parse(ev.out).count).toBe(500);
  });

  it('train --resume takes the split from the checkpoint; conflicting flags name both values', async () => {
    const val = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '7', '--validation', '5000']);
    expect(val.code).toBe(2);
    expect(val.err).toContain("--validation 5000 differs from the checkpoint's split (500 validation examples, seed 0); leave --validation out");
    const seed = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '7', '--seed', '3']);
    expect(seed.code).toBe(2);
    expect(seed.err).toContain("--seed 3 differs from the checkpoint's split");
  });

  it('resume: the split from the checkpoint; edge cases: nothing left to train, past T_max, a new --schedule', async () => {
    const done = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '3']);
    expect(done.code).toBe(2);
    expect(done.err).toContain('is already at step 5, so --steps 3 leaves nothing to train');
    const epochs = await run(['train', '--device', 'cpu', '--resume', ckpt, '--epochs', '0']);
    expect(epochs.code).toBe(2);
    // The checkpoint's cosine ends at T_max = 5: going on to 8 steps makes the rate climb, which is said.
    const past = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '8']);
    expect(past.code, past.err).toBe(0);
    expect(past.out).toContain("data: MNIST 59500 train / 500 validation / 10000 test (split seed 0, the checkpoint's split)");
    expect(past.out).toMatch(/warning: the checkpoint's schedule cosine\(T_max=5, eta_min=0\) reaches its minimum at step 5, but this run goes to step 8: past it the rate climbs back up/);
    // --schedule on resume: the new schedule takes over at the checkpoint's step (no library function named).
    const longer = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '8', '--schedule', 'cosine:T=8', '--json']);
    expect(longer.code, longer.err).toBe(0);
    expect(longer.err).toContain("schedule: cosine(T_max=8, eta_min=0) replaces the checkpoint's cosine(T_max=5, eta_min=0) at step 5");
    expect(longer.err).not.toMatch(/restoreSchedule|warning/);
    const lrAt7 = 0.001 * (1 + Math.cos((Math.PI * 7) / 8)) / 2;
    expect(JSON.parse(longer.out.split('\n')[0]!).lr).toBeCloseTo(lrAt7, 12);
    const onecycle = await run(['train', '--device', 'cpu', '--resume', ckpt, '--steps', '8', '--schedule', 'onecycle:total=6']);
    expect(onecycle.code).toBe(2);
    expect(onecycle.err).toMatch(/--schedule onecycle\(.*\) ends at step 6, but this run goes to step 8/);
  });
});

describe('a model too large for the host (--device cpu)', () => {
  it('fails before the data loads, naming the model size and the memory (exit 1, as a model too large for a GPU)', async () => {
    const r = await run(['train', '--device', 'cpu', '--model', '784-1000000000-10', '--steps', '1']);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toMatch(/^wgtrain train: the model \(795,000,000,064 parameters\) needs about [\d.]+ TiB of host memory on the CPU runner in float32 .*; use a smaller model or batch size, or train on the GPU/);
    expect(loadMnist).not.toHaveBeenCalled();
  });
});

describe('divergence', () => {
  it('a run whose loss ends non-finite exits 3, says "diverged", and the JSON summary carries it', async () => {
    const ckpt = join(dir, 'diverged.safetensors');
    const r = await run(['train', '--device', 'cpu', '--model', '784-8-10', '--optimizer', 'sgd', '--lr', '1e8', '--steps', '12', '--validation', '500', '--json', '--save', ckpt]);
    expect(r.code, r.err).toBe(3);
    expect(r.err).toMatch(/wgtrain train: diverged: the (training|validation) loss of epoch 1 is (NaN|Infinity); try a lower --lr/);
    const [epoch, summary] = r.out.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(summary).toMatchObject({ diverged: true });
    expect(summary.divergence).toMatch(/loss of epoch 1 is (NaN|Infinity)/);
    expect(summary.skipped).toBeGreaterThan(0);
    // Non-finite numbers are written as strings (JSON.stringify would write null) and read back by fromJson.
    expect(['NaN', 'Infinity', '-Infinity']).toContain(epoch.trainLoss);
    expect(['NaN', 'Infinity', '-Infinity']).toContain(summary.testLoss);
    expect(r.out).not.toContain('null');
    const [epochBack, summaryBack] = r.out.trimEnd().split('\n').map((line) => fromJson(line) as Record<string, unknown>);
    expect(Number.isFinite(epochBack!.trainLoss)).toBe(false);
    expect(typeof epochBack!.trainLoss).toBe('number');
    expect(String(summaryBack!.testLoss)).toBe(summary.testLoss);
    // The checkpoint of a diverged run still loads (the guard kept the weights finite), with the same loss.
    const s = await loadTrainingCheckpoint(ckpt);
    expect(String(s.history[0]!.trainLoss)).toBe(epoch.trainLoss);
  });

  it('a loss that explodes but stays finite exits 3 too, with the reason in the JSON summary', async () => {
    // SGD at lr 3000: the training loss reaches about 1e12 in 12 steps without overflowing (before: exit 0).
    const r = await run(['train', '--device', 'cpu', '--model', '784-8-10', '--optimizer', 'sgd', '--lr', '3e3', '--schedule', 'constant', '--steps', '12', '--validation', '500', '--json']);
    expect(r.code, r.err).toBe(3);
    const [epoch, summary] = r.out.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(Number.isFinite(epoch.trainLoss) && epoch.trainLoss > 1e6).toBe(true);
    expect(summary).toMatchObject({ diverged: true, skipped: 0 });
    expect(summary.divergence).toMatch(/^the training loss of epoch 1 is [\d.]+e\+\d+, more than 1000 times the run's reference loss [\d.]+ .*it exploded while staying finite$/);
    expect(r.err).toMatch(/wgtrain train: diverged: the training loss of epoch 1 .* exploded while staying finite; try a lower --lr/);
  });
});
