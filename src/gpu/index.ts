export { createEngine, setAdapterSource, Engine, type EngineOptions, type AdapterSummary } from './engine.js';
export { Kernel, defineKernel, resourceBytes, definedKernels, checkBindings, grid1d, align, UniformBuffer, type KernelDef, type Resource } from './kernel.js';
export { composeLayout, layoutOf, registerWgsl, type ModuleInfo, type EntryInfo, type BindingInfo, type StructLayout, type FieldLayout, type BindingKind } from './layout.js';
export { UniformBlock, type FieldValue } from './uniforms.js';
export { ComposedSource, type WgslFile } from './source.js';
export { acquireAdapter, type AdapterChoice, type AcquireOptions, type Acquired, type AdapterSource } from './acquire.js';
export * from './errors.js';
