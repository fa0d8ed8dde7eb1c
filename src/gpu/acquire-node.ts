/**
 * Finding a WebGPU adapter in Node: Dawn through the `webgpu` package. Node-only (node:fs, process.env, the native
 * addon): only the Node entry imports this module, never the browser bundle.
 *
 * With no hardware adapter, Node falls back to SwiftShader, the software Vulkan driver that Chromium ships
 * (`vk_swiftshader_icd.json`), by pointing the Vulkan loader at it through VK_ICD_FILENAMES while Dawn looks for
 * adapters. The loader re-reads that variable for each new instance, so one process can hold adapters of both kinds:
 * a failed hardware attempt can be followed by a software one, and a software engine by a request for hardware. For
 * that the variable is put back as the user set it (or unset) after every attempt, and attempts run one at a time:
 * left pointing at SwiftShader, it would make every later request, 'hardware' included, find SwiftShader alone.
 * 'hardware' never returns a software adapter, not even one the user's own VK_ICD_FILENAMES names.
 */
import { existsSync, readdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireAdapter as acquireBrowserAdapter, ADAPTER_CHOICES, checkChoice, type AcquireOptions, type Acquired, type AdapterChoice } from './acquire.js';
import { installDawnPollThrottle } from './dawn-poll.js';
import { NoAdapterError } from './errors.js';

const INSTALL_HINT = [
  'How to fix:',
  '  - with a GPU: install its Vulkan driver (Linux), or use a browser with WebGPU enabled (Chrome 113+, chrome://gpu);',
  '  - without a GPU (Debian/Ubuntu): `apt-get install -y chromium libvulkan1` gives the SwiftShader software adapter',
  '    (/usr/lib/chromium/vk_swiftshader_icd.json), or point WGTRAIN_SWIFTSHADER_ICD at a vk_swiftshader_icd.json',
  '    from a Chrome for Testing / puppeteer browser download.',
].join('\n');

/** env WGTRAIN_ADAPTER, or undefined when unset or empty; any other value is an error that lists the choices. */
export function envAdapterChoice(): AdapterChoice | undefined {
  const v = process.env.WGTRAIN_ADAPTER;
  if (v === undefined || v === '') return undefined;
  if (!(ADAPTER_CHOICES as readonly string[]).includes(v)) throw new Error(`WGTRAIN_ADAPTER must be one of ${ADAPTER_CHOICES.join(', ')}, got ${JSON.stringify(v)}`);
  return v as AdapterChoice;
}

/**
 * The adapter for a Node program: Dawn (hardware, else SwiftShader), or `navigator.gpu` where the runtime has one
 * (Deno, Electron). `options.adapter`, else env WGTRAIN_ADAPTER, else 'auto'.
 */
export async function acquireNodeAdapter(options: AcquireOptions = {}): Promise<Acquired> {
  const choice = options.adapter ?? envAdapterChoice() ?? 'auto';
  checkChoice(choice);
  if ((globalThis as { navigator?: Navigator }).navigator?.gpu) return acquireBrowserAdapter({ ...options, adapter: choice });
  // The environment is the process's: concurrent acquisitions would see each other's VK_ICD_FILENAMES.
  const turn = dawnQueue.then(() => acquireDawn(choice, options));
  dawnQueue = turn.catch(() => undefined);
  return turn;
}

let dawnQueue: Promise<unknown> = Promise.resolve();

/** Known places of SwiftShader's Vulkan ICD manifest, most specific first. */
function swiftshaderCandidates(explicit: string | undefined): string[] {
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

/** Linux device nodes of a GPU a Vulkan driver could use: DRM render nodes, NVIDIA's, WSL's /dev/dxg. */
function hasGpuDeviceNode(): boolean {
  if (existsSync('/dev/dxg')) return true;
  for (const [dir, prefix] of [['/dev/dri', 'renderD'], ['/dev', 'nvidia']] as const) {
    try {
      if (readdirSync(dir).some((f) => f.startsWith(prefix))) return true;
    } catch {
      // no such directory
    }
  }
  return false;
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let dawn: DawnModule | null = null;
const instances: GPU[] = [];

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  // Loaded on first use: a Node program that trains on the CPU only never loads the native addon.
  const mod = (await import('webgpu')) as unknown as DawnModule;
  Object.assign(globalThis, mod.globals);
  dawn = mod;
  return mod;
}

async function acquireDawn(choice: AdapterChoice, options: AcquireOptions): Promise<Acquired> {
  const tried: string[] = [];
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = tmpdir(); // silences Dawn
  let mod: DawnModule;
  try {
    mod = await loadDawn();
  } catch (e) {
    throw new NoAdapterError([`import('webgpu') (Dawn for Node): ${(e as Error).message}`], 'Run `npm install` so the `webgpu` package is present.');
  }
  installDawnPollThrottle();
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
  let systemTried = false;
  const system = async (): Promise<Acquired | null> => {
    systemTried = true;
    const a = await request(userIcd ? `Dawn with VK_ICD_FILENAMES=${userIcd}` : 'Dawn with the system Vulkan drivers');
    if (!a) return null;
    const fallback = (a.info as { isFallbackAdapter?: boolean }).isFallbackAdapter || /swiftshader/i.test(a.info.architecture + a.info.description);
    // 'hardware' (the only other choice that gets here) takes no software adapter, whoever's ICD offered it.
    if (!fallback || choice === 'auto') {
      return { adapter: a, via: userIcd ? `VK_ICD_FILENAMES=${userIcd}` : 'system Vulkan driver', software: !!fallback };
    }
    tried.push(`${userIcd ? `VK_ICD_FILENAMES=${userIcd}` : 'system Vulkan driver'}: only a software adapter (${a.info.architecture || a.info.description || 'fallback'})`);
    return null;
  };
  // On Linux without a GPU device node the system drivers can only offer Mesa's software Vulkan (lavapipe), which
  // Dawn turns down with a warning on stderr ("Vulkan shaderUniform*ArrayDynamicIndexing required"). In 'auto' mode
  // SwiftShader is then tried first, and the system drivers only if it is missing.
  const gpuLess = choice === 'auto' && !userIcd && process.platform === 'linux' && !hasGpuDeviceNode();
  if (choice !== 'software' && !gpuLess) {
    const found = await system();
    if (found) return found;
    if (choice === 'hardware') throw new NoAdapterError(tried, INSTALL_HINT);
  }
  for (const icd of swiftshaderCandidates(options.swiftshaderIcd)) {
    if (!existsSync(icd)) continue;
    // Only while Dawn enumerates adapters: the adapter keeps the driver it was found with.
    process.env.VK_ICD_FILENAMES = icd;
    let a: GPUAdapter | null;
    try {
      a = await request(`SwiftShader at ${icd}`);
    } finally {
      if (userIcd === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = userIcd;
    }
    if (a) {
      // Dawn may have printed warnings about the system drivers it turned down: say once, here, what they were.
      const note = systemTried ? ' (the system Vulkan drivers gave no adapter: Dawn\'s warnings about them above are harmless)' : '';
      return { adapter: a, via: `SwiftShader (${icd})${note}`, software: true };
    }
  }
  if (gpuLess) {
    const found = await system();
    if (found) return found;
  }
  tried.push('SwiftShader: no vk_swiftshader_icd.json found (looked in /usr/lib/chromium, /opt/google/chrome, the puppeteer cache, WGTRAIN_SWIFTSHADER_ICD)');
  throw new NoAdapterError(tried, INSTALL_HINT);
}
