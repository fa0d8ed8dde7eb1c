/**
 * The playground's picture of a test function: a 2-D function as filled contour bands (log-spaced above its lowest
 * value, so the floor of a valley shows) with contour lines, a 1-D function as its curve; the optimizers' paths on
 * top, the start, and the known minima and saddle points. A click picks a new start. The values come from the
 * library's Problem.evaluate; this only draws them.
 */
import type { Problem } from '../../src/index.js';
import { CanvasView } from '../shared/canvas.js';
import { linearTicks, niceStep } from '../shared/chart.js';

export interface Path {
  color: string;
  /** The iterates x_0, x_1, … and f at each. */
  points: number[][];
  values: number[];
}

/** A light viridis-like ramp: low values dark blue, high values pale yellow. */
const RAMP = ['#2b1d5c', '#34357a', '#344e8c', '#2f6790', '#2a7e8f', '#27958a', '#36ab7c', '#5cbf69', '#8ccf57', '#bedc4d', '#e6e35a', '#f6ef9a'];
const hex = (c: string): [number, number, number] => [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) as [number, number, number];
const RAMP_RGB = RAMP.map(hex);

export class FunctionPlot extends CanvasView {
  private problem: Problem | null = null;
  private paths: Path[] = [];
  private start: number[] = [];
  private background: { key: string; image: HTMLCanvasElement } | null = null;
  private yRange: [number, number] = [0, 1];

  constructor(canvas: HTMLCanvasElement, onPick: (x: number[]) => void) {
    super(canvas);
    canvas.addEventListener('click', (e) => {
      if (!this.problem) return;
      const r = canvas.getBoundingClientRect();
      const x = this.fromPixel(e.clientX - r.left, e.clientY - r.top);
      if (x) onPick(x);
    });
  }

  set(problem: Problem, start: number[], paths: Path[]): void {
    if (problem !== this.problem) this.background = null;
    this.problem = problem;
    this.start = start;
    this.paths = paths;
    this.redraw();
  }

  private get window(): [number, number][] {
    return this.problem!.window!.map((w) => [w[0], w[1]] as [number, number]);
  }

  /**
   * The plotting area in CSS pixels, from the canvas's size now: a click right after a resize, before the redraw on
   * the next frame, maps through the new size, not the last drawn one.
   */
  private get area(): { left: number; top: number; width: number; height: number } {
    const left = 46, right = 10, top = 8, bottom = 40;
    return { left, top, width: this.canvas.clientWidth - left - right, height: this.canvas.clientHeight - top - bottom };
  }

  /** Data coordinates of a point on the canvas (CSS pixels), or null outside the plot. */
  private fromPixel(px: number, py: number): number[] | null {
    const a = this.area;
    const u = (px - a.left) / a.width, v = (py - a.top) / a.height;
    if (u < 0 || u > 1 || v < 0 || v > 1) return null;
    const [wx, wy] = this.window;
    const round = (t: number, w: [number, number]) => Number((w[0] + t * (w[1] - w[0])).toPrecision(3));
    return this.problem!.dim === 1 ? [round(u, wx!)] : [round(u, wx!), round(1 - v, wy!)];
  }

  private px(x: number): number {
    const [wx] = this.window;
    return this.area.left + ((x - wx![0]) / (wx![1] - wx![0])) * this.area.width;
  }

  private py(y: number): number {
    const [lo, hi] = this.problem!.dim === 1 ? this.yRange : this.window[1]!;
    return this.area.top + (1 - (y - lo) / (hi - lo)) * this.area.height;
  }

  draw(): void {
    const p = this.problem;
    if (!p || !p.window) return;
    const fitted = this.fit();
    if (!fitted) return;
    const { ctx, dpr } = fitted;
    const a = this.area;
    const [wx] = this.window;
    if (p.dim === 1) {
      // The curve's value range sets the y axis.
      let lo = Infinity, hi = -Infinity;
      for (let i = 0; i <= 200; i++) {
        const f = p.evaluate([wx![0] + ((wx![1] - wx![0]) * i) / 200]);
        lo = Math.min(lo, f);
        hi = Math.max(hi, f);
      }
      const step = niceStep(hi - lo, 5);
      this.yRange = [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
    } else {
      this.drawBackground(ctx, dpr);
    }
    this.drawAxes(ctx);
    ctx.save();
    ctx.beginPath();
    ctx.rect(a.left, a.top, a.width, a.height);
    ctx.clip();
    if (p.dim === 1) {
      ctx.strokeStyle = '#3a3f48';
      ctx.lineWidth = 2;
      ctx.beginPath();
      for (let i = 0; i <= a.width; i++) {
        const x = wx![0] + ((wx![1] - wx![0]) * i) / a.width;
        const y = this.py(p.evaluate([x]));
        if (i) ctx.lineTo(a.left + i, y); else ctx.moveTo(a.left + i, y);
      }
      ctx.stroke();
    }
    for (const k of p.known) this.drawKnown(ctx, k.x as number[], p.dim === 1 ? k.f : k.x[1]!, k.kind);
    for (const path of this.paths) this.drawPath(ctx, path);
    if (this.start.length) {
      const [sx, sy] = [this.px(this.start[0]!), p.dim === 1 ? this.py(p.evaluate(this.start)) : this.py(this.start[1]!)];
      ctx.fillStyle = '#fff';
      ctx.strokeStyle = '#111';
      ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(sx, sy, 6, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    ctx.restore();
  }

  /** Filled bands (one per device pixel) of log(f − min + δ) with darker lines where the band changes; cached per problem and size. */
  private drawBackground(ctx: CanvasRenderingContext2D, dpr: number): void {
    const a = this.area;
    const gw = Math.max(8, Math.round(a.width * dpr)), gh = Math.max(8, Math.round(a.height * dpr));
    const key = `${this.problem!.name}/${gw}x${gh}`;
    if (this.background?.key !== key) {
      const [wx, wy] = this.window;
      const f = new Float64Array(gw * gh);
      let lo = Infinity, hi = -Infinity;
      for (let j = 0; j < gh; j++) {
        const y = wy![1] - ((j + 0.5) / gh) * (wy![1] - wy![0]);
        for (let i = 0; i < gw; i++) {
          const v = this.problem!.evaluate([wx![0] + ((i + 0.5) / gw) * (wx![1] - wx![0]), y]);
          f[j * gw + i] = v;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
      }
      const delta = (hi - lo) * 1e-4 + 1e-12;
      const t = (v: number) => Math.log(v - lo + delta);
      const t0 = t(lo), t1 = t(hi);
      const bands = RAMP.length;
      const band = new Uint8Array(gw * gh);
      for (let i = 0; i < f.length; i++) band[i] = Math.min(bands - 1, Math.floor(((t(f[i]!) - t0) / (t1 - t0)) * bands));
      const image = document.createElement('canvas');
      image.width = gw;
      image.height = gh;
      const ictx = image.getContext('2d')!;
      const data = ictx.createImageData(gw, gh);
      for (let j = 0; j < gh; j++) {
        for (let i = 0; i < gw; i++) {
          const k = j * gw + i;
          const [r, g, b] = RAMP_RGB[band[k]!]!;
          const edge = (i + 1 < gw && band[k + 1] !== band[k]) || (j + 1 < gh && band[k + gw] !== band[k]);
          const s = edge ? 0.72 : 1;
          data.data.set([r * s, g * s, b * s, 255], k * 4);
        }
      }
      ictx.putImageData(data, 0, 0);
      this.background = { key, image };
    }
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.background.image, a.left, a.top, a.width, a.height);
  }

  private drawAxes(ctx: CanvasRenderingContext2D): void {
    const a = this.area;
    const p = this.problem!;
    const [wx, wy] = this.window;
    const yr = p.dim === 1 ? this.yRange : wy!;
    ctx.strokeStyle = '#9aa1ad';
    ctx.lineWidth = 1;
    ctx.strokeRect(a.left + 0.5, a.top + 0.5, a.width - 1, a.height - 1);
    ctx.fillStyle = '#5b6270';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    const xs = niceStep(wx![1] - wx![0], Math.max(2, Math.floor(a.width / 70)));
    for (const t of linearTicks(wx![0], wx![1], xs)) {
      const x = this.px(t);
      ctx.fillText(String(Number(t.toPrecision(6))), x, a.top + a.height + 4);
      if (p.dim === 1) {
        ctx.strokeStyle = '#eceef1';
        ctx.beginPath(); ctx.moveTo(x + 0.5, a.top); ctx.lineTo(x + 0.5, a.top + a.height); ctx.stroke();
      }
    }
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    const ys = niceStep(yr[1] - yr[0], Math.max(2, Math.floor(a.height / 45)));
    for (const t of linearTicks(yr[0], yr[1], ys)) {
      const y = this.py(t);
      ctx.fillText(String(Number(t.toPrecision(6))), a.left - 6, y);
      if (p.dim === 1) {
        ctx.strokeStyle = '#eceef1';
        ctx.beginPath(); ctx.moveTo(a.left, y + 0.5); ctx.lineTo(a.left + a.width, y + 0.5); ctx.stroke();
      }
    }
    ctx.fillStyle = '#3a3f48';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    ctx.fillText('x', a.left + a.width / 2, a.top + a.height + 20);
    ctx.save();
    ctx.translate(12, a.top + a.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = 'middle';
    ctx.fillText(p.dim === 1 ? 'f(x)' : 'y', 0, 0);
    ctx.restore();
  }

  private drawKnown(ctx: CanvasRenderingContext2D, x: number[], y: number, kind: string): void {
    const cx = this.px(x[0]!), cy = this.py(y);
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#fff';
    ctx.fillStyle = '#111';
    ctx.beginPath();
    if (kind === 'saddle point') {
      ctx.strokeStyle = '#111';
      ctx.moveTo(cx - 5, cy - 5); ctx.lineTo(cx + 5, cy + 5); ctx.moveTo(cx + 5, cy - 5); ctx.lineTo(cx - 5, cy + 5);
      ctx.stroke();
      return;
    }
    // A star for the global minimum, a diamond for a local one.
    const r = kind === 'global minimum' ? 8 : 6;
    const n = kind === 'global minimum' ? 5 : 2;
    for (let k = 0; k < 2 * n; k++) {
      const ang = -Math.PI / 2 + (k * Math.PI) / n;
      const rr = k % 2 === 0 ? r : kind === 'global minimum' ? r * 0.45 : r * 0.6;
      if (k) ctx.lineTo(cx + rr * Math.cos(ang), cy + rr * Math.sin(ang)); else ctx.moveTo(cx + rr * Math.cos(ang), cy + rr * Math.sin(ang));
    }
    ctx.closePath();
    ctx.stroke();
    ctx.fill();
  }

  private drawPath(ctx: CanvasRenderingContext2D, path: Path): void {
    const p = this.problem!;
    if (path.points.length === 0) return;
    const at = (k: number): [number, number] | null => {
      const x = path.points[k]!;
      const y = p.dim === 1 ? path.values[k]! : x[1]!;
      if (!Number.isFinite(x[0]!) || !Number.isFinite(y)) return null;
      // Far outside the window (a diverging run): clamp so the canvas never sees huge coordinates.
      const c = (v: number) => Math.max(-1e4, Math.min(1e4, v));
      return [c(this.px(x[0]!)), c(this.py(y))];
    };
    ctx.strokeStyle = path.color;
    ctx.lineWidth = 2;
    ctx.lineJoin = 'round';
    ctx.beginPath();
    let pen = false;
    for (let k = 0; k < path.points.length; k++) {
      const q = at(k);
      if (!q) { pen = false; continue; }
      if (pen) ctx.lineTo(q[0], q[1]); else ctx.moveTo(q[0], q[1]);
      pen = true;
    }
    ctx.stroke();
    ctx.fillStyle = path.color;
    const every = Math.max(1, Math.floor(path.points.length / 60));
    for (let k = 0; k < path.points.length; k += every) {
      const q = at(k);
      if (!q) continue;
      ctx.beginPath(); ctx.arc(q[0], q[1], 2.5, 0, 2 * Math.PI); ctx.fill();
    }
    const last = at(path.points.length - 1);
    if (last) {
      ctx.strokeStyle = '#fff';
      ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.arc(last[0], last[1], 5, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
  }
}
