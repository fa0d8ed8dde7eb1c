/**
 * mnistFromInk: a drawn digit scaled into a 20-pixel box and centred by mass in 28×28, as MNIST's digits were; any
 * canvas size; null without ink.
 */
import { describe, expect, it } from 'vitest';
import { mnistFromInk } from '../src/data/drawing.js';

/** A W×H ink image with a filled rectangle [x0, x1)×[y0, y1). */
function rect(W: number, H: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const a = new Uint8Array(W * H);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) a[y * W + x] = 255;
  return a;
}

function box(img: Uint8Array): { x0: number; x1: number; y0: number; y1: number; cx: number; cy: number } {
  let x0 = 28, x1 = -1, y0 = 28, y1 = -1, m = 0, cx = 0, cy = 0;
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const v = img[y * 28 + x]!;
      if (!v) continue;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
      m += v; cx += v * (x + 0.5); cy += v * (y + 0.5);
    }
  }
  return { x0, x1, y0, y1, cx: cx / m, cy: cy / m };
}

describe('mnistFromInk', () => {
  it('scales a tall stroke so its longer side is 20 px and centres it', () => {
    // A 30×200 bar in the top-left corner of a 280×280 canvas.
    const img = mnistFromInk(rect(280, 280, 10, 5, 40, 205), 280, 280)!;
    const b = box(img);
    expect(b.y1 - b.y0 + 1).toBe(20);
    expect(b.x1 - b.x0 + 1).toBe(3);
    expect(Math.abs(b.cx - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.abs(b.cy - 14)).toBeLessThanOrEqual(0.5);
    expect(Math.max(...img)).toBe(255);
  });

  it('keeps the aspect ratio and anti-aliases partial pixels', () => {
    const b = box(mnistFromInk(rect(100, 50, 0, 0, 100, 50), 100, 50)!); // 2:1 → 20×10
    expect([b.x1 - b.x0 + 1, b.y1 - b.y0 + 1]).toEqual([20, 10]);
    // A one-pixel diagonal of a 100×100 canvas: each of the 20 output pixels on the diagonal averages 5×5 pixels, 5 inked.
    const diag = new Uint8Array(100 * 100);
    for (let i = 0; i < 100; i++) diag[i * 100 + i] = 255;
    const img = mnistFromInk(diag, 100, 100)!;
    expect([...img].filter((v) => v > 0)).toEqual(new Array(20).fill(51));
  });

  it('gives null for a blank canvas and names bad sizes', () => {
    expect(mnistFromInk(new Uint8Array(64), 8, 8)).toBeNull();
    expect(() => mnistFromInk(new Uint8Array(10), 4, 4)).toThrow(/10 values for a 4×4 image/);
    expect(() => mnistFromInk(new Uint8Array(0), 0, 4)).toThrow(/positive integers/);
  });
});
