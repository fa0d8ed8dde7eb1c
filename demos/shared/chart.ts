/**
 * A small line chart for the demos: round tick values (1, 2 or 5 × 10ⁿ; powers of ten on a log axis), axis titles,
 * an HTML legend that wraps on a phone, and a canvas sized to its box and to the device pixel ratio, redrawn when
 * the box changes. Non-finite points are left out (a line breaks there). Presentation only: the numbers come from
 * the library.
 *
 *   const chart = new Chart(card, { title: 'Loss', x: { label: 'step', integer: true }, y: { label: 'loss', log: true } });
 *   chart.set([{ label: 'train', color: '#1f6fd1', points: [[10, 2.3], [20, 1.1]] }]);
 *
 * `canvas.dataset.points` holds how many finite points are drawn and `canvas.dataset.xmax` where the x axis ends (tests
 * read them).
 */
import { CanvasView } from './canvas.js';

export interface Series {
  label: string;
  color: string;
  points: [number, number][];
  /** 'line' (default) or 'dots' (e.g. one validation value per epoch). */
  style?: 'line' | 'dots';
  dashed?: boolean;
}

export interface AxisOptions {
  label: string;
  log?: boolean;
  /** Fixed ends; otherwise the data's range rounded out to ticks (linear axes start at 0 unless `zero` is false). */
  min?: number;
  max?: number;
  zero?: boolean;
  /** Ticks at whole numbers only (steps). */
  integer?: boolean;
  /** Tick label text (default: as many decimals as the tick spacing needs). */
  format?: (v: number) => string;
}

export interface ChartOptions {
  x: AxisOptions;
  y: AxisOptions;
  /** Shown in the middle while there is no data. */
  empty?: string;
}

/** Round tick spacing near span / target: 1, 2 or 5 × 10ⁿ. */
export function niceStep(span: number, target: number, integer = false): number {
  if (!(span > 0)) return 1;
  const raw = span / Math.max(1, target);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  const step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * p;
  return integer ? Math.max(1, Math.round(step)) : step;
}

/** Ticks k·step within [lo, hi] (rounding noise removed). */
export function linearTicks(lo: number, hi: number, step: number): number[] {
  const out: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let k = first; k * step <= hi + step * 1e-9; k++) out.push(Number((k * step).toPrecision(12)));
  return out;
}

/** Decimals that show a tick spacing exactly: 0.25 → 2, 5 → 0. */
function decimalsFor(step: number): number {
  for (let d = 0; d < 10; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-6) return d;
  return 10;
}

function formatLog(v: number): string {
  if (v >= 1e-2 && v < 1e4) return String(Number(v.toPrecision(3)));
  const e = Math.round(Math.log10(v));
  return Math.abs(v - 10 ** e) < 1e-9 * v ? `1e${e}` : v.toExponential(0).replace('e+', 'e');
}

interface Scale {
  lo: number;
  hi: number;
  ticks: number[];
  format: (v: number) => string;
  /** 0..1 along the axis. */
  at: (v: number) => number;
}

function makeScale(values: number[], o: AxisOptions, target: number): Scale {
  const finite = values.filter((v) => Number.isFinite(v) && (!o.log || v > 0));
  if (o.log) {
    let lo = o.min ?? (finite.length ? Math.min(...finite) : 0.1);
    let hi = o.max ?? (finite.length ? Math.max(...finite) : 10);
    lo = 10 ** Math.floor(Math.log10(lo) + 1e-9);
    hi = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    if (hi <= lo) hi = lo * 10;
    const decades = Math.round(Math.log10(hi / lo));
    const every = Math.max(1, Math.ceil(decades / target));
    const ticks: number[] = [];
    for (let e = Math.round(Math.log10(lo)); e <= Math.round(Math.log10(hi)); e += every) ticks.push(10 ** e);
    if (decades === 1) ticks.splice(1, 0, 2 * lo, 5 * lo);
    const l0 = Math.log10(lo), l1 = Math.log10(hi);
    return { lo, hi, ticks, format: o.format ?? formatLog, at: (v) => (Math.log10(v) - l0) / (l1 - l0) };
  }
  let lo = o.min ?? (finite.length ? Math.min(...finite) : 0);
  let hi = o.max ?? (finite.length ? Math.max(...finite) : o.integer ? 10 : 1);
  if (o.min === undefined && o.zero !== false) lo = Math.min(lo, 0);
  if (hi <= lo) hi = lo + (o.integer ? 10 : 1);
  const step = niceStep(hi - lo, target, o.integer);
  if (o.min === undefined) lo = Math.floor(lo / step + 1e-9) * step;
  if (o.max === undefined) hi = Math.ceil(hi / step - 1e-9) * step;
  const ticks = linearTicks(lo, hi, step);
  const d = decimalsFor(step);
  // Very large or very fine ticks read better as 2e8 / 5e-5 than as 200000000 / 0.00005.
  const exp = Math.max(Math.abs(lo), Math.abs(hi)) >= 1e5 || step < 1e-4;
  // A tick within rounding of zero (lo = -1e-20 from a schedule's cosine) prints as 0, not -0.0000.
  const plain = (v: number) => {
    if (Math.abs(v) < step * 1e-6) return '0';
    return exp ? Number(v.toPrecision(3)).toExponential().replace('e+', 'e') : v.toFixed(d);
  };
  return { lo, hi, ticks, format: o.format ?? plain, at: (v) => (v - lo) / (hi - lo) };
}

export class Chart extends CanvasView {
  private readonly legend: HTMLDivElement;
  private series: Series[] = [];

  constructor(
    readonly container: HTMLElement,
    readonly options: ChartOptions,
  ) {
    super(document.createElement('canvas'));
    container.classList.add('chart');
    this.legend = document.createElement('div');
    this.legend.className = 'legend';
    this.canvas.setAttribute('role', 'img');
    container.append(this.legend, this.canvas);
    this.set([]);
  }

  /** Replaces the series (and the legend) and redraws on the next frame. */
  set(series: Series[]): void {
    const keys = series.map((s) => `${s.label}|${s.color}|${s.style}|${s.dashed}`).join(';');
    if (keys !== this.legend.dataset.keys) {
      this.legend.dataset.keys = keys;
      this.legend.innerHTML = '';
      for (const s of series) {
        const span = document.createElement('span');
        span.textContent = s.label;
        span.style.setProperty('--c', s.color);
        if (s.style === 'dots') span.className = 'dots';
        else if (s.dashed) span.className = 'dashed';
        this.legend.append(span);
      }
    }
    this.series = series;
    this.redraw();
  }

  /** Changes an axis's fixed ends (e.g. the planned number of steps, or none after a Stop). */
  setAxis(axis: 'x' | 'y', patch: Partial<AxisOptions>): void {
    Object.assign(this.options[axis], patch);
    for (const k of Object.keys(patch) as (keyof AxisOptions)[]) if (patch[k] === undefined) delete this.options[axis][k];
    this.redraw();
  }

  /** Draws now. */
  draw(): void {
    const fitted = this.fit();
    if (!fitted) return;
    const { ctx, W, H } = fitted;
    const { canvas, options } = this;
    const font = 12;
    const all = this.series.flatMap((s) => s.points);
    const pts = all.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!options.y.log || y > 0));
    canvas.dataset.points = String(pts.length);
    // The x range covers every point, also those whose value cannot be drawn (NaN after a divergence).
    const xs = makeScale(all.map((p) => p[0]), options.x, Math.max(2, Math.floor(W / 90)));
    const ys = makeScale(pts.map((p) => p[1]), options.y, Math.max(2, Math.floor(H / 45)));
    canvas.dataset.xmax = String(xs.hi);
    const yLabelWidth = Math.max(...ys.ticks.map((t) => ctx.measureText(ys.format(t)).width));
    const left = Math.ceil(yLabelWidth) + 8 + font + 8, right = 12, top = 8, bottom = font * 2 + 16;
    const pw = W - left - right, ph = H - top - bottom;
    const px = (v: number) => left + xs.at(v) * pw;
    const py = (v: number) => top + ph - ys.at(v) * ph;

    ctx.lineWidth = 1;
    ctx.strokeStyle = '#e6e8ec';
    ctx.fillStyle = '#5b6270';
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const t of ys.ticks) {
      const y = Math.round(py(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + pw, y); ctx.stroke();
      ctx.fillText(ys.format(t), left - 6, y);
    }
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let lastRight = -Infinity;
    for (const t of xs.ticks) {
      const x = Math.round(px(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + ph); ctx.stroke();
      const text = xs.format(t);
      const w = ctx.measureText(text).width;
      if (x - w / 2 > lastRight + 4) {
        ctx.fillText(text, x, top + ph + 4);
        lastRight = x + w / 2;
      }
    }
    ctx.strokeStyle = '#9aa1ad';
    ctx.strokeRect(left + 0.5, top + 0.5, pw - 1, ph);
    // Axis titles.
    ctx.fillStyle = '#3a3f48';
    ctx.fillText(options.x.label, left + pw / 2, top + ph + font + 8);
    ctx.save();
    ctx.translate(font / 2 + 2, top + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(options.y.label, 0, 0);
    ctx.restore();

    if (pts.length === 0) {
      ctx.fillStyle = '#8a919c';
      ctx.textBaseline = 'middle';
      ctx.fillText(options.empty ?? 'no data yet', left + pw / 2, top + ph / 2);
      return;
    }
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, pw, ph);
    ctx.clip();
    const inside = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && (!options.y.log || y > 0);
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      if (s.style === 'dots') {
        ctx.lineWidth = 2;
        for (const [x, y] of s.points) {
          if (!inside(x, y)) continue;
          ctx.beginPath(); ctx.arc(px(x), py(y), 4, 0, 2 * Math.PI);
          ctx.fillStyle = '#fff'; ctx.fill(); ctx.stroke();
        }
        continue;
      }
      ctx.lineWidth = 2;
      ctx.setLineDash(s.dashed ? [6, 4] : []);
      ctx.beginPath();
      let pen = false, drawn = 0;
      for (const [x, y] of s.points) {
        if (!inside(x, y)) { pen = false; continue; }
        if (pen) ctx.lineTo(px(x), py(y)); else ctx.moveTo(px(x), py(y));
        pen = true;
        drawn++;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      if (drawn === 1) {
        const [x, y] = s.points.find(([a, b]) => inside(a, b))!;
        ctx.beginPath(); ctx.arc(px(x), py(y), 3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    ctx.restore();
  }
}
