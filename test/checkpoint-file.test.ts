// Checkpoint files: atomic save (no temporary left behind, never a half-written FILE, even when the write or the
// rename fails), verified load with the file name in every error, and readers racing a writer.
import * as fsp from 'node:fs/promises';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadCheckpointFile, saveCheckpointFile, writeFileAtomic } from '../src/checkpoint/file.js';
import type { Checkpoint } from '../src/checkpoint/safetensors.js';

// Wrap open and rename so single calls can be made to fail; by default they behave as the real ones.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, open: vi.fn(real.open), rename: vi.fn(real.rename) };
});

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wgtrain-ckpt-'));
});
afterEach(async () => {
  vi.mocked(fsp.open).mockReset();
  vi.mocked(fsp.rename).mockReset();
  const real = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
  vi.mocked(fsp.open).mockImplementation(real.open);
  vi.mocked(fsp.rename).mockImplementation(real.rename);
  await rm(dir, { recursive: true, force: true });
});

function checkpoint(fill: number, n = 1000): Checkpoint {
  return {
    tensors: { w: { data: new Float32Array(n).fill(fill), shape: [n] }, step: { data: Uint32Array.from([fill]), shape: [1] } },
    meta: { step: fill, epoch: 1 },
  };
}

describe('saveCheckpointFile / loadCheckpointFile', () => {
  it('round trips and leaves only FILE in the folder, also when overwriting', async () => {
    const path = join(dir, 'model.safetensors');
    await saveCheckpointFile(path, checkpoint(1));
    await saveCheckpointFile(path, checkpoint(2));
    expect(await readdir(dir)).toEqual(['model.safetensors']);
    const back = await loadCheckpointFile(path);
    expect(back.meta.step).toBe(2);
    expect(back.tensors.w!.data[999]).toBe(2);
  });

  it('a failed rename leaves the old FILE intact and removes the temporary file', async () => {
    const path = join(dir, 'ckpt.safetensors');
    await saveCheckpointFile(path, checkpoint(1));
    const before = await readFile(path);
    vi.mocked(fsp.rename).mockRejectedValueOnce(Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' }));
    await expect(saveCheckpointFile(path, checkpoint(2))).rejects.toThrow(
      `saving ${path} failed (EXDEV): EXDEV: cross-device link not permitted; the previous ckpt.safetensors, if any, is unchanged.`,
    );
    expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
    expect(Buffer.compare(await readFile(path), before)).toBe(0);
    expect((await loadCheckpointFile(path)).meta.step).toBe(1);
  });

  it('a write that fails halfway (disk full) never reaches FILE', async () => {
    const path = join(dir, 'ckpt.safetensors');
    await saveCheckpointFile(path, checkpoint(1));
    const real = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
    let partial = 0;
    vi.mocked(fsp.open).mockImplementationOnce(async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      return new Proxy(handle, {
        get(target, prop) {
          if (prop === 'write') {
            return async (buf: Uint8Array, off: number, len: number, pos: number) => {
              partial = Math.floor(len / 2);
              await target.write(buf, off, partial, pos);
              throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
            };
          }
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    });
    await expect(saveCheckpointFile(path, checkpoint(2))).rejects.toThrow(`saving ${path} failed (ENOSPC)`);
    expect(partial).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['ckpt.safetensors']);
    expect((await loadCheckpointFile(path)).meta.step).toBe(1);
  });

  it('readers racing a writer always see a complete, verified file', async () => {
    const path = join(dir, 'race.safetensors');
    await saveCheckpointFile(path, checkpoint(0, 500_000));
    let writing = true;
    const writer = (async () => {
      for (let i = 1; i <= 12; i++) await saveCheckpointFile(path, checkpoint(i, 500_000));
      writing = false;
    })();
    let reads = 0;
    try {
      while (writing) {
        const c = await loadCheckpointFile(path);
        expect(c.tensors.w!.data[499_999]).toBe(c.meta.step);
        reads++;
      }
    } finally {
      await writer;
    }
    expect(reads).toBeGreaterThan(1);
    expect(await readdir(dir)).toEqual(['race.safetensors']);
  });

  it('load errors name the file: missing (mentioning leftovers of a killed save), corrupted', async () => {
    const path = join(dir, 'gone.safetensors');
    await expect(loadCheckpointFile(path)).rejects.toThrow(`checkpoint file not found: ${path}`);
    await writeFile(`${path}.tmp-123-abcdef`, 'partial');
    await expect(loadCheckpointFile(path)).rejects.toThrow(
      `checkpoint file not found: ${path} (found gone.safetensors.tmp-123-abcdef: left by a save that was killed before it finished; not a usable checkpoint)`,
    );

    const bad = join(dir, 'bad.safetensors');
    await saveCheckpointFile(bad, checkpoint(3));
    const bytes = await readFile(bad);
    bytes[bytes.length - 5] ^= 0xff; // inside 'w' (F32 tensors come before the U32 'step' by name)
    await writeFile(bad, bytes);
    await expect(loadCheckpointFile(bad)).rejects.toThrow(new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: checksum mismatch in tensor '(w|step)'`));
    await writeFile(bad, bytes.subarray(0, bytes.length - 100));
    await expect(loadCheckpointFile(bad)).rejects.toThrow(/bad\.safetensors: data section is \d+ bytes but tensor '\w+' ends at byte \d+ of it: 100 bytes missing; truncated file\?/);
  });

  it('the next successful save removes temporaries left by killed saves, but not those of a running writer', async () => {
    const path = join(dir, 'run.safetensors');
    const dead = `run.safetensors.tmp-2147483646-abcdef`; // no such process
    const running = `run.safetensors.tmp-${process.ppid}-abcdef`; // a process that is alive
    await writeFile(join(dir, dead), 'partial');
    await writeFile(join(dir, running), 'partial');
    await writeFile(join(dir, 'other.safetensors.tmp-2147483646-abcdef'), 'not ours');
    await saveCheckpointFile(path, checkpoint(5));
    expect((await readdir(dir)).sort()).toEqual(['other.safetensors.tmp-2147483646-abcdef', 'run.safetensors', running].sort());
  });

  it('writeFileAtomic into a missing folder fails cleanly', async () => {
    const path = join(dir, 'no', 'such', 'f.bin');
    await expect(writeFileAtomic(path, new Uint8Array(4))).rejects.toThrow(`saving ${path} failed (ENOENT)`);
  });
});
