/**
 * Built-in models with their training recipes, by name: `wgtrain train --model cnn` trains the CNN with its own
 * optimizer, learning rate, schedule, batch and epochs; each flag the user gives still wins. MNIST-shaped: inputs
 * 1×28×28 (784 values), 10 classes.
 */
export interface Preset {
  name: string;
  /** One line for --help. */
  summary: string;
  /** The model in the text form (model/text.ts). */
  model: string;
  /** torch.optim class name. */
  optimizer: string;
  lr: number;
  /** The optimizer's weight_decay, if any. */
  weightDecay?: number;
  batch: number;
  epochs: number;
  /** A schedule spec (schedule/spec.ts); absent: cosine decay to 0 over the run. */
  schedule?: string;
}

export const PRESETS: Readonly<Record<string, Preset>> = {
  mlp: {
    name: 'mlp',
    summary: '784-256-256-10 ReLU MLP; Adam lr 1e-3, cosine to 0, batch 128, 5 epochs (≥ 98% on MNIST; the default)',
    model: '784-256-256-10:relu',
    optimizer: 'Adam',
    lr: 1e-3,
    batch: 128,
    epochs: 5,
  },
  cnn: {
    name: 'cnn',
    summary: 'two blocks of two 3×3 convolutions (32, 64 filters) with BatchNorm2d, ReLU and 2×2 max pooling, then dense 128 ' +
      '→ 10; Adam lr 1e-3, cosine to 0, batch 128, 10 epochs (target ≥ 99.3% on MNIST)',
    model:
      '1x28x28-conv(32,3,pad=1,bias=false)-bn2d-relu-conv(32,3,pad=1,bias=false)-bn2d-relu-maxpool(2)' +
      '-conv(64,3,pad=1,bias=false)-bn2d-relu-conv(64,3,pad=1,bias=false)-bn2d-relu-maxpool(2)' +
      '-flatten-dense(128)-relu-dropout(0.25)-dense(10)',
    optimizer: 'Adam',
    lr: 1e-3,
    batch: 128,
    epochs: 10,
  },
};

/** The preset of a name (case-insensitive), or undefined. */
export function presetByName(name: string): Preset | undefined {
  return Object.hasOwn(PRESETS, name.toLowerCase()) ? PRESETS[name.toLowerCase()] : undefined;
}
