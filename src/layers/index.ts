/**
 * Layers: each kind is one module (its options, shapes, parameters, CPU reference and GPU plan) registered in
 * registry.ts; the builders make the input objects `sequential([...], { inputs })` takes.
 */
export type {
  LayerKind, LayerSpecBase, LayerSite, Shape, ParamDecl, StatDecl, InitContext, LayerArgs, LayerSyntax, Encodable, PlannedOp,
  Epilogue, GpuContext, GpuForwardContext, GpuBackwardContext, GpuLayer, CpuForwardContext, CpuBackwardContext, CpuLayer, LayerFilterDecl,
} from './layer.js';
export { shapeSize, showShape, plannedOps, readColumn } from './layer.js';
export { BUILTIN_LAYERS, registerLayerKind, layerKind, layerKinds, type LayerSpec, type LayerInput } from './registry.js';
export { bindArgs, formatCall, formatPair, type ArgDecl, type ArgType, type ArgValue } from './args.js';
export { INITIALIZERS, defaultWeightInit, gainNonlinearity, initWeights, type Initializer } from './weights.js';
export { dense, denseLayer, type DenseSpec, type DenseInput } from './dense.js';
export {
  activation, relu, leakyRelu, elu, sigmoid, tanh, gelu, geluTanh, softplus, activationLayer, type ActivationSpec, type ActivationInput,
} from './activation.js';
export { batchNorm, batchNormLayer, type BatchNormSpec, type BatchNormInput } from './batchnorm.js';
export { dropout, dropoutLayer, type DropoutSpec, type DropoutInput } from './dropout.js';
export { reshape, reshapeLayer, type ReshapeSpec, type ReshapeInput } from './reshape.js';
export { conv2d, conv2dLayer, type Conv2dSpec, type Conv2dInput, type Conv2dOptions } from './conv2d.js';
export { maxPool2d, maxPool2dLayer, type MaxPool2dSpec, type MaxPool2dInput } from './maxpool2d.js';
export { avgPool2d, avgPool2dLayer, type AvgPool2dSpec, type AvgPool2dInput } from './avgpool2d.js';
export { globalAvgPool, globalAvgPoolLayer, type GlobalAvgPoolSpec, type GlobalAvgPoolInput } from './globalavgpool.js';
export { flatten, flattenLayer, type FlattenSpec, type FlattenInput } from './flatten.js';
export { batchNorm2d, batchNorm2dLayer, type BatchNorm2dSpec, type BatchNorm2dInput } from './batchnorm2d.js';
