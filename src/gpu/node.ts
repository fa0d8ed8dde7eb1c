/**
 * The Node side of the engine: `createEngine` and `acquireAdapter` on Dawn (the `webgpu` package), with SwiftShader as
 * the software fallback (acquire-node.ts). wgtrain's Node entry (src/node.ts) exports these in place of the
 * browser-safe ones of gpu/index.ts; Node tests and tools import them from here.
 */
import { acquireNodeAdapter } from './acquire-node.js';
import { createEngineWith, setAdapterSource, type Engine, type EngineOptions } from './engine.js';

export { acquireNodeAdapter as acquireAdapter };

const stderr = (line: string): void => void process.stderr.write(line + '\n');

// Engines the library creates by itself (gpu/engine.ts createEngine) use Dawn from now on.
setAdapterSource(acquireNodeAdapter, stderr);

/** An engine on the best adapter Node has: hardware through Dawn, else SwiftShader. Reports it on stderr. */
export function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return createEngineWith(acquireNodeAdapter, options, stderr);
}
