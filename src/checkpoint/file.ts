/**
 * Node file I/O for checkpoints: atomic writes, verified reads.
 *
 * A save never leaves a half-written FILE: the bytes go to FILE.tmp-<pid>-<random> in the same folder, are
 * fsync'ed, and the temporary file is renamed over FILE (atomic on POSIX file systems and NTFS), then the folder is
 * fsync'ed so the rename itself survives a power cut. A reader therefore sees either the old or the new file. If
 * the save fails the temporary file is removed; only a killed process can leave one behind, and it is never read.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type DecodeOptions, type DecodedCheckpoint } from './safetensors.js';

/** Writes `bytes` to `path` atomically (see module comment). */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const handle = await open(tmp, 'wx');
    created = true;
    try {
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, at, bytes.length - at, at);
        at += bytesWritten;
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    created = false;
  } catch (e) {
    if (created) await unlink(tmp).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new Error(`saving ${path} failed${err.code ? ` (${err.code})` : ''}: ${err.message}; the previous ${basename(path)}, if any, is unchanged.`, {
      cause: e,
    });
  }
  await syncDirectory(dir);
}

/** fsync of a folder makes a rename durable; platforms that cannot open folders (Windows) skip it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF' && code !== 'EACCES') throw e;
  } finally {
    await handle?.close();
  }
}

/** Encodes a checkpoint and writes it atomically to `path`. */
export async function saveCheckpointFile(path: string, checkpoint: Checkpoint): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(checkpoint));
}

/** Reads and verifies a checkpoint; errors name the file and the tensor or field at fault. */
export async function loadCheckpointFile(path: string, options: Omit<DecodeOptions, 'source'> = {}): Promise<DecodedCheckpoint> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const stale = await leftoverTemporaries(path);
      throw new Error(
        `checkpoint file not found: ${path}` +
          (stale.length ? ` (found ${stale.join(', ')}: left by a save that was killed before it finished; not a usable checkpoint)` : ''),
        { cause: e },
      );
    }
    throw new Error(`reading checkpoint ${path} failed: ${(e as Error).message}`, { cause: e });
  }
  return decodeCheckpoint(bytes, { ...options, source: path });
}

async function leftoverTemporaries(path: string): Promise<string[]> {
  const prefix = `${basename(path)}.tmp-`;
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(prefix));
}
