/**
 * The MNIST page's pictures, drawn from what the library computed: test digits with their predicted labels, the most
 * confident mistakes, the confusion matrix, the first layer's weights, and a drawn digit's class probabilities.
 */
import type { LayerFilters, Mistake } from '../../src/index.js';

/** A 28×28 grey image (0 = white paper, 255 = black ink, as MNIST's bytes) on a small canvas. */
export function digitCanvas(pixels: ArrayLike<number>, offset = 0): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = c.height = 28;
  const ctx = c.getContext('2d')!;
  const img = ctx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = 255 - pixels[offset + i]!;
    img.data.set([v, v, v, 255], i * 4);
  }
  ctx.putImageData(img, 0, 0);
  return c;
}

/** A digit with a caption of one or more lines; `wrong` marks a misclassified one. */
function tile(canvas: HTMLCanvasElement, caption: string[], wrong: boolean, title: string): HTMLDivElement {
  const d = document.createElement('div');
  d.className = wrong ? 'digit wrong' : 'digit';
  d.title = title;
  d.append(canvas);
  for (const line of caption) d.append(Object.assign(document.createElement('div'), { textContent: line }));
  return d;
}

/** The first `count` test digits with predicted labels (errors in red, with the true label). */
export function drawDigitGrid(box: HTMLElement, images: Uint8Array, labels: ArrayLike<number>, predicted: ArrayLike<number>, probs: ArrayLike<number>, count: number): void {
  box.innerHTML = '';
  for (let i = 0; i < Math.min(count, predicted.length); i++) {
    const p = predicted[i]!;
    const t = labels[i]!;
    const conf = probs[i * 10 + p]!;
    box.append(tile(digitCanvas(images, i * 784), p === t ? [`${p}`] : [`${p} (is ${t})`], p !== t, `test digit ${i}: predicted ${p} (${(100 * conf).toFixed(1)}%), true ${t}`));
  }
}

export function drawMistakes(box: HTMLElement, images: Uint8Array, mistakes: Mistake[]): void {
  box.innerHTML = '';
  if (mistakes.length === 0) {
    box.textContent = 'No mistakes on the test digits.';
    return;
  }
  for (const m of mistakes) {
    box.append(tile(digitCanvas(images, m.index * 784), [`${m.predicted}: ${(100 * m.confidence).toFixed(0)}%`, `is ${m.label}`], true,
      `test digit ${m.index}: predicted ${m.predicted} with ${(100 * m.confidence).toFixed(1)}%; it is a ${m.label} (${(100 * m.trueProbability).toFixed(1)}%)`));
  }
}

/** The 10×10 counts, shaded by the share of their row; the last column is each digit's accuracy. */
export function drawConfusion(box: HTMLElement, matrix: ArrayLike<number>, accuracy: number[]): void {
  const k = accuracy.length;
  const table = document.createElement('table');
  table.className = 'confusion';
  const head = table.createTHead().insertRow();
  head.append(Object.assign(document.createElement('th'), { textContent: '' }));
  for (let p = 0; p < k; p++) head.append(Object.assign(document.createElement('th'), { textContent: String(p) }));
  head.append(Object.assign(document.createElement('th'), { textContent: 'acc' }));
  const body = table.createTBody();
  for (let t = 0; t < k; t++) {
    const row = body.insertRow();
    row.append(Object.assign(document.createElement('th'), { textContent: String(t) }));
    let sum = 0;
    for (let p = 0; p < k; p++) sum += matrix[t * k + p]!;
    for (let p = 0; p < k; p++) {
      const n = matrix[t * k + p]!;
      const td = row.insertCell();
      td.textContent = n ? String(n) : '';
      const share = sum ? n / sum : 0;
      // Diagonal: green by share; off the diagonal: red, scaled up so a few mistakes show.
      td.style.background = n === 0 ? '#fafbfc' : t === p ? `rgba(19, 115, 51, ${0.12 + 0.6 * share})` : `rgba(179, 38, 30, ${Math.min(0.75, 0.12 + 3 * share)})`;
      if (t === p ? share > 0.6 : share > 0.22) td.style.color = '#fff';
      td.title = `${n} of ${sum} digits ${t} predicted as ${p}`;
    }
    const acc = row.insertCell();
    acc.className = 'acc';
    acc.textContent = Number.isNaN(accuracy[t]!) ? '–' : `${(100 * accuracy[t]!).toFixed(0)}%`;
  }
  box.innerHTML = '';
  box.append(table);
}

/** Each unit's weights as an image: blue positive, red negative, white 0, each scaled to its own largest |w|. */
export function drawWeights(box: HTMLElement, f: LayerFilters, count: number): void {
  box.innerHTML = '';
  const [h, w] = f.shape.length === 2 ? f.shape as [number, number] : [1, f.shape.reduce((a, b) => a * b, 1)];
  for (const filter of f.filters.slice(0, count)) {
    let m = 0;
    for (const v of filter) m = Math.max(m, Math.abs(v));
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const ctx = c.getContext('2d')!;
    const img = ctx.createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const v = m > 0 ? filter[i]! / m : 0;
      const a = Math.round(255 * (1 - Math.abs(v)));
      img.data.set(v >= 0 ? [a, a, 255, 255] : [255, a, a, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
    box.append(c);
  }
}

/** Bars of class probabilities (the largest in bold). */
export function drawProbs(box: HTMLElement, probs: ArrayLike<number>): void {
  box.innerHTML = '';
  let best = 0;
  for (let j = 1; j < probs.length; j++) if (probs[j]! > probs[best]!) best = j;
  for (let j = 0; j < probs.length; j++) {
    const cls = j === best ? 'best' : '';
    const label = Object.assign(document.createElement('span'), { textContent: String(j), className: cls });
    const bar = Object.assign(document.createElement('span'), { className: 'bar' });
    const fill = document.createElement('i');
    fill.style.width = `${(100 * probs[j]!).toFixed(1)}%`;
    bar.append(fill);
    const pct = Object.assign(document.createElement('span'), { textContent: `${(100 * probs[j]!).toFixed(1)}%`, className: cls });
    box.append(label, bar, pct);
  }
}
