/**
 * One engine per test file. GPU tests never skip themselves: if no adapter can be had, `gpu()` throws and every
 * GPU test fails with the engine's explanation of what was tried.
 */
import type { Engine } from '../../src/gpu/index.js';
import { createEngine } from '../../src/gpu/node.js';
import { setMatmulAutotune } from '../../src/kernels/matmul-tune.js';

let engine: Promise<Engine> | null = null;

/**
 * The file's engine. Matmul autotuning is off here (tests force each variant, or check the fixed rule; tuning every
 * shape of every test on a hardware adapter would compile ~20 pipelines per shape): test/matmul-tiled8.test.ts turns
 * it on to test it.
 */
export function gpu(): Promise<Engine> {
  engine ??= createEngine({ log: (line) => console.log(line) }).then((e) => (setMatmulAutotune(e, false), e));
  return engine;
}

/** A storage buffer filled with NaN, so a kernel that forgets to write an element cannot pass. */
export function poisoned(e: Engine, label: string, n: number): GPUBuffer {
  return e.storage(label, new Float32Array(n).fill(NaN));
}
