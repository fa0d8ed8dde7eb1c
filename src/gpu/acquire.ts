/**
 * Finding a WebGPU adapter through `navigator.gpu` (browsers, workers, Deno, Electron renderers). Browser-safe: the
 * Node path (Dawn through the `webgpu` package, with SwiftShader as the software fallback) is acquire-node.ts, which
 * only the Node entry (src/node.ts, gpu/node.ts) imports, so a browser bundle never carries it.
 */
import { NoAdapterError } from './errors.js';

export type AdapterChoice = 'auto' | 'hardware' | 'software';

export interface AcquireOptions {
  /** 'auto' (default): hardware if there is one, else software. In Node, env WGTRAIN_ADAPTER overrides the default. */
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

/** How an engine gets its adapter: `acquireAdapter` here, or the Node one (gpu/node.ts). */
export type AdapterSource = (options: AcquireOptions) => Promise<Acquired>;

const NO_ADAPTER_HINT = [
  'WebGPU is there but gave no adapter. How to fix:',
  '  - open chrome://gpu (edge://gpu) and read "WebGPU" under Graphics Feature Status, and any problems listed;',
  '  - on Linux, Chrome/Chromium needs the flag --enable-unsafe-webgpu (and a Vulkan driver, or it uses its',
  '    SwiftShader software adapter); a blocklisted GPU or driver also needs --enable-unsafe-webgpu or a driver update;',
  '  - Firefox: dom.webgpu.enabled in about:config; Safari: Settings > Feature Flags > WebGPU.',
].join('\n');

/** The adapter choices, in the order messages list them. */
export const ADAPTER_CHOICES: readonly AdapterChoice[] = ['auto', 'hardware', 'software'];

export function checkChoice(choice: unknown): asserts choice is AdapterChoice {
  if (!(ADAPTER_CHOICES as readonly unknown[]).includes(choice)) {
    throw new Error(`options.adapter must be 'auto', 'hardware' or 'software' (got '${String(choice)}')`);
  }
}

/** An adapter from `navigator.gpu`; NoAdapterError says what was tried and how to get WebGPU. */
export async function acquireAdapter(options: AcquireOptions = {}): Promise<Acquired> {
  const choice = options.adapter ?? 'auto';
  checkChoice(choice);
  const tried: string[] = [];
  const gpu = (globalThis as { navigator?: Navigator }).navigator?.gpu;
  if (!gpu) {
    const secure = (globalThis as { isSecureContext?: boolean }).isSecureContext;
    const g = globalThis as { document?: unknown; WorkerGlobalScope?: unknown };
    const inBrowser = g.document !== undefined || g.WorkerGlobalScope !== undefined;
    tried.push(`navigator.gpu: missing${secure === false ? ' (this page is not a secure context: serve it from https:// or http://localhost)' : ''}`);
    throw new NoAdapterError(
      tried,
      !inBrowser
        ? "Not in a browser: in Node.js, createEngine comes from wgtrain's Node entry (`import { createEngine } from 'wgtrain'` under Node, or src/gpu/node.ts), which uses Dawn."
        : 'Use a browser with WebGPU (Chrome/Edge 113+, Safari 26+, Firefox 141+); on Linux Chrome needs --enable-unsafe-webgpu (see chrome://gpu).',
    );
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
  throw new NoAdapterError(tried, NO_ADAPTER_HINT);
}
