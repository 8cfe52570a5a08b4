export type { CommitBatch, JobStore, JobUpdate, ListJobsPage, ListJobsQuery, StoreCapabilities } from "./job-store.js";
export { MemoryJobStore, type MemoryJobStoreOptions } from "./memory-job-store.js";
export * from "./errors.js";
export {
  assertJobId,
  checkCommit,
  checkCommitShape,
  compareListPosition,
  decodeListCursor,
  deepFreeze,
  DEFAULT_LIST_LIMIT,
  emptyStatusCounts,
  encodeListCursor,
  MAX_LIST_LIMIT,
  MIN_LIST_LIMIT,
  normalizeListQuery,
  type CommitView,
  type ListPosition,
  type NormalizedListQuery,
  type StoredJobInfo,
} from "./store-kit.js";
