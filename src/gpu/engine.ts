/**
 * The engine owns one GPUDevice: it acquires an adapter (hardware, else SwiftShader), builds and caches kernels,
 * creates labelled buffers and keeps count of them (so tests can prove a long run holds steady GPU memory), counts
 * dispatches, and turns the device's asynchronous validation / out-of-memory / loss reports into JS errors.
 */
import { acquireAdapter, type AcquireOptions, type AdapterSource } from './acquire.js';
import { DeviceLostError, GpuError, ShaderCompileError, WgtrainError } from './errors.js';
import { Kernel, checkBindings, type KernelDef } from './kernel.js';
import { composeLayout, type ModuleInfo } from './layout.js';
import { ComposedSource } from './source.js';

export interface EngineOptions extends AcquireOptions {
  /** Where the one-line adapter report goes; `false` to stay quiet. Default: console.info (stderr in Node). */
  log?: ((line: string) => void) | false;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for software adapters (SwiftShader, WARP...). Kernel variants are chosen on this. */
  software: boolean;
  /** How the adapter was found. */
  via: string;
}

type Listener<T> = (value: T) => void;

const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
// Limits raised to the adapter's maximum: big models need big storage buffers; the defaults are conservative.
const RAISED_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

let platform: { acquire: AdapterSource; log: (line: string) => void } = { acquire: acquireAdapter, log: (line) => console.info(line) };

/**
 * Where `createEngine` finds its adapter and reports it: `navigator.gpu` and console.info by default; wgtrain's Node
 * entry (gpu/node.ts) installs Dawn's acquisition and stderr when it loads, so code that creates engines itself
 * (minimize without an engine, function traces) gets the platform's adapter without importing Node code here.
 */
export function setAdapterSource(acquire: AdapterSource, log: (line: string) => void): void {
  platform = { acquire, log };
}

/**
 * An engine on the platform's adapter: `navigator.gpu` in browsers and workers; in Node (wgtrain's Node entry), Dawn's,
 * with the SwiftShader fallback.
 */
export function createEngine(options: EngineOptions = {}): Promise<Engine> {
  return createEngineWith(platform.acquire, options, platform.log);
}

/** An engine on the adapter `acquire` finds; `defaultLog` takes the adapter report unless `options.log` is given. */
export async function createEngineWith(acquire: AdapterSource, options: EngineOptions, defaultLog: (line: string) => void): Promise<Engine> {
  const { adapter, via, software } = await acquire(options);
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) requiredLimits[name] = (adapter.limits as unknown as Record<string, number>)[name]!;
  const device = await adapter.requestDevice({ label: 'wgtrain', requiredFeatures: features, requiredLimits });
  const info = adapter.info;
  const summary: AdapterSummary = {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software,
    via,
  };
  const engine = new Engine(adapter, device, summary);
  const log = options.log === undefined ? defaultLog : options.log;
  if (log) log(`wgtrain: WebGPU adapter ${engine.describe()}`);
  return engine;
}

export class Engine {
  /** Dispatches recorded through `Kernel.dispatch` since creation (tests read it; it costs nothing on the GPU). */
  dispatchCount = 0;
  readonly limits: GPUSupportedLimits;
  readonly features: ReadonlySet<string>;
  private readonly kernels = new Map<string, Promise<Kernel>>();
  private readonly modules = new Map<string, { module: GPUShaderModule; info: ModuleInfo }>();
  private readonly live = new Map<GPUBuffer, number>();
  private readonly pending: WgtrainError[] = [];
  private readonly errorListeners = new Set<Listener<WgtrainError>>();
  private lostError: DeviceLostError | null = null;
  private destroyed = false;

  constructor(
    readonly adapter: GPUAdapter,
    readonly device: GPUDevice,
    readonly info: AdapterSummary,
  ) {
    this.limits = device.limits;
    this.features = new Set(device.features as unknown as Iterable<string>);
    device.addEventListener('uncapturederror', (ev) => {
      const e = (ev as GPUUncapturedErrorEvent).error;
      const kind = e instanceof GPUOutOfMemoryError ? 'out-of-memory' : e instanceof GPUValidationError ? 'validation' : 'internal';
      const err = new GpuError(kind, `wgtrain: GPU ${kind} error: ${e.message}`);
      this.pending.push(err);
      for (const l of this.errorListeners) l(err);
    });
    void device.lost.then((lost) => {
      if (this.destroyed && lost.reason === 'destroyed') return;
      this.lostError = new DeviceLostError(
        `wgtrain: the GPU device was lost (${lost.reason}): ${lost.message}. Create a new engine; a run can resume from its last checkpoint.`,
      );
      for (const l of this.errorListeners) l(this.lostError);
    });
  }

  get software(): boolean {
    return this.info.software;
  }

  describe(): string {
    const i = this.info;
    const name = [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' ') || 'unknown';
    return `${name}${i.software ? ' [software]' : ''} via ${i.via}`;
  }

  /** Listens for validation / out-of-memory errors and device loss (which otherwise surface on the next `flush`). */
  onError(listener: Listener<WgtrainError>): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Device loss or destroy() make every later call throw this rather than fail inside WebGPU. */
  private ensureUsable(): void {
    if (this.lostError) throw this.lostError;
    if (this.destroyed) throw new WgtrainError('wgtrain: this engine was destroyed; create a new one with createEngine()');
  }

  /** The device-loss error once the device is lost (null while it works). */
  get lost(): DeviceLostError | null {
    return this.lostError;
  }

  /** Builds (once) the kernel for `def` with the given `override` constants. */
  kernel(def: KernelDef, overrides: Record<string, number> = {}): Promise<Kernel> {
    this.ensureUsable();
    const source = new ComposedSource(def.files);
    const key = `${source.name}|${def.entry}|${JSON.stringify(Object.entries(overrides).sort())}|${(def.dynamic ?? []).join(',')}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.buildKernel(def, source, overrides);
      this.kernels.set(key, k);
      k.catch(() => this.kernels.delete(key));
    }
    return k;
  }

  /** The layout of a kernel's module (reflected from its WGSL at build time: gpu/layout.ts). */
  reflect(def: KernelDef): ModuleInfo {
    return composeLayout(def.files);
  }

  private module(source: ComposedSource): { module: GPUShaderModule; info: ModuleInfo } {
    let m = this.modules.get(source.text);
    if (!m) {
      const info = composeLayout(source.files);
      const module = this.device.createShaderModule({ label: source.name, code: source.text });
      m = { module, info };
      this.modules.set(source.text, m);
    }
    return m;
  }

  private async buildKernel(def: KernelDef, source: ComposedSource, overrides: Record<string, number>): Promise<Kernel> {
    this.ensureUsable();
    // The module's own compile errors go into this scope too (not to uncapturederror): they are reported below,
    // mapped to file:line:column.
    this.device.pushErrorScope('validation');
    let module: GPUShaderModule;
    let info: ModuleInfo;
    try {
      ({ module, info } = this.module(source));
    } catch (e) {
      await this.device.popErrorScope();
      throw e;
    }
    const entry = info.entries[def.entry];
    const problems = checkBindings(def, entry);
    if (problems.length) {
      await this.device.popErrorScope();
      throw new WgtrainError(`wgtrain: kernel declaration does not match its shader:\n  ${problems.join('\n  ')}`);
    }
    for (const name of Object.keys(overrides)) {
      if (!info.overrides.includes(name)) {
        await this.device.popErrorScope();
        throw new WgtrainError(`${def.label}: no override constant '${name}' in ${source.name} (has: ${info.overrides.join(', ') || 'none'})`);
      }
    }
    const label = `${def.label}${Object.keys(overrides).length ? JSON.stringify(overrides) : ''}`;
    const dynamic = new Set(def.dynamic ?? []);
    const layout = this.device.createBindGroupLayout({
      label,
      entries: entry!.bindings.map((b) => ({
        binding: b.binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: {
          type: b.kind === 'uniform' ? 'uniform' : b.kind === 'read' ? 'read-only-storage' : 'storage',
          hasDynamicOffset: dynamic.has(b.name),
        },
      })),
    });
    let pipeline: GPUComputePipeline | null = null;
    let failure: unknown = null;
    try {
      pipeline = await this.device.createComputePipelineAsync({
        label,
        layout: this.device.createPipelineLayout({ label, bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: def.entry, constants: overrides },
      });
    } catch (e) {
      failure = e;
    }
    const scopeError = await this.device.popErrorScope();
    if (failure || scopeError || !pipeline) {
      const compile = await this.compileMessages(module, source);
      const why = (failure as Error | null)?.message ?? scopeError?.message ?? 'unknown error';
      throw new ShaderCompileError(`${label}: pipeline creation failed: ${why}${compile ? `\n${compile}` : ''}`);
    }
    return new Kernel(this, def, label, entry!, pipeline, layout);
  }

  /** The compiler's messages as `file:line:column: type: message`, mapped back to the original `.wgsl` files. */
  private async compileMessages(module: GPUShaderModule, source: ComposedSource): Promise<string> {
    const ci = await module.getCompilationInfo();
    return ci.messages
      .map((m) => {
        const at = source.locate(m.lineNum);
        return `${at.file}:${at.line}:${m.linePos}: ${m.type}: ${m.message}`;
      })
      .join('\n');
  }

  /** Creates a labelled buffer, optionally initialised, and tracks it until it is destroyed. */
  buffer(desc: { label: string; size: number; usage: number; data?: ArrayBufferView }): GPUBuffer {
    this.ensureUsable();
    const size = Math.max(4, Math.ceil((desc.data?.byteLength ?? desc.size) / 4) * 4);
    const buf = this.device.createBuffer({ label: desc.label, size, usage: desc.usage, mappedAtCreation: !!desc.data });
    if (desc.data) {
      new Uint8Array(buf.getMappedRange()).set(new Uint8Array(desc.data.buffer, desc.data.byteOffset, desc.data.byteLength));
      buf.unmap();
    }
    this.live.set(buf, size);
    const destroy = buf.destroy.bind(buf);
    buf.destroy = () => {
      this.live.delete(buf);
      destroy();
    };
    return buf;
  }

  /** A storage buffer (readable back, writable from the host) holding `data` or `size` zero bytes. */
  storage(label: string, dataOrSize: ArrayBufferView | number, extraUsage = 0): GPUBuffer {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage;
    return typeof dataOrSize === 'number'
      ? this.buffer({ label, size: dataOrSize, usage })
      : this.buffer({ label, size: dataOrSize.byteLength, usage, data: dataOrSize });
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.ensureUsable();
    this.device.queue.writeBuffer(buffer, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Live buffers created through this engine and their total size: steady over a long run, zero after destroy. */
  memory(): { buffers: number; bytes: number; labels: string[] } {
    let bytes = 0;
    for (const s of this.live.values()) bytes += s;
    return { buffers: this.live.size, bytes, labels: [...this.live.keys()].map((b) => b.label) };
  }

  /** Encodes with `fn` and submits one command buffer. */
  submit(label: string, fn: (encoder: GPUCommandEncoder) => void): void {
    this.ensureUsable();
    const encoder = this.device.createCommandEncoder({ label });
    fn(encoder);
    this.device.queue.submit([encoder.finish()]);
  }

  /** Encodes one compute pass with `fn` and submits it. */
  run(label: string, fn: (pass: GPUComputePassEncoder) => void): void {
    this.submit(label, (enc) => {
      const pass = enc.beginComputePass({ label });
      fn(pass);
      pass.end();
    });
  }

  /**
   * Copies `buffer` back to the host. For tests, results and checkpoints — never inside a training step (metrics use
   * the asynchronous ring in the trainer).
   */
  async read(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    this.ensureUsable();
    const staging = this.buffer({ label: `${buffer.label}.readback`, size: byteLength, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder({ label: `read ${buffer.label}` });
      enc.copyBufferToBuffer(buffer, byteOffset, staging, 0, byteLength);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const out = staging.getMappedRange().slice(0);
      staging.unmap();
      // The map resolved after every command submitted before it had run, so the errors they raised are pending by
      // now (see flush): no second wait for the queue.
      this.checkErrors();
      return out;
    } catch (e) {
      await this.flush();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  async readF32(buffer: GPUBuffer, count?: number): Promise<Float32Array> {
    return new Float32Array(await this.read(buffer, 0, count === undefined ? undefined : count * 4));
  }

  async readU32(buffer: GPUBuffer, count?: number): Promise<Uint32Array> {
    return new Uint32Array(await this.read(buffer, 0, count === undefined ? undefined : count * 4));
  }

  /**
   * Waits for submitted work and throws the first GPU error reported since the last flush (or device loss).
   *
   * No extra turn of the event loop is needed for the `uncapturederror` events: WebGPU raises an operation's error on
   * the device timeline when the operation is issued, and delivers it to the page in order with later results of that
   * timeline, so it has been dispatched by the time `onSubmittedWorkDone` (or a later `mapAsync`) resolves. Dawn in
   * Node even dispatches it inside the call that caused it. test/engine.test.ts and test/browser.test.ts check this
   * in Dawn and in Chromium. (A `setTimeout(0)` here used to cost 1–2 ms per readback: most of an L-BFGS iteration.)
   */
  async flush(): Promise<void> {
    this.ensureUsable();
    await this.device.queue.onSubmittedWorkDone();
    this.checkErrors();
  }

  /**
   * Throws device loss, or the first GPU error reported since the last check (and forgets the rest), without waiting:
   * for a caller that has just waited on the device itself (a `mapAsync` of its own staging buffer).
   */
  checkErrors(): void {
    if (this.lostError) throw this.lostError;
    if (this.pending.length === 0) return;
    const err = this.pending[0]!;
    this.pending.length = 0;
    throw err;
  }

  /** Destroys every buffer still alive and the device. */
  destroy(): void {
    if (this.destroyed) return;
    for (const b of [...this.live.keys()]) b.destroy();
    this.destroyed = true;
    this.device.destroy();
  }
}
