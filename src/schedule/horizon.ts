/**
 * Where a schedule stops meaning what its name says, so a caller can tell before a run outlasts it:
 *   cosine     past t = T_max the rate climbs back towards lr (torch's CosineAnnealingLR is not clamped);
 *   onecycle   past t = total_steps there is no rate at all (torch raises);
 *   warmup     the schedule it hands over to, shifted by the warm-up's total_iters.
 * Every other schedule holds or keeps decaying its rate for ever. Times count in the schedule's unit.
 */
import type { ScheduleConfig } from './schedule.js';

export interface Horizon {
  /** The last t at which the schedule still does what it is for. */
  t: number;
  /** What happens after it: the rate rises again, or the schedule ends. */
  after: 'rises' | 'ends';
  /** The schedule that sets the horizon ('cosine' or 'onecycle'). */
  name: string;
}

export function scheduleHorizon(config: ScheduleConfig): Horizon | null {
  switch (config.name) {
    case 'warmup': {
      const inner = scheduleHorizon(config.then as ScheduleConfig);
      return inner && { ...inner, t: inner.t + (config.total_iters as number) };
    }
    case 'cosine':
      return { t: config.T_max as number, after: 'rises', name: 'cosine' };
    case 'onecycle':
      return { t: config.total_steps as number, after: 'ends', name: 'onecycle' };
    default:
      return null;
  }
}
