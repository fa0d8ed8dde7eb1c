/**
 * The throttle of Dawn's GPU polling (src/gpu/dawn-poll.ts): the streak rule on a fake clock; other setImmediate
 * callers untouched (JS callbacks, arguments, promisify, a native callback scheduled from JS); and a real GPU wait
 * that, when it lasts long enough to matter, is polled from a timer and still settles with the right result.
 */
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { GAP_MS, nextPoll, SPIN_POLLS, TIMER_MS } from '../src/gpu/dawn-poll.js';
import { gpu } from './helpers/gpu.js';

describe('the streak rule', () => {
  it(`${SPIN_POLLS} polls of a streak stay immediate, the rest go to a timer; a pause of ${GAP_MS} ms starts a new streak`, () => {
    const state = { streak: 0, last: -Infinity };
    let t = 100;
    const run = (n: number, step: number) => Array.from({ length: n }, () => nextPoll(state, (t += step)));
    const first = run(SPIN_POLLS + 5, 0.01);
    expect(first.slice(0, SPIN_POLLS).every((d) => d === 'immediate')).toBe(true);
    expect(first.slice(SPIN_POLLS)).toEqual(Array(5).fill('timer'));
    // Timer polls come TIMER_MS apart: still the same streak.
    expect(run(3, TIMER_MS)).toEqual(Array(3).fill('timer'));
    // A new wait after a pause spins first again.
    t += GAP_MS + 1;
    expect(run(SPIN_POLLS, 0.01).every((d) => d === 'immediate')).toBe(true);
    expect(run(1, 0.01)).toEqual(['timer']);
  });
});

describe(`with an engine (WGTRAIN_DAWN_POLL=${process.env.WGTRAIN_DAWN_POLL ?? 'unset'})`, () => {
  afterAll(async () => (await gpu()).destroy());

  it('is installed once the engine exists, and JS callers of setImmediate are not affected', async () => {
    await gpu();
    expect((globalThis as Record<symbol, unknown>)[Symbol.for('wgtrain.dawnPollThrottle')]).toBe(process.env.WGTRAIN_DAWN_POLL === 'spin' ? undefined : true);
    const got = await new Promise((resolve) => setImmediate((a: number, b: string) => resolve([a, b]), 7, 'x'));
    expect(got).toEqual([7, 'x']);
    expect(await promisify(setImmediate)('value')).toBe('value');
    // A native callback (a bound function) that re-schedules itself from JS: never throttled, so 300 rounds take
    // 300 event-loop turns, not 300 timer intervals. Checked by counting the timers created, not by timing.
    const realSetTimeout = globalThis.setTimeout;
    let timers = 0;
    globalThis.setTimeout = ((...a: Parameters<typeof setTimeout>) => (timers++, realSetTimeout(...a))) as typeof setTimeout;
    try {
      await new Promise<void>((resolve) => {
        let left = 300;
        const round = function (this: { tag: string }) {
          if (--left === 0) resolve();
          else setImmediate(bound);
        };
        const bound = round.bind({ tag: 'bound' });
        setImmediate(bound);
      });
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    expect(timers).toBe(0);
  });

  it('a long GPU wait is polled from a timer and settles with the right result', async () => {
    const e = await gpu();
    const n = 64 * 256;
    const module = e.device.createShaderModule({
      code: `@group(0) @binding(0) var<storage, read_write> b: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) {
  var x = g.x;
  for (var i = 0u; i < 4096u; i++) { x = x * 1664525u + 1013904223u; }
  b[g.x] = x;
}`,
    });
    const pipeline = e.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const buf = e.storage('dawn-poll.out', new Uint32Array(n).fill(0xffffffff));
    const group = e.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: buf } }] });
    const realSetTimeout = globalThis.setTimeout;
    let polls = 0;
    globalThis.setTimeout = ((cb: () => void, ms?: number) => {
      if (ms === TIMER_MS && Function.prototype.toString.call(cb).endsWith('{ [native code] }')) polls++;
      return realSetTimeout(cb, ms);
    }) as typeof setTimeout;
    let waited = 0;
    try {
      const enc = e.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      for (let k = 0; k < 8; k++) pass.dispatchWorkgroups(n / 64);
      pass.end();
      e.device.queue.submit([enc.finish()]);
      // The poll check swaps Error.prepareStackTrace for a moment: a program's own must be back after each poll.
      const own = (_: Error, sites: unknown[]) => `own formatter, ${sites.length} frames`;
      const before = Error.prepareStackTrace;
      Error.prepareStackTrace = own;
      const t0 = performance.now();
      try {
        await e.device.queue.onSubmittedWorkDone();
        waited = performance.now() - t0;
        expect(Error.prepareStackTrace).toBe(own);
        expect(new Error('x').stack).toMatch(/^own formatter, \d+ frames$/);
      } finally {
        Error.prepareStackTrace = before;
      }
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
    try {
      const out = new Uint32Array(await e.read(buf));
      for (const i of [0, 1, 4097, n - 1]) {
        let x = i;
        for (let k = 0; k < 4096; k++) x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        expect(out[i], `element ${i}`).toBe(x);
      }
      // Spinning SPIN_POLLS polls takes well under 5 ms on any CPU; a wait longer than 20 ms must have reached the
      // timer. A fast GPU may finish first: then there is nothing to throttle, and the streak rule's own test above
      // is what checks the throttle there.
      if (process.env.WGTRAIN_DAWN_POLL !== 'spin' && waited > 20) expect(polls, `${waited.toFixed(1)} ms wait`).toBeGreaterThan(0);
    } finally {
      buf.destroy();
    }
  });
});
