/**
 * vitest globalSetup: before any test file runs, get the WebGPU adapter the suite will use (the same way each test
 * file's engine will: hardware if there is one, else SwiftShader; WGTRAIN_ADAPTER=auto|hardware|software chooses),
 * print it, and stop the whole run with the engine's explanation of what was tried if there is none: GPU tests
 * never skip themselves. Under CI (env CI set) Chromium must exist too, so the browser test cannot be lost silently.
 */
import { existsSync } from 'node:fs';
import { createEngine } from '../../src/gpu/node.js';
import { CHROMIUM, CHROMIUM_MISSING } from '../browser/chromium.js';

export async function setup(): Promise<void> {
  // Test workers inherit this process's environment and should find their adapter the way a user's program would:
  // acquisition puts VK_ICD_FILENAMES back itself, but sets XDG_RUNTIME_DIR; both are restored here regardless.
  const saved = { VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
  const engine = await createEngine({ log: false }).finally(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  try {
    console.log(`GPU tests run on: ${engine.describe()}`);
    if (engine.software) console.log('  (a software adapter: GPU tests are slow, expect minutes)');
  } finally {
    engine.destroy();
  }
  if (process.env.CI && !existsSync(CHROMIUM)) throw new Error(`CI is set and ${CHROMIUM_MISSING}`);
}
