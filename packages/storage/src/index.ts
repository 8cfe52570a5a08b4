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
export {
  hasFlow,
  MAX_FLOW_SCAN,
  type FlowCharge,
  type FlowClaimOptions,
  type FlowClaimRequest,
  type FlowClaimResult,
  type FlowJobStore,
  type FlowLimit,
  type FlowMethods,
  type FlowRate,
} from "./flow.js";
export {
  errorCodeOf as errorCodeOfJob,
  hasQueryJobs,
  MAX_QUERY_VALUES,
  type QueryJobsMethods,
  type QueryJobsQuery,
  type QueryJobStore,
} from "./query.js";
export {
  hasPrune,
  MAX_PRUNE_KEEP,
  MAX_PRUNE_LIMIT,
  type FinishedStatus,
  type PruneJobStore,
  type PruneMethods,
  type PruneReport,
  type PruneRequest,
} from "./prune.js";
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
export { hasDependencies } from "./dependencies.js";
export * from "./errors.js";
export { assertSameWork, splitExisting, type ExistingSplit } from "./existing-jobs.js";
export { FALLBACK_MAX_CALLS, FALLBACK_SCAN_BUDGET, queryJobsPage, type JobsPage } from "./query-any-store.js";
export {
  MAX_CANCEL_TRIES,
  canCancel,
  canRedrive,
  cancelStoredJob,
  checkedRedriveSpec,
  redriveChain,
  redriveIdOf,
  redrivenFrom,
  redriveSpec,
  redriveStoredJob,
  type CancelOutcome,
  type CancelStoredOptions,
  type RedriveOutcome,
} from "./job-actions.js";
export {
  DEFAULT_REDRIVE,
  deadLetters,
  insertIfAbsent,
  insertJobsIfAbsent,
  MAX_REDRIVE,
  redriveMatching,
  redriveOne,
  type DeadLetterQuery,
  type RedriveFilter,
  type RedriveHost,
  type RedriveReport,
  type SubmitIfAbsent,
} from "./redrive.js";
