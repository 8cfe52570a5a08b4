import type { Job, JobStatus, Result } from "@pyrexis/models";
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- for {@link ClaimMethods}
import type { ClaimMethods } from "./claims.js";

/** One compare-and-set update: written only when the stored version equals `expectedVersion`. */
export interface JobUpdate {
  /**
   * The new record (it replaces the stored one whole). Its `version` must be greater than
   * `expectedVersion`; `id`, `createdAt`, `group` and `limits` must not change (limits compare by
   * key and units, in order): a change rejects the batch with `ValidationError`.
   */
  readonly job: Job;
  /** The version the caller read. A different stored version (or no job) rejects the batch with `StaleVersionError`. */
  readonly expectedVersion: number;
}

/**
 * What one atomic {@link JobStore.commit} writes: all of it or none of it.
 *
 * Applied in the order inserts → updates → results, and checked in the same order after the
 * argument checks; the first violation rejects the whole batch:
 *
 * | violation | error |
 * |---|---|
 * | batch not an object, a list not an array, a record without a string id, `job.version <= expectedVersion`, an id both inserted and updated, an id updated twice | `ValidationError` |
 * | insert id already stored, or repeated in `insert` | `DuplicateJobError` |
 * | update whose job is missing or whose stored version ≠ `expectedVersion` | `StaleVersionError` |
 * | update that changes the stored job's `createdAt`, `group` or `limits` | `ValidationError` |
 * | result for a job that already has one, or repeated in `results` | `ResultExistsError` |
 * | result for a job that is neither stored nor inserted in this batch | `JobNotFoundError` |
 */
export interface CommitBatch {
  /** New jobs; an id that exists (or repeats in the batch) rejects the batch with `DuplicateJobError`. */
  readonly insert?: readonly Job[] | undefined;
  /** Compare-and-set updates, at most one per job; a version mismatch or missing job rejects the batch with `StaleVersionError`. */
  readonly update?: readonly JobUpdate[] | undefined;
  /** Results (write-once); a second result for a job rejects the batch with `ResultExistsError`. */
  readonly results?: readonly Result[] | undefined;
}

/** Query of {@link JobStore.listJobs}. Any malformed field rejects with `ValidationError`. */
export interface ListJobsQuery {
  /** Only jobs in this status (or these statuses; a non-empty array of known statuses). */
  readonly status?: JobStatus | readonly JobStatus[] | undefined;
  /** Page size, an integer 1–10000. Default 100. */
  readonly limit?: number | undefined;
  /** Opaque cursor from the previous page of the same `order`; a malformed one rejects with `ValidationError`. */
  readonly cursor?: string | undefined;
  /** `"asc"` (oldest first, default) or `"desc"` (newest first), by `(createdAt, id)`. */
  readonly order?: "asc" | "desc" | undefined;
}

/** One page of {@link JobStore.listJobs}. */
export interface ListJobsPage {
  /** At most `limit` jobs, in order. */
  readonly jobs: Job[];
  /** Present exactly when more matching jobs follow; pass it back as `cursor` for the next page. */
  readonly cursor?: string | undefined;
}

/** Optional features a store declares; the conformance suite runs their tests only when declared. */
export interface StoreCapabilities {
  /** Data survives `close()` and reopening (the conformance factory must then provide `reopen`). */
  readonly persistent?: boolean;
  /** Several store instances (or processes) may share the data safely. */
  readonly shared?: boolean;
  /**
   * The store hands out jobs to many engines at a time through durable claims and fenced
   * leases: it implements {@link ClaimMethods} (see its rules). Engines on a store without it
   * run one per store.
   */
  readonly claims?: boolean;
  /**
   * Limits, concurrency keys and group shares hold across every engine on the store: their
   * state lives in it and changes inside the claim. Requires `claims`; the store implements
   * `FlowMethods` (`./flow.ts`, see its rules).
   */
  readonly flow?: boolean;
  /** The store filters listings by handler, mode, priority and creation time: it implements `QueryJobsMethods` (`./query.ts`). */
  readonly queryJobs?: boolean;
  /** The store deletes finished jobs and their results in bounded batches: it implements `PruneMethods` (`./prune.ts`, see its rules). */
  readonly prune?: boolean;
  /** The store keeps cron schedules and their last tick: it implements `ScheduleMethods` (`./schedules.ts`). */
  readonly schedules?: boolean;
  /**
   * The store runs jobs after the jobs they depend on (`Job.dependsOn`). It adds no methods: `commit` (and `reclaimExpired`, for a store with claims) do the work.
   * The conformance suite checks each rule.
   *
   * - **Insert**: a job whose `dependsOn` is non-empty must be inserted `waiting` (else
   *   `ValidationError`); `dependsOn` is an array of at most `MAX_DEPENDENCIES` distinct
   *   non-empty ids, not the job's own. Every parent must be stored already or inserted in the same
   *   batch (else `UnknownDependencyError`, nothing written); the batch's jobs must not depend on
   *   each other in a cycle (else `DependencyCycleError`, checked with the batch's shape). In the
   *   same commit the new job is resolved against its parents as they stand after the batch:
   *   every parent `completed` → the job is written `pending` at once; a parent `failed` or
   *   `cancelled` → the job ends (below); otherwise it stays `waiting`.
   * - **Release**: in the commit (or reclaim) that ends a parent `completed`, each of its
   *   `waiting` dependents whose parents have now all completed is written `pending`
   *   (`releasedDependent` in `./dependencies.ts`: `runAt` moved up to now, so its place in the claim order counts
   *   from when it could first run).
   * - **Failure policy**: in the write that ends a parent `failed` (or `cancelled`), each of its
   *   `waiting` dependents is written `failed` (or `cancelled`) with a result whose error is a
   *   `DependencyFailedError` naming the parent (`endedDependent`), and its own dependents
   *   follow in the same write, transitively. A `failed` parent wins over a `cancelled` one.
   * - Only `waiting` dependents are touched: one that another writer moved on (cancelled, say) is
   *   left as it is.
   */
  readonly dependencies?: boolean;
}

/**
 * Where jobs and results live. Implement this to plug in your own store, and prove it with
 * `describeJobStore` from `@pyrexis/storage/conformance`.
 *
 * Rules every store keeps (the conformance suite checks each):
 * - `commit` is atomic: see {@link CommitBatch} for the checks and their errors. Concurrent
 *   commits behave as if run one after another (one winner per conflict).
 * - Stores hand out copies or deeply frozen objects: mutating a returned job/result/page, or a
 *   record after passing it to `commit`, never changes stored data.
 * - Records round-trip exactly: every field deep-equal, an absent optional field stays absent.
 * - Stores receive validated domain objects and do not re-validate them on write; on read they
 *   report a record they cannot parse as `CorruptRecordError` naming the job.
 * - After `close()` every method rejects with `StoreClosedError` (checked before arguments).
 * - Invalid arguments reject with `ValidationError`.
 *
 * @example
 * ```ts
 * const store: JobStore = new MemoryJobStore();
 * await store.commit({ insert: [job] });
 * await store.commit({ update: [{ job: { ...job, status: "running", version: 1 }, expectedVersion: 0 }] });
 * const page = await store.listJobs({ status: "running", limit: 50 });
 * ```
 */
export interface JobStore {
  /** Optional features of this store. */
  readonly capabilities: StoreCapabilities;
  /** Atomically applies inserts, compare-and-set updates and write-once results (all or nothing). */
  commit(batch: CommitBatch): Promise<void>;
  /** The job with this id, or `undefined`. A non-string id rejects with `ValidationError`. */
  getJob(id: string): Promise<Job | undefined>;
  /** The result of this job, or `undefined`. A non-string id rejects with `ValidationError`. */
  getResult(jobId: string): Promise<Result | undefined>;
  /**
   * Keyset-paginated listing in a stable `(createdAt, id)` order (ids in code-unit order). Paging
   * through has no gaps or repeats even while other jobs are inserted or updated between pages,
   * for jobs that exist throughout and keep matching the filter.
   */
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage>;
  /** Number of jobs in each status (every status present, 0 when none). */
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** Releases resources; afterwards every operation rejects with `StoreClosedError`. Idempotent. */
  close(): Promise<void>;
}
