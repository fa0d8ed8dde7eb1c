#!/usr/bin/env node
/**
 * Builds everything under dist/ with esbuild. A `.wgsl` file is bundled as its text without comments plus its binding
 * and uniform layouts, reflected here at build time (tools/wgsl-loader.ts; the library carries no WGSL parser).
 *
 *   dist/browser/index.js   library for browsers (ESM, from src/index.ts; no Node code: no `node:*`, no `webgpu`,
 *                           checked below, and test/browser-package.test.ts bundles it with a plain esbuild)
 *   dist/index.js           library for Node (ESM, `webgpu` external: Dawn's native addon cannot be bundled), from
 *                           src/node.ts (src/index.ts plus the Node-only loaders) where it exists
 *   dist/cli.js             the `wgtrain` command (from src/cli.ts, skipped with a warning while it does not exist)
 *   dist/demos/             the landing page (demos/main.ts) and each demos/<name>/main.ts bundled for browsers, with
 *                           their .html and .css files (and demos/shared/*.css)
 *   dist/types/             .d.ts files from `tsc -p tsconfig.types.json` (only with --types: it takes ~10 s)
 *
 *   node build.mjs [--types] [--only browser,node,cli,demos]
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const args = process.argv.slice(2);
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1].split(',')) : null;
const wanted = (part) => !only || only.has(part);
const withTypes = args.includes('--types') || only?.has('types');

/** The `.wgsl` loader (TypeScript, shared with vitest.config.ts), compiled for this process. */
async function loadWgslLoader() {
  const r = await build({
    entryPoints: [join(root, 'tools/wgsl-loader.ts')], bundle: true, format: 'esm', platform: 'node', write: false, logLevel: 'warning',
  });
  return import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].contents).toString('base64')}`);
}
const { wgslModule } = await loadWgslLoader();
const layoutModule = join(root, 'src/gpu/layout.ts');
const wgslPlugin = {
  name: 'wgsl',
  setup(b) {
    b.onLoad({ filter: /\.wgsl$/ }, async (args) => ({
      contents: wgslModule(await readFile(args.path, 'utf8'), relative(root, args.path), layoutModule),
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
  },
};

const common = {
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: true,
  plugins: [wgslPlugin],
  logLevel: 'warning',
  metafile: true,
  absWorkingDir: root,
};

// Node bundles may contain CommonJS dependencies whose `require` calls need a real `require` in ESM.
const nodeBanner =
  "import { createRequire as __wgtrainCreateRequire } from 'node:module'; const require = __wgtrainCreateRequire(import.meta.url);";

const t0 = performance.now();
const jobs = [];

if (wanted('browser')) {
  jobs.push(
    build({
      ...common,
      entryPoints: ['src/index.ts'],
      outfile: 'dist/browser/index.js',
      platform: 'browser',
      external: ['webgpu', 'node:*'],
    }).then((r) => checkBrowserBundle(r, 'dist/browser/index.js')),
  );
}

if (wanted('node')) {
  jobs.push(
    build({
      ...common,
      entryPoints: [existsSync(join(root, 'src/node.ts')) ? 'src/node.ts' : 'src/index.ts'],
      outfile: 'dist/index.js',
      platform: 'node',
      external: ['webgpu'],
      banner: { js: nodeBanner },
    }),
  );
}

if (wanted('cli')) {
  if (existsSync(join(root, 'src/cli.ts'))) {
    jobs.push(
      build({
        ...common,
        entryPoints: ['src/cli.ts'],
        outfile: 'dist/cli.js',
        platform: 'node',
        external: ['webgpu'],
        banner: { js: `#!/usr/bin/env node\n${nodeBanner}` },
      }).then(() => chmodSync(join(dist, 'cli.js'), 0o755)),
    );
  } else {
    console.warn('build: src/cli.ts does not exist yet: dist/cli.js (the `wgtrain` command, `npm run train`) was not built');
  }
}

if (wanted('demos') && existsSync(join(root, 'demos'))) {
  // The landing page (demos/main.ts → dist/demos/) and each demo (demos/<name>/main.ts → dist/demos/<name>/), each
  // with its .html and .css files; demos/shared/ holds what the pages share (its .css is copied, its .ts bundled in).
  const pages = [''];
  for (const name of readdirSync(join(root, 'demos'))) if (existsSync(join(root, 'demos', name, 'main.ts'))) pages.push(name);
  for (const name of pages) {
    const dir = join(root, 'demos', name);
    if (!existsSync(join(dir, 'main.ts'))) continue;
    const out = join(dist, 'demos', name);
    const rel = name ? `demos/${name}` : 'demos';
    jobs.push(
      build({
        ...common,
        entryPoints: [`${rel}/main.ts`],
        outfile: `dist/${rel}/main.js`,
        platform: 'browser',
        external: ['webgpu', 'node:*'],
      }).then((r) => {
        checkBrowserBundle(r, `dist/${rel}/main.js`);
        copyAssets(dir, out);
      }),
    );
  }
  copyAssets(join(root, 'demos', 'shared'), join(dist, 'demos', 'shared'));
}

/** Copies a folder's .html and .css files (not its subfolders). */
function copyAssets(from, to) {
  if (!existsSync(from)) return;
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (/\.(html|css)$/.test(f)) copyFileSync(join(from, f), join(to, f));
}

if (withTypes) jobs.push(buildTypes());

/**
 * A browser bundle must not import Node-only modules, not even dynamically: a user's bundler would try to resolve
 * them. Node-only code lives in modules that only src/node.ts reaches (gpu/acquire-node.ts, data/mnist-node.ts, ...).
 */
function checkBrowserBundle(result, outfile) {
  const bad = [];
  for (const [file, output] of Object.entries(result.metafile.outputs)) {
    for (const imp of output.imports) {
      const nodeOnly = imp.path === 'webgpu' || imp.path.startsWith('node:') || imp.path.startsWith('webgpu/');
      if (imp.external && nodeOnly) bad.push(`${file}: ${imp.kind} '${imp.path}'`);
    }
  }
  if (bad.length) {
    throw new Error(`build: ${outfile} imports Node-only modules (keep them in modules only src/node.ts imports):\n  ${bad.join('\n  ')}`);
  }
}

/**
 * Declarations of the two entries (src/index.ts, src/node.ts) and what they reach, as dist/types/index.d.ts and
 * node.d.ts (the `types` of package.json's exports). tsconfig.types.json emits them under NodeNext resolution, so every
 * import in them names a file (`../gpu/kernel.js`), as node16/nodenext consumers need.
 */
function buildTypes() {
  rmSync(join(dist, 'types'), { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    const tsc = spawn(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
    tsc.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build: tsc --emitDeclarationOnly failed (exit ${code})`))));
  });
}

try {
  await Promise.all(jobs);
  console.log(`build: dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s${withTypes ? '' : ' (no .d.ts; `node build.mjs --types` adds them)'}`);
} catch (e) {
  console.error(e.message ?? e);
  process.exit(1);
}
