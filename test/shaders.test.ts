/**
 * Every shader against the TypeScript that binds it: each `defineKernel` declaration names exactly the bindings its
 * entry point uses, with the same access; every `.wgsl` file in shaders/ is used by some kernel; every composed
 * source compiles on the device without errors; uniform blocks reflect with byte offsets.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { ComposedSource, checkBindings, composeLayout, definedKernels } from '../src/gpu/index.js';
import { stripWgslComments } from '../tools/wgsl-loader.js';
import { reflectWgsl } from '../tools/wgsl-reflect.js';
// Importing the modules registers their kernel declarations.
import '../src/kernels/activation.js';
import '../src/kernels/batch.js';
import '../src/kernels/batchnorm.js';
import '../src/kernels/batchnorm2d.js';
import '../src/kernels/conv2d.js';
import '../src/kernels/dropout.js';
import '../src/kernels/gradnorms.js';
import '../src/kernels/loss.js';
import '../src/kernels/matmul.js';
import '../src/kernels/pool2d.js';
import '../src/kernels/reduce.js';
import '../src/kernels/softmax.js';
import '../src/optim/gpu.js';
import '../src/linalg/vector.js';
import '../src/problems/closed-form.js';
import '../src/problems/quadratic.js';
import '../src/problems/regression.js';
import { gpu } from './helpers/gpu.js';

const shaderFiles = readdirSync(new URL('../shaders/', import.meta.url)).filter((f) => f.endsWith('.wgsl'));

describe('shaders vs the TypeScript that binds them', () => {
  afterAll(async () => (await gpu()).destroy());

  it('every kernel declaration matches its entry point (names, access, group 0)', () => {
    const defs = definedKernels();
    expect(defs.length).toBeGreaterThan(20);
    const problems = defs.flatMap((d) => checkBindings(d, reflectWgsl(new ComposedSource(d.files).text).entries[d.entry]));
    expect(problems).toEqual([]);
  });

  it('the layouts reflected at build time equal wgsl_reflect run on each composed source', () => {
    for (const d of definedKernels()) {
      const where = `${new ComposedSource(d.files).name}:${d.entry}`;
      const composed = reflectWgsl(new ComposedSource(d.files).text);
      const built = composeLayout(d.files);
      expect(built.entries[d.entry], where).toEqual(composed.entries[d.entry]);
      expect(built.structs, where).toEqual(composed.structs);
      expect([...built.overrides].sort(), where).toEqual([...composed.overrides].sort());
    }
  });

  it('shader text in the bundle has no comments, and every line and column of code where the original has it', () => {
    for (const file of shaderFiles) {
      const original = readFileSync(new URL(`../shaders/${file}`, import.meta.url), 'utf8');
      const bundled = definedKernels().flatMap((d) => d.files).find((f) => f.file === file)!.text;
      expect(bundled, file).toBe(stripWgslComments(original));
      expect(bundled, file).not.toMatch(/\/\/|\/\*/);
      const a = original.split('\n');
      const b = bundled.split('\n');
      expect(b.length, `${file}: line count`).toBe(a.length);
      b.forEach((line, i) => {
        for (let c = 0; c < line.length; c++) if (line[c] !== ' ' && line[c] !== '\t') expect(line[c], `${file}:${i + 1}:${c + 1}`).toBe(a[i]![c]);
      });
    }
    expect(stripWgslComments('a /* x /* nested */ y */ b // tail\n/* one\ntwo */ c\n')).toBe('a                        b\n\n       c\n');
  });

  it('every .wgsl file in shaders/ is used by a kernel', () => {
    const used = new Set(definedKernels().flatMap((d) => d.files.map((f) => f.file)));
    expect(shaderFiles.filter((f) => !used.has(f))).toEqual([]);
  });

  it('uniform blocks reflect with byte offsets and sizes', () => {
    for (const d of definedKernels()) {
      const entry = reflectWgsl(new ComposedSource(d.files).text).entries[d.entry]!;
      for (const b of entry.bindings.filter((x) => x.kind === 'uniform')) {
        expect(b.struct, `${d.label}.${b.name} is a struct`).toBeDefined();
        const fields = Object.values(b.struct!.fields);
        expect(fields.length).toBeGreaterThan(0);
        for (const f of fields) expect(f.offset + f.size).toBeLessThanOrEqual(b.struct!.size);
      }
    }
  });

  it('every composed source compiles on the device with no errors', async () => {
    const e = await gpu();
    const sources = new Map(definedKernels().map((d) => [new ComposedSource(d.files).text, new ComposedSource(d.files).name]));
    for (const [text, name] of sources) {
      const info = await e.device.createShaderModule({ label: name, code: text }).getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${name}:${m.lineNum}:${m.linePos} ${m.message}`);
      expect(errors).toEqual([]);
    }
  });

  it('a declaration that disagrees with its shader is reported by name', () => {
    const d = definedKernels().find((k) => k.label === 'activation.forward')!;
    const entry = reflectWgsl(new ComposedSource(d.files).text).entries[d.entry];
    expect(checkBindings({ ...d, bindings: { ...d.bindings, y: 'read' } }, entry).join('\n')).toMatch(/'y' is read_write in WGSL but declared read/);
    const { x: _x, ...missing } = d.bindings;
    expect(checkBindings({ ...d, bindings: missing }, entry).join('\n')).toMatch(/uses 'x' \(read\) but TypeScript does not bind it/);
    expect(checkBindings({ ...d, bindings: { ...d.bindings, extra: 'read' } }, entry).join('\n')).toMatch(/binds 'extra' but the entry point does not use it/);
  });
});
