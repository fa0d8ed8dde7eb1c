import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import { wgslModule } from './tools/wgsl-loader.js';

// `.wgsl` files load as build.mjs bundles them (tools/wgsl-loader.ts): text without comments, layout reflected now.
const layoutModule = fileURLToPath(new URL('./src/gpu/layout.ts', import.meta.url));
const wgsl = {
  name: 'wgsl',
  transform(code: string, id: string) {
    if (id.endsWith('.wgsl')) return { code: wgslModule(code, id, layoutModule), map: null };
    return null;
  },
};

export default defineConfig({
  plugins: [wgsl],
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
