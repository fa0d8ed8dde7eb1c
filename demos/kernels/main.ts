/**
 * Demo: the library's self-test in the browser (selfTest with onResult), one row per check as it finishes, with a
 * running count and each check's worst error against its tolerance.
 *
 * Query: ?seed=N replays a run, ?filter=REGEX runs only the matching checks (e.g. ?filter=^activation\.).
 * When a run ends, `window.__wgtrainKernels` holds { results, failed, adapter } (for tests).
 */
import { describeWorst, selectChecks, selfTest, type Engine, type SelfTestResult } from '../../src/index.js';
import { $, setStatus } from '../shared/dom.js';
import { openEngine, showWebGpuBox } from '../shared/webgpu.js';

declare global {
  interface Window {
    __wgtrainKernels?: { results: SelfTestResult[]; failed: number; adapter: string } | { error: string };
  }
}

const tbody = $<HTMLTableSectionElement>('results');
const progress = $<HTMLProgressElement>('progress');
const button = $<HTMLButtonElement>('run');
const seedInput = $<HTMLInputElement>('seed');
const filterInput = $<HTMLInputElement>('filter');
const params = new URLSearchParams(location.search);
seedInput.value = params.get('seed') ?? '';
filterInput.value = params.get('filter') ?? '';

function cell(tr: HTMLTableRowElement, cls: string, text = ''): HTMLTableCellElement {
  const td = tr.insertCell();
  td.className = cls;
  td.textContent = text;
  return td;
}

/** The row of a finished check: ✓/✗, name, the worst error as a bar (share of the tolerance) and in words, time. */
function fillRow(tr: HTMLTableRowElement, r: SelfTestResult): void {
  tr.className = r.ok ? 'ok-row' : 'fail-row';
  tr.innerHTML = '';
  cell(tr, r.ok ? 'ok' : 'fail', r.ok ? '✓' : '✗');
  cell(tr, 'name', r.name);
  const td = cell(tr, 'margin-cell');
  if (r.worst) {
    const ratio = r.worst.ratio;
    const div = document.createElement('div');
    div.className = 'margin';
    const bar = document.createElement('span');
    bar.className = `bar${!(ratio <= 1) ? ' over' : ratio > 0.5 ? ' high' : ''}`;
    bar.title = `${(100 * ratio).toPrecision(3)}% of the tolerance`;
    const fill = document.createElement('i');
    // Square root scale: a check at 1% of its tolerance still shows a sliver.
    fill.style.width = `${Math.min(100, 100 * Math.sqrt(Number.isFinite(ratio) ? Math.max(ratio, 0) : 1))}%`;
    bar.append(fill);
    const text = document.createElement('span');
    text.className = 'errtext';
    text.textContent = describeWorst(r);
    div.append(bar, text);
    td.append(div);
  }
  if (r.error) {
    const e = document.createElement('div');
    e.className = 'error';
    e.textContent = r.error;
    td.append(e);
  }
  cell(tr, 'ms', `${r.ms.toFixed(0)} ms`);
}

let engine: Engine | null = null;

async function run(): Promise<void> {
  button.disabled = true;
  tbody.innerHTML = '';
  const seed = Number(seedInput.value) || Date.now() % 2 ** 31;
  seedInput.value = String(seed);
  let filter: RegExp | undefined;
  try {
    filter = filterInput.value ? new RegExp(filterInput.value) : undefined;
  } catch (e) {
    setStatus(`The filter is not a regular expression: ${(e as Error).message}`, 'fail');
    button.disabled = false;
    return;
  }
  const checks = selectChecks(filter);
  if (checks.length === 0) {
    setStatus(filter ? `No check matches ${filter}.` : 'No checks are registered.', 'warn');
    button.disabled = false;
    return;
  }
  let failed = 0;
  // The next check's row, shown as running until its result arrives.
  const pendingRow = (name: string) => {
    const tr = tbody.insertRow();
    tr.className = 'running';
    cell(tr, '', '…');
    cell(tr, 'name', name);
    cell(tr, 'margin-cell', 'running');
    cell(tr, 'ms');
    return tr;
  };
  let row = pendingRow(checks[0]!.name);
  progress.max = checks.length;
  progress.value = 0;
  setStatus(`0 of ${checks.length} checks done on ${engine!.describe()} (seed ${seed})…`);
  try {
    // Let the first row paint before the GPU work starts.
    await new Promise((r) => setTimeout(r, 0));
    const results = await selfTest(engine!, {
      seed,
      ...(filter ? { filter } : {}),
      onResult(r, done, total) {
        if (!r.ok) failed++;
        fillRow(row, r);
        if (done < total) row = pendingRow(checks[done]!.name);
        progress.value = done;
        setStatus(`${done} of ${total} checks done${failed ? `, ${failed} FAILED` : ', all passed so far'} (seed ${seed})…`, failed ? 'fail' : '');
      },
    });
    if (failed) setStatus(`${failed} of ${results.length} checks FAILED on ${engine!.describe()} (seed ${seed}: add ?seed=${seed} to replay).`, 'fail');
    else setStatus(`All ${results.length} checks passed on ${engine!.describe()} (seed ${seed}).`, 'ok');
    window.__wgtrainKernels = { results, failed, adapter: engine!.describe() };
  } catch (e) {
    setStatus(`${(e as Error).name}: the self-test could not run: ${(e as Error).message}`, 'fail');
    window.__wgtrainKernels = { error: (e as Error).message };
  } finally {
    button.disabled = false;
  }
}

async function main(): Promise<void> {
  const check = await openEngine();
  if (!check.ok) {
    showWebGpuBox(check);
    setStatus(check.problem, 'fail');
    window.__wgtrainKernels = { error: check.problem };
    return;
  }
  engine = check.engine;
  button.addEventListener('click', () => void run());
  await run();
}

void main();
