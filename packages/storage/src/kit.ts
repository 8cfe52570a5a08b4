/**
 * Helpers for store authors (`@pyrexis/storage/kit`): the checks and records every store must
 * produce alike, so a store gives exactly the errors and records the contract (and the
 * conformance suite) expects and writes only its own storage code.
 *
 * @packageDocumentation
 */
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
  immutableChange,
  immutableFieldsOfRow,
  MAX_LIST_LIMIT,
  MIN_LIST_LIMIT,
  normalizeListQuery,
  type CheckedCommit,
  type CommitView,
  type ImmutableJobFields,
  type ListPosition,
  type NormalizedListQuery,
  type StoredJobInfo,
} from "./store-kit.js";
export {
  checkClaimRequest,
  checkReclaimRequest,
  checkRenewRequest,
  claimedRecord,
  claimKey,
  compareClaimOrder,
  DEFAULT_CLAIM_AGING_RATE,
  isClaimable,
  reclaimedRecord,
  releasedRecord,
  type Reclaimed,
} from "./claims-kit.js";
export {
  addCount,
  addWaiting,
  checkFlowCharge,
  checkFlowClaimRequest,
  MAX_FLOW_CONCURRENCY,
  MAX_FLOW_WEIGHT,
  MAX_FLOW_WINDOW_MS,
  planFlowClaim,
  rateFitsAt,
  storedLimits,
  storedLimitsReader,
  storedLimitsText,
  type CheckedFlowClaim,
  type CheckedFlowLimit,
  type FlowAdmission,
  type FlowGroupTag,
  type FlowModeClock,
  type FlowPassedOver,
  type FlowPick,
  type FlowPlan,
  type FlowReader,
  type FlowWindowEntry,
} from "./flow-kit.js";
export { matchesJobsQuery, normalizeJobsQuery, type NormalizedJobsQuery } from "./query.js";
export { compareFinishOrder, isFinishedStatus, normalizePruneRequest, selectPrunable, type NormalizedPruneRequest } from "./prune.js";
export {
  assertSameSchedule,
  assertScheduleName,
  assertTickTime,
  checkScheduleRecord,
  readScheduleRow,
  scheduleConflicts,
  scheduleDefinitionJson,
  type ScheduleRow,
} from "./schedules.js";
export {
  assertKnownParents,
  endedDependent,
  endedParentsOf,
  insertedStanding,
  linkInserted,
  orderDependentInserts,
  releasedDependent,
  settleEnded,
  type EndedParent,
  type InsertedStanding,
  type SyncDependencyGraph,
} from "./dependencies.js";
