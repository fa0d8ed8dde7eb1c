/**
 * The engine's error surface: shader compile errors with file:line:column, validation errors naming the buffer by
 * label, device loss as a DeviceLostError, uniforms written by field name only, and buffer accounting back to zero.
 * Adapter choice in one process: a software engine first does not make a later 'hardware' request find SwiftShader.
 */
import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceLostError, GpuError, NoAdapterError, ShaderCompileError, UniformBlock, createEngine as createPlatformEngine, defineKernel } from '../src/gpu/index.js';
import { createEngine } from '../src/gpu/node.js';
import { wgslFile } from '../tools/wgsl-loader.js';
import { reflectWgsl } from '../tools/wgsl-reflect.js';
import { activationForwardKernel } from '../src/kernels/activation.js';
import { gpu } from './helpers/gpu.js';
import { GpuMachine } from '../src/linalg/gpu-machine.js';

describe('engine errors and accounting', () => {
  afterAll(async () => (await gpu()).destroy());

  it('a WGSL compile error names file:line:column of the original file (comments stripped as in the bundle)', async () => {
    const e = await gpu();
    const line = 'fn main() { y[0] = helper(1.0) + /* a comment */ undefined_thing; } // tail';
    const broken = defineKernel({
      label: 'test.broken',
      files: [
        wgslFile('lib.wgsl', '// a library\nfn helper(x: f32) -> f32 { return x; }\n'),
        wgslFile('broken.wgsl', `/* header\n   comment */\n@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1)\n${line}\n`),
      ],
      entry: 'main',
      bindings: { y: 'read_write' },
    });
    const err = await e.kernel(broken).catch((x: unknown) => x);
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect((err as Error).message).toContain(`broken.wgsl:5:${line.indexOf('undefined_thing') + 1}: error:`);
    expect((err as Error).message).toMatch(/undefined_thing/);
  });

  it('a validation error surfaces on flush() and names the buffer by its label', async () => {
    const e = await gpu();
    const b = e.storage('tiny-buffer', 16);
    e.device.queue.writeBuffer(b, 0, new Float32Array(64)); // 256 bytes into 16: invalid
    const err = await e.flush().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(GpuError);
    expect((err as GpuError).kind).toBe('validation');
    expect((err as Error).message).toContain('tiny-buffer');
    b.destroy();
    await e.flush(); // the error was reported once
  });

  // read() and the vector machine's read take the errors after their own map, with no second wait and no timer: this
  // holds only while the platform delivers `uncapturederror` before the map resolves (see Engine.flush).
  it('an error raised before a read (by a queue write or by a submitted command buffer) is thrown by that read, once', async () => {
    const e = await gpu();
    const values = Float32Array.from({ length: 16 }, (_, i) => i);
    const ok = e.storage('readable', values);
    const tiny = e.storage('tiny-target', 16);
    e.device.queue.writeBuffer(tiny, 0, new Float32Array(64)); // 256 bytes into 16
    const first = await e.read(ok).catch((x: unknown) => x);
    expect(first).toBeInstanceOf(GpuError);
    expect((first as GpuError).kind).toBe('validation');
    expect((first as Error).message).toContain('tiny-target');
    expect(new Float32Array(await e.read(ok))).toEqual(values); // reported once

    e.submit('bad copy', (enc) => enc.copyBufferToBuffer(ok, 0, tiny, 0, 64)); // 64 bytes into 16: invalid command buffer
    const second = await e.readF32(ok).catch((x: unknown) => x);
    expect(second).toBeInstanceOf(GpuError);
    expect((second as Error).message).toContain('tiny-target');
    await e.flush();

    const m = await GpuMachine.create(e, { n: 16, valueGrad: () => Promise.reject(new Error('unused')) });
    const slot = m.scalars(1);
    m.dot(slot, m.x, m.x);
    e.device.queue.writeBuffer(tiny, 0, new Float32Array(64));
    const third = await m.read([slot]).catch((x: unknown) => x);
    expect(third).toBeInstanceOf(GpuError);
    expect((third as Error).message).toContain('tiny-target');
    expect(await m.read([slot])).toEqual([0]);
    m.destroy();
    ok.destroy();
    tiny.destroy();
  });

  it('bind groups are checked by binding name', async () => {
    const e = await gpu();
    const k = await e.kernel(activationForwardKernel, { ACT: 1 });
    const x = e.storage('x', 16);
    expect(() => k.bind({ x, y: x })).toThrow(/lacks binding 'p'/);
    const u = k.uniforms('p');
    expect(() => k.bind({ p: u.buffer, x, y: x, z: x })).toThrow(/no binding named 'z'/);
    expect(() => k.bind({ p: x, x, y: x })).toThrow(/lacks UNIFORM usage/);
    x.destroy();
    u.destroy();
  });

  it('uniforms are written by reflected field name; unknown names and bad values are errors', () => {
    const layout = reflectWgsl('struct P { n: u32, a: f32, v: vec4f }\n@group(0) @binding(0) var<uniform> p: P;\n@compute @workgroup_size(1) fn main() { _ = p.n; }').structs['P']!;
    expect(layout.fields.v!.offset).toBe(16);
    const u = new UniformBlock(layout).set({ n: 7, a: 0.5, v: [1, 2, 3, 4] });
    expect([u.get('n'), u.get('a')]).toEqual([7, 0.5]);
    expect(new Float32Array(u.bytes, 16, 4)).toEqual(new Float32Array([1, 2, 3, 4]));
    expect(() => u.set({ m: 1 })).toThrow(/has no field 'm'/);
    expect(() => u.set({ n: 1.5 })).toThrow(/non-integer/);
    expect(() => u.set({ v: [1, 2] })).toThrow(/holds 4 value/);
  });

  it('the platform createEngine (gpu/index.ts, what library code calls) finds Dawn once the Node side is loaded', async () => {
    const lines: string[] = [];
    const e = await createPlatformEngine({ log: (line) => lines.push(line) });
    expect(e.info.via).not.toMatch(/navigator\.gpu/);
    expect(lines).toHaveLength(1);
    e.destroy();
  });

  it('device loss turns into a DeviceLostError, and destroy() frees every buffer', async () => {
    const e = await createEngine({ log: false });
    const before = e.memory();
    const b = e.storage('held', 1024);
    expect(e.memory().buffers).toBe(before.buffers + 1);
    b.destroy();
    expect(e.memory()).toEqual(before);
    e.storage('left-alive', 64);
    e.device.destroy(); // as a driver reset would
    await new Promise((r) => setTimeout(r, 50));
    const err = await e.flush().catch((x: unknown) => x);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as Error).message).toMatch(/device was lost.*resume from its last checkpoint/s);
    expect(() => e.storage('after-loss', 4)).toThrow(DeviceLostError);
    e.destroy();
    expect(e.memory().buffers).toBe(0);
  });
});

describe('adapter choice within one process', () => {
  /** A hardware engine, or the NoAdapterError that says there is none; never a software adapter. */
  async function hardwareOrNone(): Promise<void> {
    const hard = await createEngine({ adapter: 'hardware', log: false }).catch((x: unknown) => x);
    if (hard instanceof Error) {
      expect(hard).toBeInstanceOf(NoAdapterError);
      expect(hard.message).toMatch(/no WebGPU adapter could be created/);
    } else {
      const e = hard as Awaited<ReturnType<typeof createEngine>>;
      expect(e.software, e.describe()).toBe(false);
      expect(e.describe()).not.toMatch(/swiftshader/i);
      e.destroy();
    }
  }

  it("'software' then 'hardware': the second is a GPU or NoAdapterError, not SwiftShader; VK_ICD_FILENAMES is left as it was", async () => {
    const before = process.env.VK_ICD_FILENAMES;
    const soft = await createEngine({ adapter: 'software', log: false }).catch((x: unknown) => x);
    expect(process.env.VK_ICD_FILENAMES).toBe(before);
    if (soft instanceof Error) expect(soft).toBeInstanceOf(NoAdapterError); // a GPU machine without SwiftShader
    else expect((soft as Awaited<ReturnType<typeof createEngine>>).software).toBe(true);
    await hardwareOrNone();
    expect(process.env.VK_ICD_FILENAMES).toBe(before);
    // The software engine still works after the environment was put back.
    if (!(soft instanceof Error)) {
      const e = soft as Awaited<ReturnType<typeof createEngine>>;
      const b = e.storage('after-hardware-request', 16);
      await e.flush();
      b.destroy();
      e.destroy();
    }
    // Requested together, they are served one at a time and get the same answers.
    const both = await Promise.allSettled([createEngine({ adapter: 'software', log: false }), hardwareOrNone()]);
    if (both[0].status === 'fulfilled') both[0].value.destroy();
    expect(both[1].status, String((both[1] as PromiseRejectedResult).reason)).toBe('fulfilled');
    expect(process.env.VK_ICD_FILENAMES).toBe(before);
  });

  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json';
  it.runIf(existsSync(swiftshader))("'hardware' refuses SwiftShader even when the user's VK_ICD_FILENAMES names it", async () => {
    const before = process.env.VK_ICD_FILENAMES;
    process.env.VK_ICD_FILENAMES = swiftshader;
    try {
      const err = await createEngine({ adapter: 'hardware', log: false }).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(NoAdapterError);
      expect((err as Error).message).toContain(`VK_ICD_FILENAMES=${swiftshader}: only a software adapter`);
      const auto = await createEngine({ log: false });
      expect(auto.software).toBe(true); // 'auto' takes what the user pointed at
      auto.destroy();
    } finally {
      if (before === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = before;
    }
  });
});
