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

const layouts = new Map<string, ModuleInfo>();

/**
 * Records the build-time layout of a shader's text and returns the text. Called by the code the `.wgsl` loader
 * emits; a program never needs to call it (a WgslFile made in code can carry its `layout` instead).
 */
export function registerWgsl(text: string, layout: ModuleInfo): string {
  layouts.set(text, layout);
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
