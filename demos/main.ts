/**
 * Landing page: the WebGPU check. Names the adapter this browser gives (and whether it is a software one), or says
 * exactly what to do without one (shared/webgpu.ts). The demo links are plain HTML.
 */
import { openEngine, showWebGpuProblem } from './shared/webgpu.js';

declare global {
  interface Window {
    /** For tests: the check's outcome once known. */
    __wgtrainCheck?: { ok: boolean; adapter?: string; problem?: string };
  }
}

const box = document.getElementById('webgpu')!;

async function main(): Promise<void> {
  const check = await openEngine();
  if (!check.ok) {
    showWebGpuProblem(box, check);
    window.__wgtrainCheck = { ok: false, problem: check.problem };
    return;
  }
  const { engine } = check;
  const i = engine.info;
  const rows: [string, string][] = [
    ['adapter', engine.describe()],
    ['kind', i.software ? 'software (runs on the CPU: the demos work, slowly)' : 'hardware'],
    ['features', [...engine.features].sort().join(', ') || 'none beyond core'],
    ['largest storage buffer', `${Math.round(engine.limits.maxStorageBufferBindingSize / 2 ** 20)} MiB`],
  ];
  box.className = i.software ? 'box warn' : 'box ok';
  box.innerHTML = '';
  const p = document.createElement('p');
  p.innerHTML = `<strong>WebGPU works here.</strong> ${i.software
    ? 'This is a software adapter: training runs, but far slower than on a GPU.'
    : 'Every demo runs on this GPU.'}`;
  const dl = document.createElement('dl');
  dl.className = 'adapter';
  for (const [k, v] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dl.append(dt, dd);
  }
  box.append(p, dl);
  window.__wgtrainCheck = { ok: true, adapter: engine.describe() };
  engine.destroy();
}

main().catch((e) => {
  box.className = 'box fail';
  box.textContent = `The check failed: ${(e as Error).message}`;
  window.__wgtrainCheck = { ok: false, problem: String((e as Error).message) };
});
