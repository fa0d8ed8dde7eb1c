/**
 * Launching the headless Chromium the browser tests use: Debian's /usr/bin/chromium (or WGTRAIN_CHROMIUM) driven by
 * puppeteer-core, with WebGPU enabled and everything that would reach the network switched off, in a fresh profile.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';

export const CHROMIUM = process.env.WGTRAIN_CHROMIUM || '/usr/bin/chromium';

export const CHROMIUM_MISSING = `Chromium not found at ${CHROMIUM}. The browser tests need it: on Debian/Ubuntu run ` +
  '`apt-get install -y chromium` (or `bash .ci/run`), or set WGTRAIN_CHROMIUM to a Chrome/Chromium binary.';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface LaunchedChromium {
  browser: Browser;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<LaunchedChromium> {
  if (!existsSync(CHROMIUM)) throw new Error(CHROMIUM_MISSING);
  const profile = mkdtempSync(join(tmpdir(), 'wgtrain-chromium-'));
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [...CHROMIUM_ARGS, `--user-data-dir=${profile}`],
      // SwiftShader is slow: one page.evaluate may wait minutes for the whole self-test.
      protocolTimeout: 20 * 60_000,
      timeout: 120_000,
    });
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  return {
    browser,
    async close() {
      await browser.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true, maxRetries: 3 });
    },
  };
}
