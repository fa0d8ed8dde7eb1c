/**
 * Opening the demo pages in the tests' headless Chromium: console errors and page errors collected (a demo page must
 * load without any), screenshots of a page at desktop and phone sizes saved as artifacts under test-results/
 * (git-ignored; CI keeps them), and a rebuild of dist/ when it is older than its sources (a bare `vitest run` after an
 * edit would otherwise test stale bundles; `npm test` builds first).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'puppeteer-core';
import type { LaunchedChromium } from './chromium.js';
import { REPO_ROOT } from './server.js';

/** Newest modification time under a folder (recursive), 0 if it does not exist. */
export function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Runs `node build.mjs --only <parts>` when any of `outputs` is missing or older than src/, shaders/ or demos/. */
export function ensureFresh(outputs: string[], parts: string, who: string): void {
  const built = Math.min(...outputs.map((f) => (existsSync(join(REPO_ROOT, f)) ? statSync(join(REPO_ROOT, f)).mtimeMs : 0)));
  if (built >= Math.max(...['src', 'shaders', 'demos'].map((d) => newest(join(REPO_ROOT, d))))) return;
  console.log(`${who}: ${outputs.join(', ')} missing or older than their sources: running \`node build.mjs --only ${parts}\``);
  execFileSync(process.execPath, [join(REPO_ROOT, 'build.mjs'), '--only', parts], { cwd: REPO_ROOT, stdio: 'inherit' });
}

export interface OpenOptions {
  /** Hide navigator.gpu before any script runs (a browser without WebGPU). */
  noGpu?: boolean;
  /** Keep navigator.gpu but make requestAdapter() give null (Chromium on Linux without the WebGPU flag). */
  nullAdapter?: boolean;
  viewport?: { width: number; height: number; deviceScaleFactor?: number };
  /** Record every text the element with this id shows, from the start, in `window.__textsSeen` (see textsSeen). */
  recordTexts?: string;
}

export interface OpenedPage {
  page: Page;
  /** console.error messages and uncaught page errors so far. */
  errors: string[];
}

/** Opens `url` in a new tab, echoing the page's errors and warnings to the test log. */
export async function openPage(chromium: LaunchedChromium, url: string, options: OpenOptions = {}): Promise<OpenedPage> {
  const page = await chromium.browser.newPage();
  await page.setViewport(options.viewport ?? DESKTOP);
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
  if (options.noGpu) await page.evaluateOnNewDocument(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
  if (options.nullAdapter) {
    await page.evaluateOnNewDocument(() => {
      const gpu = (navigator as { gpu?: { requestAdapter: () => Promise<unknown> } }).gpu;
      if (gpu) gpu.requestAdapter = async () => null;
    });
  }
  if (options.recordTexts) {
    await page.evaluateOnNewDocument((id: string) => {
      const seen: string[] = ((window as unknown as { __textsSeen: string[] }).__textsSeen = []);
      new MutationObserver(() => {
        const t = document.getElementById(id)?.textContent ?? '';
        if (t !== seen.at(-1)) seen.push(t);
      }).observe(document, { childList: true, characterData: true, subtree: true });
    }, options.recordTexts);
  }
  await page.goto(url, { waitUntil: 'load', timeout: 60_000 });
  return { page, errors };
}

/** The texts recorded by `recordTexts`, in order. */
export const textsSeen = (page: Page): Promise<string[]> => page.evaluate(() => (window as unknown as { __textsSeen: string[] }).__textsSeen);

export const DESKTOP = { width: 1280, height: 900, deviceScaleFactor: 1 };
export const PHONE = { width: 390, height: 844, deviceScaleFactor: 2 };

/** Where screenshots go (git-ignored). */
export const SCREENSHOTS = join(REPO_ROOT, 'test-results', 'screenshots');

/**
 * Saves full-page screenshots of the page at desktop and phone size, as `<name>-1280x900.png` and `<name>-390x844.png`,
 * and leaves the page at desktop size. Returns the paths.
 */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const paths: string[] = [];
  for (const v of [DESKTOP, PHONE]) {
    await page.setViewport(v);
    // Resize observers redraw charts on the next frame.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    const path = join(SCREENSHOTS, `${name}-${v.width}x${v.height}.png`) as `${string}.png`;
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  await page.setViewport(DESKTOP);
  return paths;
}

/** Elements that reach past the right edge of the viewport (the outermost of each), as `tag#id.class`; empty is good. */
export async function overflowingElements(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const w = document.documentElement.clientWidth;
    const wide = Array.from(document.querySelectorAll('body *')).filter((el) => {
      const r = el.getBoundingClientRect();
      return r.width > 0 && r.right > w + 1;
    });
    const outermost = wide.filter((el) => !wide.some((o) => o !== el && o.contains(el)));
    return outermost.map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}${el.className ? `.${String(el.className).split(' ').join('.')}` : ''}`);
  });
}
