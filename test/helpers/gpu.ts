/**
 * One engine per test file. GPU tests never skip themselves: if no adapter can be had, `gpu()` throws and every
 * GPU test fails with the engine's explanation of what was tried.
 */
import { createEngine, type Engine } from '../../src/gpu/index.js';

let engine: Promise<Engine> | null = null;

export function gpu(): Promise<Engine> {
  engine ??= createEngine({ log: (line) => console.log(line) });
  return engine;
}

/** A storage buffer filled with NaN, so a kernel that forgets to write an element cannot pass. */
export function poisoned(e: Engine, label: string, n: number): GPUBuffer {
  return e.storage(label, new Float32Array(n).fill(NaN));
}
