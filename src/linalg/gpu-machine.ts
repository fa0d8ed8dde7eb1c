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
import { checkCoef, MachineError, type Slot, type Vec, type VectorMachine } from './machine.js';
import type { GpuObjective, GpuPlan } from './objective.js';
import {
  axpbyKernel, axpyKernel, EWG, recordStride, reduceKernels, reduceShape, SCALAR_MODES, scalarOpKernel, vecOpLayout, VecOpWriter,
  type Coef, type ReduceShape, type ScalarMode, type VecOpFields,
} from './vector.js';

/** Records per ring: the queue is submitted early when it fills (a two-loop recursion of history m uses ~6m). */
const RING = 1024;
const MAX_SLOTS = 1024;
/** Vector ids are below this, so that a bind group's key packs up to three of them into one number (groupKey). */
const MAX_VECTORS = 0xffff;
/** The id standing for the machine's zero vector in a key. */
const ZEROS_ID = MAX_VECTORS;

/** The bind-group key of up to three vector ids: exact, since 3·16 bits fit a double's 53. */
function groupKey(a = 0, b = 0, c = 0): number {
  return a + 0x10000 * (b + 0x10000 * c);
}

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
  /**
   * Bind groups per kernel by the ids of the vectors they bind (groupKey); the scalars and partials buffers are the
   * machine's own and the same in every group. A number key: a dispatch builds no string.
   */
  private readonly groups = new Map<Kernel, Map<number, GPUBindGroup>>();
  private readonly plans = new Map<string, Promise<GpuPlan>>();
  private readonly made: GpuPlan[] = [];
  private readonly sc: GPUBuffer;
  private readonly staging: GPUBuffer;
  private readonly parts: GPUBuffer;
  private readonly ring: GPUBuffer;
  private readonly records: VecOpWriter;
  /** The dynamic offset of the dispatch being recorded (one array, reused). */
  private readonly offsets = [0];
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
    this.records = new VecOpWriter(this.layout, new ArrayBuffer(RING * this.stride));
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
    if (this.nextId >= MAX_VECTORS) throw new MachineError(`vector '${label}': a machine holds at most ${MAX_VECTORS} vectors`);
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
    if (this.used) this.engine.device.queue.writeBuffer(this.ring, 0, this.records.bytes, 0, this.used * this.stride);
    if (this.encoder) this.engine.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.used = 0;
  }

  /** A fresh record with these fields: the dynamic offsets of its dispatches (`this.offsets`, reused). */
  private record(fields: VecOpFields): number[] {
    if (this.used === RING) this.submit();
    const offset = this.used++ * this.stride;
    this.records.write(offset, fields);
    this.offsets[0] = offset;
    return this.offsets;
  }

  /** The cached bind group of `kernel` for `key` (groupKey of the vectors it binds), if made before. */
  private cached(kernel: Kernel, key: number): GPUBindGroup | undefined {
    return this.groups.get(kernel)?.get(key);
  }

  /** Makes and caches the bind group of `kernel` for `key` over these buffers (and the op ring). */
  private bind(kernel: Kernel, key: number, resources: Record<string, GPUBuffer>): GPUBindGroup {
    const g = kernel.bind({ ...resources, op: { buffer: this.ring, offset: 0, size: this.layout.size } });
    let byKey = this.groups.get(kernel);
    if (!byKey) this.groups.set(kernel, (byKey = new Map()));
    byKey.set(key, g);
    return g;
  }

  // ---- vector operations --------------------------------------------------------------------------------------

  axpby(z: Vec, alpha: Coef, x: Vec, beta?: Coef, y?: Vec): void {
    if (x.length !== z.length || (y && y.length !== z.length)) {
      throw new MachineError(`axpby: lengths differ (${z.label} ${z.length}, ${x.label} ${x.length}${y ? `, ${y.label} ${y.length}` : ''})`);
    }
    checkCoef(alpha, this.slotCount, 'axpby α');
    checkCoef(beta, this.slotCount, 'axpby β');
    const { axpy, axpby } = this.kernels;
    const groups = Math.ceil(z.length / EWG);
    if (!y || y.id === x.id) {
      // z ← α·x (+ β·x): one input.
      if (z.id === x.id) {
        if (y) throw new MachineError('axpby: z = x = y is not supported; scale with axpby(z, α + β, z)');
        // In place z ← α·z: axpy with x = z is an alias, so read z through a copy-free trick: β·z + 0·x needs a
        // distinct x; use the iterate-independent zero vector. (A group made before the zeros grew keeps the old,
        // smaller zero buffer: still alive, still zero, and long enough for this z.)
        const key = groupKey(ZEROS_ID, z.id);
        const g = this.cached(axpy, key) ?? this.bind(axpy, key, { x: this.zeros(z.length), z: this.buffer(z), sc_in: this.sc });
        axpy.dispatch1d(this.ensurePass(), g, groups, this.record({ n: z.length, a: 0, b: alpha }));
        return;
      }
      const key = groupKey(x.id, x.id, z.id);
      const g = this.cached(axpby, key) ?? this.bind(axpby, key, { x: this.buffer(x), y: this.buffer(x), z: this.buffer(z), sc_in: this.sc });
      axpby.dispatch1d(this.ensurePass(), g, groups, this.record({ n: z.length, a: alpha, b: y ? beta : 0 }));
      return;
    }
    if (z.id === y.id || z.id === x.id) {
      // In place: z ← β'·z + α'·other.
      const other = z.id === y.id ? x : y;
      const key = groupKey(other.id, z.id);
      const g = this.cached(axpy, key) ?? this.bind(axpy, key, { x: this.buffer(other), z: this.buffer(z), sc_in: this.sc });
      const offsets = z.id === y.id ? this.record({ n: z.length, a: alpha, b: beta }) : this.record({ n: z.length, a: beta, b: alpha });
      axpy.dispatch1d(this.ensurePass(), g, groups, offsets);
      return;
    }
    const key = groupKey(x.id, y.id, z.id);
    const g = this.cached(axpby, key) ?? this.bind(axpby, key, { x: this.buffer(x), y: this.buffer(y), z: this.buffer(z), sc_in: this.sc });
    axpby.dispatch1d(this.ensurePass(), g, groups, this.record({ n: z.length, a: alpha, b: beta }));
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
    const { partial, final } = this.kernels;
    const key = groupKey(x.id, y.id);
    const pg = this.cached(partial, key) ?? this.bind(partial, key, { x: this.buffer(x), y: this.buffer(y), parts: this.parts });
    const fg = this.cached(final, 0) ?? this.bind(final, 0, { parts_in: this.parts, sc: this.sc });
    const offsets = this.record({ n: x.length, parts: s.parts, chunk: s.chunk, out, outputs: width, scale: opts.scale ?? 1 });
    const pass = this.ensurePass();
    partial.dispatch1d(pass, pg, s.parts, offsets);
    final.dispatch(pass, fg, 1, 1, 1, offsets);
  }

  scalar(out: Slot, mode: ScalarMode, a: Coef, b: Coef): void {
    if (!(Number.isInteger(out) && out >= 0 && out < this.slotCount)) throw new MachineError(`scalar: slot ${out} does not exist`);
    checkCoef(a, this.slotCount, 'scalar A');
    checkCoef(b, this.slotCount, 'scalar B');
    const { scalar } = this.kernels;
    const g = this.cached(scalar, 0) ?? this.bind(scalar, 0, { sc: this.sc });
    scalar.dispatch(this.ensurePass(), g, 1, 1, 1, this.record({ out, mode: SCALAR_MODES[mode], a, b }));
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
