export type { Scheduler, SchedulerEntry } from "./scheduler.js";
export { PriorityScheduler, type PrioritySchedulerOptions } from "./priority-scheduler.js";
export { DEFAULT_AGING_RATE, agingKey, agingKeyMs, starvationBoundSeconds } from "./aging.js";
