/**
 * The drawing pad: pointer (mouse, pen, touch) strokes on a canvas, as ink. `ink()` gives one value per canvas pixel
 * (its alpha: 0 paper, 255 ink) for the library's `mnistFromInk`. `onStroke` fires when a stroke ends.
 */
export class DrawPad {
  private readonly ctx: CanvasRenderingContext2D;
  private last: [number, number] | null = null;
  private drawn = false;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly onStroke: () => void,
  ) {
    this.ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    canvas.addEventListener('pointerdown', (e) => {
      canvas.setPointerCapture(e.pointerId);
      this.last = this.at(e);
      this.line(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.last) return;
      const p = this.at(e);
      this.line(this.last, p);
      this.last = p;
    });
    const end = () => {
      if (!this.last) return;
      this.last = null;
      this.onStroke();
    };
    canvas.addEventListener('pointerup', end);
    canvas.addEventListener('pointercancel', end);
  }

  /** The pointer's position in canvas pixels (the canvas may be shown at another size). */
  private at(e: PointerEvent): [number, number] {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * this.canvas.width, ((e.clientY - r.top) / r.height) * this.canvas.height];
  }

  private line(a: [number, number], b: [number, number]): void {
    const { ctx } = this;
    ctx.strokeStyle = '#000';
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    // About the stroke width of MNIST's pen relative to its 20-pixel box.
    ctx.lineWidth = this.canvas.width / 12;
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
    this.drawn = true;
  }

  get empty(): boolean {
    return !this.drawn;
  }

  clear(): void {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.drawn = false;
  }

  /** The alpha channel: 0 where nothing was drawn, 255 under a full stroke. */
  ink(): Uint8Array {
    const { width, height } = this.canvas;
    const rgba = this.ctx.getImageData(0, 0, width, height).data;
    const out = new Uint8Array(width * height);
    for (let i = 0; i < out.length; i++) out[i] = rgba[i * 4 + 3]!;
    return out;
  }
}
