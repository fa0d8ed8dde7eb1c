/**
 * Demo: the library's self-test in the browser. It only calls the public API (createEngine, selfTest); the
 * capability check tells the user what to do when this browser has no WebGPU.
 */
import { createEngine, selfTest, SELF_CHECKS, type Engine } from '../../src/index.js';

const status = document.getElementById('status')!;
const log = document.getElementById('log')!;
const button = document.getElementById('run') as HTMLButtonElement;
const seedInput = document.getElementById('seed') as HTMLInputElement;

function line(text: string, cls?: string): void {
  const span = document.createElement('span');
  if (cls) span.className = cls;
  span.textContent = text + '\n';
  log.append(span);
}

function setStatus(text: string, cls: string): void {
  status.textContent = text;
  status.className = cls;
}

/** Why this page cannot use WebGPU, or null if it can try. */
function missingWebGpu(): string | null {
  if (!window.isSecureContext) return 'WebGPU needs a secure context: open this page over https:// or from http://localhost / 127.0.0.1, not file://.';
  if (!('gpu' in navigator)) {
    return 'This browser has no WebGPU (navigator.gpu is missing). Use Chrome or Edge 113+, Safari 26+ or Firefox 141+; ' +
      'on Linux, Chrome may need chrome://flags/#enable-unsafe-webgpu. chrome://gpu shows WebGPU status.';
  }
  return null;
}

// ?filter=REGEX runs only the matching checks (e.g. ?filter=^activation\.).
const filterParam = new URLSearchParams(location.search).get('filter');
const filter = filterParam ? new RegExp(filterParam) : undefined;

let engine: Engine | null = null;

async function run(): Promise<void> {
  button.disabled = true;
  log.textContent = '';
  const seed = Number(seedInput.value) || Date.now() % 2 ** 31;
  seedInput.value = String(seed);
  try {
    engine ??= await createEngine({ log: (l) => line(l) });
    setStatus(`running ${filter ? 'the matching' : SELF_CHECKS.length} checks on ${engine.describe()}…`, '');
    const results = await selfTest(engine, { seed, ...(filter ? { filter } : {}) });
    let failed = 0;
    for (const r of results) {
      if (!r.ok) failed++;
      line(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}  ${r.ms.toFixed(0)} ms${r.error ? '\n     ' + r.error : ''}`, r.ok ? 'ok' : 'fail');
    }
    if (results.length === 0) setStatus(filter ? `no check matches ${filter}` : 'no checks are registered', 'warn');
    else if (failed) setStatus(`${failed} of ${results.length} checks FAILED (seed ${seed})`, 'fail');
    else setStatus(`all ${results.length} checks passed on ${engine.describe()}`, 'ok');
  } catch (e) {
    setStatus(`${(e as Error).name}: could not run`, 'fail');
    line((e as Error).message, 'fail');
  } finally {
    button.disabled = false;
  }
}

const problem = missingWebGpu();
if (problem) setStatus(problem, 'fail');
else {
  button.addEventListener('click', () => void run());
  void run();
}
