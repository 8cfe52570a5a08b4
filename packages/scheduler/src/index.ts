export type { Scheduler, SchedulerEntry } from "./scheduler.js";
export { PriorityScheduler, type PrioritySchedulerOptions } from "./priority-scheduler.js";
export { DEFAULT_AGING_RATE, agingKey, agingKeyMs, starvationBoundSeconds } from "./aging.js";
export { FairScheduler, MAX_GROUP_WEIGHT, checkGroupWeights, type FairEntry, type FairSchedulerOptions } from "./fair-scheduler.js";
