/**
 * Matmul autotuning on hardware adapters: which variant and tile is fastest depends on the GPU and on the shape (a
 * 128×128 tile wins at 4096³; a 128×784×256 first layer gives such tiles too few workgroups to fill the GPU, where
 * smaller tiles or split-K win). When a plan is built, `tuneMatmul` times each candidate of `matmulCandidates` on the
 * real operands (outputs — C, Z, column sums, split-K partials — go to scratch buffers, so tuning never changes the
 * caller's data) and caches the winner per
 * engine and shape. Software adapters are not tuned: their fixed rule (`chooseMatmulVariant`) is known to be right.
 *
 * Timing: GPU timestamps around a compute pass of r repeated dispatches when the adapter has 'timestamp-query', else
 * the wall time to `onSubmittedWorkDone`; the best of 3 passes, per dispatch. Passes last ≥ ~2 ms because timestamps
 * may be quantized (Dawn: 65.5 µs unless its `timestamp_quantization` toggle is off; browsers: 100 µs). The score
 * adds the host time of encoding the op (≈ 5 µs per dispatch in Node): for small shapes a split-K candidate's extra
 * dispatch costs more on the CPU than it saves on the GPU, since a training step is encoded while the GPU runs.
 */
import type { Engine } from '../gpu/index.js';
import { MatmulOp, operandVec4, tiled8TileProblem, vec4Layout, DEFAULT_TILES, type MatmulLayout, type MatmulOptions, type MatmulTile, type MatmulVariant } from './matmul.js';

export interface MatmulConfig {
  variant: MatmulVariant;
  tile: MatmulTile;
}

export interface MatmulTiming {
  config: MatmulConfig;
  /** GPU milliseconds per matmul (both dispatches with split-K); Infinity when the candidate failed to build. */
  ms: number;
  /** Host milliseconds to encode one matmul into a pass. */
  hostMs: number;
  error?: string;
}

const enabled = new WeakMap<Engine, boolean>();
const cache = new WeakMap<Engine, Map<string, Promise<MatmulConfig>>>();

/** Turns plan-time tuning on or off for an engine (default: on for hardware adapters, off for software ones). */
export function setMatmulAutotune(engine: Engine, on: boolean): void {
  enabled.set(engine, on);
}

export function matmulAutotune(engine: Engine): boolean {
  return enabled.get(engine) ?? !engine.software;
}

/** Workgroups that keep a large GPU busy (≈ 2 per multiprocessor on a 132-SM H200; WebGPU does not say). */
const BUSY_WORKGROUPS = 264;
/** Largest split-K scratch buffer a candidate may use. */
const MAX_SPLIT_BYTES = 64 << 20;

/** The candidates worth timing for a shape on a hardware adapter. */
export function matmulCandidates(engine: Engine, o: MatmulLayout): MatmulConfig[] {
  const out: MatmulConfig[] = [
    { variant: 'tiled', tile: { wgX: 16, wgY: 16, bk: 16 } },
    { variant: 'tiled', tile: { wgX: 8, wgY: 8, bk: 16 } },
    { variant: 'registers', tile: { wgX: 8, wgY: 8 } },
    { variant: 'registers', tile: { wgX: 16, wgY: 4 } },
  ];
  if (vec4Layout(o) === null) out.push({ variant: 'registers-vec4', tile: { wgX: 8, wgY: 8 } });
  const t8: MatmulTile[] = [
    { wgX: 16, wgY: 16, bk: 8 },
    { wgX: 16, wgY: 16, bk: 16 },
    { wgX: 16, wgY: 8, bk: 8 },
    { wgX: 8, wgY: 16, bk: 8 },
    { wgX: 8, wgY: 8, bk: 8 },
    { wgX: 8, wgY: 8, bk: 4 },
  ];
  for (const tile of t8) {
    out.push({ variant: 'tiled8', tile });
    const tiles = Math.ceil(o.M / (8 * tile.wgY)) * Math.ceil(o.N / (8 * tile.wgX));
    for (const splitK of [2, 4, 8, 16]) {
      if (tiles * splitK > 2 * BUSY_WORKGROUPS) break;
      if (o.K / splitK < 8 * tile.bk!) break;
      if (splitK * o.M * o.N * 4 > Math.min(MAX_SPLIT_BYTES, engine.limits.maxStorageBufferBindingSize)) break;
      out.push({ variant: 'tiled8', tile: { ...tile, splitK } });
    }
  }
  return out.filter((c) => c.variant !== 'tiled8' || tiled8TileProblem({ ...DEFAULT_TILES.tiled8, ...c.tile }) === null);
}

function key(o: MatmulOptions): string {
  const vec = `${operandVec4(o, 'A') === null ? 'a' : ''}${operandVec4(o, 'B') === null ? 'b' : ''}`;
  const extras = [o.bias && 'bias', o.z && 'z', o.activationGrad && 'dact', o.columnSums && 'sums', o.nchwPlane && `nchw${o.nchwPlane}`].filter(Boolean).join(',');
  return `${o.M}x${o.N}x${o.K}${o.transA ? 'T' : 'N'}${o.transB ? 'T' : 'N'}|${vec}|${extras}`;
}

/** The fastest measured configuration for this shape (cached per engine and shape; `candidates` for tests). */
export function tuneMatmul(engine: Engine, o: MatmulOptions, candidates?: MatmulConfig[]): Promise<MatmulConfig> {
  let byShape = cache.get(engine);
  if (!byShape) cache.set(engine, (byShape = new Map()));
  const k = key(o);
  let p = byShape.get(k);
  if (!p) {
    p = timeMatmulCandidates(engine, o, candidates ?? matmulCandidates(engine, o)).then((rows) => {
      const best = rows.reduce((a, b) => (b.ms + b.hostMs < a.ms + a.hostMs ? b : a));
      if (!Number.isFinite(best.ms)) throw new Error(`matmul tuning: no candidate ran for ${k}: ${rows[0]?.error ?? 'none'}`);
      return best.config;
    });
    byShape.set(k, p);
    p.catch(() => byShape!.delete(k));
  }
  return p;
}

/**
 * Times each configuration on o's operands (C, Z and split-K partials in scratch buffers). Used by `tuneMatmul` and by
 * bench/matmul-sweep.mjs.
 */
export async function timeMatmulCandidates(engine: Engine, o: MatmulOptions, configs: MatmulConfig[], targetMs = 2): Promise<MatmulTiming[]> {
  const { M, N } = o;
  const c = engine.storage('matmul-tune.c', M * N * 4);
  const z = o.z ? engine.storage('matmul-tune.z', M * N * 4) : undefined;
  const sums = o.columnSums ? engine.storage('matmul-tune.sums', N * 4) : undefined;
  const stamps = engine.features.has('timestamp-query');
  const querySet = stamps ? engine.device.createQuerySet({ label: 'matmul-tune', type: 'timestamp', count: 2 }) : null;
  const resolved = stamps ? engine.buffer({ label: 'matmul-tune.resolve', size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
  const rows: MatmulTiming[] = [];
  try {
    for (const config of configs) {
      let op: MatmulOp | null = null;
      try {
        op = await MatmulOp.create(engine, { ...o, c, z, cOffset: 0, columnSums: sums, beta: 0, variant: config.variant, tile: config.tile });
        const built = op;
        let hostMs = Infinity;
        const run = async (reps: number): Promise<number> => {
          const enc = engine.device.createCommandEncoder({ label: 'matmul-tune' });
          const pass = enc.beginComputePass(querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
          const h0 = performance.now();
          for (let r = 0; r < reps; r++) built.encode(pass);
          hostMs = Math.min(hostMs, (performance.now() - h0) / reps);
          pass.end();
          if (querySet && resolved) enc.resolveQuerySet(querySet, 0, 2, resolved, 0);
          const t0 = performance.now();
          engine.device.queue.submit([enc.finish()]);
          if (resolved) {
            const t = new BigUint64Array(await engine.read(resolved));
            return Number(t[1]! - t[0]!) / 1e6;
          }
          await engine.device.queue.onSubmittedWorkDone();
          return performance.now() - t0;
        };
        // A first estimate from 8 dispatches (a single one may read as 0 through quantized timestamps).
        const once = (await run(8)) / 8;
        const reps = Math.max(2, Math.min(400, Math.round(targetMs / Math.max(once, 2e-3))));
        let best = Infinity;
        for (let trial = 0; trial < 3; trial++) best = Math.min(best, (await run(reps)) / reps);
        await engine.flush();
        rows.push({ config, ms: best, hostMs });
      } catch (e) {
        rows.push({ config, ms: Infinity, hostMs: Infinity, error: (e as Error).message.split('\n')[0] });
      } finally {
        op?.destroy();
      }
    }
  } finally {
    c.destroy();
    z?.destroy();
    sums?.destroy();
    querySet?.destroy();
    resolved?.destroy();
  }
  return rows;
}
