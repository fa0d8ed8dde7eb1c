/**
 * `wgtrain train` with a full-batch method (--optimizer LBFGS|NonlinearCG|Newton; src/cli/train-full-batch.ts):
 * - flags that make no sense for the optimizer chosen are refused before the data loads or the GPU starts (exit 2,
 *   the flag named): --schedule and --batch with a full-batch method, method flags with a first-order optimizer or
 *   another method, dropout and BatchNorm models, the least-squares methods, bad method hyperparameters;
 * - a tiny L-BFGS run on a fixed MNIST subset (CPU) learns, and its --json records and summary add up (iterations,
 *   evaluations, why each step and the run stopped); its checkpoint resumes to exactly the uninterrupted run's result;
 * - the same on the GPU runner; --train-examples also cuts the set for a first-order optimizer; --help lists it all;
 * - progress lines inside a step (forced by a zero interval) go to stderr: --json's stdout is the same JSON; --steps
 *   ends the run at that iteration, inside a step.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadMnist } from '../src/data/mnist-node.js';
import { createEngine } from '../src/gpu/node.js';
import { Progress } from '../src/train/progress.js';
import { expectRefusedEarly, runCli as run } from './helpers/cli.js';

vi.mock('../src/data/mnist-node.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/data/mnist-node.js')>();
  return { ...real, loadMnist: vi.fn(real.loadMnist) };
});
vi.mock('../src/gpu/node.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/gpu/node.js')>();
  return { ...real, createEngine: vi.fn(real.createEngine) };
});

const dir = mkdtempSync(join(tmpdir(), 'wgtrain-cli-full-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  vi.mocked(loadMnist).mockClear();
  vi.mocked(createEngine).mockClear();
});

/** `wgtrain train argv`: exit 2 with `message` on stderr, and neither the data nor the GPU touched. */
const refusedEarly = (argv: string[], message: string) => expectRefusedEarly(['train', ...argv], message, [vi.mocked(loadMnist), vi.mocked(createEngine)]);

const lines = (out: string) => out.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('wgtrain train with a full-batch method: flags that do not apply are refused up front', () => {
  it('schedule, batch, clip, weight decay, dropout and BatchNorm models, least squares, foreign or bad method flags', async () => {
    await refusedEarly(['--optimizer', 'LBFGS', '--schedule', 'cosine'], 'wgtrain train: --schedule: LBFGS is a full-batch method that sets its own steps');
    await refusedEarly(['--optimizer', 'lbfgs', '--batch', '64'], '--batch: LBFGS evaluates the whole training set in every step, so there is no batch size; to train on fewer examples give --train-examples N');
    await refusedEarly(['--optimizer', 'lbfgs', '--clip', 'norm=1'], '--clip norm=1: LBFGS is a full-batch method and does not clip gradients');
    await refusedEarly(['--optimizer', 'lbfgs', '--weight-decay', '0.1'], '--weight-decay 0.1: LBFGS has no hyperparameter "weight_decay"');
    await refusedEarly(['--optimizer', 'lbfgs', '--model', '784-16-10:relu,dropout=0.2'], '--model 784-16-10:relu,dropout=0.2: full-batch training: layer 2 is dropout (p = 0.2)');
    await refusedEarly(['--optimizer', 'NonlinearCG', '--model', '784-16-10:relu,bn'], 'full-batch training: layer 1 is BatchNorm');
    await refusedEarly(['--optimizer', 'lbfgs', '--model', 'cnn'], '--model cnn: full-batch training: layer 1 is BatchNorm');
    await refusedEarly(['--optimizer', 'LevenbergMarquardt'], '--optimizer LevenbergMarquardt: LevenbergMarquardt needs a least-squares objective');
    await refusedEarly(['--optimizer', 'adam', '--max-iter', '5'], '--max-iter applies to the full-batch methods (LBFGS, NonlinearCG, Newton); Adam is a first-order optimizer');
    await refusedEarly(['--optimizer', 'sgd', '--chunk', '100'], '--chunk applies to the full-batch methods');
    await refusedEarly(['--optimizer', 'NonlinearCG', '--history-size', '5'], '--history-size: NonlinearCG has no hyperparameter history_size');
    await refusedEarly(['--optimizer', 'newton', '--lr', '1'], '--lr 1: Newton has no hyperparameter "lr"');
    await refusedEarly(['--optimizer', 'lbfgs', '--history-size', '0'], '--history-size 0: history_size must be at least 1');
    await refusedEarly(['--optimizer', 'newton', '--hessian', 'exact'], "--hessian exact: a model's training loss has no exact Hessian-vector product; use 'fd'");
    await refusedEarly(['--optimizer', 'lbfgs', '--line-search-fn', 'armijo'], '--line-search-fn must be one of strong_wolfe, none, got "armijo"');
    await refusedEarly(['--optimizer', 'lbfgs', '--train-examples', '55001'], '--train-examples 55001 must be between 1 and the 55000 training examples the split leaves');
    await refusedEarly(['--optimizer', 'lbfgs', '--chunk', '0'], '--chunk must be at least 1, got 0');
  });

  it('--help lists the optimizers, their flags and the section on full-batch methods', async () => {
    const r = await run(['train', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/--optimizer NAME .*or a full-batch method: LBFGS NonlinearCG Newton/);
    for (const flag of ['--train-examples N', '--chunk N', '--max-iter', '--max-eval', '--history-size', '--line-search-fn STRING', '--tolerance-grad', '--tolerance-change', '--variant', '--radius']) {
      expect(r.out).toContain(flag);
    }
    expect(r.out).toContain('Full-batch methods (--optimizer LBFGS|NonlinearCG|Newton):');
  });
});

describe('wgtrain train with L-BFGS on a fixed MNIST subset', () => {
  const common = ['--model', '784-10', '--optimizer', 'LBFGS', '--train-examples', '300', '--validation', '200', '--max-iter', '5', '--history-size', '5', '--line-search-fn', 'strong_wolfe', '--json'];

  it('CPU: learns; the records and summary add up; 2 epochs + --save + --resume to 4 equals 4 epochs', async () => {
    const path = join(dir, 'lbfgs.safetensors');
    const first = await run(['train', '--device', 'cpu', ...common, '--epochs', '2', '--save', path]);
    expect(first.code, first.err).toBe(0);
    expect(first.err).toContain('data: MNIST 300 train (a fixed subset of the 59800) / 200 validation / 10000 test');
    expect(first.err).toMatch(/LBFGS \(max_iter 5, history_size 5, line_search_fn strong_wolfe\) on the full batch of 300 examples \(chunks of 300\), 2 epochs/);
    expect(first.err).toMatch(/epoch 1\/2 {2}iterations \d \(\d\) {2}evals \d+ {2}loss [\d.]+ → [\d.]+ {2}max\|g\| \S+ {2}val_loss/);
    const records = lines(first.out);
    const [e1, e2, summary] = records as [Record<string, number & string>, Record<string, number & string>, Record<string, unknown>];
    expect(records).toHaveLength(3);
    for (const r of [e1, e2]) {
      expect(r.steps).toBeGreaterThan(0);
      expect(r.evals).toBeGreaterThanOrEqual(r.steps);
      expect(['max_iter', 'max_eval']).toContain(r.stop);
      expect(r.lossAfter).toBeLessThan(r.trainLoss);
    }
    expect(e2.trainLoss).toBe(e1.lossAfter); // each step starts where the last ended
    expect(summary).toMatchObject({
      optimizer: 'LBFGS', iterations: e1.steps + e2.steps, steps: e1.steps + e2.steps, evaluations: e1.evals + e2.evals,
      trainLoss: e2.lossAfter, stop: 'epochs or steps done', diverged: false, adapter: 'cpu float32',
    });
    expect(summary.testAccuracy as number).toBeGreaterThan(0.75);

    const resumed = await run(['train', '--device', 'cpu', '--resume', path, '--epochs', '4', '--json']);
    expect(resumed.code, resumed.err).toBe(0);
    expect(resumed.err).toContain(`resumed from ${path}: epoch 2, step ${e1.steps + e2.steps}`);
    const whole = await run(['train', '--device', 'cpu', ...common, '--epochs', '4']);
    expect(whole.code, whole.err).toBe(0);
    const [a, b] = [lines(resumed.out).at(-1)!, lines(whole.out).at(-1)!];
    expect(a.testLoss).toBe(b.testLoss);
    expect(a.trainLoss).toBe(b.trainLoss);
    expect(a.iterations as number).toBe((b.iterations as number) - e1.steps - e2.steps);
    expect(lines(resumed.out).slice(0, 2).map((r) => r.lossAfter)).toEqual(lines(whole.out).slice(2, 4).map((r) => r.lossAfter));

    // The checkpoint fixes the method and its subset: flags that would change them are refused.
    const again = await run(['train', '--device', 'cpu', '--resume', path, '--epochs', '4', '--history-size', '3']);
    expect(again).toMatchObject({ code: 2, err: expect.stringContaining('--history-size cannot be changed with --resume') });
    const subset = await run(['train', '--device', 'cpu', '--resume', path, '--epochs', '4', '--train-examples', '100']);
    expect(subset).toMatchObject({ code: 2, err: expect.stringContaining('--train-examples 100 differs from the checkpoint\'s split') });
    const schedule = await run(['train', '--device', 'cpu', '--resume', path, '--epochs', '4', '--schedule', 'cosine']);
    expect(schedule).toMatchObject({ code: 2, err: expect.stringContaining('--schedule: LBFGS is a full-batch method') });
  });

  it('GPU: one epoch on 200 examples in chunks of 96 learns', async () => {
    const r = await run(['train', ...common.map((a) => (a === '300' ? '200' : a)), '--chunk', '96', '--epochs', '1']);
    expect(r.code, r.err).toBe(0);
    const [epoch, summary] = lines(r.out) as [Record<string, number>, Record<string, unknown>];
    expect(epoch.lossAfter).toBeLessThan(0.5 * epoch.trainLoss);
    expect(summary).toMatchObject({ optimizer: 'LBFGS', iterations: epoch.steps, evaluations: epoch.evals });
    expect(summary.adapter).not.toBe('cpu float32');
    expect(summary.testAccuracy as number).toBeGreaterThan(0.6);
  });

  it('progress lines inside a step go to stderr, --json keeps stdout as it was; --steps ends inside a step', async () => {
    const args = ['train', '--device', 'cpu', ...common, '--epochs', '1'];
    const quiet = await run(args);
    const saved = Progress.ITERATION_EVERY_MS;
    Progress.ITERATION_EVERY_MS = 0;
    let loud;
    try {
      loud = await run(args);
    } finally {
      Progress.ITERATION_EVERY_MS = saved;
    }
    expect(loud.code, loud.err).toBe(0);
    const untimed = (out: string) => lines(out).map((r) => ({ ...r, seconds: 0, stepsPerSecond: 0, valSeconds: 0 }));
    expect(untimed(loud.out)).toEqual(untimed(quiet.out));
    const epoch = lines(loud.out)[0] as Record<string, number>;
    const progress = loud.err.split('\n').filter((l) => /^epoch \S+  iteration /.test(l));
    expect(progress).toHaveLength(epoch.steps);
    progress.forEach((l, i) => expect(l).toMatch(new RegExp(`^epoch 1/1 {2}iteration ${i + 1}/5 \\(${i + 1}\\) {2}evals \\d+ {2}loss \\d\\.\\d{4} {2}max\\|g\\| \\S+ {2}\\d+\\.\\d s$`)));
    expect(quiet.err).not.toContain('iteration 1/5');

    const three = await run(['train', '--device', 'cpu', ...common.filter((a) => a !== '--json'), '--steps', '3', '--json']);
    expect(three.code, three.err).toBe(0);
    const [cut, summary] = lines(three.out);
    expect(cut).toMatchObject({ epoch: 1, steps: 3, partial: true, stop: 'steps' });
    expect(summary).toMatchObject({ iterations: 3, stop: 'epochs or steps done' });
  });

  it('--train-examples cuts the training set for a first-order optimizer too', async () => {
    const r = await run(['train', '--device', 'cpu', '--model', '784-10', '--optimizer', 'sgd', '--lr', '0.1', '--train-examples', '256', '--batch', '128', '--validation', '100', '--epochs', '1', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(lines(r.out).at(-1)).toMatchObject({ steps: 2 });
  });
});
