/**
 * The library bundle in a real browser: headless Chromium (puppeteer-core) loads test/browser/index.html, which
 * imports dist/browser/index.js, creates an engine and runs `selfTest(engine)`, every kernel family's GPU-vs-CPU
 * checks. Fails on any failed check, on zero checks, and when WebGPU is unavailable: never skipped.
 * Without a GPU, Chromium's adapter is SwiftShader (software Vulkan): slow, hence the generous time limits.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { REPO_ROOT, serveStatic, type StaticServer } from './browser/server.js';
import { TEST_SEED, seedInfo } from './helpers/random.js';

interface PageResult {
  ok: boolean;
  stage: 'createEngine' | 'selfTest' | 'page';
  adapter?: { describe: string; software: boolean };
  seed?: number;
  checks?: number;
  results: { name: string; ok: boolean; ms: number; error?: string }[];
  error?: { name: string; message: string };
}

const BUNDLE = join(REPO_ROOT, 'dist/browser/index.js');

/** Newest modification time under a folder (recursive), 0 if it does not exist. */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** `npm test` builds first; a bare `vitest run` after editing src/ would otherwise test stale bundles. */
function ensureFreshBundles(): void {
  const outputs = [BUNDLE, join(REPO_ROOT, 'dist/demos/kernels/main.js')];
  const built = Math.min(...outputs.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  if (built >= Math.max(...['src', 'shaders', 'demos'].map((d) => newest(join(REPO_ROOT, d))))) return;
  console.log('browser test: the browser bundles are missing or older than their sources: running `node build.mjs --only browser,demos`');
  execFileSync(process.execPath, [join(REPO_ROOT, 'build.mjs'), '--only', 'browser,demos'], { cwd: REPO_ROOT, stdio: 'inherit' });
}

async function openPage(chromium: LaunchedChromium, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await chromium.browser.newPage();
  const errors: string[] = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'warn') {
      const line = `[chromium console.${msg.type()}] ${msg.text()}`;
      if (msg.type() === 'error') errors.push(line);
      console.error(line);
    }
  });
  page.on('pageerror', (e) => {
    const line = `[chromium page error] ${(e as Error).message ?? String(e)}`;
    errors.push(line);
    console.error(line);
  });
  page.on('requestfailed', (r) => console.error(`[chromium request failed] ${r.url()}: ${r.failure()?.errorText}`));
  await page.goto(url, { waitUntil: 'load', timeout: 120_000 });
  return { page, errors };
}

async function pageResult(page: Page): Promise<PageResult> {
  await page.waitForFunction(() => 'wgtrainResult' in window, { timeout: 120_000 });
  return page.evaluate(() => (window as unknown as { wgtrainResult: Promise<PageResult> }).wgtrainResult);
}

describe(`library bundle in headless Chromium (${seedInfo()})`, () => {
  let server: StaticServer;
  let chromium: LaunchedChromium;
  let firstCheck = 'activation.relu';

  beforeAll(async () => {
    ensureFreshBundles();
    server = await serveStatic();
    chromium = await launchChromium();
    console.log(`browser test: ${await chromium.browser.version()} serving ${server.origin}`);
  }, 300_000);

  afterAll(async () => {
    await chromium?.close();
    await server?.close();
  });

  it('selfTest(engine) passes every check on the browser WebGPU adapter', async () => {
    const { page, errors } = await openPage(chromium, `${server.origin}/test/browser/index.html?seed=${TEST_SEED}`);
    const r = await pageResult(page);
    if (r.stage !== 'selfTest') {
      throw new Error(`WebGPU unavailable in Chromium (stage ${r.stage}): ${r.error?.name}: ${r.error?.message}\n${errors.join('\n')}`);
    }
    console.log(`GPU tests in Chromium ran on: ${r.adapter!.describe}`);
    firstCheck = r.results[0]?.name ?? '';
    for (const c of r.results) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} (${c.ms.toFixed(0)} ms)${c.error ? `\n       ${c.error}` : ''}`);
    expect(r.results.length, 'selfTest ran no checks (is SELF_CHECKS empty?)').toBeGreaterThan(0);
    expect(r.results.length).toBe(r.checks);
    const failed = r.results.filter((c) => !c.ok);
    expect(failed.map((c) => `${c.name}: ${c.error}`), `failed self-checks in Chromium (seed ${r.seed})`).toEqual([]);
    expect(r.ok).toBe(true);
    await page.close();
  }, 900_000);

  it('createEngine names what it tried when the browser has no WebGPU', async () => {
    const { page } = await openPage(chromium, `${server.origin}/test/browser/index.html?nogpu`);
    const r = await pageResult(page);
    expect(r.stage).toBe('createEngine');
    expect(r.error?.name).toBe('NoAdapterError');
    expect(r.error?.message).toMatch(/no WebGPU adapter/);
    expect(r.error?.message).toMatch(/Tried:\n\s+- navigator\.gpu: missing/);
    await page.close();
  }, 300_000);

  it('demos/kernels runs, and explains itself in a browser without WebGPU', async () => {
    const url = `${server.origin}/dist/demos/kernels/`;
    expect(existsSync(join(REPO_ROOT, 'dist/demos/kernels/main.js')), 'dist/demos/kernels/ is not built: run `node build.mjs`').toBe(true);
    const finalStatus = async (page: Page) => {
      await page.waitForFunction(() => {
        const s = document.getElementById('status')!;
        return s.className !== '' || /^(no check|all )/.test(s.textContent ?? '');
      }, { timeout: 600_000 });
      return page.$eval('#status', (s) => ({ cls: s.className, text: s.textContent ?? '' }));
    };
    const { page, errors } = await openPage(chromium, `${url}?filter=${encodeURIComponent(`^${firstCheck}$`)}&seed=${TEST_SEED}`);
    const shown = await finalStatus(page);
    expect(shown.text).toMatch(/^all 1 checks passed on /);
    expect(errors).toEqual([]);
    await page.close();

    const noGpu = await chromium.browser.newPage();
    await noGpu.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
    await noGpu.goto(url, { waitUntil: 'load' });
    const missing = await finalStatus(noGpu);
    expect(missing.cls).toBe('fail');
    expect(missing.text).toMatch(/no WebGPU \(navigator\.gpu is missing\)/);
    await noGpu.close();
  }, 900_000);
});
