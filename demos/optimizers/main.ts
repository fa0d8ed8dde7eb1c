/**
 * Demo: the optimizer playground. Every run is the library's `minimize(problem, { method, hyperparams, start,
 * schedule, device: 'gpu' })`: the test function's value and gradient are computed by its WGSL shader, and a
 * first-order method's update is the fused GPU optimizer kernel that trains networks (GpuOptimizer); L-BFGS,
 * nonlinear CG and Newton run on the same GPU vector machine. This page picks the settings, draws the paths and the
 * losses, and keeps the settings in the URL.
 *
 * Query: ?fn=bowl&start=3,-2&steps=200&sched=exp&schedp=0.99&runs=SGD:0.1:0;SGD:0.1:0.9;Adam:0.2
 *        (each run method:lr[:momentum]), ?preset=quartic|lr|rosenbrock|bowl|saddle|beale.
 * After each batch of runs `window.__wgtrainPlayground` holds what was run and where each run ended (for tests).
 */
import { firstOrderMethods, METHODS, minimize, TEST_FUNCTIONS, type Engine, type IterateRecord, type Problem } from '../../src/index.js';
import { Chart, type Series } from '../shared/chart.js';
import { $, setStatus } from '../shared/dom.js';
import { openEngine, showWebGpuBox } from '../shared/webgpu.js';
import { FunctionPlot, type Path } from './plot.js';

interface RunSpec {
  method: string;
  lr: number;
  momentum: number;
}

interface Settings {
  fn: string;
  start: number[];
  steps: number;
  sched: 'constant' | 'exp' | 'step' | 'cosine';
  /** exp: γ per step; step: N (steps between halvings). */
  schedp: number;
  runs: RunSpec[];
}

interface RunResult {
  method: string;
  lr: number;
  momentum: number;
  /** Where it ended, f there and the steps taken. */
  x: number[];
  f: number;
  steps: number;
  stop: string;
  converged: boolean;
  /** Why it diverged (a NaN or infinite value or gradient), if it did. */
  diverged?: string;
  error?: string;
}

declare global {
  interface Window {
    __wgtrainPlayground?: { generation: number; fn: string; start: number[]; runs: RunResult[] } | { error: string };
  }
}

const COLORS = ['#e8590c', '#1971c2', '#2f9e44', '#ae3ec9', '#c92a2a', '#0c8599', '#f08c00', '#5f3dc4', '#d6336c', '#2b8a3e', '#364fc7', '#862e9c', '#087f5b', '#a61e4d', '#495057'];

/** Methods offered: every one minimize() takes except the least-squares ones (no test function is one). */
const METHOD_NAMES = Object.values(METHODS).filter((m) => !m.leastSquares).map((m) => m.name);
const takes = (method: string, h: string) => METHODS[method]?.hyperparams.includes(h) ?? false;

/** The course's classic experiments. */
const PRESETS: Record<string, { label: string; settings: Settings }> = {
  quartic: {
    label: 'Quartic: momentum escapes the local minimum',
    settings: { fn: 'quartic', start: [-5], steps: 300, sched: 'constant', schedp: 0.99, runs: [{ method: 'SGD', lr: 0.1, momentum: 0 }, { method: 'SGD', lr: 0.1, momentum: 0.9 }] },
  },
  lr: {
    label: 'Learning rate too small, right, too large',
    settings: {
      fn: 'bowl', start: [3, -2], steps: 150, sched: 'constant', schedp: 0.99,
      runs: [{ method: 'SGD', lr: 0.02, momentum: 0 }, { method: 'SGD', lr: 0.3, momentum: 0 }, { method: 'SGD', lr: 0.6, momentum: 0 }, { method: 'SGD', lr: 0.8, momentum: 0 }],
    },
  },
  rosenbrock: {
    label: 'Adam against SGD on Rosenbrock',
    settings: {
      fn: 'rosenbrock2d', start: [-1.2, 1], steps: 500, sched: 'constant', schedp: 0.99,
      runs: [{ method: 'SGD', lr: 0.002, momentum: 0 }, { method: 'SGD', lr: 0.001, momentum: 0.9 }, { method: 'Adam', lr: 0.1, momentum: 0 }],
    },
  },
  bowl: {
    label: 'Every optimizer on the bowl',
    settings: {
      fn: 'bowl', start: [3, -2], steps: 200, sched: 'constant', schedp: 0.99,
      runs: [
        ['SGD', 0.1, 0], ['SGD', 0.1, 0.9], ['Adagrad', 1, 0], ['RMSprop', 0.05, 0], ['Adadelta', 10, 0], ['Adam', 0.2, 0], ['AdamW', 0.2, 0],
        ['Adamax', 0.2, 0], ['NAdam', 0.2, 0], ['RAdam', 0.2, 0], ['ASGD', 0.1, 0], ['Rprop', 0.1, 0], ['LBFGS', 1, 0], ['NonlinearCG', 1, 0], ['Newton', 1, 0],
      ].map(([method, lr, momentum]) => ({ method: method as string, lr: lr as number, momentum: momentum as number })),
    },
  },
  saddle: {
    label: 'A saddle: who slides off, who stops',
    settings: {
      fn: 'saddle', start: [1.5, 0.05], steps: 60, sched: 'constant', schedp: 0.99,
      runs: [{ method: 'SGD', lr: 0.1, momentum: 0 }, { method: 'SGD', lr: 0.1, momentum: 0.9 }, { method: 'Adam', lr: 0.1, momentum: 0 }, { method: 'Newton', lr: 1, momentum: 0 }],
    },
  },
  beale: {
    label: 'Beale with a decaying rate',
    settings: {
      fn: 'beale', start: [1, 1.5], steps: 400, sched: 'exp', schedp: 0.995,
      runs: [{ method: 'SGD', lr: 0.01, momentum: 0.9 }, { method: 'Adam', lr: 0.1, momentum: 0 }, { method: 'LBFGS', lr: 1, momentum: 0 }],
    },
  },
};

// ---- settings <-> URL --------------------------------------------------------------------------------------------

const DEFAULT = PRESETS.quartic!.settings;

function parseRuns(text: string): RunSpec[] {
  return text.split(';').filter(Boolean).map((r) => {
    const [method = 'SGD', lr = '0.1', momentum = '0'] = r.split(':');
    return { method, lr: Number(lr), momentum: Number(momentum) };
  });
}

function fromUrl(params: URLSearchParams): Settings {
  const preset = params.get('preset');
  const base = structuredClone(PRESETS[preset ?? '']?.settings ?? DEFAULT);
  const num = (k: string, d: number) => (params.has(k) ? Number(params.get(k)) : d);
  return {
    fn: params.get('fn') ?? base.fn,
    start: params.has('start') ? params.get('start')!.split(',').map(Number) : base.start,
    steps: num('steps', base.steps),
    sched: (params.get('sched') as Settings['sched']) ?? base.sched,
    schedp: num('schedp', base.schedp),
    runs: params.has('runs') ? parseRuns(params.get('runs')!) : base.runs,
  };
}

function toUrl(s: Settings): void {
  const params = new URLSearchParams();
  params.set('fn', s.fn);
  params.set('start', s.start.join(','));
  params.set('steps', String(s.steps));
  params.set('sched', s.sched);
  if (s.sched === 'exp' || s.sched === 'step') params.set('schedp', String(s.schedp));
  params.set('runs', s.runs.map((r) => `${r.method}:${r.lr}${takes(r.method, 'momentum') ? `:${r.momentum}` : ''}`).join(';'));
  history.replaceState(null, '', `?${params}`);
}

/** The schedule as a spec for minimize (the base rate is each run's lr). */
function scheduleSpec(s: Settings): string | undefined {
  switch (s.sched) {
    case 'exp': return `exp:gamma=${s.schedp}`;
    case 'step': return `step:size=${Math.max(1, Math.round(s.schedp))},gamma=0.5`;
    case 'cosine': return `cosine:T=${s.steps}`;
    default: return undefined;
  }
}

// ---- controls ----------------------------------------------------------------------------------------------------

let settings: Settings = fromUrl(new URLSearchParams(location.search));
let engine: Engine | null = null;

const plot = new FunctionPlot($<HTMLCanvasElement>('plot'), (x) => {
  settings.start = x;
  writeControls();
  scheduleRun();
});
const lossChart = new Chart($('chart-loss'), { x: { label: 'step', integer: true }, y: { label: 'f − f* (log scale)', log: true } });

/** lr sliders are logarithmic: position 0..1000 ↔ 1e-4..10. */
const lrToPos = (lr: number) => String(Math.round(Math.min(1000, Math.max(0, ((Math.log10(lr) + 4) / 5) * 1000))));
const posToLr = (pos: number) => Number((10 ** (-4 + (5 * pos) / 1000)).toPrecision(2));
const fmt = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(1) : String(Number(v.toPrecision(3))));

function writeControls(): void {
  const p = TEST_FUNCTIONS[settings.fn];
  $<HTMLSelectElement>('fn').value = settings.fn;
  $('formula').textContent = p?.formula ?? '';
  $<HTMLInputElement>('start').value = settings.start.join(', ');
  $<HTMLInputElement>('steps').value = String(settings.steps);
  $('steps-out').textContent = String(settings.steps);
  $<HTMLSelectElement>('sched').value = settings.sched;
  const sp = $<HTMLInputElement>('schedp');
  const field = $('schedp-field');
  field.hidden = settings.sched === 'constant' || settings.sched === 'cosine';
  if (settings.sched === 'exp') {
    field.firstChild!.textContent = 'γ per step ';
    sp.min = '0.9'; sp.max = '0.9999'; sp.step = '0.0001';
    if (!(settings.schedp >= 0.9 && settings.schedp < 1)) settings.schedp = 0.99;
  } else if (settings.sched === 'step') {
    field.firstChild!.textContent = 'halve every ';
    sp.min = '5'; sp.max = '500'; sp.step = '5';
    if (!(settings.schedp >= 5)) settings.schedp = 50;
  }
  sp.value = String(settings.schedp);
  $('schedp-out').textContent = settings.sched === 'step' ? `${settings.schedp} steps` : String(settings.schedp);
  $('plot-note').textContent = p?.dim === 1 ? 'Click the plot to start from that x.' : 'Click the plot to start from there.';
  writeRuns();
}

function writeRuns(): void {
  const box = $('runs');
  box.innerHTML = '';
  settings.runs.forEach((r, i) => {
    const row = document.createElement('div');
    row.className = 'run';
    row.dataset.index = String(i);
    const swatch = Object.assign(document.createElement('span'), { className: 'swatch' });
    swatch.style.background = COLORS[i % COLORS.length]!;
    const method = document.createElement('select');
    method.setAttribute('aria-label', `optimizer ${i + 1}`);
    for (const m of METHOD_NAMES) method.append(new Option(m, m));
    method.value = r.method;
    method.addEventListener('change', () => {
      r.method = method.value;
      writeRuns();
      scheduleRun();
    });
    const slider = (label: string, min: string, max: string, step: string, value: string, show: string, onInput: (v: number) => string) => {
      const l = Object.assign(document.createElement('label'), { className: `slider ${label}` });
      const input = Object.assign(document.createElement('input'), { type: 'range', min, max, step, value });
      const out = Object.assign(document.createElement('output'), { textContent: show });
      input.addEventListener('input', () => (out.textContent = onInput(Number(input.value))));
      input.addEventListener('change', () => scheduleRun());
      l.append(label, input, out);
      return l;
    };
    const lr = slider('lr', '0', '1000', '1', lrToPos(r.lr), fmt(r.lr), (v) => fmt((r.lr = posToLr(v))));
    lr.hidden = !takes(r.method, 'lr');
    const mom = slider('momentum', '0', '0.99', '0.01', String(r.momentum), String(r.momentum), (v) => String((r.momentum = v)));
    mom.hidden = !takes(r.method, 'momentum');
    const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'remove', textContent: '×', title: 'remove' });
    remove.addEventListener('click', () => {
      settings.runs.splice(i, 1);
      writeRuns();
      scheduleRun();
    });
    const result = Object.assign(document.createElement('div'), { className: 'result', textContent: '' });
    row.append(swatch, method, lr, mom, remove, result);
    box.append(row);
  });
}

function readControls(): void {
  settings.fn = $<HTMLSelectElement>('fn').value;
  settings.steps = Number($<HTMLInputElement>('steps').value);
  settings.sched = $<HTMLSelectElement>('sched').value as Settings['sched'];
  settings.schedp = Number($<HTMLInputElement>('schedp').value);
}

// ---- runs --------------------------------------------------------------------------------------------------------

let generation = 0;
let timer: ReturnType<typeof setTimeout> | null = null;

/** Runs again shortly after the last change (a slider drag is one change). */
function scheduleRun(): void {
  if (timer) clearTimeout(timer);
  timer = setTimeout(() => void runAll(), 150);
}

class Superseded extends Error {}

async function runAll(): Promise<void> {
  if (!engine) return;
  const gen = ++generation;
  const s = structuredClone(settings);
  const problem: Problem | undefined = TEST_FUNCTIONS[s.fn];
  if (!problem) {
    setStatus(`Unknown function '${s.fn}'; choose one of ${Object.keys(TEST_FUNCTIONS).join(', ')}.`, 'fail');
    return;
  }
  if (s.start.length !== problem.dim || !s.start.every(Number.isFinite)) {
    s.start = [...problem.starts[0]!];
    settings.start = s.start;
    writeControls();
  }
  toUrl(s);
  const fStar = problem.known.find((k) => k.kind === 'global minimum')?.f;
  lossChart.setAxis('y', fStar === undefined ? { label: 'f', log: false, zero: false } : { label: 'f − f* (log scale)', log: true });
  // float32 resolves f to about 1e-7 of its size: below that the gap to f* is rounding, drawn flat at that floor.
  const floor = 1e-7 * Math.max(1, Math.abs(fStar ?? 0));
  const gap = (f: number) => (fStar === undefined ? f : Math.max(f - fStar, floor));
  const paths: Path[] = s.runs.map((_, i) => ({ color: COLORS[i % COLORS.length]!, points: [], values: [] }));
  const results: RunResult[] = [];
  const draw = () => {
    plot.set(problem, s.start, paths);
    lossChart.set(s.runs.map((r, i): Series => ({
      label: `${r.method}${takes(r.method, 'lr') ? ` lr ${fmt(r.lr)}` : ''}${takes(r.method, 'momentum') && r.momentum ? ` m ${r.momentum}` : ''}`,
      color: paths[i]!.color,
      points: paths[i]!.values.map((f, k) => [k, gap(f)]),
    })));
  };
  lossChart.setAxis('x', { max: s.steps });
  draw();
  $<HTMLButtonElement>('rerun').disabled = false;
  const schedule = scheduleSpec(s);
  for (const [i, r] of s.runs.entries()) {
    if (gen !== generation) return;
    const row = $('runs').children[i] as HTMLElement | undefined;
    const out = row?.querySelector('.result') as HTMLElement | null;
    if (out) out.textContent = 'running…';
    setStatus(`Running ${i + 1} of ${s.runs.length}: ${r.method} on ${problem.name}…`);
    const hyperparams: Record<string, number> = {};
    if (takes(r.method, 'lr')) hyperparams.lr = r.lr;
    if (takes(r.method, 'momentum') && r.momentum > 0) hyperparams.momentum = r.momentum;
    const path = paths[i]!;
    let shown = performance.now();
    const record = (rec: IterateRecord) => {
      if (gen !== generation) throw new Superseded();
      path.points.push(rec.x!);
      path.values.push(rec.f);
      if (performance.now() - shown > 100) {
        shown = performance.now();
        draw();
      }
    };
    const first = firstOrderMethods.some((m) => m.name === r.method);
    try {
      const res = await minimize(problem, {
        method: r.method, hyperparams, start: s.start, steps: s.steps, device: 'gpu', engine, onStep: record, recordPoints: true,
        ...(schedule && first ? { schedule } : {}),
      });
      path.points.push(res.x);
      path.values.push(res.f);
      results.push({ ...r, x: res.x, f: res.f, steps: res.steps, stop: res.stop, converged: res.converged });
      if (out) {
        out.className = 'result';
        out.textContent = `ends at (${res.x.map((v) => fmt(v)).join(', ')}), f = ${fmt(res.f)}, ${res.converged ? `converged in ${res.steps} steps` : res.stop === 'steps' ? `after ${res.steps} steps` : res.stop}`;
      }
    } catch (e) {
      if (e instanceof Superseded) return;
      const err = e as Error;
      const diverged = err.name === 'NonFiniteError';
      const last = path.points.at(-1) ?? s.start;
      results.push({ ...r, x: last, f: path.values.at(-1) ?? NaN, steps: path.points.length, stop: diverged ? 'diverged' : 'error', converged: false, ...(diverged ? { diverged: err.message } : { error: err.message }) });
      if (out) {
        out.className = 'result fail';
        out.textContent = diverged
          ? `diverged after ${path.points.length} steps: ${err.message}`
          : `${err.name}: ${err.message}`;
      }
    }
    draw();
  }
  if (gen !== generation) return;
  const bad = results.filter((r) => r.diverged || r.error).length;
  setStatus(`${results.length} run${results.length === 1 ? '' : 's'} of up to ${s.steps} steps on ${problem.name} from (${s.start.join(', ')})` +
    (bad ? `; ${bad} diverged or failed.` : '.'), bad ? 'warn' : 'ok');
  window.__wgtrainPlayground = { generation: gen, fn: s.fn, start: s.start, runs: results };
}

// ---- start -------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const fnSelect = $<HTMLSelectElement>('fn');
  for (const [name, p] of Object.entries(TEST_FUNCTIONS)) fnSelect.append(new Option(`${name} (${p.dim}-D)`, name));
  const presets = $('presets');
  for (const [key, preset] of Object.entries(PRESETS)) {
    const b = Object.assign(document.createElement('button'), { type: 'button', textContent: preset.label });
    b.dataset.preset = key;
    b.addEventListener('click', () => {
      settings = structuredClone(preset.settings);
      writeControls();
      void runAll();
    });
    presets.append(b);
  }
  writeControls();
  fnSelect.addEventListener('change', () => {
    readControls();
    settings.start = [...TEST_FUNCTIONS[settings.fn]!.starts[0]!];
    writeControls();
    scheduleRun();
  });
  for (const id of ['steps', 'sched', 'schedp']) {
    $(id).addEventListener('input', () => {
      readControls();
      writeControls();
    });
    $(id).addEventListener('change', () => scheduleRun());
  }
  $('start').addEventListener('change', () => {
    settings.start = $<HTMLInputElement>('start').value.split(/[\s,]+/).filter(Boolean).map(Number);
    scheduleRun();
  });
  $('add').addEventListener('click', () => {
    settings.runs.push({ method: 'Adam', lr: 0.1, momentum: 0 });
    writeRuns();
    scheduleRun();
  });
  $('rerun').addEventListener('click', () => void runAll());

  const check = await openEngine();
  if (!check.ok) {
    showWebGpuBox(check);
    setStatus(check.problem, 'fail');
    window.__wgtrainPlayground = { error: check.problem };
    return;
  }
  engine = check.engine;
  await runAll();
}

main().catch((e) => {
  setStatus(`${(e as Error).name}: ${(e as Error).message}`, 'fail');
  window.__wgtrainPlayground = { error: String((e as Error).message ?? e) };
});
