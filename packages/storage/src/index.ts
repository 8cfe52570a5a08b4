export type { CommitBatch, JobStore, JobUpdate, ListJobsPage, ListJobsQuery, StoreCapabilities } from "./job-store.js";
export {
  hasClaims,
  MAX_CLAIM_LIMIT,
  MAX_LEASE_MS,
  MAX_RENEW_BATCH,
  MIN_LEASE_MS,
  type ClaimedJob,
  type ClaimMethods,
  type ClaimRequest,
  type ClaimsJobStore,
  type Lease,
  type LeaseRef,
  type ReclaimReport,
  type ReclaimRequest,
  type RenewReport,
  type RenewRequest,
} from "./claims.js";
export { hasQueryJobs, MAX_QUERY_VALUES, type QueryJobsMethods, type QueryJobsQuery, type QueryJobStore } from "./query.js";
export {
  hasSchedules,
  MAX_SCHEDULE_NAME_LENGTH,
  type PutScheduleOutcome,
  type ScheduledJobSpec,
  type ScheduleDefinition,
  type ScheduleMethods,
  type ScheduleRecord,
  type SchedulesJobStore,
} from "./schedules.js";
export { MemoryJobStore, type MemoryJobStoreOptions } from "./memory-job-store.js";
export * from "./errors.js";
