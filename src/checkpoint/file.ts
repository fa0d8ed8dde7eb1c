/**
 * Node file I/O for checkpoints: atomic writes, verified reads.
 *
 * A save never leaves a half-written FILE: the bytes go to FILE.tmp-<pid>-<random> in the same folder, are
 * fsync'ed, and the temporary file is renamed over FILE (atomic on POSIX file systems and NTFS), then the folder is
 * fsync'ed so the rename itself survives a power cut. A reader therefore sees either the old or the new file. If
 * the save fails the temporary file is removed; only a killed process can leave one behind, and it is never read.
 * The next successful save of FILE removes such leftovers (those whose writer process no longer runs), and a load
 * that finds no FILE names them.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint, type DecodeOptions, type DecodedCheckpoint } from './safetensors.js';

/** Points in a save where a crash can happen; `AtomicWriteOptions.onPhase` is called at each. */
export type SavePhase = 'created' | 'partial' | 'written' | 'synced' | 'renamed';

export interface AtomicWriteOptions {
  /** Called at each phase of the save (tests kill the process there to check what a crash leaves behind). */
  onPhase?: (phase: SavePhase) => void | Promise<void>;
}

/** Bytes per write call: a large file is written in several, so a crash can leave a partly written temporary. */
const CHUNK = 4 << 20;

/** Writes `bytes` to `path` atomically (see module comment). */
export async function writeFileAtomic(path: string, bytes: Uint8Array, options: AtomicWriteOptions = {}): Promise<void> {
  const phase = async (p: SavePhase) => options.onPhase?.(p);
  const dir = dirname(path);
  const tmp = join(dir, `${basename(path)}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
  let created = false;
  try {
    const handle = await open(tmp, 'wx');
    created = true;
    await phase('created');
    try {
      for (let at = 0; at < bytes.length; ) {
        const { bytesWritten } = await handle.write(bytes, at, Math.min(CHUNK, bytes.length - at), at);
        at += bytesWritten;
        if (at < bytes.length) await phase('partial');
      }
      await phase('written');
      await handle.sync();
      await phase('synced');
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
    created = false;
    await phase('renamed');
  } catch (e) {
    if (created) await unlink(tmp).catch(() => undefined);
    const err = e as NodeJS.ErrnoException;
    throw new Error(`saving ${path} failed${err.code ? ` (${err.code})` : ''}: ${err.message}; the previous ${basename(path)}, if any, is unchanged.`, {
      cause: e,
    });
  }
  await syncDirectory(dir);
  await removeLeftovers(path);
}

/** Temporaries of FILE left by saves whose process is gone (killed mid-save); a running writer's are kept. */
async function removeLeftovers(path: string): Promise<void> {
  for (const name of await leftoverTemporaries(path)) {
    const pid = Number(/\.tmp-(\d+)-/.exec(name)?.[1]);
    if (pid === process.pid || isRunning(pid)) continue;
    await unlink(join(dirname(path), name)).catch(() => undefined);
  }
}

function isRunning(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
  }
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
export async function saveCheckpointFile(path: string, checkpoint: Checkpoint, options: AtomicWriteOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodeCheckpoint(checkpoint), options);
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
