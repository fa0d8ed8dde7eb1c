/**
 * The library bundle in a real browser: headless Chromium (puppeteer-core) loads test/browser/index.html, which
 * imports dist/browser/index.js, creates an engine and runs `selfTest(engine)`, every kernel family's GPU-vs-CPU
 * checks. Fails on any failed check, on zero checks, and when WebGPU is unavailable: never skipped.
 * Without a GPU, Chromium's adapter is SwiftShader (software Vulkan): slow, hence the generous time limits.
 */
import type { Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type LaunchedChromium } from './browser/chromium.js';
import { ensureFresh, openPage } from './browser/pages.js';
import { serveStatic, type StaticServer } from './browser/server.js';
import { TEST_SEED, seedInfo } from './helpers/random.js';

interface PageResult {
  ok: boolean;
  stage: 'createEngine' | 'selfTest' | 'errors' | 'page';
  adapter?: { describe: string; software: boolean };
  seed?: number;
  checks?: number;
  results: { name: string; ok: boolean; ms: number; error?: string }[];
  error?: { name: string; message: string };
}

async function pageResult(page: Page): Promise<PageResult> {
  await page.waitForFunction(() => 'wgtrainResult' in window, { timeout: 120_000 });
  return page.evaluate(() => (window as unknown as { wgtrainResult: Promise<PageResult> }).wgtrainResult);
}

describe(`library bundle in headless Chromium (${seedInfo()})`, () => {
  let server: StaticServer;
  let chromium: LaunchedChromium;

  beforeAll(async () => {
    ensureFresh(['dist/browser/index.js'], 'browser', 'browser test');
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
    for (const c of r.results) console.log(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name} (${c.ms.toFixed(0)} ms)${c.error ? `\n       ${c.error}` : ''}`);
    expect(r.results.length, 'selfTest ran no checks (is SELF_CHECKS empty?)').toBeGreaterThan(0);
    expect(r.results.length).toBe(r.checks);
    const failed = r.results.filter((c) => !c.ok);
    expect(failed.map((c) => `${c.name}: ${c.error}`), `failed self-checks in Chromium (seed ${r.seed})`).toEqual([]);
    expect(r.ok).toBe(true);
    await page.close();
  }, 900_000);

  it("a GPU error raised before a read is thrown by that read (the browser delivers 'uncapturederror' before the map resolves)", async () => {
    const { page } = await openPage(chromium, `${server.origin}/test/browser/index.html?errors`);
    const r = await pageResult(page);
    expect(r.stage, `${r.error?.name}: ${r.error?.message}`).toBe('errors');
    expect(r.results.map((c) => c.error ?? 'ok')).toEqual(['ok']);
    expect(r.ok).toBe(true);
    await page.close();
  }, 300_000);

  it('createEngine names what it tried when the browser has no WebGPU', async () => {
    const { page } = await openPage(chromium, `${server.origin}/test/browser/index.html?nogpu`);
    const r = await pageResult(page);
    expect(r.stage).toBe('createEngine');
    expect(r.error?.name).toBe('NoAdapterError');
    expect(r.error?.message).toMatch(/no WebGPU adapter/);
    expect(r.error?.message).toMatch(/Tried:\n\s+- navigator\.gpu: missing/);
    await page.close();
  }, 300_000);
});
