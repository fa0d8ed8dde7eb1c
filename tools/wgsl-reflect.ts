/**
 * Build- and test-time only: reads a WGSL module's layout (src/gpu/layout.ts: entry points with their bindings, struct
 * layouts, override constants) with wgsl_reflect. The `.wgsl` loader (wgsl-loader.ts) runs it on every shader when
 * bundling, so the library itself carries the layouts as data and no WGSL parser; tests run it on composed sources
 * to check the data and the declarations against the shaders.
 */
import { WgslReflect, ResourceType, type MemberInfo, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';
import type { BindingInfo, BindingKind, EntryInfo, FieldLayout, ModuleInfo, StructLayout } from '../src/gpu/layout.js';

const SCALARS = new Set(['f32', 'u32', 'i32']);

function scalarOf(typeName: string): FieldLayout['scalar'] | null {
  if (SCALARS.has(typeName)) return typeName as FieldLayout['scalar'];
  // vec4f / vec2u / vec3i shorthands
  const m = /^vec[234]([fui])$/.exec(typeName);
  if (m) return ({ f: 'f32', u: 'u32', i: 'i32' } as const)[m[1] as 'f' | 'u' | 'i'];
  return null;
}

function fieldLayout(m: MemberInfo, structName: string): FieldLayout {
  const t = m.type;
  const direct = scalarOf(t.name);
  if (direct && SCALARS.has(t.name)) return { offset: m.offset, size: m.size, scalar: direct, count: 1, stride: 4 };
  const vec = /^vec([234])/.exec(t.name);
  if (vec) {
    const scalar = direct ?? scalarOf((m.format ?? { name: '' }).name);
    if (!scalar) throw new Error(`${structName}.${m.name}: unsupported vector type ${t.getTypeName()}`);
    return { offset: m.offset, size: m.size, scalar, count: Number(vec[1]), stride: 4 };
  }
  if (m.isArray) {
    const scalar = scalarOf(m.format?.name ?? '');
    if (!scalar) throw new Error(`${structName}.${m.name}: only arrays of f32/u32/i32 are supported in uniform structs`);
    return { offset: m.offset, size: m.size, scalar, count: m.count, stride: m.stride };
  }
  throw new Error(`${structName}.${m.name}: unsupported field type ${t.getTypeName()}`);
}

function structLayout(v: { name: string; members: MemberInfo[] | null; size: number }): StructLayout {
  const fields: Record<string, FieldLayout> = {};
  for (const m of v.members ?? []) fields[m.name] = fieldLayout(m, v.name);
  return { name: v.name, size: v.size, fields };
}

function bindingOf(v: VariableInfo): BindingInfo {
  let kind: BindingKind;
  if (v.resourceType === ResourceType.Uniform) kind = 'uniform';
  else if (v.resourceType === ResourceType.Storage) kind = v.access === 'read_write' ? 'read_write' : 'read';
  else throw new Error(`binding ${v.name}: only buffer bindings are supported (got resource type ${v.resourceType})`);
  const info: BindingInfo = { name: v.name, group: v.group, binding: v.binding, kind };
  if (v.isStruct) info.struct = structLayout({ name: v.type.name, members: v.members, size: v.size });
  return info;
}

/** Reflects a WGSL module. Throws with the parser's message when the source does not parse. */
export function reflectWgsl(source: string): ModuleInfo {
  const r = new WgslReflect(source);
  const overrides = r.overrides.map((o) => o.name);
  const entries: Record<string, EntryInfo> = {};
  for (const fn of r.entry.compute) {
    const bindings = fn.resources
      .filter((v) => v.resourceType === ResourceType.Uniform || v.resourceType === ResourceType.Storage)
      .map(bindingOf)
      .sort((a, b) => a.group - b.group || a.binding - b.binding);
    entries[fn.name] = { name: fn.name, bindings, overrides };
  }
  const structs: Record<string, StructLayout> = {};
  for (const s of r.structs) structs[s.name] = structLayout({ name: s.name, members: s.members, size: s.size });
  return { entries, structs, overrides };
}
