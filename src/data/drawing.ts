/**
 * A drawn digit made to look like an MNIST one, so a model trained on MNIST can read it. MNIST's own recipe (LeCun et
 * al.): each digit was scaled, keeping its aspect ratio, to fit a 20×20 box (anti-aliased), then placed in a 28×28
 * image so that its centre of mass sits at the centre. `mnistFromInk` does the same to an ink image of any size:
 *
 *   crop to the ink's bounding box → scale so the longer side is 20 px (area averaging) → place in 28×28 with the
 *   centre of mass at (14, 14), shifted by whole pixels (clamped so nothing falls off) → bytes 0..255, 255 = ink.
 *
 * Input: one ink value per pixel (0 = paper, 255 = full ink), row-major `width`×`height`, e.g. a canvas's alpha
 * channel. Returns null when there is no ink.
 */
const BOX = 20;
const SIZE = 28;

export function mnistFromInk(ink: ArrayLike<number>, width: number, height: number): Uint8Array | null {
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new RangeError(`mnistFromInk: width and height must be positive integers, got ${width}×${height}`);
  }
  if (ink.length !== width * height) throw new RangeError(`mnistFromInk: ${ink.length} values for a ${width}×${height} image (expected ${width * height})`);
  // Bounding box of the ink.
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x]! > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return null;
  const bw = x1 - x0 + 1;
  const bh = y1 - y0 + 1;
  const scale = BOX / Math.max(bw, bh);
  const ow = Math.max(1, Math.round(bw * scale));
  const oh = Math.max(1, Math.round(bh * scale));
  // Area-average resampling of the box into ow×oh: each output pixel averages the input area it covers.
  const small = new Float64Array(ow * oh);
  const sx = bw / ow, sy = bh / oh;
  for (let oy = 0; oy < oh; oy++) {
    const fy0 = y0 + oy * sy, fy1 = fy0 + sy;
    for (let ox = 0; ox < ow; ox++) {
      const fx0 = x0 + ox * sx, fx1 = fx0 + sx;
      let sum = 0;
      for (let y = Math.floor(fy0); y < Math.ceil(fy1); y++) {
        const wy = Math.min(fy1, y + 1) - Math.max(fy0, y);
        if (wy <= 0) continue;
        for (let x = Math.floor(fx0); x < Math.ceil(fx1); x++) {
          const wx = Math.min(fx1, x + 1) - Math.max(fx0, x);
          if (wx > 0) sum += wx * wy * ink[y * width + x]!;
        }
      }
      small[oy * ow + ox] = sum / (sx * sy);
    }
  }
  // Centre of mass of the scaled digit, then the whole-pixel shift that puts it at the image centre.
  let mass = 0, cx = 0, cy = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const v = small[y * ow + x]!;
      mass += v;
      cx += v * (x + 0.5);
      cy += v * (y + 0.5);
    }
  }
  const left = Math.min(SIZE - ow, Math.max(0, Math.round(SIZE / 2 - cx / mass)));
  const top = Math.min(SIZE - oh, Math.max(0, Math.round(SIZE / 2 - cy / mass)));
  const out = new Uint8Array(SIZE * SIZE);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) out[(top + y) * SIZE + left + x] = Math.min(255, Math.round(small[y * ow + x]!));
  }
  return out;
}
