/** Loads TensorFlow.js for the benchmarks (see loadTfjs). */
import { build } from 'esbuild';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * TensorFlow.js core + every gradient + the WebGPU backend, as the `@tensorflow/tfjs` bundle would give them.
 * tfjs-core's ESM files import without file extensions (Node's ESM loader refuses them) and its CommonJS build
 * registers no gradients, so the three are bundled here once with esbuild into bench/.cache/ (git-ignored).
 */
export async function loadTfjs() {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const outfile = `${here}.cache/tfjs-webgpu.mjs`;
  await build({
    stdin: {
      contents: [
        "export * from '@tensorflow/tfjs-core';",
        "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
        "import '@tensorflow/tfjs-backend-webgpu';",
      ].join('\n'),
      resolveDir: here,
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    mainFields: ['module', 'main'], // the ESM builds: one tfjs-core instance, statically known exports
    outfile,
    logLevel: 'error',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return import(pathToFileURL(outfile).href);
}
