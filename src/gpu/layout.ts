/**
 * What the TypeScript side knows about a WGSL file: each compute entry point's bindings (with access mode), struct
 * layouts (byte offsets of every field) and `override` constants. Uniforms are written by field name and bind groups
 * are checked by binding name, so a change to a shader cannot silently desynchronise a hand-counted offset.
 *
 * The layouts are reflected from the WGSL at build time, not at run time: the `.wgsl` loader of build.mjs and of
 * vitest.config.ts (tools/wgsl-loader.ts) parses each file with wgsl_reflect and emits
 *
 *   export default registerWgsl("<the shader text, comments stripped>", <its WgslLayout as data>);
 *
 * so `import src from '../../shaders/x.wgsl'` still gives the text, and the engine finds the layout by that text.
 * A kernel's module is a concatenation of files (source.ts); its layout is the merge of theirs (`composeLayout`):
 * entry points use the bindings of their own file (a function library declares no bindings; test/shaders.test.ts
 * checks every kernel's merged layout against wgsl_reflect run on the composed source).
 */
import type { WgslFile } from './source.js';

/** How a binding is accessed: a uniform buffer, a read-only storage buffer, or a read-write storage buffer. */
export type BindingKind = 'uniform' | 'read' | 'read_write';

export interface FieldLayout {
  offset: number;
  size: number;
  /** Scalar type of the field or of its vector/array elements: f32, u32 or i32. */
  scalar: 'f32' | 'u32' | 'i32';
  /** Number of scalars (1 for a scalar, N for vecN or array<scalar, N>). */
  count: number;
  /** Byte distance between consecutive scalars (4 for vectors; the array stride for arrays). */
  stride: number;
}

export interface StructLayout {
  name: string;
  size: number;
  fields: Record<string, FieldLayout>;
}

export interface BindingInfo {
  name: string;
  group: number;
  binding: number;
  kind: BindingKind;
  /** Present for bindings whose type is a struct (uniform blocks, typically). */
  struct?: StructLayout;
}

export interface EntryInfo {
  name: string;
  bindings: BindingInfo[];
  /** Names of the `override` constants the module declares. */
  overrides: string[];
}

/** The layout of one WGSL file or of a composed module: entry points, structs and override constants. */
export interface ModuleInfo {
  entries: Record<string, EntryInfo>;
  structs: Record<string, StructLayout>;
  overrides: string[];
}

/**
 * A ModuleInfo as the loader emits it, without repeats: each struct once (bindings name it), each field and binding
 * as a tuple. `packLayout` and `unpackLayout` convert; the bundle carries this form.
 */
export interface PackedLayout {
  /** struct name → [size, [field, offset, size, scalar, count, stride][]] */
  s: Record<string, [number, [string, number, number, FieldLayout['scalar'], number, number][]]>;
  /** entry point → [binding name, group, binding, kind, struct name or ''][] */
  e: Record<string, [string, number, number, BindingKind, string][]>;
  /** override constants */
  o: string[];
}

export function packLayout(m: ModuleInfo): PackedLayout {
  const s: PackedLayout['s'] = {};
  const pack = (st: StructLayout) => (s[st.name] = [st.size, Object.entries(st.fields).map(([n, f]) => [n, f.offset, f.size, f.scalar, f.count, f.stride])]);
  Object.values(m.structs).forEach(pack);
  const e: PackedLayout['e'] = {};
  for (const [name, entry] of Object.entries(m.entries)) {
    e[name] = entry.bindings.map((b) => {
      if (b.struct && !(b.struct.name in s)) pack(b.struct);
      return [b.name, b.group, b.binding, b.kind, b.struct?.name ?? ''];
    });
  }
  return { s, e, o: m.overrides };
}

export function unpackLayout(p: PackedLayout): ModuleInfo {
  const structs: Record<string, StructLayout> = {};
  for (const [name, [size, fields]] of Object.entries(p.s)) {
    structs[name] = { name, size, fields: Object.fromEntries(fields.map(([n, offset, fsize, scalar, count, stride]) => [n, { offset, size: fsize, scalar, count, stride }])) };
  }
  const entries: Record<string, EntryInfo> = {};
  for (const [name, bindings] of Object.entries(p.e)) {
    entries[name] = {
      name,
      bindings: bindings.map(([n, group, binding, kind, struct]) => ({ name: n, group, binding, kind, ...(struct ? { struct: structs[struct]! } : {}) })),
      overrides: p.o,
    };
  }
  // Structs only bindings use (wgsl_reflect lists module structs; a binding's type may be one too) stay in `structs`.
  return { entries, structs, overrides: p.o };
}

const layouts = new Map<string, ModuleInfo>();

/**
 * Records the build-time layout of a shader's text and returns the text. Called by the code the `.wgsl` loader
 * emits; a program never needs to call it (a WgslFile made in code can carry its `layout` instead).
 */
export function registerWgsl(text: string, layout: PackedLayout): string {
  layouts.set(text, unpackLayout(layout));
  return text;
}

/** The layout of one file: its own `layout`, else the one registered for its text by the `.wgsl` loader. */
export function layoutOf(file: WgslFile): ModuleInfo {
  const layout = file.layout ?? layouts.get(file.text);
  if (!layout) {
    throw new Error(
      `wgtrain: no layout for WGSL file '${file.file}': import shaders from .wgsl files through wgtrain's loader ` +
        `(build.mjs and vitest.config.ts reflect each file at build time), or give the WgslFile a \`layout\` ` +
        `(tools/wgsl-reflect.ts: reflectWgsl(text))`,
    );
  }
  return layout;
}

/** The layout of the concatenation of `files`: their entry points, structs and overrides together. */
export function composeLayout(files: readonly WgslFile[]): ModuleInfo {
  const entries: Record<string, EntryInfo> = {};
  const structs: Record<string, StructLayout> = {};
  const overrides: string[] = [];
  const infos = files.map(layoutOf);
  for (const info of infos) {
    Object.assign(structs, info.structs);
    for (const o of info.overrides) if (!overrides.includes(o)) overrides.push(o);
  }
  for (const info of infos) {
    for (const [name, e] of Object.entries(info.entries)) entries[name] = { ...e, overrides };
  }
  return { entries, structs, overrides };
}
