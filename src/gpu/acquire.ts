/**
 * Finding a WebGPU adapter, in the browser (`navigator.gpu`) and in Node (Dawn through the `webgpu` package).
 *
 * With no hardware adapter, Node falls back to SwiftShader, the software Vulkan driver that Chromium ships
 * (`vk_swiftshader_icd.json`), by pointing the Vulkan loader at it through VK_ICD_FILENAMES before Dawn creates its
 * instance. The loader re-reads that variable for each new instance, so a failed hardware attempt can be followed
 * by a software one in the same process.
 */
import { NoAdapterError } from './errors.js';

export type AdapterChoice = 'auto' | 'hardware' | 'software';

export interface AcquireOptions {
  /** 'auto' (default): hardware if there is one, else software. Env WGTRAIN_ADAPTER overrides the default. */
  adapter?: AdapterChoice;
  powerPreference?: GPUPowerPreference;
  /** Path to a Vulkan ICD JSON for SwiftShader (Node only). Env WGTRAIN_SWIFTSHADER_ICD does the same. */
  swiftshaderIcd?: string;
}

export interface Acquired {
  adapter: GPUAdapter;
  /** How we got it, for the one-line adapter report. */
  via: string;
  software: boolean;
}

const INSTALL_HINT = [
  'How to fix:',
  '  - with a GPU: install its Vulkan driver (Linux), or use a browser with WebGPU enabled (Chrome 113+, chrome://gpu);',
  '  - without a GPU (Debian/Ubuntu): `apt-get install -y chromium libvulkan1` gives the SwiftShader software adapter',
  '    (/usr/lib/chromium/vk_swiftshader_icd.json), or point WGTRAIN_SWIFTSHADER_ICD at a vk_swiftshader_icd.json',
  '    from a Chrome for Testing / puppeteer browser download.',
].join('\n');

// Node (Dawn) unless a WebGPU `navigator.gpu` is already there (browsers, Deno, Electron renderers).
const isNode =
  typeof process !== 'undefined' && !!process.versions?.node && !(globalThis as { navigator?: Navigator }).navigator?.gpu;

function envChoice(): AdapterChoice | undefined {
  if (typeof process === 'undefined') return undefined;
  const v = process.env?.WGTRAIN_ADAPTER;
  if (v === undefined || v === '') return undefined;
  if (v === 'auto' || v === 'hardware' || v === 'software') return v;
  throw new Error(`WGTRAIN_ADAPTER must be auto, hardware or software (got '${v}')`);
}

export async function acquireAdapter(options: AcquireOptions = {}): Promise<Acquired> {
  const choice = options.adapter ?? envChoice() ?? 'auto';
  if (!['auto', 'hardware', 'software'].includes(choice)) {
    throw new Error(`options.adapter must be 'auto', 'hardware' or 'software' (got '${String(choice)}')`);
  }
  return isNode ? acquireNode(choice, options) : acquireBrowser(choice, options);
}

async function acquireBrowser(choice: AdapterChoice, options: AcquireOptions): Promise<Acquired> {
  const tried: string[] = [];
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  if (!gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    tried.push(`navigator.gpu: missing${secure === false ? ' (this page is not a secure context: serve it from https:// or http://localhost)' : ''}`);
    throw new NoAdapterError(tried, 'Use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+); on Linux Chrome may need --enable-unsafe-webgpu.');
  }
  if (choice !== 'software') {
    const a = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (a && !(a.info as { isFallbackAdapter?: boolean }).isFallbackAdapter) return { adapter: a, via: 'navigator.gpu', software: false };
    tried.push(`navigator.gpu.requestAdapter(): ${a ? 'only a fallback (software) adapter' : 'null'}`);
    if (a && choice === 'auto') return { adapter: a, via: 'navigator.gpu (fallback adapter)', software: true };
  }
  if (choice !== 'hardware') {
    const a = await gpu.requestAdapter({ forceFallbackAdapter: true });
    if (a) return { adapter: a, via: 'navigator.gpu (forceFallbackAdapter)', software: true };
    tried.push('navigator.gpu.requestAdapter({forceFallbackAdapter: true}): null');
  }
  throw new NoAdapterError(tried, 'Check chrome://gpu for WebGPU status; update the GPU driver or browser.');
}

/** Known places of SwiftShader's Vulkan ICD manifest, most specific first. */
async function swiftshaderCandidates(explicit: string | undefined): Promise<string[]> {
  const { existsSync, readdirSync } = await import('node:fs');
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  const out: string[] = [];
  if (explicit) out.push(explicit);
  if (process.env.WGTRAIN_SWIFTSHADER_ICD) out.push(process.env.WGTRAIN_SWIFTSHADER_ICD);
  out.push('/usr/lib/chromium/vk_swiftshader_icd.json', '/opt/google/chrome/vk_swiftshader_icd.json');
  // puppeteer / Chrome for Testing cache: ~/.cache/puppeteer/chrome/linux-<ver>/chrome-linux64/
  const cache = process.env.PUPPETEER_CACHE_DIR ?? join(homedir(), '.cache', 'puppeteer');
  for (const kind of ['chrome', 'chrome-headless-shell']) {
    const dir = join(cache, kind);
    if (!existsSync(dir)) continue;
    for (const v of readdirSync(dir)) {
      for (const sub of ['chrome-linux64', 'chrome-headless-shell-linux64']) out.push(join(dir, v, sub, 'vk_swiftshader_icd.json'));
    }
  }
  return out;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;
const instances: GPU[] = [];

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  // A variable specifier keeps browser bundlers from trying to resolve the native Node module.
  const name = 'webgpu';
  const mod = (await import(/* @vite-ignore */ name)) as DawnModule;
  Object.assign(globalThis, mod.globals);
  dawn = mod;
  return mod;
}

async function acquireNode(choice: AdapterChoice, options: AcquireOptions): Promise<Acquired> {
  const tried: string[] = [];
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = (await import('node:os')).tmpdir(); // silences Dawn
  let mod: DawnModule;
  try {
    mod = await loadDawn();
  } catch (e) {
    throw new NoAdapterError([`import('webgpu') (Dawn for Node): ${(e as Error).message}`], 'Run `npm install` so the `webgpu` package is present.');
  }
  const request = async (label: string): Promise<GPUAdapter | null> => {
    try {
      // Exact GPU timestamps (Dawn rounds them to 65.5 µs by default, a browser's timing-attack defence that makes
      // profiles and matmul tuning of short kernels useless; nothing in Node needs it).
      const gpu = mod.create(['disable-dawn-features=timestamp_quantization']);
      const a = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
      if (!a) tried.push(`${label}: no adapter`);
      // Dawn's instance must outlive its devices: a collected instance aborts the process on the next async call.
      else instances.push(gpu);
      return a;
    } catch (e) {
      tried.push(`${label}: ${(e as Error).message}`);
      return null;
    }
  };
  const userIcd = process.env.VK_ICD_FILENAMES;
  if (choice !== 'software') {
    const a = await request(userIcd ? `Dawn with VK_ICD_FILENAMES=${userIcd}` : 'Dawn with the system Vulkan drivers');
    if (a) {
      const fallback = (a.info as { isFallbackAdapter?: boolean }).isFallbackAdapter || /swiftshader/i.test(a.info.architecture + a.info.description);
      if (!fallback || choice === 'auto' || userIcd) return { adapter: a, via: userIcd ? `VK_ICD_FILENAMES=${userIcd}` : 'system Vulkan driver', software: !!fallback };
      tried.push('system Vulkan driver: only a software adapter');
    }
    if (choice === 'hardware') throw new NoAdapterError(tried, INSTALL_HINT);
  }
  const { existsSync } = await import('node:fs');
  for (const icd of await swiftshaderCandidates(options.swiftshaderIcd)) {
    if (!existsSync(icd)) continue;
    process.env.VK_ICD_FILENAMES = icd;
    const a = await request(`SwiftShader at ${icd}`);
    if (a) return { adapter: a, via: `SwiftShader (${icd})`, software: true };
  }
  if (userIcd === undefined) delete process.env.VK_ICD_FILENAMES;
  else process.env.VK_ICD_FILENAMES = userIcd;
  tried.push('SwiftShader: no vk_swiftshader_icd.json found (looked in /usr/lib/chromium, /opt/google/chrome, the puppeteer cache, WGTRAIN_SWIFTSHADER_ICD)');
  throw new NoAdapterError(tried, INSTALL_HINT);
}
