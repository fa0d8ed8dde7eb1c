/**
 * The demos' WebGPU check: what this browser can do, and, when it cannot, exactly what to do about it. Every page
 * starts with `openEngine`; the landing page shows the same check on its own.
 *
 * The three ways it fails, each with its own fix:
 *   - not a secure context (file://, a plain-http host): navigator.gpu is hidden;
 *   - no navigator.gpu: the browser lacks WebGPU or has it switched off;
 *   - navigator.gpu is there but requestAdapter() gives null: the usual case of Chrome/Chromium on Linux, where
 *     WebGPU is behind a flag, or of a blocklisted GPU driver.
 */
import { createEngine, type Engine } from '../../src/index.js';

export type WebGpuCheck =
  | { ok: true; engine: Engine }
  | { ok: false; problem: string; fixes: string[]; detail?: string };

const isLinux = (): boolean => /Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent);

const LINUX_FLAG = 'Chrome or Chromium on Linux: open <code>chrome://flags/#enable-unsafe-webgpu</code>, set it to Enabled and ' +
  'relaunch (or start the browser with <code>--enable-unsafe-webgpu --enable-features=Vulkan</code>).';
const BLOCKLIST = 'A GPU driver on the browser\'s blocklist: update the driver, or try <code>chrome://flags/#ignore-gpu-blocklist</code>.';
const STATUS_PAGE = 'Chrome, Edge: <code>chrome://gpu</code> shows whether WebGPU is "Hardware accelerated" and why not.';

/** Creates the engine, or says why this browser cannot. `log` receives the engine's adapter line. */
export async function openEngine(log?: (line: string) => void): Promise<WebGpuCheck> {
  if (!window.isSecureContext) {
    return {
      ok: false,
      problem: 'This page is not a secure context, so the browser hides WebGPU.',
      fixes: ['Open it over <code>https://</code>, or from <code>http://localhost</code> / <code>http://127.0.0.1</code> ' +
        '(<code>npm run demo</code> serves it there), not from <code>file://</code> or another plain-http host.'],
    };
  }
  if (!('gpu' in navigator)) {
    return {
      ok: false,
      problem: 'This browser has no WebGPU (navigator.gpu is missing).',
      fixes: [
        'Use Chrome or Edge 113+ (Windows, macOS, ChromeOS; Android 12+ from 121), Safari 26+, or Firefox 141+ (Windows; other systems: Nightly).',
        LINUX_FLAG,
        'Firefox: <code>about:config</code> → <code>dom.webgpu.enabled</code> = true.',
      ],
    };
  }
  try {
    return { ok: true, engine: await createEngine({ log: log ?? false }) };
  } catch (e) {
    const err = e as Error;
    // By name: a bundler may hold two copies of a library's classes (or none initialised yet), which instanceof misses.
    if (err.name === 'NoAdapterError') {
      return {
        ok: false,
        problem: 'WebGPU is present, but the browser gave no adapter (navigator.gpu.requestAdapter() returned null).',
        fixes: isLinux() ? [LINUX_FLAG, STATUS_PAGE, BLOCKLIST] : [STATUS_PAGE, BLOCKLIST, LINUX_FLAG],
        detail: err.message,
      };
    }
    return { ok: false, problem: `WebGPU failed to start: ${err.name}: ${err.message}`, fixes: [STATUS_PAGE] };
  }
}

/** Fills `box` with the problem and its fixes (class `box fail`). */
export function showWebGpuProblem(box: HTMLElement, check: Extract<WebGpuCheck, { ok: false }>): void {
  box.className = 'box fail';
  box.innerHTML = '';
  const p = document.createElement('p');
  const strong = document.createElement('strong');
  strong.textContent = check.problem;
  p.append(strong);
  const ul = document.createElement('ul');
  for (const fix of check.fixes) {
    const li = document.createElement('li');
    li.innerHTML = fix; // our own fixed strings (with <code>)
    ul.append(li);
  }
  box.append(p, ul);
  if (check.detail) {
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = 'What was tried';
    const pre = document.createElement('pre');
    pre.className = 'log';
    pre.textContent = check.detail;
    details.append(summary, pre);
    box.append(details);
  }
}

/** Shows a failed check in the page's (hidden until now) #webgpu box. */
export function showWebGpuBox(check: Extract<WebGpuCheck, { ok: false }>): void {
  const box = document.getElementById('webgpu')!;
  box.hidden = false;
  showWebGpuProblem(box, check);
}
