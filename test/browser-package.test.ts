/**
 * wgtrain as a dependency of someone else's app. `npm pack` (which runs prepack: the build with declarations), then the
 * tarball is installed into a temporary app outside the repository the way npm lays it out (extracted into
 * node_modules/wgtrain, its declared dependencies linked from this repository's node_modules: offline, and only what
 * package.json declares can resolve), and the app (test/consumer/) is
 *   - type-checked by tsc under moduleResolution bundler, node16 and nodenext, each with lib ES2022 and with DOM;
 *   - bundled by its own esbuild for the browser, with no externals (the size is printed: README records it);
 *   - run in Node through `import 'wgtrain'`: train on data made in code, predict, save, reload, predict the same;
 *   - run in headless Chromium: the same in the page and in a dedicated Worker, models kept in IndexedDB, a download,
 *     and models crossing between the browser and Node with the same predictions;
 *   - and with navigator.gpu present but no adapter, the error names --enable-unsafe-webgpu and chrome://gpu.
 * Named browser-*: it needs Chromium (and npm), so runs where there is no browser leave it out with the other browser
 * tests (scripts/device-check.sh excludes test files named browser*.test.ts).
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { openPage } from './browser/pages.js';
import { REPO_ROOT, serveStatic, type StaticServer } from './browser/server.js';
import { PROBE } from './consumer/probe.js';
import { boundedForward } from './helpers/lockstep.js';
import { Dataset } from '../src/data/dataset.js';
import { U } from '../src/testing/sums.js';
import { decodeTrainingCheckpoint } from '../src/train/checkpoint.js';
import { createCpuRunner } from '../src/train/cpu-runner.js';

const run = promisify(execFile);

interface Trained {
  adapter: string;
  first: { trainLoss: number };
  last: { trainLoss: number; valLoss: number; valAccuracy: number };
  accuracy: number;
  before: number[];
  after: number[];
}

function close(a: number[], b: number[], tol: number | readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) <= (typeof tol === 'number' ? tol : tol[i]!));
}

/**
 * How far predictProba(PROBE) of one model file may differ between two correct WebGPU implementations (Node's Dawn and
 * the browser's), per element. Each side's logits lie within the bounded float64 forward's bounds e (test/helpers/
 * step-bounds.ts: the kernels' γ_n·Σ|terms| carried through the layers, on the file's own weights); softmax moves a
 * probability p by at most p·(e^(2·max e) − 1) under them (log-sum-exp is 1-Lipschitz in the max norm), and
 * predictProba stores it as float32 (relative u, with room for its float64 softmax). Both sides: twice that.
 */
async function crossDeviceTolerance(file: string): Promise<number[]> {
  const snap = decodeTrainingCheckpoint(new Uint8Array(readFileSync(file)), file);
  const runner = await createCpuRunner(snap.config);
  await runner.importState(snap.state);
  const { out } = await boundedForward(runner, snap.config, Dataset.from({ inputs: PROBE, labels: PROBE.map(() => 0) }));
  runner.destroy();
  const k = out.value.length / PROBE.length;
  return PROBE.flatMap((_, r) => {
    const z = Array.from(out.value.subarray(r * k, (r + 1) * k));
    const e = Math.max(...out.bound.subarray(r * k, (r + 1) * k));
    const m = Math.max(...z);
    const s = z.reduce((a, v) => a + Math.exp(v - m), 0);
    return z.map((v) => 2 * (Math.exp(v - m) / s) * (Math.exp(2 * e) * (1 + 2 * U) - 1));
  });
}

describe('wgtrain installed from its npm tarball into an app', () => {
  let work: string;
  let app: string;
  let files: string[];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'wgtrain-consumer-'));
    const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    // prepack's own output may come first; npm's JSON is the rest.
    const packed = JSON.parse(out.slice(out.search(/^\[/m)));
    files = packed[0].files.map((f: { path: string }) => f.path);
    app = join(work, 'app');
    const pkgDir = join(app, 'node_modules', 'wgtrain');
    mkdirSync(pkgDir, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, packed[0].filename), '-C', pkgDir, '--strip-components=1']);
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
    // What `npm install` would add: wgtrain's dependencies; and the app's own dev dependency on Node's types.
    for (const dep of [...Object.keys(pkg.dependencies ?? {}), '@types/node']) {
      const from = join(REPO_ROOT, 'node_modules', dep);
      if (!existsSync(from)) throw new Error(`dependency ${dep} is not installed in this repository: run npm ci`);
      mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true });
      symlinkSync(from, join(app, 'node_modules', dep), 'dir');
    }
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer-app', private: true, type: 'module', dependencies: { wgtrain: pkg.version } }));
    cpSync(join(REPO_ROOT, 'test/consumer'), join(app, 'src'), { recursive: true });
  }, 240_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the tarball holds the library and its license: no demos, no build leftovers, maps with their sources', () => {
    for (const f of ['LICENSE', 'package.json', 'dist/index.js', 'dist/browser/index.js', 'dist/cli.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts', 'src/index.ts']) {
      expect(files, f).toContain(f);
    }
    expect(files.filter((f) => /^dist\/demos\/|tsconfig|^test\/|^bench\/|^tools\//.test(f))).toEqual([]);
    for (const map of files.filter((f) => f.endsWith('.js.map'))) {
      const { sources } = JSON.parse(readFileSync(join(app, 'node_modules/wgtrain', map), 'utf8')) as { sources: string[] };
      const missing = sources.map((s) => join(dirname(map), s)).filter((s) => !files.includes(s) && !s.startsWith('node_modules/'));
      expect(missing, `${map}: sources not in the package`).toEqual([]);
    }
    const pkg = JSON.parse(readFileSync(join(app, 'node_modules/wgtrain/package.json'), 'utf8'));
    expect(pkg.sideEffects).toBe(false);
    expect(pkg.license).toBe('MIT');
    expect(Object.keys(pkg.dependencies)).toContain('@webgpu/types');
    expect(Object.keys(pkg.dependencies)).not.toContain('wgsl_reflect');
    expect(readFileSync(join(app, 'node_modules/wgtrain/dist/types/index.d.ts'), 'utf8')).toMatch(/^\/\/\/ <reference types="@webgpu\/types"/);
  });

  it('type-checks under bundler, node16 and nodenext, each with lib ES2022 and with DOM', () => {
    const configs = ['bundler', 'node16', 'nodenext'].flatMap((resolution) =>
      [false, true].map((dom) => ({
        name: `${resolution}-${dom ? 'dom' : 'es2022'}`,
        dom,
        compilerOptions: {
          target: 'ES2022',
          module: resolution === 'bundler' ? 'ESNext' : resolution,
          moduleResolution: resolution,
          lib: dom ? ['ES2022', 'DOM'] : ['ES2022'],
          // A Node program (lib ES2022) has Node's types; a bundler-resolved one names the "node" export condition.
          types: dom ? [] : ['node'],
          ...(resolution === 'bundler' && !dom ? { customConditions: ['node'] } : {}),
          strict: true,
          noEmit: true,
          // Declaration files are checked (wgtrain's above all); TypeScript's own lib files are not, they are its own.
          skipLibCheck: false,
          skipDefaultLibCheck: true,
        },
        // The browser side needs DOM; the Node side needs Node's types: each config checks the files it can.
        files: ['src/common.ts', 'src/types.ts', ...(dom ? ['src/page.ts', 'src/worker.ts'] : ['src/node.ts'])],
      })),
    );
    // One compiler in this process for the six programs, sharing parsed files (lib.dom.d.ts, @types/node, ...): six
    // tsc processes would parse them six times.
    const parsed = new Map<string, ts.SourceFile | undefined>();
    const results = configs.map((c) => {
      const options = ts.convertCompilerOptionsFromJson(c.compilerOptions, app).options;
      const host = ts.createCompilerHost(options);
      const read = host.getSourceFile.bind(host);
      host.getSourceFile = (file, language, onError, create) => {
        const opts = typeof language === 'object' ? language : { languageVersion: language };
        const key = `${file}|${opts.languageVersion}|${opts.impliedNodeFormat}`;
        if (!parsed.has(key)) parsed.set(key, read(file, language, onError, create));
        return parsed.get(key);
      };
      const program = ts.createProgram({ rootNames: c.files.map((f) => join(app, f)), options, host });
      const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
      // @webgpu/types itself names DOM types (EventTarget, HTMLCanvasElement...): without lib DOM only those errors
      // are tolerated; every error in wgtrain's declarations or the app's code fails.
      const errors = diagnostics
        .filter((d) => c.dom || !d.file?.fileName.includes('node_modules/@webgpu/types/'))
        .map((d) => `${d.file ? `${d.file.fileName.slice(app.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
      return { name: c.name, errors };
    });
    for (const r of results) expect(r.errors, `tsc (${r.name})`).toEqual([]);
  }, 180_000);

  it("bundles for the browser with the app's own esbuild (no externals): no Node code, size printed", async () => {
    const r = await build({
      entryPoints: { page: join(app, 'src/page.ts'), worker: join(app, 'src/worker.ts') },
      outdir: join(app, 'dist'),
      absWorkingDir: app,
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      metafile: true,
      logLevel: 'silent',
      // A reference to Node's `process` becomes this marker, so the bundle's text shows any that remain.
      define: { process: '__NODE_PROCESS_REFERENCE__' },
    });
    cpSync(join(app, 'src/index.html'), join(app, 'dist/index.html'));
    const page = r.metafile.outputs['dist/page.js']!;
    const wgtrain = Object.entries(page.inputs).filter(([f]) => f.includes('node_modules/wgtrain/')).reduce((n, [, v]) => n + v.bytesInOutput, 0);
    const text = readFileSync(join(app, 'dist/page.js'), 'utf8') + readFileSync(join(app, 'dist/worker.js'), 'utf8');
    console.log(`consumer page bundle (esbuild --minify, platform browser): ${page.bytes} bytes, of which wgtrain ${wgtrain} bytes`);
    expect(text).not.toContain('__NODE_PROCESS_REFERENCE__');
    expect(text).not.toMatch(/["']node:|require\(|import\(/);
    expect(Object.values(r.metafile.outputs).flatMap((o) => o.imports)).toEqual([]);
  });

  describe('runs', () => {
    let server: StaticServer;
    let chromium: LaunchedChromium;
    let node: Trained & { bytes: number; fileStep: number };

    beforeAll(async () => {
      await build({ entryPoints: [join(app, 'src/node.ts')], outfile: join(app, 'node.js'), bundle: true, platform: 'node', format: 'esm', packages: 'external', logLevel: 'silent' });
      server = await serveStatic(app, { mounts: { '/app/': '.' } });
      chromium = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await chromium?.close();
      await server?.close();
    });

    it("in Node through import 'wgtrain': trains on in-code data, predicts, saves, reloads, predicts the same", async () => {
      await run(process.execPath, ['node.js', 'train', 'dist/node-model'], { cwd: app });
      node = JSON.parse(readFileSync(join(app, 'dist/node-model.json'), 'utf8'));
      console.log(`node consumer on ${node.adapter}: loss ${node.first.trainLoss.toFixed(3)} → ${node.last.trainLoss.toFixed(3)}, training accuracy ${node.accuracy.toFixed(3)}`);
      expect(node.last.trainLoss).toBeLessThan(node.first.trainLoss);
      expect(node.accuracy, 'spirals: accuracy at chance level (1/3)').toBeGreaterThan(0.6);
      expect(node.after).toEqual(node.before);
      expect(node.fileStep).toBeGreaterThan(0);
      expect(readFileSync(join(app, 'dist/node-model.copy.safetensors'))).toEqual(readFileSync(join(app, 'dist/node-model.safetensors')));
    }, 240_000);

    it('in headless Chromium: in the page and in a Worker, IndexedDB, a download, and models cross between browser and Node', async () => {
      const downloads = join(work, 'downloads');
      mkdirSync(downloads);
      const { page, errors } = await openPage(chromium, `${server.origin}/app/dist/index.html`);
      const cdp = await page.createCDPSession();
      await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
      // The Node model is served next to the page (fetch('./node-model.safetensors')).
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, { timeout: 60_000 });
      const r = (await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result)) as {
        error?: string;
        page: Trained & { bytes: number[] };
        worker: Trained & { bytes: number[] };
        stored: { keys: string[]; sizes: number[]; probe: number[] };
        fromNode: number[] | null;
      };
      expect(r.error, `the page failed: ${r.error}\n${errors.join('\n')}`).toBeUndefined();
      for (const [where, t] of [['page', r.page], ['worker', r.worker]] as const) {
        console.log(`${where} on ${t.adapter}: loss ${t.first.trainLoss.toFixed(3)} → ${t.last.trainLoss.toFixed(3)}, training accuracy ${t.accuracy.toFixed(3)}`);
        expect(t.last.trainLoss, where).toBeLessThan(t.first.trainLoss);
        expect(t.accuracy, `${where}: spirals accuracy at chance level`).toBeGreaterThan(0.6);
        expect(t.after, `${where}: predictions after save + load`).toEqual(t.before);
        expect(Number.isFinite(t.last.valLoss), `${where}: validationSplit gave a validation loss`).toBe(true);
      }
      expect([...r.stored.keys].sort()).toEqual(['page', 'worker']);
      expect(r.stored.sizes).toEqual(r.stored.keys.map((k) => (k === 'page' ? r.page.bytes.length : r.worker.bytes.length)));
      expect(close(r.stored.probe, r.worker.after, 0), 'the worker model from IndexedDB predicts as in the worker').toBe(true);
      expect(r.fromNode, 'the page loaded the model Node saved').not.toBeNull();
      const nodeTol = await crossDeviceTolerance(join(app, 'dist/node-model.safetensors'));
      console.log(`cross-device tolerance of the Node model's probabilities: up to ${Math.max(...nodeTol).toExponential(2)}`);
      expect(close(r.fromNode!, node.after, nodeTol), `Node's model in the browser: ${r.fromNode} vs ${node.after} (within ${nodeTol})`).toBe(true);
      // The download is the page's model, byte for byte.
      for (let i = 0; i < 100 && !readdirSync(downloads).includes('spirals.safetensors'); i++) await new Promise((ok) => setTimeout(ok, 100));
      expect([...readFileSync(join(downloads, 'spirals.safetensors'))]).toEqual(r.page.bytes);
      // And the browser's model in Node.
      writeFileSync(join(app, 'dist/page-model.safetensors'), Uint8Array.from(r.page.bytes));
      await run(process.execPath, ['node.js', 'probe', 'dist/page-model.safetensors', 'dist/page-probe.json'], { cwd: app });
      const inNode = JSON.parse(readFileSync(join(app, 'dist/page-probe.json'), 'utf8')) as number[];
      const pageTol = await crossDeviceTolerance(join(app, 'dist/page-model.safetensors'));
      expect(close(inNode, r.page.after, pageTol), `the browser's model in Node: ${inNode} vs ${r.page.after} (within ${pageTol})`).toBe(true);
      expect(errors).toEqual([]);
      await page.close();
    }, 300_000);

    it('with navigator.gpu but no adapter, the error names --enable-unsafe-webgpu and chrome://gpu', async () => {
      const { page } = await openPage(chromium, `${server.origin}/app/dist/index.html`, { nullAdapter: true });
      await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, { timeout: 60_000 });
      const r = (await page.evaluate(() => (window as unknown as { result: Promise<unknown> }).result)) as { error?: string };
      await page.close();
      expect(r.error).toMatch(/^NoAdapterError: wgtrain: no WebGPU adapter/);
      expect(r.error).toContain('navigator.gpu.requestAdapter(): null');
      expect(r.error).toContain('--enable-unsafe-webgpu');
      expect(r.error).toContain('chrome://gpu');
    }, 60_000);
  });
});
