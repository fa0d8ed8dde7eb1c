/**
 * wgtrain's schedules against torch.optim.lr_scheduler (torch 1.13), stepped as a training loop steps them: the
 * fixture is test/fixtures/torch_sched/schedules.json, written by scripts/torch_schedules.py. Torch computes most
 * rates recursively (lr ← lr·ratio), wgtrain in closed form, so they differ by accumulated rounding: rtol 1e-10.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OneCycleLR, scheduleFromSpec, type ScheduleConfig } from '../src/schedule/index.js';

interface TorchCase {
  config: ScheduleConfig;
  lr: number;
  /** Rate before step t, t = 0..n. */
  lrs: number[];
  metrics?: (number | string)[];
  momentum?: number[];
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/torch_sched/schedules.json', import.meta.url), 'utf8'),
) as { torch: string; cases: Record<string, TorchCase> };

const ATOL = 1e-15;
const RTOL = 1e-10;

function mismatches(got: number[], ref: number[]): string[] {
  const bad: string[] = [];
  for (let t = 0; t < ref.length; t++) {
    const [g, r] = [got[t]!, ref[t]!];
    if (!(Math.abs(g - r) <= ATOL + RTOL * Math.abs(r))) bad.push(`t=${t}: got ${g}, torch ${r}, |diff| ${Math.abs(g - r)}`);
  }
  return bad;
}

describe(`schedules against torch ${fixture.torch}`, () => {
  it('the fixture has the cases this file expects', () => {
    expect(Object.keys(fixture.cases).length).toBeGreaterThanOrEqual(15);
  });

  it.each(Object.entries(fixture.cases))('%s', (name, c) => {
    const s = scheduleFromSpec(c.config, { lr: c.lr });
    const got = [s.lr];
    const moms: number[] = [];
    for (let t = 0; t < c.lrs.length - 1; t++) {
      if (s instanceof OneCycleLR) moms.push(s.momentum!);
      got.push(s.step(c.metrics ? { metric: Number(c.metrics[t]) } : {}));
    }
    if (s instanceof OneCycleLR) moms.push(s.momentum!);
    const bad = mismatches(got, c.lrs);
    if (bad.length) console.error(`${name}: ${bad.length} mismatches\n${bad.slice(0, 8).join('\n')}`);
    expect(bad.slice(0, 8)).toEqual([]);
    if (c.momentum) {
      const badM = mismatches(moms, c.momentum);
      if (badM.length) console.error(`${name} momentum: ${badM.length} mismatches\n${badM.slice(0, 8).join('\n')}`);
      expect(badM.slice(0, 8)).toEqual([]);
    }
  });
});
