/**
 * Letting the event loop run during long work: metrics listeners, progress output, and signal handlers (Ctrl-C sets
 * the AbortSignal a fit checks) only run when the training loop yields. Each yield is one macrotask turn (about a
 * microsecond of idle time), taken at most every YIELD_MS, so it costs nothing measurable.
 */

/** Lets the event loop run without waiting on the device. */
export const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

/** How long work runs between yields. */
export const YIELD_MS = 50;

/** Yields when YIELD_MS have passed since its last yield (or its creation). */
export function yielder(): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last <= YIELD_MS) return;
    await yieldToEventLoop();
    last = performance.now();
  };
}
