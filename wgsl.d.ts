// `.wgsl` files are imported as text (esbuild's text loader; vitest via the plugin in vitest.config.ts).
declare module '*.wgsl' {
  const source: string;
  export default source;
}

// wgsl_reflect's CommonJS `main` does not load as ESM in Node 20; its ES module file does (see HEADLESS_WEBGPU.md).
declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
