/**
 * A canvas that fills its box: redrawn (once per animation frame, however many changes) when asked and when the box
 * changes size, with its pixels matched to the device pixel ratio so lines and text stay sharp on a phone.
 */
export abstract class CanvasView {
  private pending = false;

  constructor(readonly canvas: HTMLCanvasElement) {
    new ResizeObserver(() => this.redraw()).observe(canvas);
  }

  /** Schedules a redraw on the next animation frame (many updates in one frame draw once). */
  redraw(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  abstract draw(): void;

  /** Sizes the canvas to its box × devicePixelRatio and returns a context in CSS pixels, or null while it is hidden. */
  protected fit(): { ctx: CanvasRenderingContext2D; W: number; H: number; dpr: number } | null {
    const { canvas } = this;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (W === 0 || H === 0) return null;
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr);
      canvas.height = Math.round(H * dpr);
    }
    const ctx = canvas.getContext('2d')!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = '12px system-ui, sans-serif';
    return { ctx, W, H, dpr };
  }
}
