import type { Job, JobStatus, Result } from "@pyrexis/models";

/** One compare-and-set update: written only when the stored version equals `expectedVersion`. */
export interface JobUpdate {
  /** The new record. Its `version` must be greater than `expectedVersion`. */
  readonly job: Job;
  readonly expectedVersion: number;
}

/** What one atomic `commit` writes: all of it or none of it. */
export interface CommitBatch {
  /** New jobs; an id that exists (or repeats in the batch) rejects the batch with `DuplicateJobError`. */
  readonly insert?: readonly Job[] | undefined;
  /** Updates; a version mismatch or missing job rejects the batch with `StaleVersionError`. */
  readonly update?: readonly JobUpdate[] | undefined;
  /** Results (write-once); a second result for a job rejects the batch with `ResultExistsError`. */
  readonly results?: readonly Result[] | undefined;
}

/** Query of {@link JobStore.listJobs}. */
export interface ListJobsQuery {
  /** Only jobs in this status (or these statuses). */
  readonly status?: JobStatus | readonly JobStatus[] | undefined;
  /** Page size, 1–10000. Default 100. */
  readonly limit?: number | undefined;
  /** Opaque cursor from the previous page. */
  readonly cursor?: string | undefined;
  /** `"asc"` (oldest first, default) or `"desc"` (newest first), by `(createdAt, id)`. */
  readonly order?: "asc" | "desc" | undefined;
}

/** One page of {@link JobStore.listJobs}; `cursor` is absent on the last page. */
export interface ListJobsPage {
  readonly jobs: Job[];
  readonly cursor?: string | undefined;
}

/** Optional features a store declares; the conformance suite runs their tests only when declared. */
export interface StoreCapabilities {
  /** Data survives `close()` and reopening (the conformance factory can reopen). */
  readonly persistent?: boolean;
  /** Several store instances (or processes) may share the data safely. */
  readonly shared?: boolean;
}

/**
 * Where jobs and results live. Implement this to plug in your own store, and prove it with
 * `describeJobStore` from `@pyrexis/storage/conformance`.
 *
 * Stores receive validated domain objects and must not re-validate them on write; on read they
 * must report a record they cannot parse as `CorruptRecordError` naming the job.
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
  /** Atomically applies inserts, compare-and-set updates and write-once results. */
  commit(batch: CommitBatch): Promise<void>;
  getJob(id: string): Promise<Job | undefined>;
  getResult(jobId: string): Promise<Result | undefined>;
  /** Keyset-paginated listing in a stable `(createdAt, id)` order. */
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage>;
  /** Number of jobs in each status (every status present, 0 when none). */
  countByStatus(): Promise<Record<JobStatus, number>>;
  /** Releases resources; afterwards every operation rejects with `StoreClosedError`. Idempotent. */
  close(): Promise<void>;
}
