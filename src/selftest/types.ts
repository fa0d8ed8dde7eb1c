/**
 * A self-check runs a GPU kernel on fresh random inputs and compares it with the CPU reference; it throws (with the
 * first mismatches) when they disagree. The same checks run in Node (vitest) and in a browser page
 * (`selfTest()` in the library bundle, driven by test/browser.test.ts).
 */
import type { Engine } from '../gpu/index.js';

export interface SelfCheck {
  /** e.g. `activation.gelu` */
  name: string;
  run(engine: Engine, rand: () => number): Promise<void>;
}
