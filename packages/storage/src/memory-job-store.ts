import { StoreClosedError, type Job, type JobStatus, type Result } from "@pyrexis/models";
import type { CommitBatch, JobStore, ListJobsPage, ListJobsQuery, StoreCapabilities } from "./job-store.js";
import {
  assertJobId,
  checkCommit,
  compareListPosition,
  deepFreeze,
  emptyStatusCounts,
  encodeListCursor,
  normalizeListQuery,
  type CommitView,
  type ListPosition,
} from "./store-kit.js";

/** Options of {@link MemoryJobStore}. */
export interface MemoryJobStoreOptions {
  /**
   * How the store protects its data from callers.
   *
   * - `"freeze"` (default): the store takes ownership of every job and result passed to
   *   `commit` and deep-freezes it in place; callers must not mutate them afterwards (an attempt
   *   throws in strict mode). No copy is made, which is what the engine's hot path wants: it
   *   builds a fresh object per transition and never touches it again.
   * - `"clone"`: `commit` stores a `structuredClone` (then frozen), so the caller's objects stay
   *   theirs and mutable. Costs one deep copy per record.
   *
   * Either way, everything the store returns is deeply frozen, so it is safe to share.
   */
  readonly ownership?: "freeze" | "clone" | undefined;
}

const CAPABILITIES: StoreCapabilities = Object.freeze({ persistent: false, shared: false });

/**
 * A job and its result, kept together: one hash lookup finds both, an update or a result is a
 * field write, and the listing order holds these records directly. `version` and `createdAt`
 * are what {@link checkCommit} compares.
 */
class StoredRecord {
  constructor(
    public job: Job,
    public result: Result | undefined,
  ) {}
  get version(): number {
    return this.job.version;
  }
  get createdAt(): number {
    return this.job.createdAt;
  }
  get id(): string {
    return this.job.id;
  }
}

/**
 * The reference {@link JobStore}: everything in memory, nothing survives the process. Fast enough
 * for the engine's hot path (one Map lookup per job per commit, O(1) counts, listing by binary
 * search over an array kept in `(createdAt, id)` order — appends when jobs arrive in order, one
 * lazy sort otherwise).
 *
 * Returned jobs and results are deeply frozen and shared, not copied. See
 * {@link MemoryJobStoreOptions.ownership} for what happens to objects passed to `commit`.
 *
 * @example
 * ```ts
 * const store = new MemoryJobStore();
 * await store.commit({ insert: [job] });
 * const page = await store.listJobs({ status: "pending" });
 * await store.close();
 * ```
 */
export class MemoryJobStore implements JobStore {
  /** Neither persistent nor shared. */
  readonly capabilities: StoreCapabilities = CAPABILITIES;
  readonly #clone: boolean;
  readonly #records = new Map<string, StoredRecord>();
  readonly #counts: Record<JobStatus, number> = emptyStatusCounts();
  /** Every record in `(createdAt, id)` order once `#sorted` is true (createdAt and id never change). */
  readonly #order: StoredRecord[] = [];
  #sorted = true;
  #closed = false;
  readonly #view: CommitView<StoredRecord> = {
    job: (id) => this.#records.get(id),
    hasResult: (jobId) => this.#records.get(jobId)?.result !== undefined,
    storedHasResult: (stored) => stored.result !== undefined,
  };

  constructor(options: MemoryJobStoreOptions = {}) {
    const ownership = options.ownership ?? "freeze";
    if (ownership !== "freeze" && ownership !== "clone") {
      throw new TypeError(`MemoryJobStore: ownership must be "freeze" or "clone", got ${String(ownership)}`);
    }
    this.#clone = ownership === "clone";
  }

  /** Number of jobs held (for tests and diagnostics). */
  get size(): number {
    return this.#records.size;
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#assertOpen();
    // Everything is checked before anything is written: that is what makes the batch atomic.
    const updated: StoredRecord[] = [];
    const resultJobs: (StoredRecord | undefined)[] = [];
    const b = checkCommit(batch, this.#view, updated, resultJobs);
    // Take ownership (freeze or clone) of every record first: structuredClone may throw on a
    // non-JSON value, and that must happen before the first write.
    const inserts = this.#ownAll(b.insert);
    const updates = b.update === undefined ? [] : this.#ownAll(b.update.map((u) => u.job));
    const results = this.#ownAll(b.results);
    const order = this.#order;
    const counts = this.#counts;
    for (let i = 0; i < inserts.length; i++) {
      const job = inserts[i] as Job;
      const record = new StoredRecord(job, undefined);
      this.#records.set(job.id, record);
      counts[job.status]++;
      const last = order[order.length - 1];
      if (this.#sorted && last !== undefined && compareListPosition(last, record) > 0) this.#sorted = false;
      order.push(record);
    }
    for (let i = 0; i < updates.length; i++) {
      const job = updates[i] as Job;
      const record = updated[i] as StoredRecord;
      counts[record.job.status]--;
      counts[job.status]++;
      record.job = job;
    }
    for (let i = 0; i < results.length; i++) {
      const result = results[i] as Result;
      // The job's record when it was updated in this batch (the engine writes a terminal record
      // and its result together); otherwise checkCommit found it stored or inserted above.
      const record = resultJobs[i] ?? this.#records.get(result.jobId)!;
      record.result = result;
    }
  }

  async getJob(id: string): Promise<Job | undefined> {
    this.#assertOpen();
    assertJobId(id);
    return this.#records.get(id)?.job;
  }

  async getResult(jobId: string): Promise<Result | undefined> {
    this.#assertOpen();
    assertJobId(jobId);
    return this.#records.get(jobId)?.result;
  }

  async listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    this.#assertOpen();
    const { statuses, limit, order, after } = normalizeListQuery(query);
    if (!this.#sorted) {
      this.#order.sort(compareListPosition);
      this.#sorted = true;
    }
    const records = this.#order;
    const asc = order === "asc";
    // First index strictly after the cursor, in the direction of travel.
    let i: number;
    if (after === undefined) i = asc ? 0 : records.length - 1;
    else {
      const upper = upperBound(records, after); // first index with position > after
      i = asc ? upper : lowerBound(records, after) - 1;
    }
    const step = asc ? 1 : -1;
    const jobs: Job[] = [];
    let more = false;
    for (; i >= 0 && i < records.length; i += step) {
      const job = (records[i] as StoredRecord).job;
      if (statuses !== undefined && !statuses.has(job.status)) continue;
      if (jobs.length === limit) {
        more = true;
        break;
      }
      jobs.push(job);
    }
    const last = jobs[jobs.length - 1];
    return more && last !== undefined ? { jobs, cursor: encodeListCursor(last, order) } : { jobs };
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.#assertOpen();
    return { ...this.#counts };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Drop the data so a closed store does not keep memory alive through stray references.
    this.#records.clear();
    this.#order.length = 0;
  }

  /** Takes ownership (freeze, or clone then freeze) of every record; the first non-JSON value throws. */
  #ownAll<T>(values: readonly T[] | undefined): readonly T[] {
    if (values === undefined) return [];
    if (!this.#clone) {
      for (let i = 0; i < values.length; i++) deepFreeze(values[i]);
      return values;
    }
    return values.map((value) => deepFreeze(structuredClone(value)));
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError("MemoryJobStore is closed");
  }
}

/** First index whose position is >= `p`. */
function lowerBound(a: readonly ListPosition[], p: ListPosition): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareListPosition(a[mid]!, p) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index whose position is > `p`. */
function upperBound(a: readonly ListPosition[], p: ListPosition): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareListPosition(a[mid]!, p) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
