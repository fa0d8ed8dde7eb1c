/**
 * Shared by the benchmarks: one Dawn instance exposed as `navigator.gpu` (so wgtrain, TensorFlow.js and jax-js all
 * get their device from the same adapter in the same process), a dispatch / submit counter, timing helpers and the
 * machine load. Import this module before anything that touches WebGPU.
 *
 * How time is taken (every framework alike): warm up (pipelines compiled, buffers allocated), then R repeats of
 * `await timeIt(n, work)`: `work(n)` enqueues n units and ends with the framework's own GPU sync, so a repeat's
 * wall time covers host encoding and the GPU finishing the work. Reported: the median over repeats, per unit.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';

/** SwiftShader from Debian's chromium, as src/gpu/acquire.ts finds it; must be set before the first `create()`. */
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

let gpuReady = null;

/**
 * Loads Dawn (`webgpu` package), installs its WebGPU globals, sets `globalThis.navigator = { gpu }`.
 * WGTRAIN_ADAPTER=hardware skips the SwiftShader fallback (for a machine with a real GPU and its Vulkan driver).
 * `userAgent` is there because jax-js's WebGPU backend reads `navigator.userAgent` at import time.
 */
export function setupGpu() {
  gpuReady ??= (async () => {
    process.env.XDG_RUNTIME_DIR ??= tmpdir(); // silences Dawn's warning
    if (process.env.WGTRAIN_ADAPTER !== 'hardware' && !process.env.VK_ICD_FILENAMES) {
      const icd = process.env.WGTRAIN_SWIFTSHADER_ICD ?? SWIFTSHADER_ICD;
      if (existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
    }
    const { create, globals } = await import('webgpu');
    // As wgtrain's own Node engine does (src/gpu/dawn-poll.ts), for every framework of the run alike.
    (await import('../dist/index.js')).installDawnPollThrottle();
    Object.assign(globalThis, globals);
    const gpu = create(['disable-dawn-features=timestamp_quantization']); // exact timestamps, as src/gpu/acquire.ts
    Object.defineProperty(globalThis, 'navigator', { value: { gpu, userAgent: `Node.js ${process.version}` }, configurable: true, writable: true });
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error('bench: no WebGPU adapter (install chromium for SwiftShader, or a Vulkan driver)');
    const i = adapter.info;
    return { gpu, adapter: `${[i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ')}${i.isFallbackAdapter ? ' [fallback]' : ''}` };
  })();
  return gpuReady;
}

/**
 * Counts compute dispatches, queue submits and buffer writes made by anyone in this process (prototype wrappers on
 * Dawn's classes; negligible cost). `counters.snapshot()` then `counters.since(snap)` gives the counts in a window.
 */
export const counters = {
  dispatch: 0,
  submit: 0,
  writeBuffer: 0,
  installed: false,
  install() {
    if (this.installed) return;
    this.installed = true;
    const wrap = (cls, method, field) => {
      const orig = cls.prototype[method];
      cls.prototype[method] = function (...args) {
        counters[field]++;
        return orig.apply(this, args);
      };
    };
    wrap(globalThis.GPUComputePassEncoder, 'dispatchWorkgroups', 'dispatch');
    wrap(globalThis.GPUComputePassEncoder, 'dispatchWorkgroupsIndirect', 'dispatch');
    wrap(globalThis.GPUQueue, 'submit', 'submit');
    wrap(globalThis.GPUQueue, 'writeBuffer', 'writeBuffer');
  },
  snapshot() {
    return { dispatch: this.dispatch, submit: this.submit, writeBuffer: this.writeBuffer };
  },
  since(s) {
    return { dispatch: this.dispatch - s.dispatch, submit: this.submit - s.submit, writeBuffer: this.writeBuffer - s.writeBuffer };
  },
};

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Wall milliseconds of `await work(n)`. */
export async function timeIt(n, work) {
  const t0 = performance.now();
  await work(n);
  return performance.now() - t0;
}

/** Units per repeat so that one repeat lasts about `targetMs` (at least `min`, at most `max`), from one timed unit. */
export function unitsFor(msPerUnit, targetMs, min = 2, max = 200) {
  return Math.max(min, Math.min(max, Math.round(targetMs / Math.max(msPerUnit, 1e-3))));
}

export function machine() {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? '?', node: process.version, load: loadavg().map((x) => +x.toFixed(2)) };
}

export const load1 = () => +loadavg()[0].toFixed(2);

/** Rejects after `ms` (keeps a hung adapter from hanging the run). */
export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => (t = setTimeout(() => rej(new Error(`${what}: no result after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const [k, v] = a.slice(2).split('=');
    out[k] = v ?? (argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true');
  }
  return out;
}

/** The commit measured, and the tracked files under src/ and shaders/ that differ from it (dist/ is built from them). */
export function gitState() {
  const git = (...a) => {
    try {
      return execFileSync('git', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trimEnd(); // porcelain lines start with a space
    } catch {
      return '';
    }
  };
  const dirty = git('status', '--porcelain', '--', 'src', 'shaders').split('\n').filter(Boolean).map((l) => l.slice(3));
  return { commit: git('rev-parse', '--short', 'HEAD').trim() || '?', dirty };
}
