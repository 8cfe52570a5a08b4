// The claims capability of the SQLite store: the SQL that hands due jobs to one engine at a time
// (across processes on one file), renews and reclaims their leases. Each operation is one
// `BEGIN IMMEDIATE` transaction: SQLite's single write lock makes it exclusive, the busy
// timeout makes other writers (other processes) queue for it instead of failing. The records
// written are the store kit's (`claimedRecord`, `reclaimedRecord`), so this store and the
// in-memory reference write the same jobs.

import { CorruptRecordError, StoreFailureError, isPyrexisError, type Clock, type Job, type RandomSource } from "@pyrexis/models";
import type {
  ClaimedJob,
  ClaimRequest,
  FlowCharge,
  FlowClaimRequest,
  FlowClaimResult,
  Lease,
  ReclaimReport,
  ReclaimRequest,
  RenewReport,
  RenewRequest,
} from "@pyrexis/storage";
import {
  addWaiting,
  checkClaimRequest,
  checkFlowCharge,
  checkFlowClaimRequest,
  checkReclaimRequest,
  checkRenewRequest,
  claimedRecord,
  planFlowClaim,
  reclaimedRecord,
  type CheckedFlowClaim,
} from "@pyrexis/storage/kit";
import { SqliteFlow } from "./flow.js";
import { filterKey, filterSql, SCAN_COLUMNS, type ScanFilters, type ScanRow } from "./scan-row.js";
import type { SqliteDatabaseLike, SqliteStatementLike, SqliteTransactionLike } from "./sqlite-database-like.js";

// The status terms are literals, not parameters: SQLite uses a partial index only when the
// query's WHERE clause implies the index's, which it can prove for literals alone. The hot
// queries name their index (`INDEXED BY`): with `ANALYZE` statistics the planner may otherwise
// prefer a status index and sort (seen for the reclaim scan, with the (status, created_at, id)
// index that migration 0008 dropped), and a query that can no longer use its index then fails
// to prepare instead of silently scanning.
const CLAIMABLE = "status IN ('pending', 'retrying')";

/**
 * Due jobs of one mode in claim order, with the filters asked for. Named parameters: mode, now,
 * handlers and excluded (JSON arrays, when filtered by), limit. Uses index `jobs_claim`.
 */
export function claimScanSql(filters: ScanFilters): string {
  return (
    `SELECT ${SCAN_COLUMNS} FROM jobs INDEXED BY jobs_claim WHERE ${CLAIMABLE} AND mode = @mode AND run_at <= @now` +
    filterSql(filters) +
    " ORDER BY aging_key DESC, id LIMIT @limit"
  );
}

/**
 * Due jobs among named ids (`ClaimRequest.ids`), in claim order: one primary-key lookup per id,
 * then a sort of those few rows. Named parameters (each filter is optional): ids, now, modes,
 * handlers (JSON arrays or `NULL`), excluded ids, limit.
 */
export const CLAIM_BY_IDS_SQL: string =
  `SELECT ${SCAN_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(@ids)) AND ${CLAIMABLE} AND run_at <= @now` +
  ` AND (@modes IS NULL OR mode IN (SELECT value FROM json_each(@modes)))` +
  ` AND (@handlers IS NULL OR handler IN (SELECT value FROM json_each(@handlers)))` +
  ` AND id NOT IN (SELECT value FROM json_each(@excluded)) ORDER BY aging_key DESC, id LIMIT @limit`;

/**
 * The distinct modes of claimable jobs, for a claim of every mode: a skip scan of `jobs_claim`
 * (one index seek per mode) instead of reading every claimable row.
 */
export const CLAIMABLE_MODES_SQL: string =
  `WITH RECURSIVE m(mode) AS (` +
  `SELECT (SELECT min(mode) FROM jobs INDEXED BY jobs_claim WHERE ${CLAIMABLE})` +
  ` UNION ALL SELECT (SELECT min(mode) FROM jobs INDEXED BY jobs_claim WHERE ${CLAIMABLE} AND mode > m.mode) FROM m WHERE m.mode IS NOT NULL` +
  `) SELECT mode FROM m WHERE mode IS NOT NULL`;

/** Writes a claimed record and its lease. Parameters: version, data, owner, expires at, id, expected version. */
export const CLAIM_WRITE_SQL: string =
  "UPDATE jobs SET status = 'running', version = ?, data = ?, lease_owner = ?, lease_expires_at = ? WHERE id = ? AND version = ?";

/** Extends one lease the owner still holds. Parameters: expires at, id, version, owner. */
export const RENEW_SQL: string =
  "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND version = ? AND status = 'running' AND lease_owner = ?";

/**
 * Running jobs whose lease expired, that have none, or whose owner is named dead, expired first.
 * Parameters: now, dead owners (JSON array), excluded ids, limit. Uses index `jobs_lease`.
 */
export const RECLAIM_SCAN_SQL: string =
  "SELECT id, status, version, created_at, data FROM jobs INDEXED BY jobs_lease WHERE status = 'running'" +
  " AND (lease_expires_at IS NULL OR lease_expires_at <= ? OR lease_owner IN (SELECT value FROM json_each(?)))" +
  " AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY lease_expires_at LIMIT ?";

/**
 * Writes a reclaimed record (`retrying` or `failed`), ending the lease. Parameters: status, run
 * at, version, aging key, data, finished at (`NULL` unless failed), id, expected version.
 */
export const RECLAIM_WRITE_SQL: string =
  "UPDATE jobs SET status = ?, run_at = ?, version = ?, aging_key = ?, data = ?, finished_at = ?, lease_owner = NULL, lease_expires_at = NULL" +
  " WHERE id = ? AND version = ?";

/** Owners holding a lease now (expired or not). Uses index `jobs_lease`. */
export const LEASE_OWNERS_SQL: string =
  "SELECT DISTINCT lease_owner AS owner FROM jobs INDEXED BY jobs_lease WHERE status = 'running' AND lease_owner IS NOT NULL";

/** What the claims need from their store: its connection, its clock, how it reads and reports rows. */
export interface SqliteClaimsContext {
  /** The store's connection (migrated to `0003_claims` or later). */
  readonly db: SqliteDatabaseLike;
  /** For messages. */
  readonly location: string;
  /** What "due" and lease expiry are judged by. */
  readonly clock: Pick<Clock, "now">;
  /** Backoff jitter of reclaimed jobs. */
  readonly random: RandomSource;
  /** The store's `aging_key` of a record. */
  readonly agingKey: (job: Job) => number;
  /** Parses a row; throws `CorruptRecordError` when it cannot. */
  readonly readJob: (row: { id: string; status: string; version: number; created_at: number; data: unknown }) => Job;
  /** Reports a corrupt row (as `listJobs` does). */
  readonly reportCorrupt: (error: CorruptRecordError) => void;
  /** Carries jobs a reclaim failed to their dependents, inside the reclaim's transaction. */
  readonly settleFailed: (failed: readonly Job[], now: number) => void;
}

/** Ids of corrupt rows kept out of claims and reclaims, at most (oldest forgotten first, then found again). */
const MAX_EXCLUDED = 1000;

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Claim order of two scanned rows (the SQL's `ORDER BY aging_key DESC, id`), for merging modes. */
function compareRows(a: ScanRow, b: ScanRow): number {
  if (a.aging_key !== b.aging_key) return a.aging_key > b.aging_key ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * The claim, renewal and reclaim operations of a `SqliteJobStore`, on its connection. Statements
 * are prepared once; each operation runs as one immediate transaction, with its arguments
 * passed through fields so no closure is made per call.
 */
export class SqliteClaims {
  readonly #ctx: SqliteClaimsContext;
  /** The claim scan per filter set ({@link filterKey}), prepared when first needed. */
  readonly #scans: (SqliteStatementLike | undefined)[] = [];
  readonly #byIds: SqliteStatementLike;
  readonly #modes: SqliteStatementLike;
  readonly #write: SqliteStatementLike;
  readonly #renew: SqliteStatementLike;
  readonly #statusOf: SqliteStatementLike;
  readonly #reclaimScan: SqliteStatementLike;
  readonly #reclaimWrite: SqliteStatementLike;
  readonly #insertResult: SqliteStatementLike;
  readonly #owners: SqliteStatementLike;
  readonly #dataVersion: SqliteStatementLike;
  readonly #claimTx: SqliteTransactionLike;
  readonly #renewTx: SqliteTransactionLike;
  readonly #reclaimTx: SqliteTransactionLike;
  readonly #flow: SqliteFlow;
  readonly #flowTx: SqliteTransactionLike;
  #flowArgs: CheckedFlowClaim | undefined;
  #flowOut: FlowClaimResult | undefined;
  /** Corrupt rows found by a claim or reclaim: never scanned again by this instance (until rewritten). */
  readonly #excluded = new Set<string>();
  #excludedJson = "[]";
  /** Writes through this instance: `PRAGMA data_version` changes only for other connections' commits. */
  #writes = 0;
  #claimArgs: ClaimRequest | undefined;
  #claimOut: ClaimedJob[] = [];
  #renewArgs: RenewRequest | undefined;
  #renewOut: RenewReport | undefined;
  #reclaimArgs: ReclaimRequest | undefined;
  #reclaimOut: ReclaimReport | undefined;

  constructor(ctx: SqliteClaimsContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    this.#byIds = db.prepare(CLAIM_BY_IDS_SQL);
    this.#modes = db.prepare(CLAIMABLE_MODES_SQL);
    this.#write = db.prepare(CLAIM_WRITE_SQL);
    this.#renew = db.prepare(RENEW_SQL);
    this.#statusOf = db.prepare("SELECT status FROM jobs WHERE id = ?");
    this.#reclaimScan = db.prepare(RECLAIM_SCAN_SQL);
    this.#reclaimWrite = db.prepare(RECLAIM_WRITE_SQL);
    // A running job with a result already is odd but not worth a crash: the result stays.
    this.#insertResult = db.prepare("INSERT INTO results (job_id, data) VALUES (?, ?) ON CONFLICT (job_id) DO NOTHING");
    this.#owners = db.prepare(LEASE_OWNERS_SQL);
    this.#dataVersion = db.prepare("PRAGMA data_version");
    // The clock is read inside the transaction, once the write lock is held: time spent waiting
    // for another process's lock must not shorten the leases written or renewed.
    this.#claimTx = db.transaction(() => {
      this.#claimOut = this.#claimIn(this.#claimArgs!, ctx.clock.now());
    });
    this.#renewTx = db.transaction(() => {
      this.#renewOut = this.#renewIn(this.#renewArgs!, ctx.clock.now());
    });
    this.#reclaimTx = db.transaction(() => {
      this.#reclaimOut = this.#reclaimIn(this.#reclaimArgs!, ctx.clock.now());
    });
    this.#flow = new SqliteFlow(db);
    this.#flowTx = db.transaction(() => {
      this.#flowOut = this.#claimFlowIn(this.#flowArgs!, ctx.clock.now());
    });
  }

  /** Counts a write made through the store's `commit` (for {@link changeMark}). */
  noteWrite(): void {
    this.#writes++;
  }

  /** A committed update wrote `job` out of `running` (inside the commit's transaction): its flow slots come back. */
  leftRunning(job: Job): void {
    this.#flow.released(job);
  }

  /** A committed update rewrote these jobs: a corrupt row among them may be readable now. */
  rewritten(ids: Iterable<string>): void {
    if (this.#excluded.size === 0) return;
    let changed = false;
    for (const id of ids) changed = this.#excluded.delete(id) || changed;
    if (changed) this.#excludedJson = JSON.stringify([...this.#excluded]);
  }

  /** `ClaimMethods.claim`, synchronously: checks the request, then one immediate transaction. */
  claim(request: ClaimRequest): ClaimedJob[] {
    const checked = checkClaimRequest(request);
    this.#claimArgs = checked;
    try {
      this.#run("claim", this.#claimTx);
      return this.#claimOut;
    } finally {
      this.#claimArgs = undefined;
      this.#claimOut = [];
    }
  }

  /** `FlowMethods.claimFlow`: checks the request, then one immediate transaction (plan and writes). */
  claimFlow(request: FlowClaimRequest): FlowClaimResult {
    this.#flowArgs = checkFlowClaimRequest(request);
    try {
      this.#run("claimFlow", this.#flowTx);
      return this.#flowOut!;
    } finally {
      this.#flowArgs = undefined;
      this.#flowOut = undefined;
    }
  }

  /** `FlowMethods.chargeFlow`: the job's hold row, its claim's window entry and the key's sum, in one immediate transaction. */
  chargeFlow(charge: FlowCharge): boolean {
    const { jobId, version, key, units } = checkFlowCharge(charge);
    const applied = this.#guard("chargeFlow", () => this.#flow.charge(jobId, version, key, units));
    if (applied) this.#writes++;
    return applied;
  }

  /** `ClaimMethods.renewLeases`: the whole batch in one immediate transaction (none for an empty one). */
  renewLeases(request: RenewRequest): RenewReport {
    const checked = checkRenewRequest(request);
    if (checked.leases.length === 0) return { renewed: [], lost: [], cancelled: [] };
    this.#renewArgs = checked;
    try {
      this.#run("renewLeases", this.#renewTx);
      return this.#renewOut!;
    } finally {
      this.#renewArgs = undefined;
      this.#renewOut = undefined;
    }
  }

  /** `ClaimMethods.reclaimExpired`: records and results in one immediate transaction. */
  reclaimExpired(request: ReclaimRequest): ReclaimReport {
    const checked = checkReclaimRequest(request);
    this.#reclaimArgs = checked;
    try {
      this.#run("reclaimExpired", this.#reclaimTx);
      return this.#reclaimOut!;
    } finally {
      this.#reclaimArgs = undefined;
      this.#reclaimOut = undefined;
    }
  }

  /** `ClaimMethods.leaseOwners`: one read of the lease index, no transaction. */
  leaseOwners(): string[] {
    return this.#guard("leaseOwners", () => (this.#owners.all() as { owner: string }[]).map((r) => r.owner));
  }

  /** `PRAGMA data_version` (bumped by other connections' commits) and this instance's own writes. */
  changeMark(): string {
    return this.#guard("changeMark", () => {
      const row = this.#dataVersion.get() as { data_version: number };
      return `${row.data_version}.${this.#writes}`;
    });
  }

  #run(what: string, tx: SqliteTransactionLike): void {
    this.#guard(what, () => tx.immediate());
  }

  /** Runs `fn`; a raw driver error (e.g. `SQLITE_BUSY` after the busy timeout) becomes `StoreFailureError`. */
  #guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (isPyrexisError(e)) throw e;
      const code = (e as { code?: unknown } | null)?.code;
      const suffix = typeof code === "string" ? ` (${code})` : "";
      throw new StoreFailureError(`${what} on ${this.#ctx.location} failed${suffix}: ${describe(e)}`, { cause: e });
    }
  }

  #exclude(error: CorruptRecordError): void {
    this.#ctx.reportCorrupt(error);
    if (this.#excluded.size >= MAX_EXCLUDED) {
      const oldest = this.#excluded.values().next().value;
      if (oldest !== undefined) this.#excluded.delete(oldest);
    }
    this.#excluded.add(error.jobId);
    this.#excludedJson = JSON.stringify([...this.#excluded]);
  }

  /** Up to `want` due rows of the request, in claim order. */
  #scanRows(request: ClaimRequest, modes: () => readonly string[], handlersJson: string | undefined, now: number, want: number): ScanRow[] {
    if (request.ids !== undefined) {
      return this.#byIds.all({
        ids: JSON.stringify(request.ids),
        now,
        modes: request.modes === undefined ? null : JSON.stringify(request.modes),
        handlers: handlersJson ?? null,
        excluded: this.#excludedJson,
        limit: want,
      }) as ScanRow[];
    }
    return this.#scanModes(modes(), handlersJson, now, want);
  }

  /** Up to `want` due rows of the modes, merged in claim order. */
  #scanModes(modes: readonly string[], handlersJson: string | undefined, now: number, want: number): ScanRow[] {
    const rows: ScanRow[] = [];
    const filters = { handlers: handlersJson !== undefined, excluded: this.#excluded.size > 0 };
    const key = filterKey(filters);
    const scan = (this.#scans[key] ??= this.#ctx.db.prepare(claimScanSql(filters)));
    const params = { mode: "", now, handlers: handlersJson, excluded: this.#excludedJson, limit: want };
    for (const mode of modes) {
      params.mode = mode;
      const got = scan.all(params) as ScanRow[];
      for (const row of got) rows.push(row);
    }
    if (modes.length > 1) rows.sort(compareRows);
    return rows;
  }

  /** Parses a scanned row; its mode and handler columns must agree with the record too. */
  #readScanned(row: ScanRow): Job {
    const job = this.#ctx.readJob(row);
    if (job.mode !== row.mode || job.handler !== row.handler) {
      throw new CorruptRecordError(row.id, "record disagrees with its indexed columns (mode or handler)");
    }
    return job;
  }

  // Inside the immediate transaction.
  #claimIn(request: ClaimRequest, now: number): ClaimedJob[] {
    const { owner, limit, leaseMs } = request;
    let modeList: readonly string[] | undefined;
    // The modes to scan, found once per claim (and not at all for a claim by ids).
    const modes = (): readonly string[] =>
      (modeList ??=
        request.modes === undefined ? (this.#modes.all() as { mode: string }[]).map((r) => r.mode) : [...new Set(request.modes)]);
    const handlersJson = request.handlers === undefined ? undefined : JSON.stringify(request.handlers);
    const expiresAt = now + leaseMs;
    const out: ClaimedJob[] = [];
    // Claimed rows are a prefix of the claim order; a corrupt row (reported, then excluded)
    // may hide rows of its mode past the scanned ones, so the scan restarts after it.
    scanning: while (out.length < limit) {
      const rows = this.#scanRows(request, modes, handlersJson, now, limit - out.length);
      for (const row of rows) {
        if (out.length === limit) break;
        let job: Job;
        try {
          job = this.#readScanned(row);
        } catch (e) {
          if (!(e instanceof CorruptRecordError)) throw e;
          this.#exclude(e);
          continue scanning;
        }
        const next = claimedRecord(job, now);
        const changes = this.#write.run(next.version, JSON.stringify(next), owner, expiresAt, next.id, job.version).changes;
        // Impossible inside the write lock unless the connection is shared with another writer.
        if (Number(changes) !== 1) throw new StoreFailureError(`claim on ${this.#ctx.location}: job ${next.id} changed during the claim`);
        out.push({ job: next, lease: Object.freeze({ jobId: next.id, version: next.version, owner, expiresAt }) });
      }
      break;
    }
    if (out.length > 0) this.#writes++;
    return out;
  }

  // Inside the immediate transaction: per mode (in name order), the kit's plan over this file's
  // flow state, then the claimed records and the plan's admissions and tags.
  #claimFlowIn(request: CheckedFlowClaim, now: number): FlowClaimResult {
    const { owner, leaseMs } = request;
    const modes = request.modes === undefined ? (this.#modes.all() as { mode: string }[]).map((r) => r.mode) : [...new Set(request.modes)];
    modes.sort();
    const handlers = request.handlers === undefined ? null : JSON.stringify(request.handlers);
    const expiresAt = now + leaseMs;
    const claimed: ClaimedJob[] = [];
    let refused = 0;
    const waiting: Record<string, number> = {};
    let retryAt: number | undefined;
    const read = (row: ScanRow): Job | undefined => {
      try {
        return this.#readScanned(row);
      } catch (e) {
        if (!(e instanceof CorruptRecordError)) throw e;
        this.#exclude(e);
        return undefined;
      }
    };
    const weight = (group: string): number => request.weightMap.get(group) ?? 1;
    this.#flow.retain(request.limitMap);
    for (const mode of modes) {
      const want = request.limit - claimed.length;
      if (want === 0) break;
      const rows =
        request.ids === undefined
          ? undefined
          : (this.#byIds.all({
              ids: JSON.stringify(request.ids),
              now,
              modes: JSON.stringify([mode]),
              handlers,
              excluded: this.#excludedJson,
              limit: request.ids.length,
            }) as ScanRow[]);
      const reader = this.#flow.reader({ mode, now, want, weight, handlers, excluded: () => this.#excludedJson, rows, read });
      const plan = planFlowClaim(reader, request, want, now);
      refused += plan.refused;
      addWaiting(waiting, plan);
      if (plan.retryAt !== undefined) retryAt = Math.min(retryAt ?? Number.POSITIVE_INFINITY, plan.retryAt);
      const versions: number[] = [];
      for (const { job } of plan.picks) {
        const next = claimedRecord(job, now);
        const changes = this.#write.run(next.version, JSON.stringify(next), owner, expiresAt, next.id, job.version).changes;
        if (Number(changes) !== 1)
          throw new StoreFailureError(`claimFlow on ${this.#ctx.location}: job ${next.id} changed during the claim`);
        versions.push(next.version);
        claimed.push({ job: next, lease: Object.freeze({ jobId: next.id, version: next.version, owner, expiresAt }) });
      }
      this.#flow.apply(mode, plan, versions, now);
    }
    if (claimed.length > 0) this.#writes++;
    return retryAt === undefined ? { claimed, refused, waiting } : { claimed, refused, waiting, retryAt };
  }

  // Inside the immediate transaction.
  #renewIn(request: RenewRequest, now: number): RenewReport {
    const { owner, leaseMs, leases } = request;
    const expiresAt = now + leaseMs;
    const renewed: Lease[] = [];
    const lost: string[] = [];
    const cancelled: string[] = [];
    for (const { jobId, version } of leases) {
      if (Number(this.#renew.run(expiresAt, jobId, version, owner).changes) === 1) {
        renewed.push(Object.freeze({ jobId, version, owner, expiresAt }));
        continue;
      }
      const row = this.#statusOf.get(jobId) as { status: string } | undefined;
      (row?.status === "cancelled" ? cancelled : lost).push(jobId);
    }
    return { renewed, lost, cancelled };
  }

  // Inside the immediate transaction.
  #reclaimIn(request: ReclaimRequest, now: number): ReclaimReport {
    const deadJson = JSON.stringify(request.deadOwners ?? []);
    const retried: Job[] = [];
    const failed: Job[] = [];
    scanning: for (;;) {
      const want = request.limit - retried.length - failed.length;
      if (want === 0) break;
      const rows = this.#reclaimScan.all(now, deadJson, this.#excludedJson, want) as ScanRow[];
      for (const row of rows) {
        let job: Job;
        try {
          job = this.#ctx.readJob(row);
        } catch (e) {
          if (!(e instanceof CorruptRecordError)) throw e;
          this.#exclude(e);
          continue scanning;
        }
        const { job: next, result } = reclaimedRecord(job, now, this.#ctx.random);
        const changes = this.#reclaimWrite.run(
          next.status,
          next.runAt,
          next.version,
          this.#ctx.agingKey(next),
          JSON.stringify(next),
          next.status === "failed" ? next.updatedAt : null,
          next.id,
          job.version,
        ).changes;
        if (Number(changes) !== 1) {
          throw new StoreFailureError(`reclaimExpired on ${this.#ctx.location}: job ${next.id} changed during the reclaim`);
        }
        this.#flow.released(next);
        if (result === undefined) retried.push(next);
        else {
          this.#insertResult.run(result.jobId, JSON.stringify(result));
          failed.push(next);
        }
      }
      break;
    }
    if (failed.length > 0) this.#ctx.settleFailed(failed, now);
    if (retried.length + failed.length > 0) this.#writes++;
    return { retried, failed };
  }
}
