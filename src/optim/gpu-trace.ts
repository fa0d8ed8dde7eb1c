/**
 * `wgtrain trace --device gpu`: runs a trace spec through the fused GPU update (gpu.ts). All gradients are uploaded
 * once; each step copies its gradient into the gradient buffer, runs the update and copies the parameters into a
 * K×n history buffer, all inside one command buffer per `ring` steps, so the trace reads back once at the end.
 */
import type { Engine } from '../gpu/index.js';
import { createEngine } from '../gpu/node.js';
import type { TraceResult, TraceSpec } from '../cli/trace.js';
import { GpuOptimizer } from './gpu.js';

export async function runGpuTrace(spec: TraceSpec, engine?: Engine): Promise<Omit<TraceResult, 'device'>> {
  if (spec.dtype !== 'float32') throw new Error('dtype: the GPU computes in float32 only');
  const e = engine ?? (await createEngine({ log: false }));
  const n = spec.x0.length;
  const K = spec.grads.length;
  const bytes = 4 * n;
  const buffers: GPUBuffer[] = [];
  const own = (b: GPUBuffer) => (buffers.push(b), b);
  let opt: GpuOptimizer | undefined;
  try {
    const params = own(e.storage('trace.params', Float32Array.from(spec.x0)));
    const grads = own(e.storage('trace.grads', bytes));
    const allGrads = new Float32Array(Math.max(1, K) * n);
    spec.grads.forEach((g, k) => allGrads.set(g, k * n));
    const gradsIn = own(e.storage('trace.grads_all', allGrads));
    const history = own(e.storage('trace.history', Math.max(1, K) * bytes));
    const ring = 64;
    opt = await GpuOptimizer.create(e, { optimizer: spec.optimizer, hyperparams: spec.hyperparams, params, grads, n, ring });
    for (let k0 = 0; k0 < K; k0 += ring) {
      e.submit('trace steps', (enc) => {
        for (let k = k0; k < Math.min(K, k0 + ring); k++) {
          enc.copyBufferToBuffer(gradsIn, k * bytes, grads, 0, bytes);
          opt!.encodeStep(enc);
          enc.copyBufferToBuffer(params, 0, history, k * bytes, bytes);
        }
      });
    }
    const all = K ? await e.readF32(history, K * n) : new Float32Array(0);
    const after = Array.from({ length: K }, (_, k) => Array.from(all.subarray(k * n, (k + 1) * n)));
    const saved = await opt.exportState();
    return {
      optimizer: spec.optimizer,
      dtype: 'float32',
      params_after_each_step: after,
      final_state: { step: [saved.step], ...saved.state },
    };
  } finally {
    opt?.destroy();
    for (const b of buffers) b.destroy();
    if (!engine) e.destroy();
  }
}
