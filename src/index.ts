/**
 * wgtrain: neural-network training on WebGPU. The public API, for browser bundles and Node alike.
 */
export * from './gpu/index.js';
export { ACTIVATIONS, ActivationOp, activationCode, defaultAlpha, type Activation } from './kernels/activation.js';
export { selfTest, SELF_CHECKS, type SelfCheck, type SelfTestResult } from './selftest/index.js';
