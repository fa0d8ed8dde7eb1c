/**
 * Any first-order optimizer of src/optim/ (SGD, Adam, ...) as a minimizer on a vector machine: one step evaluates
 * f and ∇f at x and applies one update — the CPU reference `Optimizer` on the CPU machine's arrays, the fused
 * `GpuOptimizer` on the GPU machine's buffers (one readback per step, for f and max|g|).
 */
import { CpuMachine } from '../linalg/cpu-machine.js';
import { GpuMachine } from '../linalg/gpu-machine.js';
import type { Slot, Vec, VectorMachine } from '../linalg/machine.js';
import { GpuOptimizer } from '../optim/gpu.js';
import { Optimizer } from '../optim/optimizer.js';
import { getRule } from '../optim/registry.js';
import { OPTIMIZER_NAMES } from '../optim/rule.js';
import { checkFinite, MinimizeError } from './errors.js';
import type { MethodDef, Minimizer, StepReport } from './minimizer.js';
import type { StepOptions } from './step-control.js';

export class FirstOrder implements Minimizer {
  readonly state = { step: 0, func_evals: 0 };
  /** When set, a step whose gradient has max|g| ≤ stopBelow ends without updating (stop 'tolerance_grad'). */
  stopBelow: number | undefined;
  /** The learning rate of the next step, when a schedule sets it (minimize's `schedule`); else the optimizer's lr. */
  lr: number | undefined;
  private readonly g: Vec;
  private readonly F: Slot;
  private readonly GS: Slot;

  private constructor(
    readonly m: VectorMachine,
    readonly name: string,
    private readonly update: (lr?: number) => void,
    g: Vec,
    private readonly release: () => void,
  ) {
    this.g = g;
    this.F = m.scalars(1);
    this.GS = m.scalars(4);
  }

  static async create(m: VectorMachine, name: string, hyperparams: Readonly<Record<string, unknown>>): Promise<FirstOrder> {
    const rule = getRule(name, 'method');
    const g = m.vector('first_order.g');
    if (m instanceof CpuMachine) {
      const opt = new Optimizer(rule.name, hyperparams, { n: m.n, dtype: m.dtype });
      const x = m.get(m.x), gv = m.get(g);
      return new FirstOrder(m, rule.name, (lr) => {
        if (lr !== undefined) opt.setLr(lr);
        opt.step(x, gv);
      }, g, () => {});
    }
    if (m instanceof GpuMachine) {
      const opt = await GpuOptimizer.create(m.engine, { optimizer: rule.name, hyperparams, params: m.buffer(m.x), grads: m.buffer(g), n: m.n });
      return new FirstOrder(m, rule.name, (lr) => {
        m.flush();
        opt.step(lr);
      }, g, () => opt.destroy());
    }
    throw new MinimizeError(`${rule.name}: first-order optimizers run on the CPU or GPU vector machine`);
  }

  /** One update: a single iteration, so `opts.signal` has no boundary inside it; `opts.onIteration` runs after it. */
  async step(opts: StepOptions = {}): Promise<StepReport> {
    const { m } = this;
    await m.evaluate(this.g, this.F);
    m.dot(this.GS, this.g, this.g, { stats: true });
    const [f, , maxabs, , bad] = (await m.read([this.F, this.GS, this.GS + 1, this.GS + 2, this.GS + 3])) as [number, number, number, number, number];
    checkFinite(f, bad, `${this.name} step ${this.state.step + 1}`);
    this.state.func_evals++;
    if (this.stopBelow !== undefined && maxabs <= this.stopBelow) {
      return { loss: f, lossAfter: f, evals: 1, iterations: 0, stop: 'tolerance_grad', gradMax: maxabs, gradMaxStart: maxabs };
    }
    this.update(this.lr);
    this.state.step++;
    await opts.onIteration?.({ iteration: 1, maxIter: 1, evals: 1, loss: f, gradMax: maxabs });
    return { loss: f, lossAfter: f, evals: 1, iterations: 1, stop: 'step', gradMax: maxabs, gradMaxStart: maxabs };
  }

  destroy(): void {
    this.release();
  }
}

/** A MethodDef for each torch.optim first-order class. */
export const firstOrderMethods: readonly MethodDef[] = OPTIMIZER_NAMES.map((name) => ({
  name,
  summary: `torch.optim.${name}: one update per step`,
  hyperparams: getRule(name).hyperparams.map((h) => h.name),
  create: (m: VectorMachine, h: Readonly<Record<string, unknown>>) => FirstOrder.create(m, name, h),
}));
