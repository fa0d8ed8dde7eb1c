/**
 * Gentler GPU polling for Dawn in Node. Node-only: acquire-node.ts installs it before Dawn's first use.
 *
 * dawn.node (the `webgpu` package) settles GPU promises (mapAsync, onSubmittedWorkDone, async pipeline creation)
 * by polling: while any such operation is pending, each poll re-queues itself through the global `setImmediate`
 * with a new native function. A Node process waiting on the GPU therefore spins one CPU core at 100%, making a
 * garbage callback every ~10 µs. On a software adapter that core is taken from the adapter's own worker threads
 * (SwiftShader on 2 cores: `train --steps 40` ran in 3.6–4.5 s of training instead of 5.0–6.7 s, and its whole run
 * 9–11 s instead of 13–17 s); on a GPU the garbage costs GC pauses inside the next steps' encoding.
 *
 * The rule: a poll is Dawn's when a native function with no arguments is scheduled from native code running as an
 * immediate (the only JS frame below the call is Node's `processImmediate`). Polls less than GAP_MS apart form a
 * streak; the first SPIN_POLLS of a streak keep `setImmediate` (a short wait keeps its latency), the rest wait
 * TIMER_MS on a timer, where the event loop sleeps instead of spinning. Every other `setImmediate` call passes
 * through unchanged. `WGTRAIN_DAWN_POLL=spin` leaves Dawn's polling as it is.
 */

/** Polls of a streak that keep setImmediate (about 0.1–0.6 ms of spinning, by CPU). */
export const SPIN_POLLS = 64;
/** A poll this soon after the previous one continues its streak (a timer poll is TIMER_MS later). */
export const GAP_MS = 2;
/** The interval of the throttled polls. */
export const TIMER_MS = 1;

/** The decision for one Dawn poll: the streak's state before it, and the time. */
export function nextPoll(state: { streak: number; last: number }, now: number): 'immediate' | 'timer' {
  state.streak = now - state.last < GAP_MS ? state.streak + 1 : 1;
  state.last = now;
  return state.streak > SPIN_POLLS ? 'timer' : 'immediate';
}

const INSTALLED = Symbol.for('wgtrain.dawnPollThrottle');
type ImmediateFn = (callback: (...args: unknown[]) => void, ...args: unknown[]) => unknown;

function isNative(fn: unknown): boolean {
  return typeof fn === 'function' && fn.length === 0 && Function.prototype.toString.call(fn).endsWith('{ [native code] }');
}

interface CallSite {
  getFunctionName(): string | null;
}
const callSites = (_: unknown, sites: CallSite[]): CallSite[] => sites;

/**
 * True when the caller of `self` is native code run by Node's immediate queue (Dawn's re-queued poll): the first JS
 * frame below it is `processImmediate`. Runs for every poll, so it reads that frame as a call site instead of having
 * the stack formatted as text (3.5 instead of 5.5–6.6 µs a call, measured in Node 20).
 */
function calledFromImmediateQueue(self: (...args: never[]) => unknown): boolean {
  const holder: { stack?: unknown } = {};
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 1;
  Error.prepareStackTrace = callSites;
  try {
    Error.captureStackTrace(holder, self);
    const sites = holder.stack; // formatted (here: not) when first read, so read before prepareStackTrace is put back
    return Array.isArray(sites) && (sites[0] as CallSite | undefined)?.getFunctionName() === 'processImmediate';
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
}

/** Installs the throttle once per process (idempotent); returns whether it is active. */
export function installDawnPollThrottle(): boolean {
  const g = globalThis as unknown as Record<PropertyKey, unknown> & { setImmediate?: ImmediateFn };
  if (g[INSTALLED]) return true;
  if (process.env.WGTRAIN_DAWN_POLL === 'spin' || typeof g.setImmediate !== 'function') return false;
  const original = g.setImmediate;
  const state = { streak: 0, last: -Infinity };
  const throttled: ImmediateFn = function setImmediate(callback, ...args) {
    if (args.length === 0 && isNative(callback) && calledFromImmediateQueue(throttled)) {
      if (nextPoll(state, performance.now()) === 'timer') return setTimeout(callback, TIMER_MS);
    }
    return original(callback, ...args);
  };
  // Keep the original's own properties (util.promisify.custom: `promisify(setImmediate)` must still work).
  for (const key of Reflect.ownKeys(original)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    Object.defineProperty(throttled, key, Object.getOwnPropertyDescriptor(original, key)!);
  }
  g.setImmediate = throttled;
  g[INSTALLED] = true;
  return true;
}
