import {
  IncompatibleStoreError,
  StoreClosedError,
  systemClock,
  type Clock,
  type Job,
  type JobLimit,
  type JobStatus,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import type { ClaimedJob, ClaimMethods, ClaimRequest, Lease, ReclaimReport, ReclaimRequest, RenewReport, RenewRequest } from "./claims.js";
import {
  checkClaimRequest,
  checkReclaimRequest,
  checkRenewRequest,
  claimedRecord,
  compareClaimOrder,
  DEFAULT_CLAIM_AGING_RATE,
  isClaimable,
  reclaimedRecord,
} from "./claims-kit.js";
import {
  assertKnownParents,
  endedParentsOf,
  linkInserted,
  orderDependentInserts,
  settleEnded,
  type SyncDependencyGraph,
} from "./dependencies.js";
import type { CommitBatch, JobStore, ListJobsPage, ListJobsQuery, StoreCapabilities } from "./job-store.js";
import type { FlowCharge, FlowClaimRequest, FlowClaimResult, FlowMethods } from "./flow.js";
import { addWaiting, checkFlowCharge, checkFlowClaimRequest, planFlowClaim } from "./flow-kit.js";
import { MemoryClaimIndex } from "./memory-claim-index.js";
import { MemoryFlowState } from "./memory-flow.js";
import { normalizePruneRequest, selectPrunable, type PruneMethods, type PruneReport, type PruneRequest } from "./prune.js";
import { MemorySchedules } from "./memory-schedules.js";
import type { PutScheduleOutcome, ScheduleMethods, ScheduleRecord } from "./schedules.js";
import { matchesJobsQuery, normalizeJobsQuery, type QueryJobsMethods, type QueryJobsQuery } from "./query.js";
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
  type NormalizedListQuery,
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
  /** The store's clock: what "due" and lease expiry are judged by. Default `systemClock`. */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Aging rate of the claim order (priority points per second waited). Default 0.1, the scheduler's. */
  readonly agingRate?: number | undefined;
  /** Randomness of the backoff jitter of reclaimed jobs. Default `Math.random`. */
  readonly random?: RandomSource | undefined;
  /**
   * Declare the `flow` capability: the engines sharing this instance share their limits,
   * concurrency keys and group shares through it (`claimFlow`). Off by default: a flow claim
   * scans the claimable jobs of its mode, and one engine on its own store keeps limits exactly
   * (and faster) in its own flow gate.
   */
  readonly flow?: boolean | undefined;
}

/** Not persistent; shared by the engines of one process, which claim from one instance. */
const CAPABILITIES: StoreCapabilities = Object.freeze({
  persistent: false,
  shared: true,
  claims: true,
  queryJobs: true,
  prune: true,
  schedules: true,
  dependencies: true,
});
const FLOW_CAPABILITIES: StoreCapabilities = Object.freeze({ ...CAPABILITIES, flow: true });

/**
 * A job and its result, kept together: one hash lookup finds both, an update or a result is a
 * field write, and the listing order holds these records directly. `version` and the
 * immutable fields (`createdAt`, `group`, `limits`) are what {@link checkCommit} compares.
 */
class StoredRecord {
  /** Set while the job is `running` under a claim. */
  lease: { owner: string; expiresAt: number } | undefined = undefined;
  constructor(
    public job: Job,
    public result: Result | undefined,
  ) {}
  get version(): number {
    return this.job.version;
  }
  get group(): string | undefined {
    return this.job.group;
  }
  get limits(): readonly JobLimit[] | undefined {
    return this.job.limits;
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
 * It has the `claims` capability: several engines of one process may share one instance, each
 * claiming jobs (a heap of claimable jobs per mode and handler, O(log n) per claimed job) under
 * leases judged by the store's clock.
 *
 * @example
 * ```ts
 * const store = new MemoryJobStore();
 * await store.commit({ insert: [job] });
 * const page = await store.listJobs({ status: "pending" });
 * await store.close();
 * ```
 */
export class MemoryJobStore implements JobStore, ClaimMethods, FlowMethods, QueryJobsMethods, PruneMethods, ScheduleMethods {
  /** Not persistent; shared (one instance, many engines of one process) through claims; `flow` when created with it. */
  readonly capabilities: StoreCapabilities;
  /** Limit and group state shared by this instance's engines (`flow: true`). */
  readonly #flow: MemoryFlowState | undefined;
  /**
   * With `flow: true`, the records in a claimable status (`pending`, `retrying`): what a flow
   * claim plans over, so its cost follows the backlog, not every job the store ever held.
   */
  readonly #waiting: Set<StoredRecord> | undefined;
  readonly #clone: boolean;
  readonly #clock: Pick<Clock, "now">;
  readonly #random: RandomSource;
  readonly #agingRate: number;
  readonly #claimable: MemoryClaimIndex<StoredRecord>;
  /** Records in status `running` (claimed or not): what renewals and reclaims look at. */
  readonly #running = new Set<StoredRecord>();
  /** Bumped by every write: {@link changeMark}. */
  #changes = 0;
  readonly #records = new Map<string, StoredRecord>();
  readonly #counts: Record<JobStatus, number> = emptyStatusCounts();
  /** Every record in `(createdAt, id)` order once `#sorted` is true (createdAt and id never change). */
  readonly #order: StoredRecord[] = [];
  #sorted = true;
  #closed = false;
  readonly #schedules = new MemorySchedules();
  /** Dependencies: parent → the dependents it has not released yet. */
  readonly #children = new Map<string, string[]>();
  /** Dependencies: a `waiting` job → how many of its parents have not finished. */
  readonly #parentsLeft = new Map<string, number>();
  #graphNow = 0;
  readonly #graph: SyncDependencyGraph = {
    job: (id) => this.#records.get(id)?.job,
    addEdge: (parentId, childId) => {
      const list = this.#children.get(parentId);
      if (list === undefined) this.#children.set(parentId, [childId]);
      else list.push(childId);
      this.#parentsLeft.set(childId, (this.#parentsLeft.get(childId) ?? 0) + 1);
    },
    takeChildren: (parentId) => {
      const list = this.#children.get(parentId);
      if (list === undefined) return [];
      this.#children.delete(parentId);
      for (const child of list) {
        const left = this.#parentsLeft.get(child);
        if (left !== undefined) this.#parentsLeft.set(child, left - 1);
      }
      return list;
    },
    hasParents: (childId) => (this.#parentsLeft.get(childId) ?? 0) > 0,
    dropParents: (childId) => void this.#parentsLeft.delete(childId),
    write: (job) => {
      const record = this.#records.get(job.id)!;
      this.#counts[record.job.status]--;
      this.#counts[job.status]++;
      record.job = deepFreeze(job);
      if (job.status !== "waiting") this.#parentsLeft.delete(job.id);
      this.#placed(record, this.#graphNow);
    },
    writeResult: (result) => {
      this.#records.get(result.jobId)!.result = deepFreeze(result);
    },
    isEmpty: () => this.#children.size === 0,
  };
  readonly #view: CommitView<StoredRecord> = {
    job: (id) => this.#records.get(id),
    hasResult: (jobId) => this.#records.get(jobId)?.result !== undefined,
    storedHasResult: (stored) => stored.result !== undefined,
  };

  /**
   * `ClaimMethods.claimAgingRate`: the aging rate claims are ordered by (the `agingRate` option).
   * A field, not a getter: it stays readable through a `Proxy` of the store.
   */
  readonly claimAgingRate: number;

  constructor(options: MemoryJobStoreOptions = {}) {
    const ownership = options.ownership ?? "freeze";
    if (ownership !== "freeze" && ownership !== "clone") {
      throw new TypeError(`MemoryJobStore: ownership must be "freeze" or "clone", got ${String(ownership)}`);
    }
    this.#clone = ownership === "clone";
    const agingRate = options.agingRate ?? DEFAULT_CLAIM_AGING_RATE;
    if (typeof agingRate !== "number" || !Number.isFinite(agingRate) || agingRate < 0) {
      throw new TypeError(`MemoryJobStore: agingRate must be a finite number >= 0, got ${String(agingRate)}`);
    }
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#agingRate = agingRate;
    this.claimAgingRate = agingRate;
    this.#claimable = new MemoryClaimIndex<StoredRecord>(agingRate);
    this.capabilities = options.flow === true ? FLOW_CAPABILITIES : CAPABILITIES;
    this.#flow =
      options.flow === true
        ? new MemoryFlowState((jobId, version) => {
            const job = this.#records.get(jobId)?.job;
            return job?.version === version && job.status === "running";
          })
        : undefined;
    this.#waiting = options.flow === true ? new Set() : undefined;
  }

  /** Number of jobs held (for tests and diagnostics). */
  get size(): number {
    return this.#records.size;
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#assertOpen();
    // Everything is checked before anything is written: that is what makes the batch atomic.
    const { batch: b, stored: updated, resultJobs } = checkCommit(batch, this.#view);
    const dependents = b.insert === undefined ? [] : orderDependentInserts(b.insert);
    if (dependents.length > 0) {
      const inserted = new Set(b.insert!.map((j) => j.id));
      assertKnownParents(dependents, (id) => inserted.has(id) || this.#records.has(id));
    }
    // Take ownership (freeze or clone) of every record first: structuredClone may throw on a
    // non-JSON value, and that must happen before the first write.
    const inserts = this.#ownAll(b.insert);
    const updates = b.update === undefined ? [] : this.#ownAll(b.update.map((u) => u.job));
    const results = this.#ownAll(b.results);
    const order = this.#order;
    const counts = this.#counts;
    const now = this.#clock.now();
    this.#changes++;
    for (let i = 0; i < inserts.length; i++) {
      const job = inserts[i] as Job;
      const record = new StoredRecord(job, undefined);
      this.#records.set(job.id, record);
      counts[job.status]++;
      this.#placed(record, now);
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
      this.#placed(record, now);
    }
    for (let i = 0; i < results.length; i++) {
      const result = results[i] as Result;
      // The job's record when it was updated in this batch (the engine writes a terminal record
      // and its result together); otherwise checkCommit found it stored or inserted above.
      const record = resultJobs[i] ?? this.#records.get(result.jobId)!;
      record.result = result;
    }
    this.#graphNow = now;
    if (dependents.length > 0) linkInserted(this.#graph, dependents, now);
    if (updates.length > 0 && !this.#graph.isEmpty()) settleEnded(this.#graph, endedParentsOf(updates), now);
  }

  /** Files a record by its new status: claimable, running (its lease ends when it leaves), or neither. */
  #placed(record: StoredRecord, now: number): void {
    const status = record.job.status;
    if (this.#waiting !== undefined) {
      if (status === "pending" || status === "retrying") this.#waiting.add(record);
      else this.#waiting.delete(record);
    }
    if (status === "running") {
      this.#running.add(record);
      return;
    }
    if (record.lease !== undefined || this.#running.has(record)) {
      record.lease = undefined;
      this.#running.delete(record);
    }
    if (status === "pending" || status === "retrying") this.#claimable.track(record, now);
  }

  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    this.#assertOpen();
    const { owner, limit, leaseMs, modes, handlers, ids } = checkClaimRequest(request);
    const now = this.#clock.now();
    const accept = (job: Job): boolean =>
      (handlers === undefined || handlers.includes(job.handler)) && (modes === undefined || modes.includes(job.mode));
    const records = ids === undefined ? this.#claimable.take(now, limit, modes, handlers) : this.#claimableById(ids, now, limit, accept);
    if (records.length === 0) return [];
    this.#changes++;
    const expiresAt = now + leaseMs;
    const out: ClaimedJob[] = new Array<ClaimedJob>(records.length);
    for (let i = 0; i < records.length; i++) out[i] = this.#take(records[i] as StoredRecord, owner, expiresAt, now);
    return out;
  }

  /** Writes a claimable record `running` under a lease (a claim's write, plain or flow). */
  #take(record: StoredRecord, owner: string, expiresAt: number, now: number): ClaimedJob {
    const previous = record.job;
    const job = deepFreeze(claimedRecord(previous, now));
    this.#counts[previous.status]--;
    this.#counts.running++;
    record.job = job;
    record.lease = { owner, expiresAt };
    this.#running.add(record);
    this.#waiting?.delete(record);
    return { job, lease: Object.freeze({ jobId: job.id, version: job.version, owner, expiresAt }) };
  }

  /** `FlowMethods.claimFlow` (with `flow: true`): per mode, the kit's plan over the due jobs, then the claimed records. */
  async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    this.#assertOpen();
    const flow = this.#flow;
    if (flow === undefined) throw new IncompatibleStoreError("claimFlow: this MemoryJobStore was created without flow: true");
    const checked = checkFlowClaimRequest(request);
    const { owner, leaseMs, modes, handlers, ids } = checked;
    const now = this.#clock.now();
    const idSet = ids === undefined ? undefined : new Set(ids);
    const byMode = new Map<string, Job[]>();
    // Insertion order of the set is not the claim order: the planner orders the candidates.
    for (const record of this.#waiting as Set<StoredRecord>) {
      const job = record.job;
      if (!isClaimable(job, now) || (idSet !== undefined && !idSet.has(job.id))) continue;
      if ((modes !== undefined && !modes.includes(job.mode)) || (handlers !== undefined && !handlers.includes(job.handler))) continue;
      let list = byMode.get(job.mode);
      if (list === undefined) byMode.set(job.mode, (list = []));
      list.push(job);
    }
    flow.retain(checked.limitMap, now);
    const claimed: ClaimedJob[] = [];
    let refused = 0;
    const waiting: Record<string, number> = {};
    let retryAt: number | undefined;
    const expiresAt = now + leaseMs;
    for (const [mode, candidates] of [...byMode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (claimed.length === checked.limit) break;
      const plan = planFlowClaim(flow.reader(mode, candidates, this.#agingRate, now), checked, checked.limit - claimed.length, now);
      refused += plan.refused;
      addWaiting(waiting, plan);
      if (plan.retryAt !== undefined) retryAt = Math.min(retryAt ?? Infinity, plan.retryAt);
      const versions: number[] = [];
      for (const { job } of plan.picks) {
        const taken = this.#take(this.#records.get(job.id) as StoredRecord, owner, expiresAt, now);
        versions.push(taken.job.version);
        claimed.push(taken);
      }
      flow.apply(mode, plan, versions, now);
    }
    if (claimed.length > 0) this.#changes++;
    return retryAt === undefined ? { claimed, refused, waiting } : { claimed, refused, waiting, retryAt };
  }

  /** `FlowMethods.chargeFlow` (with `flow: true`). */
  async chargeFlow(charge: FlowCharge): Promise<boolean> {
    this.#assertOpen();
    const flow = this.#flow;
    if (flow === undefined) throw new IncompatibleStoreError("chargeFlow: this MemoryJobStore was created without flow: true");
    const applied = flow.charge(checkFlowCharge(charge));
    if (applied) this.#changes++;
    return applied;
  }

  /** The claimable records among `ids`, in claim order (the claim index drops their entries later, as stale). */
  #claimableById(ids: readonly string[], now: number, limit: number, accept: (job: Job) => boolean): StoredRecord[] {
    const found: StoredRecord[] = [];
    for (const id of new Set(ids)) {
      const record = this.#records.get(id);
      if (record !== undefined && isClaimable(record.job, now) && accept(record.job)) found.push(record);
    }
    found.sort((a, b) => compareClaimOrder(a.job, b.job, this.#agingRate));
    return found.slice(0, limit);
  }

  async renewLeases(request: RenewRequest): Promise<RenewReport> {
    this.#assertOpen();
    const { owner, leaseMs, leases } = checkRenewRequest(request);
    const now = this.#clock.now();
    const renewed: Lease[] = [];
    const lost: string[] = [];
    const cancelled: string[] = [];
    for (const { jobId, version } of leases) {
      const record = this.#records.get(jobId);
      const job = record?.job;
      if (
        record !== undefined &&
        job !== undefined &&
        job.version === version &&
        job.status === "running" &&
        record.lease?.owner === owner
      ) {
        record.lease = { owner, expiresAt: now + leaseMs };
        renewed.push(Object.freeze({ jobId, version, owner, expiresAt: now + leaseMs }));
      } else if (job?.status === "cancelled") cancelled.push(jobId);
      else lost.push(jobId);
    }
    return { renewed, lost, cancelled };
  }

  async reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
    this.#assertOpen();
    const { limit, deadOwners } = checkReclaimRequest(request);
    const now = this.#clock.now();
    const dead = new Set(deadOwners ?? []);
    const expired: StoredRecord[] = [];
    for (const record of this.#running) {
      const lease = record.lease;
      if (lease === undefined || lease.expiresAt <= now || dead.has(lease.owner)) expired.push(record);
      if (expired.length === limit) break;
    }
    const retried: Job[] = [];
    const failed: Job[] = [];
    if (expired.length > 0) this.#changes++;
    for (const record of expired) {
      const { job, result } = reclaimedRecord(record.job, now, this.#random);
      deepFreeze(job);
      this.#counts.running--;
      this.#counts[job.status]++;
      record.job = job;
      if (result !== undefined) record.result = deepFreeze(result);
      this.#placed(record, now);
      (result === undefined ? retried : failed).push(job);
    }
    this.#graphNow = now;
    if (failed.length > 0) settleEnded(this.#graph, endedParentsOf(failed), now);
    return { retried, failed };
  }

  async leaseOwners(): Promise<string[]> {
    this.#assertOpen();
    const owners = new Set<string>();
    for (const record of this.#running) if (record.lease !== undefined) owners.add(record.lease.owner);
    return [...owners];
  }

  async changeMark(): Promise<number> {
    this.#assertOpen();
    return this.#changes;
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
    const q = normalizeListQuery(query);
    return this.#scan(q, q.statuses === undefined ? undefined : (job) => q.statuses!.has(job.status));
  }

  /** The `queryJobs` capability: the listing scan with every filter of {@link QueryJobsQuery}. */
  async queryJobs(query?: QueryJobsQuery): Promise<ListJobsPage> {
    this.#assertOpen();
    const q = normalizeJobsQuery(query);
    return this.#scan(q, (job) => matchesJobsQuery(job, q));
  }

  /**
   * The `prune` capability: deletes up to `limit` finished jobs (and their results) chosen by
   * `selectPrunable`. O(n log n) in the finished jobs per call (a scan and a sort): fine for the
   * reference store, whose engines prune a batch per interval.
   */
  async pruneFinished(request: PruneRequest): Promise<PruneReport> {
    this.#assertOpen();
    const q = normalizePruneRequest(request);
    const candidates = selectPrunable(
      (function* (records: Iterable<StoredRecord>) {
        for (const r of records) yield r.job;
      })(this.#records.values()),
      q,
    );
    const chosen = candidates.length > q.limit ? candidates.slice(0, q.limit) : candidates;
    if (chosen.length === 0) return { deleted: [], more: false };
    this.#changes++;
    const gone = new Set<StoredRecord>();
    for (const job of chosen) {
      const record = this.#records.get(job.id)!;
      gone.add(record);
      this.#records.delete(job.id);
      this.#counts[job.status]--;
    }
    // One compaction pass keeps the listing order (and so every cursor) intact for the survivors.
    let w = 0;
    for (const record of this.#order) if (!gone.has(record)) this.#order[w++] = record;
    this.#order.length = w;
    return { deleted: chosen.map((j) => j.id), more: candidates.length > q.limit };
  }

  #scan({ limit, order, after }: NormalizedListQuery, keep: ((job: Job) => boolean) | undefined): ListJobsPage {
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
      if (keep !== undefined && !keep(job)) continue;
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
    this.#running.clear();
    this.#waiting?.clear();
    this.#claimable.clear();
    this.#flow?.clear();
    this.#children.clear();
    this.#parentsLeft.clear();
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

  async putSchedule(record: ScheduleRecord): Promise<PutScheduleOutcome> {
    this.#assertOpen();
    return this.#schedules.put(record);
  }

  async getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    this.#assertOpen();
    return this.#schedules.get(name);
  }

  async listSchedules(): Promise<ScheduleRecord[]> {
    this.#assertOpen();
    return this.#schedules.list();
  }

  async deleteSchedule(name: string): Promise<boolean> {
    this.#assertOpen();
    return this.#schedules.delete(name);
  }

  async recordScheduleTick(name: string, tickAt: number): Promise<boolean> {
    this.#assertOpen();
    return this.#schedules.recordTick(name, tickAt);
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
