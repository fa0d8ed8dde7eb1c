/** layerFilters: a Dense layer's units as pictures of its input, read from the flat parameters. */
import { describe, expect, it } from 'vitest';
import { layoutModel, paramSlot } from '../src/model/layout.js';
import { layerFilters } from '../src/model/filters.js';
import { parseModelSpec } from '../src/model/spec.js';

describe('layerFilters', () => {
  it("unit j of the first Dense layer is column j of its weight, reshaped to the image", () => {
    const model = parseModelSpec('12-bn-dense(5)-relu-dense(3)');
    const layout = layoutModel(model);
    const params = new Float32Array(layout.n).fill(NaN);
    const w = paramSlot(layout, 1, 'weight')!;
    for (let i = 0; i < 12; i++) for (let j = 0; j < 5; j++) params[w.offset + i * 5 + j] = 100 * j + i;
    const f = layerFilters(model, params, { imageShape: [3, 4] })!;
    expect(f.layer).toBe(1);
    expect(f.name).toBe('1 dense 12→5');
    expect(f.shape).toEqual([3, 4]);
    expect(f.filters.length).toBe(5);
    expect([...f.filters[2]!]).toEqual(Array.from({ length: 12 }, (_, i) => 200 + i));
    expect([f.min, f.max]).toEqual([0, 411]);
    expect(layerFilters(model, params, { layer: 3 })!.filters.length).toBe(3);
    expect(layerFilters(model, params, { layer: 0 })).toBeNull();
    expect(() => layerFilters(model, params, { imageShape: [5, 5] })).toThrow(/holds 25 values but a filter of layers\[1\] has 12/);
    expect(() => layerFilters(model, params.subarray(1))).toThrow(/parameters; this model has/);
    expect(layerFilters(parseModelSpec('12-relu'), new Float32Array(0))).toBeNull();
  });

  it('a convolution\'s filter f is a C×kh×kw image: column f of its [C·kh·kw, F] weight', () => {
    const model = parseModelSpec('2x6x6-conv(3,3)-relu-flatten-dense(4)');
    const layout = layoutModel(model);
    const params = new Float32Array(layout.n).fill(NaN);
    const w = paramSlot(layout, 0, 'weight')!;
    expect(w.shape).toEqual([2, 3, 3, 3]);
    for (let i = 0; i < 18; i++) for (let f = 0; f < 3; f++) params[w.offset + i * 3 + f] = 100 * f + i;
    const d = paramSlot(layout, 3, 'weight')!;
    params.fill(0, d.offset, d.offset + d.size);
    const filters = layerFilters(model, params)!;
    expect(filters.name).toBe('0 conv2d 2×6×6→3×4×4');
    expect(filters.shape).toEqual([2, 3, 3]);
    expect(filters.filters.length).toBe(3);
    expect([...filters.filters[1]!]).toEqual(Array.from({ length: 18 }, (_, i) => 100 + i));
  });
});

