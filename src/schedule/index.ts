/** Learning-rate schedules: see schedule.ts for the interface and what t counts, spec.ts for the CLI spec form. */
export { ScheduleError } from './check.js';
export {
  BaseSchedule,
  ClosedFormSchedule,
  configDiff,
  type Json,
  type Schedule,
  type ScheduleConfig,
  type ScheduleNeeds,
  type ScheduleState,
  type StepFeed,
  type StepUnit,
} from './schedule.js';
export { FixedLR, type FixedLROptions } from './constant.js';
export { StepLR, MultiStepLR, type StepLROptions, type MultiStepLROptions } from './step.js';
export { ExponentialLR, type ExponentialLROptions } from './exponential.js';
export { InverseTimeLR, type InverseTimeLROptions } from './inverse-time.js';
export { LinearLR, type LinearLROptions } from './linear.js';
export { PolynomialLR, type PolynomialLROptions } from './polynomial.js';
export {
  CosineAnnealingLR,
  CosineAnnealingWarmRestarts,
  type CosineAnnealingLROptions,
  type CosineAnnealingWarmRestartsOptions,
} from './cosine.js';
export { LinearWarmup, type LinearWarmupOptions } from './warmup.js';
export { OneCycleLR, type OneCycleLROptions, type AnnealStrategy } from './one-cycle.js';
export { ReduceLROnPlateau, type ReduceLROnPlateauOptions } from './plateau.js';
export {
  GradMagnitudeLR,
  gradMagnitudeLr,
  gradMagnitudeControl,
  type GradMagnitudeLROptions,
} from './grad-magnitude.js';
export { parseSpec, scheduleFromSpec, restoreSchedule, specHelp, type SpecOptions } from './spec.js';
