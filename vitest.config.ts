import { defineConfig } from 'vitest/config';

// Load `.wgsl` as a string, the way build.mjs's esbuild text loader does, so tests and bundles see the same source.
const wgslAsText = {
  name: 'wgsl-as-text',
  transform(code: string, id: string) {
    if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
    return null;
  },
};

export default defineConfig({
  plugins: [wgslAsText],
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/adapter.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // One GPU device per worker is expensive on a software adapter with 2 cores: run files one at a time.
    fileParallelism: false,
    reporters: ['default'],
  },
});
