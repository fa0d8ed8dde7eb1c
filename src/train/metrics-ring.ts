/**
 * Asynchronous metric readback without stalls. Metrics accumulate on the GPU (kernels add into small accumulator
 * buffers every step). Every `every` steps the step's command buffer also copies the accumulators into one of a few
 * staging buffers and clears them; `mapAsync` then delivers the numbers whenever the GPU gets there, while the host
 * keeps encoding steps.
 *
 * Never waiting: if every staging buffer is still in flight when a snapshot is due, the snapshot is simply
 * postponed — the accumulators keep adding, so the next snapshot covers more steps and nothing is lost. The ring
 * therefore bounds readback memory, not the host's lead over the GPU (the queue does that).
 */
import type { Engine } from '../gpu/index.js';

export interface RingSource {
  buffer: GPUBuffer;
  /** Bytes to copy from offset 0. */
  bytes: number;
  /** Zero the source after copying (accumulators); false for cumulative counters. */
  reset: boolean;
}

export interface Snapshot {
  /** Number of steps the snapshot covers and the last step's index. */
  steps: number;
  lastStep: number;
  /** One ArrayBuffer per source, in order. */
  data: ArrayBuffer[];
}

export class MetricsRing {
  private readonly staging: GPUBuffer[];
  private readonly busy: boolean[];
  private readonly total: number;
  private readonly pending = new Set<Promise<void>>();
  private stepsSinceSnapshot = 0;
  private lastStep = -1;
  private failure: unknown = null;

  constructor(
    private readonly engine: Engine,
    private readonly sources: RingSource[],
    private readonly deliver: (s: Snapshot) => void,
    readonly every = 50,
    slots = 4,
  ) {
    this.total = sources.reduce((a, s) => a + Math.ceil(s.bytes / 4) * 4, 0);
    this.staging = Array.from({ length: slots }, (_, i) =>
      engine.buffer({ label: `metrics.staging${i}`, size: this.total, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }),
    );
    this.busy = this.staging.map(() => false);
  }

  /**
   * Call once per step with the step's encoder, after the step's passes. Returns a function to call after the
   * command buffer is submitted (it starts the map), or null when no snapshot was taken this step.
   */
  afterStep(encoder: GPUCommandEncoder, step: number): (() => void) | null {
    this.rethrow();
    this.stepsSinceSnapshot++;
    this.lastStep = step;
    if (this.stepsSinceSnapshot < this.every) return null;
    return this.snapshotNow(encoder);
  }

  /** Takes a snapshot of what has accumulated so far (e.g. at the end of an epoch), if a staging buffer is free. */
  snapshotNow(encoder: GPUCommandEncoder): (() => void) | null {
    this.rethrow();
    const slot = this.busy.indexOf(false);
    if (slot < 0) return null; // all in flight: postpone, the accumulators keep the data
    const dst = this.staging[slot]!;
    let offset = 0;
    for (const s of this.sources) {
      encoder.copyBufferToBuffer(s.buffer, 0, dst, offset, Math.ceil(s.bytes / 4) * 4);
      if (s.reset) encoder.clearBuffer(s.buffer, 0, Math.ceil(s.bytes / 4) * 4);
      offset += Math.ceil(s.bytes / 4) * 4;
    }
    const steps = this.stepsSinceSnapshot;
    const lastStep = this.lastStep;
    this.stepsSinceSnapshot = 0;
    this.busy[slot] = true;
    return () => {
      const p: Promise<void> = dst
        .mapAsync(GPUMapMode.READ)
        .then(() => {
          const all = dst.getMappedRange().slice(0);
          dst.unmap();
          this.busy[slot] = false;
          const data: ArrayBuffer[] = [];
          let at = 0;
          for (const s of this.sources) {
            data.push(all.slice(at, at + s.bytes));
            at += Math.ceil(s.bytes / 4) * 4;
          }
          this.deliver({ steps, lastStep, data });
        })
        .catch((e) => {
          this.failure = e;
        })
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    };
  }

  /** Steps not yet covered by a snapshot. */
  get unreported(): number {
    return this.stepsSinceSnapshot;
  }

  /** Waits for every snapshot in flight (the caller forces a final one first). */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
    this.rethrow();
  }

  /** A failed map; when the device was lost, the loss (which says how to recover) rather than Dawn's bare AbortError. */
  private rethrow(): void {
    if (this.failure) throw this.engine.lost ?? this.failure;
  }

  /** True when a staging buffer is free for a forced snapshot. */
  get hasFreeSlot(): boolean {
    return this.busy.includes(false);
  }

  destroy(): void {
    for (const b of this.staging) b.destroy();
  }
}
