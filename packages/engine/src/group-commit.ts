import {
  ErrorCode,
  isPyrexisError,
  StaleVersionError,
  StoreFailureError,
  systemClock,
  type Clock,
  type Job,
  type Result,
} from "@pyrexis/models";
import type { CommitBatch, JobStore, JobUpdate } from "@pyrexis/storage";

/** Told when a change is durable (`resolve`) or will never be (`reject`). */
export interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** One caller's change: a submission's inserts, or one job's update (+ result). */
interface Unit {
  inserts?: Job[];
  /** The update's new record; its `JobUpdate` is built once, when the unit is written. */
  job?: Job;
  /** The version the first coalesced update expected. */
  expectedVersion?: number;
  result?: Result;
  /**
   * New jobs written in the same commit as this update (a dead-letter job with a failure). If
   * one of them exists already the update is written again without them: they never cost the
   * update its durability.
   */
  followUps?: Job[];
  /** Who waits for this unit: none, one (the usual case, no array), or several (coalesced). */
  waiters: Waiter | Waiter[] | undefined;
  /** Its callers were already answered (a submission that failed fast): never write it after. */
  answered?: boolean;
}

/** Errors that name a broken rule of the store contract: retrying the same batch cannot help. */
const CONTRACT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.DUPLICATE_JOB,
  ErrorCode.STALE_VERSION,
  ErrorCode.RESULT_EXISTS,
  ErrorCode.JOB_NOT_FOUND,
  ErrorCode.VALIDATION,
  ErrorCode.CORRUPT_RECORD,
  ErrorCode.UNKNOWN_DEPENDENCY,
  ErrorCode.DEPENDENCY_CYCLE,
]);

function isContractError(e: unknown): boolean {
  return isPyrexisError(e) && CONTRACT_CODES.has(e.code);
}

/** Options of {@link GroupCommitter}. */
export interface GroupCommitterOptions {
  /** Batch every change staged in one tick into one commit (default true). */
  group: boolean;
  /** Largest number of units per commit. */
  maxBatch: number;
  /** Told about every failed commit (it will be retried or its callers rejected). */
  onError(error: unknown, context: string): void;
  /**
   * Called when a unit could not be written because it breaks the contract (e.g. another engine
   * changed the job); `expectedVersion` is the version the update expected.
   */
  onRejected?(unit: { jobId?: string; expectedVersion?: number; error: unknown }): void;
  /** Timers of the retry backoff (default the system clock). */
  clock?: Pick<Clock, "setTimeout"> | undefined;
}

const RETRY_MIN_MS = 10;
const RETRY_MAX_MS = 1000;

/**
 * Group commit: changes staged during one tick are written in one `store.commit`. Updates of
 * one job staged before they were flushed coalesce into one (the first expected version, the
 * last record). Only one commit is in flight at a time, so a job's updates reach the store in
 * order. A commit that fails for a contract reason is split into its units so only the
 * offending callers are rejected; one that fails for any other reason (I/O, disk full) is
 * retried with backoff and never dropped.
 */
export class GroupCommitter {
  readonly #store: JobStore;
  readonly #options: GroupCommitterOptions;
  #insertUnits: Unit[] = [];
  #updateUnits = new Map<string, Unit>();
  /** Updates in staging order when grouping is off. */
  #serialUnits: Unit[] = [];
  #flushing: Promise<void> | undefined;
  #scheduled = false;
  #retryDelay = 0;
  /** Units in the commit being written now. */
  #writing = 0;
  /** Why nothing more is written (set by {@link abandon}). */
  #abandoned: { error: unknown } | undefined;
  /** Set while commits are failing for a non-contract reason (cleared by the next success). */
  #failure: { error: unknown } | undefined;
  #stopped = false;

  constructor(store: JobStore, options: GroupCommitterOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** Number of units waiting to be written. */
  get pendingCount(): number {
    return this.#insertUnits.length + this.#updateUnits.size + this.#serialUnits.length;
  }

  /** Units not yet durable: waiting, plus those in the commit being written. */
  get unsavedCount(): number {
    return this.pendingCount + this.#writing;
  }

  /** Stages new jobs; resolves when they are durable, rejects (e.g. DuplicateJobError) when not. */
  insert(jobs: Job[]): Promise<void> {
    if (this.#abandoned) return Promise.reject(this.#abandoned.error);
    // While the store is failing, submissions fail fast rather than queue behind the retries.
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    return new Promise((resolve, reject) => {
      this.#insertUnits.push({ inserts: jobs, waiters: { resolve, reject } });
      this.#schedule();
    });
  }

  /**
   * Stages an update of `job` whose previous record had version `previousVersion` (and a result,
   * for terminal moves). Coalesces with an update of the same job that is not yet flushed.
   * Returns a promise of durability; callers that do not need it may ignore it (failures are
   * reported through `onError`/`onRejected`).
   */
  update(job: Job, previousVersion: number, result?: Result, followUps?: Job[]): Promise<void> {
    if (this.#abandoned) return Promise.reject(this.#abandoned.error);
    return new Promise((resolve, reject) => this.#stage(job, previousVersion, result, { resolve, reject }, followUps));
  }

  /**
   * Like {@link update}, but tells `waiter` instead of returning a promise (no promise and no
   * closures per change on the engine's per-job path).
   */
  updateWith(job: Job, previousVersion: number, result: Result | undefined, waiter: Waiter, followUps?: Job[]): void {
    if (this.#abandoned) waiter.reject(this.#abandoned.error);
    else this.#stage(job, previousVersion, result, waiter, followUps);
  }

  /**
   * Like {@link update} for callers that do not wait for durability (no promise is allocated on
   * this hot path); a failure still reaches `onError`/`onRejected`.
   */
  stage(job: Job, previousVersion: number): void {
    this.#stage(job, previousVersion, undefined, undefined);
  }

  #stage(job: Job, previousVersion: number, result: Result | undefined, waiter: Waiter | undefined, followUps?: Job[]): void {
    if (this.#abandoned) {
      const { error } = this.#abandoned;
      if (waiter) waiter.reject(error);
      else this.#options.onError(error, `change of job ${job.id} not written: the committer has stopped`);
      return;
    }
    if (!this.#options.group) {
      // No grouping, no coalescing: every transition is its own commit, in order.
      this.#serialUnits.push(newUnit(job, previousVersion, result, waiter, followUps));
    } else {
      const pending = this.#updateUnits.get(job.id);
      if (pending?.job && (pending.result !== undefined || pending.job.version >= job.version)) {
        // A terminal record is already staged, or this change is older than the staged one:
        // never overwrite it (the engine does not produce this; a guard against lost results).
        const error = new StaleVersionError(job.id, previousVersion, pending.job.version);
        if (waiter) waiter.reject(error);
        else this.#options.onError(error, `change of job ${job.id} dropped: a newer one is staged`);
        return;
      }
      if (pending?.job) {
        // The first expected version stays; the record is the latest.
        pending.job = job;
        if (result) pending.result = result;
        if (followUps) pending.followUps = followUps;
        if (waiter) pending.waiters = addWaiter(pending.waiters, waiter);
      } else {
        this.#updateUnits.set(job.id, newUnit(job, previousVersion, result, waiter, followUps));
      }
    }
    this.#schedule();
  }

  /** Resolves once everything staged so far is durable (or its callers were rejected). */
  async flush(): Promise<void> {
    while ((this.pendingCount > 0 && !this.#abandoned) || this.#flushing) {
      if (!this.#flushing) this.#startFlush();
      await this.#flushing;
    }
  }

  /** Stops retrying failed commits; pending callers are rejected with `error`. */
  abandon(error: unknown): void {
    this.#abandoned ??= { error };
    this.#stopped = true;
    for (const unit of this.#takeUnits(Number.POSITIVE_INFINITY)) this.#answer(unit, false, error);
  }

  #schedule(): void {
    if (this.#scheduled || this.#flushing) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (!this.#flushing) this.#startFlush();
    });
  }

  #startFlush(): void {
    this.#flushing = this.#flushLoop().finally(() => {
      this.#flushing = undefined;
      if (this.pendingCount > 0 && !this.#stopped) this.#schedule();
    });
  }

  #takeUnits(max: number): Unit[] {
    const units: Unit[] = [];
    while (units.length < max && this.#insertUnits.length > 0) units.push(this.#insertUnits.shift() as Unit);
    while (units.length < max && this.#serialUnits.length > 0) units.push(this.#serialUnits.shift() as Unit);
    // values(), not entries(): no [key, value] array per unit on this per-commit path.
    const updates = this.#updateUnits;
    if (updates.size <= max - units.length) {
      for (const unit of updates.values()) units.push(unit);
      updates.clear();
    } else {
      for (const unit of updates.values()) {
        if (units.length >= max) break;
        units.push(unit);
        updates.delete((unit.job as Job).id);
      }
    }
    return units;
  }

  async #flushLoop(): Promise<void> {
    while (this.pendingCount > 0 && !this.#stopped) {
      const units = this.#takeUnits(this.#options.group ? this.#options.maxBatch : 1);
      const ok = await this.#commit(units);
      if (!ok && units.length > 1) {
        // The batch broke the contract: write each unit alone so only its own callers fail.
        for (const unit of units) if (!unit.answered) await this.#commit([unit]);
      }
      // Grouping: one batch per flush. The next one is scheduled (setImmediate) rather than
      // taken at once, so the jobs this commit released can finish in the meantime and their
      // start and end coalesce into one update.
      if (this.#options.group) return;
    }
  }

  /** Commits `units` as one batch; true when written. On a contract error of a single unit, rejects it. */
  async #commit(units: Unit[]): Promise<boolean> {
    this.#writing = units.length;
    try {
      return await this.#commitUntilDone(units);
    } finally {
      this.#writing = 0;
    }
  }

  async #commitUntilDone(units: Unit[]): Promise<boolean> {
    let batch = toBatch(units);
    for (;;) {
      let error: unknown;
      let written = false;
      try {
        await this.#store.commit(batch);
        written = true;
      } catch (thrown) {
        // A third-party store may throw uncoded errors: callers always get a typed one.
        error = isPyrexisError(thrown)
          ? thrown
          : new StoreFailureError(`store commit failed: ${thrown instanceof Error ? thrown.message : String(thrown)}`, { cause: thrown });
      }
      if (written) {
        this.#retryDelay = 0;
        this.#failure = undefined;
        // Outside the try: what a waiter does on success must never look like a failed commit.
        for (const unit of units) this.#answer(unit, true, undefined);
        return true;
      }
      if (isContractError(error)) {
        if (units.length > 1) return false;
        const unit = units[0] as Unit;
        if (unit.followUps !== undefined && isPyrexisError(error, ErrorCode.DUPLICATE_JOB)) {
          // A follow-up exists already (routed before): the update alone, never lost for it.
          this.#options.onError(error, `job ${unit.job?.id}: its follow-up job exists already; written without it`);
          unit.followUps = undefined;
          batch = toBatch(units);
          continue;
        }
        this.#answer(unit, false, error);
        const jobId = unit.job?.id;
        this.#options.onRejected?.(jobId === undefined ? { error } : { jobId, expectedVersion: unit.expectedVersion, error });
        return true;
      }
      // Submissions fail fast (nothing was written, the caller can retry); transitions of
      // running jobs must not be lost, so they are retried until the store takes them.
      if (units.some((u) => u.inserts)) {
        for (const unit of units) if (unit.inserts) this.#answer(unit, false, error);
        units = units.filter((u) => !u.inserts);
        if (units.length === 0) return true;
        batch = toBatch(units);
      }
      this.#failure = { error };
      this.#options.onError(error, "store commit failed; retrying");
      if (this.#stopped) {
        for (const unit of units) this.#answer(unit, false, error);
        return true;
      }
      this.#retryDelay = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryDelay * 2));
      const clock = this.#options.clock ?? systemClock;
      await new Promise<void>((r) => clock.setTimeout(r, this.#retryDelay));
      if (this.#stopped) {
        for (const unit of units) this.#answer(unit, false, error);
        return true;
      }
    }
  }

  /** Tells a unit's waiters (once); a waiter that throws is reported, the others still hear. */
  #answer(unit: Unit, ok: boolean, error: unknown): void {
    unit.answered = true;
    const w = unit.waiters;
    unit.waiters = undefined;
    if (w === undefined) return;
    if (Array.isArray(w)) for (const one of w) this.#tell(one, ok, error);
    else this.#tell(w, ok, error);
  }

  #tell(waiter: Waiter, ok: boolean, error: unknown): void {
    try {
      if (ok) waiter.resolve();
      else waiter.reject(error);
    } catch (thrown) {
      this.#options.onError(thrown, ok ? "a caller of a durable change threw" : "a caller of a failed change threw");
    }
  }
}

function newUnit(job: Job, expectedVersion: number, result: Result | undefined, waiter: Waiter | undefined, followUps?: Job[]): Unit {
  const unit: Unit = { job, expectedVersion, waiters: waiter };
  if (result) unit.result = result;
  if (followUps) unit.followUps = followUps;
  return unit;
}

function toBatch(units: readonly Unit[]): CommitBatch {
  const insert: Job[] = [];
  const update: JobUpdate[] = [];
  const results: Result[] = [];
  for (const u of units) {
    if (u.inserts) for (const j of u.inserts) insert.push(j);
    if (u.followUps) for (const j of u.followUps) insert.push(j);
    if (u.job) update.push({ job: u.job, expectedVersion: u.expectedVersion as number });
    if (u.result) results.push(u.result);
  }
  return { insert, update, results };
}

function addWaiter(waiters: Waiter | Waiter[] | undefined, waiter: Waiter): Waiter | Waiter[] {
  if (waiters === undefined) return waiter;
  if (Array.isArray(waiters)) {
    waiters.push(waiter);
    return waiters;
  }
  return [waiters, waiter];
}
