// `.wgsl` files are imported as text (esbuild's text loader; vitest via the plugin in vitest.config.ts).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
