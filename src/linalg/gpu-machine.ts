/**
 * The GPU vector machine: vectors are f32 storage buffers, scalars live in one storage buffer (`sc`), and every
 * operation is queued into one command encoder (one compute pass until an objective or a copy needs its own), with a
 * per-dispatch VecOp record (shaders/vector.wgsl) in a ring of 256-byte slots bound with dynamic offsets. `read`
 * ends the queue with one copy of the span of scalar slots it asks for into a mapped staging buffer: that is the only
 * readback.
 *
 * Objective plans (value and gradient, Hessian-vector and Jacobian products) are created on first use for each
 * combination of buffers and cached, so a minimizer's steady state creates nothing.
 */
import type { Engine, Kernel } from '../gpu/index.js';
import { UniformBlock } from '../gpu/index.js';
import { checkCoef, MachineError, type Slot, type Vec, type VectorMachine } from './machine.js';
import type { GpuObjective, GpuPlan } from './objective.js';
import {
  axpbyKernel, axpyKernel, coefFields, EWG, recordStride, reduceKernels, reduceShape, SCALAR_MODES, scalarOpKernel, vecOpLayout,
  type Coef, type ReduceShape, type ScalarMode,
} from './vector.js';

/** Records per ring: the queue is submitted early when it fills (a two-loop recursion of history m uses ~6m). */
const RING = 1024;
const MAX_SLOTS = 1024;

export interface GpuMachineOptions {
  /** Starting point (n numbers); default zeros (ignored when the objective owns its parameters). */
  x0?: ArrayLike<number>;
  /** Override the reduction's workgroup sizes (tests). */
  reduceSizes?: { wg: number; fwg: number };
}

export class GpuMachine implements VectorMachine {
  readonly device = 'gpu' as const;
  readonly dtype = 'float32' as const;
  readonly n: number;
  readonly x: Vec;
  readbacks = 0;
  evaluations = 0;
  private readonly buffers = new Map<number, GPUBuffer>();
  private readonly owned: GPUBuffer[] = [];
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly plans = new Map<string, Promise<GpuPlan>>();
  private readonly made: GpuPlan[] = [];
  private readonly sc: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly parts: GPUBuffer;
  private readonly ring: GPUBuffer;
  private readonly ringBytes: ArrayBuffer;
  private readonly stride: number;
  private readonly layout;
  private slotCount = 0;
  private nextId = 0;
  private used = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private destroyed = false;

  private constructor(
    readonly engine: Engine,
    readonly objective: GpuObjective,
    private readonly kernels: { partial: Kernel; final: Kernel; axpby: Kernel; axpy: Kernel; scalar: Kernel },
    private readonly sizes: { wg: number; fwg: number } | undefined,
    x0: ArrayLike<number> | undefined,
  ) {
    this.n = objective.n;
    this.layout = vecOpLayout(engine);
    this.stride = recordStride(engine);
    this.ring = this.own(engine.buffer({ label: 'machine.ops', size: RING * this.stride, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }));
    this.ringBytes = new ArrayBuffer(RING * this.stride);
    this.sc = this.own(engine.storage('machine.scalars', 4 * MAX_SLOTS));
    this.staging = this.own(engine.buffer({ label: 'machine.scalars.readback', size: 4 * MAX_SLOTS, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
    this.parts = this.own(engine.storage('machine.partials', 16 * 256));
    if (objective.params) {
      if (objective.params.size < 4 * this.n) throw new MachineError(`the objective's parameter buffer holds ${objective.params.size / 4} floats, n = ${this.n}`);
      this.x = this.register('x', this.n, objective.params);
    } else {
      this.x = this.vector('x');
      if (x0) {
        if (x0.length !== this.n) throw new MachineError(`x0 has ${x0.length} numbers but the objective has n = ${this.n}`);
        engine.write(this.buffers.get(this.x.id)!, Float32Array.from(x0));
      }
    }
  }

  static async create(engine: Engine, objective: GpuObjective, opts: GpuMachineOptions = {}): Promise<GpuMachine> {
    const shape = reduceShape(engine, 1, opts.reduceSizes);
    const { partial, final } = await reduceKernels(engine, shape);
    const [axpby, axpy, scalar] = await Promise.all([engine.kernel(axpbyKernel, { EWG }), engine.kernel(axpyKernel, { EWG }), engine.kernel(scalarOpKernel)]);
    return new GpuMachine(engine, objective, { partial, final, axpby, axpy, scalar }, opts.reduceSizes, opts.x0);
  }

  get hasHvp(): boolean {
    return !!this.objective.hvp;
  }

  get residualCount(): number | null {
    return this.objective.leastSquares?.m ?? null;
  }

  private own(b: GPUBuffer): GPUBuffer {
    this.owned.push(b);
    return b;
  }

  private register(label: string, length: number, buffer: GPUBuffer): Vec {
    const v: Vec = { id: this.nextId++, length, label };
    this.buffers.set(v.id, buffer);
    return v;
  }

  vector(label: string, length = this.n): Vec {
    if (!Number.isInteger(length) || length < 1) throw new MachineError(`vector '${label}': length must be a positive integer, got ${length}`);
    return this.register(label, length, this.own(this.engine.storage(`machine.${label}`, 4 * length)));
  }

  scalars(count = 1): Slot {
    const first = this.slotCount;
    if (first + count > MAX_SLOTS) throw new MachineError(`more than ${MAX_SLOTS} scalar slots requested`);
    this.slotCount += count;
    return first;
  }

  /** The buffer behind a vector (for tests and for objectives that bind it). */
  buffer(v: Vec): GPUBuffer {
    const b = this.buffers.get(v.id);
    if (!b) throw new MachineError(`vector '${v.label}' does not belong to this machine`);
    return b;
  }

  // ---- queue ------------------------------------------------------------------------------------------------

  private ensureEncoder(): GPUCommandEncoder {
    if (this.destroyed) throw new MachineError('this machine was destroyed');
    this.encoder ??= this.engine.device.createCommandEncoder({ label: 'machine' });
    return this.encoder;
  }

  private ensurePass(): GPUComputePassEncoder {
    this.pass ??= this.ensureEncoder().beginComputePass({ label: 'machine.ops' });
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Writes the records used so far and submits the queue. */
  private submit(): void {
    this.endPass();
    if (this.used) this.engine.device.queue.writeBuffer(this.ring, 0, this.ringBytes, 0, this.used * this.stride);
    if (this.encoder) this.engine.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.used = 0;
  }

  /** A fresh record (its byte offset in the ring) with these fields. */
  private record(fields: Record<string, number>): number {
    if (this.used === RING) this.submit();
    const offset = this.used++ * this.stride;
    new UniformBlock(this.layout, this.ringBytes, offset).set({
      n: 0, mode: 0, parts: 1, chunk: 1, out: 0, outputs: 1, scale: 1, ...coefFields('a', undefined), ...coefFields('b', undefined), ...fields,
    });
    return offset;
  }

  private group(kernel: Kernel, resources: Record<string, GPUBuffer>): GPUBindGroup {
    const key = `${kernel.label}|${Object.entries(resources).map(([k, b]) => `${k}=${b.label}#${this.idOf(b)}`).join(',')}`;
    let g = this.groups.get(key);
    if (!g) {
      g = kernel.bind({ ...resources, op: { buffer: this.ring, offset: 0, size: this.layout.size } });
      this.groups.set(key, g);
    }
    return g;
  }

  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 0;
  private idOf(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  // ---- vector operations --------------------------------------------------------------------------------------

  axpby(z: Vec, alpha: Coef, x: Vec, beta?: Coef, y?: Vec): void {
    if (x.length !== z.length || (y && y.length !== z.length)) {
      throw new MachineError(`axpby: lengths differ (${z.label} ${z.length}, ${x.label} ${x.length}${y ? `, ${y.label} ${y.length}` : ''})`);
    }
    checkCoef(alpha, this.slotCount, 'axpby α');
    checkCoef(beta, this.slotCount, 'axpby β');
    const zb = this.buffer(z);
    const groups = Math.ceil(z.length / EWG);
    if (!y || y.id === x.id) {
      // z ← α·x (+ β·x): one input.
      const b = y ? beta : 0;
      if (z.id === x.id) {
        if (y) throw new MachineError('axpby: z = x = y is not supported; scale with axpby(z, α + β, z)');
        // In place z ← α·z: axpy with x = z is an alias, so read z through a copy-free trick: β·z + 0·x needs a
        // distinct x; use the iterate-independent zero vector.
        const off = this.record({ n: z.length, ...coefFields('a', 0), ...coefFields('b', alpha) });
        this.kernels.axpy.dispatch1d(this.ensurePass(), this.group(this.kernels.axpy, { x: this.zeros(z.length), z: zb, sc_in: this.sc }), groups, [off]);
        return;
      }
      const off = this.record({ n: z.length, ...coefFields('a', alpha), ...coefFields('b', b ?? 0) });
      this.kernels.axpby.dispatch1d(this.ensurePass(), this.group(this.kernels.axpby, { x: this.buffer(x), y: this.buffer(x), z: zb, sc_in: this.sc }), groups, [off]);
      return;
    }
    if (z.id === y.id || z.id === x.id) {
      // In place: z ← β'·z + α'·other.
      const [other, a, b] = z.id === y.id ? [x, alpha, beta] : [y, beta, alpha];
      const off = this.record({ n: z.length, ...coefFields('a', a), ...coefFields('b', b ?? 0) });
      this.kernels.axpy.dispatch1d(this.ensurePass(), this.group(this.kernels.axpy, { x: this.buffer(other), z: zb, sc_in: this.sc }), groups, [off]);
      return;
    }
    const off = this.record({ n: z.length, ...coefFields('a', alpha), ...coefFields('b', beta ?? 0) });
    this.kernels.axpby.dispatch1d(this.ensurePass(), this.group(this.kernels.axpby, { x: this.buffer(x), y: this.buffer(y), z: zb, sc_in: this.sc }), groups, [off]);
  }

  private zeroBuffer: GPUBuffer | null = null;
  private zeros(length: number): GPUBuffer {
    if (!this.zeroBuffer || this.zeroBuffer.size < 4 * length) {
      this.zeroBuffer = this.own(this.engine.storage('machine.zeros', 4 * Math.max(length, this.n)));
    }
    return this.zeroBuffer;
  }

  copy(dst: Vec, src: Vec): void {
    if (dst.length !== src.length) throw new MachineError(`copy: ${src.label} has ${src.length} elements, ${dst.label} ${dst.length}`);
    if (dst.id === src.id) return;
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(this.buffer(src), 0, this.buffer(dst), 0, 4 * src.length);
  }

  /** The reduction's shape for a length (exported for tests' error bounds). */
  shapeFor(length: number): ReduceShape {
    return reduceShape(this.engine, length, this.sizes);
  }

  dot(out: Slot, x: Vec, y: Vec, opts: { scale?: number; stats?: boolean } = {}): void {
    if (x.length !== y.length) throw new MachineError(`dot: ${x.label} has ${x.length} elements, ${y.label} ${y.length}`);
    const width = opts.stats ? 4 : 1;
    if (!(Number.isInteger(out) && out >= 0 && out + width <= this.slotCount)) throw new MachineError(`dot: scalar slots ${out}..${out + width - 1} do not exist`);
    const s = this.shapeFor(x.length);
    const off = this.record({ n: x.length, mode: 0, parts: s.parts, chunk: s.chunk, out, outputs: width, scale: opts.scale ?? 1 });
    const pass = this.ensurePass();
    this.kernels.partial.dispatch1d(pass, this.group(this.kernels.partial, { x: this.buffer(x), y: this.buffer(y), parts: this.parts }), s.parts, [off]);
    this.kernels.final.dispatch(pass, this.group(this.kernels.final, { parts_in: this.parts, sc: this.sc }), 1, 1, 1, [off]);
  }

  scalar(out: Slot, mode: ScalarMode, a: Coef, b: Coef): void {
    if (!(Number.isInteger(out) && out >= 0 && out < this.slotCount)) throw new MachineError(`scalar: slot ${out} does not exist`);
    checkCoef(a, this.slotCount, 'scalar A');
    checkCoef(b, this.slotCount, 'scalar B');
    const off = this.record({ out, mode: SCALAR_MODES[mode], ...coefFields('a', a), ...coefFields('b', b) });
    this.kernels.scalar.dispatch(this.ensurePass(), this.group(this.kernels.scalar, { sc: this.sc }), 1, 1, 1, [off]);
  }

  // ---- objective ----------------------------------------------------------------------------------------------

  private plan(key: string, make: () => Promise<GpuPlan>): Promise<GpuPlan> {
    let p = this.plans.get(key);
    if (!p) {
      p = make().then((plan) => {
        if (this.destroyed) plan.destroy();
        else this.made.push(plan);
        return plan;
      });
      this.plans.set(key, p);
      p.catch(() => this.plans.delete(key));
    }
    return p;
  }

  private async run(key: string, make: () => Promise<GpuPlan>): Promise<void> {
    const plan = await this.plan(key, make);
    this.endPass();
    plan.encode(this.ensureEncoder());
  }

  async evaluate(g: Vec, f: Slot): Promise<void> {
    if (g.length !== this.n) throw new MachineError(`evaluate: the gradient vector has ${g.length} elements, n = ${this.n}`);
    this.evaluations++;
    await this.run(`vg|${g.id}|${f}`, () => this.objective.valueGrad({ x: this.buffer(this.x), g: this.buffer(g), f: { buffer: this.sc, index: f } }));
  }

  async hvp(v: Vec, out: Vec): Promise<void> {
    const hvp = this.objective.hvp;
    if (!hvp) throw new MachineError('hvp: this objective has no exact Hessian-vector product');
    await this.run(`hvp|${v.id}|${out.id}`, () => hvp({ x: this.buffer(this.x), v: this.buffer(v), out: this.buffer(out) }));
  }

  private ls() {
    const ls = this.objective.leastSquares;
    if (!ls) throw new MachineError('this objective is not a least-squares problem (no residuals)');
    return ls;
  }

  async residuals(r: Vec): Promise<void> {
    const ls = this.ls();
    await this.run(`res|${r.id}`, () => ls.residuals({ x: this.buffer(this.x), r: this.buffer(r) }));
  }

  async jvp(v: Vec, out: Vec): Promise<void> {
    const ls = this.ls();
    await this.run(`jvp|${v.id}|${out.id}`, () => ls.jvp({ x: this.buffer(this.x), v: this.buffer(v), out: this.buffer(out) }));
  }

  async vjp(u: Vec, out: Vec): Promise<void> {
    const ls = this.ls();
    await this.run(`vjp|${u.id}|${out.id}`, () => ls.vjp({ x: this.buffer(this.x), u: this.buffer(u), out: this.buffer(out) }));
  }

  // ---- host side ----------------------------------------------------------------------------------------------

  async read(slots: readonly Slot[]): Promise<number[]> {
    for (const s of slots) if (!(Number.isInteger(s) && s >= 0 && s < this.slotCount)) throw new MachineError(`read: scalar slot ${s} does not exist`);
    // Only the span of the slots asked for comes back (an L-BFGS history's α_i are never read).
    const first = slots.length ? Math.min(...slots) : 0;
    const bytes = 4 * (slots.length ? Math.max(...slots) - first + 1 : 1);
    this.endPass();
    this.ensureEncoder().copyBufferToBuffer(this.sc, 4 * first, this.staging, 0, bytes);
    this.submit();
    this.readbacks++;
    await this.staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const values = new Float32Array(this.staging.getMappedRange(0, bytes).slice(0));
    this.staging.unmap();
    this.engine.checkErrors(); // the map waited for everything submitted before it
    return slots.map((s) => values[s - first]!);
  }

  /** Submits everything queued (without reading anything). */
  flush(): void {
    this.submit();
  }

  async readVector(v: Vec): Promise<Float64Array> {
    this.submit();
    return Float64Array.from(await this.engine.readF32(this.buffer(v), v.length));
  }

  async writeVector(v: Vec, values: ArrayLike<number>): Promise<void> {
    if (values.length !== v.length) throw new MachineError(`writeVector: ${v.label} has ${v.length} elements, got ${values.length}`);
    this.submit();
    this.engine.write(this.buffer(v), Float32Array.from(values));
  }

  destroy(): void {
    if (this.destroyed) return;
    // Queued work is run, not dropped: x may be a buffer the caller keeps (a runner's parameters), and the last
    // operations of a step (a line search's final x = x0 + t·d) write it.
    this.submit();
    this.destroyed = true;
    for (const plan of this.made) plan.destroy();
    this.made.length = 0;
    this.plans.clear();
    for (const b of this.owned) b.destroy();
    this.groups.clear();
  }
}
