/**
 * The consumer app's own code, shared by its page, its Worker and its Node script: everything it knows of wgtrain
 * comes from `import ... from 'wgtrain'`, as in an app that ran `npm install wgtrain` (test/browser-package.test.ts
 * builds it from the packed tarball). It trains a classifier of two spirals and a blob on data made here, predicts, saves the
 * model as bytes, loads them into a new trainer and predicts again.
 */
import { Dataset, Trainer, createGpuRunner, dense, loadTrainer, relu, sequential, type Engine, type EpochRecord, type RunnerConfig } from 'wgtrain';
import { PROBE } from './probe.js';

export { PROBE };

/** Class 0 and 1: interleaved spiral arms; class 2: a blob in the middle. Rows of [x, y], generated class by class. */
export function spirals(perClass: number): { xs: number[][]; ys: number[] } {
  const xs: number[][] = [];
  const ys: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < perClass; i++) {
      const r = (i + 1) / perClass;
      const t = (1.5 * Math.PI * i) / perClass + c * Math.PI;
      xs.push(c === 2 ? [0.15 * Math.cos(i), 0.15 * Math.sin(i * 1.3)] : [r * Math.cos(t), r * Math.sin(t)]);
      ys.push(c);
    }
  }
  return { xs, ys };
}

export const CONFIG: RunnerConfig = {
  model: sequential([dense(24), relu(), dense(24), relu(), dense(3)], { inputs: 2 }),
  batchSize: 32,
  optimizer: { name: 'Adam', hyperparams: { lr: 0.02 } },
};

export interface Trained {
  adapter: string;
  first: EpochRecord;
  last: EpochRecord;
  /** Fraction of the training points classified right after training. */
  accuracy: number;
  /** predictProba(PROBE) before saving, and from the trainer loaded from the saved bytes. */
  before: number[];
  after: number[];
  bytes: Uint8Array;
}

export async function trainSaveReload(engine: Engine): Promise<Trained> {
  const { xs, ys } = spirals(60);
  const trainer = new Trainer(await createGpuRunner(engine, CONFIG));
  const result = await trainer.fit(Dataset.from({ inputs: xs, labels: ys }), { epochs: 40, validationSplit: 0.2 });
  const classes = await trainer.predictClasses(xs);
  const before = [...(await trainer.predictProba(PROBE))];
  const bytes = await trainer.save();
  trainer.runner.destroy();
  const again = await loadTrainer(bytes, { engine, name: 'spirals' });
  const after = [...(await again.predictProba(PROBE))];
  again.runner.destroy();
  return {
    adapter: engine.describe(),
    first: result.history[0]!,
    last: result.history.at(-1)!,
    accuracy: classes.filter((c, i) => c === ys[i]).length / ys.length,
    before,
    after,
    bytes,
  };
}

/** predictProba(PROBE) of a model saved elsewhere (the other side: browser ↔ Node). */
export async function probeSaved(engine: Engine, bytes: Uint8Array): Promise<number[]> {
  const trainer = await loadTrainer(bytes, { engine, name: 'saved elsewhere' });
  const p = [...(await trainer.predictProba(PROBE))];
  trainer.runner.destroy();
  return p;
}
