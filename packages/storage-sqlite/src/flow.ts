// The flow state of the SQLite store (migrations 0009–0012): window entries (one per key and
// claim), holds (one per admission of a running job) and fair-queuing tags in the file, read and
// written inside the claim's immediate transaction, so every process on the file admits jobs
// against the same state. The decisions are the kit's planner; this file is the SQL it reads
// through (a `FlowReader`) and the writes of its plan.
import type { Job, JobLimit } from "@pyrexis/models";
import {
  storedLimitsReader,
  type CheckedFlowLimit,
  type FlowGroupTag,
  type FlowModeClock,
  type FlowPassedOver,
  type FlowPlan,
  type FlowReader,
  type FlowWindowEntry,
} from "@pyrexis/storage/kit";
import { filterKey, filterSql, SCAN_COLUMNS, type ScanFilters, type ScanRow } from "./scan-row.js";
import type { SqliteDatabaseLike, SqliteStatementLike, SqliteTransactionLike } from "./sqlite-database-like.js";

const CLAIMABLE = "status IN ('pending', 'retrying')";
/** Most candidates read per query of one group (fewer for a group's first read: each row carries its record). */
const CHUNK = 32;
/** Rows a group's first read takes beyond its share of the claim. */
const SHARE_SLACK = 2;
/** Most candidates of a limits-only read (`flowLimitsScanSql`); they start at {@link CHUNK} and double. */
const MAX_LIMITS_CHUNK = 512;

/**
 * Due candidates of one group (`@grp`; the jobs without a group when `grouped` is false) in claim
 * order, with the filters asked for, after the keyset position `@key`, `@id` when `after`. Named
 * parameters. Index `jobs_claim_group`.
 */
export function flowScanSql(grouped: boolean, filters: ScanFilters, after: boolean): string {
  return (
    `SELECT ${SCAN_COLUMNS} FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND mode = @mode` +
    (grouped ? " AND flow_group = @grp" : " AND flow_group IS NULL") +
    " AND run_at <= @now" +
    filterSql(filters) +
    (after ? " AND (aging_key < @key OR (aging_key = @key AND id > @id))" : "") +
    " ORDER BY aging_key DESC, id LIMIT @limit"
  );
}

/**
 * What {@link flowScanSql} finds, but only each candidate's keyset position and its limits (the
 * `flow_limits` column: JSON, `NULL` without any): read once the claim holds a limit, when most
 * candidates are refused and their records are never needed.
 */
export function flowLimitsScanSql(grouped: boolean, filters: ScanFilters, after: boolean): string {
  return flowScanSql(grouped, filters, after).replace(`SELECT ${SCAN_COLUMNS} `, "SELECT id, aging_key, flow_limits AS limits ");
}

/** A row of {@link flowLimitsScanSql}. */
interface LimitsRow {
  id: string;
  aging_key: number;
  limits: string | null;
}

/** The groups of a mode with claimable jobs: a skip scan of `jobs_claim_group` (one seek per group). */
export const FLOW_GROUPS_SQL: string =
  `WITH RECURSIVE g(grp) AS (` +
  `SELECT (SELECT min(flow_group) FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND flow_group IS NOT NULL AND mode = @mode)` +
  ` UNION ALL SELECT (SELECT min(flow_group) FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND flow_group IS NOT NULL` +
  ` AND mode = @mode AND flow_group > g.grp) FROM g WHERE g.grp IS NOT NULL` +
  `) SELECT grp FROM g WHERE grp IS NOT NULL`;

/** Whether a mode has claimable jobs without a group (due or not): one seek of `jobs_claim_group`. */
export const FLOW_HAS_UNGROUPED_SQL: string = `SELECT 1 AS one FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND mode = ? AND flow_group IS NULL LIMIT 1`;

/** Where one group's candidates come from. */
interface Cursor {
  /** Full rows, or limits-only rows when `limitsOnly`. */
  rows: (ScanRow | LimitsRow)[];
  limitsOnly: boolean;
  /** The size of the next limits-only read. */
  limitsChunk: number;
  at: number;
  done: boolean;
  /** The keyset position: the last row handed on. */
  last: { readonly aging_key: number; readonly id: string } | undefined;
}

/** One flow claim's reading of one mode: the candidate filters and how a row becomes a job. */
export interface FlowScope {
  readonly mode: string;
  readonly now: number;
  /** How many jobs the claim may take: a group's first read is about its share of them. */
  readonly want: number;
  /** A group's dispatch weight (the claim's `groupWeights`; 1 when not named), for its share of `want`. */
  readonly weight: (group: string) => number;
  /** `ClaimRequest.handlers` as a JSON array, or `null`. */
  readonly handlers: string | null;
  /** Ids of corrupt rows to skip, a JSON array. */
  readonly excluded: () => string;
  /** Given instead of scans for a claim by ids: the due rows of the mode among them. */
  readonly rows?: readonly ScanRow[] | undefined;
  /** Parses a row; `undefined` for a corrupt one (reported and excluded by the caller). */
  readonly read: (row: ScanRow) => Job | undefined;
}

/** The flow tables' statements, prepared once per connection. */
export class SqliteFlow {
  readonly #groups: SqliteStatementLike;
  readonly #db: SqliteDatabaseLike;
  /** Candidate scans by filter set, group, keyset position and width (see `#scan`), prepared when first needed. */
  readonly #scans: (SqliteStatementLike | undefined)[] = [];
  /** One candidate's full row, by id (after a limits-only read found one that may fit). */
  readonly #candidate: SqliteStatementLike;
  readonly #hasUngrouped: SqliteStatementLike;
  readonly #tags: SqliteStatementLike;
  readonly #clock: SqliteStatementLike;
  readonly #prunedUnits: SqliteStatementLike;
  readonly #pruneWindow: SqliteStatementLike;
  readonly #window: SqliteStatementLike;
  readonly #windowPart: SqliteStatementLike;
  readonly #retain: SqliteStatementLike;
  readonly #sum: SqliteStatementLike;
  readonly #addSum: SqliteStatementLike;
  readonly #admission: SqliteStatementLike;
  readonly #chargeHold: SqliteStatementLike;
  readonly #chargeWindow: SqliteStatementLike;
  readonly #chargeTx: SqliteTransactionLike;
  #chargeArgs: [jobId: string, version: number, key: string, units: number] | undefined;
  #charged = false;
  readonly #running: SqliteStatementLike;
  readonly #release: SqliteStatementLike;
  readonly #insertWindow: SqliteStatementLike;
  readonly #insertHold: SqliteStatementLike;
  readonly #upsertTag: SqliteStatementLike;
  readonly #upsertClock: SqliteStatementLike;

  constructor(db: SqliteDatabaseLike) {
    this.#groups = db.prepare(FLOW_GROUPS_SQL);
    this.#db = db;
    this.#hasUngrouped = db.prepare(FLOW_HAS_UNGROUPED_SQL);
    this.#candidate = db.prepare(`SELECT ${SCAN_COLUMNS} FROM jobs WHERE id = ?`);
    this.#tags = db.prepare("SELECT grp, finish, stamp FROM flow_groups WHERE mode = ? AND grp IN (SELECT value FROM json_each(?))");
    this.#clock = db.prepare("SELECT virtual, stamp FROM flow_modes WHERE mode = ?");
    // Pruning reads only the entries that just left the key's retention (a range of its primary key).
    this.#prunedUnits = db.prepare("SELECT coalesce(sum(units), 0) AS n FROM flow_window WHERE key = ? AND at <= ?");
    this.#pruneWindow = db.prepare("DELETE FROM flow_window WHERE key = ? AND at <= ?");
    this.#window = db.prepare("SELECT at, units FROM flow_window WHERE key = ? AND at > ? ORDER BY at");
    this.#windowPart = db.prepare("SELECT coalesce(sum(units), 0) AS n FROM flow_window WHERE key = ? AND at > ?");
    // Raises a key's retention, writing nothing when it is long enough already.
    this.#retain = db.prepare(
      "INSERT INTO flow_sums (key, units, keep_ms) VALUES (?, 0, ?) ON CONFLICT (key) DO UPDATE SET keep_ms = excluded.keep_ms" +
        " WHERE keep_ms < excluded.keep_ms",
    );
    this.#sum = db.prepare("SELECT units, keep_ms FROM flow_sums WHERE key = ?");
    this.#addSum = db.prepare(
      "INSERT INTO flow_sums (key, units) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET units = units + excluded.units",
    );
    // A job's rate admission, for its charges: the claim's time (its window entry) and its units.
    this.#admission = db.prepare("SELECT at, units FROM flow_holds WHERE key = ? AND job_id = ? AND version = ? AND units IS NOT NULL");
    this.#chargeHold = db.prepare("UPDATE flow_holds SET units = ? WHERE key = ? AND job_id = ?");
    this.#chargeWindow = db.prepare("UPDATE flow_window SET units = units + ? WHERE key = ? AND at = ?");
    // Every write that moves a job out of `running` deletes its holds (`release`), so the slot
    // holds of a key are exactly its running admitted jobs: counted from the key's range, no join.
    this.#running = db.prepare("SELECT count(*) AS n FROM flow_holds WHERE key = ? AND slot = 1");
    this.#release = db.prepare("DELETE FROM flow_holds WHERE key = ? AND job_id = ?");
    // One entry per key and claim time: claims in the same millisecond add to it.
    this.#insertWindow = db.prepare(
      "INSERT INTO flow_window (key, at, units) VALUES (?, ?, ?) ON CONFLICT (key, at) DO UPDATE SET units = units + excluded.units",
    );
    this.#insertHold = db.prepare("INSERT OR REPLACE INTO flow_holds (key, job_id, version, slot, at, units) VALUES (?, ?, ?, ?, ?, ?)");
    this.#upsertTag = db.prepare(
      "INSERT INTO flow_groups (mode, grp, finish, stamp) VALUES (?, ?, ?, ?)" +
        " ON CONFLICT (mode, grp) DO UPDATE SET finish = excluded.finish, stamp = excluded.stamp",
    );
    this.#upsertClock = db.prepare(
      "INSERT INTO flow_modes (mode, virtual, stamp) VALUES (?, ?, ?) ON CONFLICT (mode) DO UPDATE SET virtual = excluded.virtual, stamp = excluded.stamp",
    );
    // The difference goes into the claim's window entry and the key's sum; an entry the window
    // already dropped counts nowhere, so only the job's own units change then.
    this.#chargeTx = db.transaction(() => {
      const [jobId, version, key, units] = this.#chargeArgs!;
      const row = this.#admission.get(key, jobId, version) as { at: number; units: number } | undefined;
      this.#charged = row !== undefined;
      if (row === undefined) return;
      const delta = units - Number(row.units);
      if (delta === 0) return;
      this.#chargeHold.run(units, key, jobId);
      if (Number(this.#chargeWindow.run(delta, key, row.at).changes) > 0) this.#addSum.run(key, delta);
    });
  }

  /**
   * A claim counts every rate key it defines, whether or not a candidate uses one: each key's
   * retention grows to the claim's window (inside the claim's transaction, before any read).
   */
  retain(limits: ReadonlyMap<string, CheckedFlowLimit>): void {
    for (const [key, def] of limits) if (def.rate !== undefined) this.#retain.run(key, def.rate.perMs);
  }

  /** A reader for one mode of a flow claim (inside its transaction). */
  reader(scope: FlowScope): FlowReader {
    const cursors = new Map<string, Cursor>();
    let tags: Map<string, FlowGroupTag> | undefined;
    let names: string[] | undefined;
    const given = scope.rows === undefined ? undefined : this.#byGroup(scope);
    // A group's first read is its weighted share of the claim plus a little: a full chunk for
    // every group read about as many rows again as the claim took (each with its record), and
    // the next claim reads them again. A group that gets more than its share (others ran dry,
    // or its tag was behind) reads on in chunks.
    let totalWeight = 0;
    const firstChunk = (group: string): number => {
      if (totalWeight === 0) for (const name of names ?? [group]) totalWeight += scope.weight(name);
      return Math.max(1, Math.min(CHUNK, scope.want, Math.ceil((scope.want * scope.weight(group)) / totalWeight) + SHARE_SLACK));
    };
    // Once the claim holds a limit (`limitsOnly`), a group reads its candidates' limits only, in
    // growing chunks, and a candidate's record only when the planner's test does not refuse it.
    const limitsOf = storedLimitsReader();
    const fetch = (group: string, cursor: Cursor, limitsOnly: boolean): void => {
      const last = cursor.last;
      let limit = last === undefined ? firstChunk(group) : CHUNK;
      if (limitsOnly) {
        limit = cursor.limitsChunk;
        cursor.limitsChunk = Math.min(MAX_LIMITS_CHUNK, limit * 2);
      }
      cursor.limitsOnly = limitsOnly;
      const excluded = scope.excluded();
      const scan = this.#scan(
        group !== "",
        { handlers: scope.handlers !== null, excluded: excluded !== "[]" },
        last !== undefined,
        limitsOnly,
      );
      const params = {
        mode: scope.mode,
        grp: group,
        now: scope.now,
        handlers: scope.handlers,
        excluded,
        key: last?.aging_key ?? 0,
        id: last?.id ?? "",
        limit,
      };
      cursor.rows = scan.all(params) as ScanRow[] | LimitsRow[];
      cursor.at = 0;
      cursor.done = cursor.rows.length < limit;
    };
    const next = (group: string, refuses?: (limits: readonly JobLimit[]) => boolean): Job | FlowPassedOver | undefined => {
      if (given !== undefined) {
        const list = given.get(group);
        return list?.shift();
      }
      let cursor = cursors.get(group);
      if (cursor === undefined) {
        cursor = { rows: [], limitsOnly: false, limitsChunk: CHUNK, at: 0, done: false, last: undefined };
        cursors.set(group, cursor);
        fetch(group, cursor, refuses !== undefined);
      }
      for (;;) {
        if (cursor.at >= cursor.rows.length) {
          if (cursor.done) return undefined;
          fetch(group, cursor, refuses !== undefined);
          continue;
        }
        const at = cursor.rows[cursor.at++] as ScanRow | LimitsRow;
        cursor.last = at;
        let row: ScanRow | undefined;
        if (cursor.limitsOnly) {
          const limits = refuses === undefined ? undefined : limitsOf((at as LimitsRow).limits);
          if (limits !== undefined && refuses?.(limits) === true) return { passedOver: limits };
          row = this.#candidate.get(at.id) as ScanRow | undefined;
          if (row === undefined) continue; // cannot happen inside the claim's transaction
        } else row = at as ScanRow;
        const job = scope.read(row);
        if (job !== undefined) return job;
      }
    };
    return {
      groups: () => {
        names = given !== undefined ? [...given.keys()] : this.#groupNames(scope.mode);
        return names;
      },
      next,
      // One read of the tags of the claim's groups (the planner asks for each of them in turn).
      tag: (group) => {
        tags ??= new Map(
          (this.#tags.all(scope.mode, JSON.stringify(names ?? [group])) as { grp: string; finish: number; stamp: number }[]).map((r) => [
            r.grp,
            { finish: r.finish, stamp: r.stamp },
          ]),
        );
        return tags.get(group);
      },
      clock: () => (this.#clock.get(scope.mode) as FlowModeClock | undefined) ?? { virtual: 0, stamp: 0 },
      // The key's entries are kept for the longest window any claim counted (its retention, in
      // its sum row): older ones are dropped here, and a shorter window sums its own part.
      windowUnits: (key, since) => {
        const perMs = scope.now - since;
        const row = this.#sum.get(key) as { units: number; keep_ms: number } | undefined;
        let keep = Number(row?.keep_ms ?? 0);
        // `retain` raised it at the claim's start for every key the claim defines.
        if (perMs > keep) {
          keep = perMs;
          this.#retain.run(key, keep);
        }
        const cutoff = scope.now - keep;
        const pruned = Number((this.#prunedUnits.get(key, cutoff) as { n: number }).n);
        this.#pruneWindow.run(key, cutoff);
        if (pruned !== 0) this.#addSum.run(key, -pruned);
        if (keep === perMs) return Number(row?.units ?? 0) - pruned;
        return Number((this.#windowPart.get(key, since) as { n: number }).n);
      },
      windowEntries: (key, since) =>
        (this.#window.all(key, since) as { at: number; units: number }[]).map((r): FlowWindowEntry => [r.at, r.units]),
      running: (key) => Number((this.#running.get(key) as { n: number }).n),
    };
  }

  /**
   * Writes a plan's admissions and tags; `versions[i]` is the claimed version of `plan.picks[i]`.
   * Each admitted job gets a hold row per key (a slot, and its rate units for charges); the rate
   * units of the whole claim go into one window entry per key.
   */
  apply(mode: string, plan: FlowPlan, versions: readonly number[], now: number): void {
    const added = new Map<string, number>();
    plan.picks.forEach((pick, i) => {
      const version = versions[i] as number;
      for (const a of pick.admissions) {
        if (!a.rate && !a.slot) continue;
        if (a.rate) added.set(a.key, (added.get(a.key) ?? 0) + a.units);
        this.#insertHold.run(a.key, pick.job.id, version, a.slot ? 1 : 0, a.rate ? now : null, a.rate ? a.units : null);
      }
    });
    for (const [key, units] of added) {
      this.#insertWindow.run(key, now, units);
      this.#addSum.run(key, units);
    }
    for (const [group, tag] of plan.tags) this.#upsertTag.run(mode, group, tag.finish, tag.stamp);
    if (plan.picks.length > 0) this.#upsertClock.run(mode, plan.clock.virtual, plan.clock.stamp);
  }

  /**
   * A job left `running` (a committed update or a reclaim, inside that write's transaction): its
   * holds go (its slots come back; its window entries stay). Only jobs that name limits have any.
   */
  released(job: { readonly id: string; readonly limits?: readonly { readonly key: string }[] | undefined }): void {
    const limits = job.limits;
    if (limits === undefined) return;
    for (let i = 0; i < limits.length; i++) this.#release.run((limits[i] as { key: string }).key, job.id);
  }

  /**
   * Sets a running job's units of a rate admission (moving its claim's window entry and the key's
   * sum by the difference), in one immediate transaction; false when the job holds no such
   * admission (another version or key, or it has left `running`).
   */
  charge(jobId: string, version: number, key: string, units: number): boolean {
    this.#chargeArgs = [jobId, version, key, units];
    try {
      this.#chargeTx.immediate();
      return this.#charged;
    } finally {
      this.#chargeArgs = undefined;
    }
  }

  #scan(grouped: boolean, filters: ScanFilters, after: boolean, limitsOnly: boolean): SqliteStatementLike {
    const slot = filterKey(filters) * 8 + (limitsOnly ? 4 : 0) + (grouped ? 2 : 0) + (after ? 1 : 0);
    return (this.#scans[slot] ??= this.#db.prepare((limitsOnly ? flowLimitsScanSql : flowScanSql)(grouped, filters, after)));
  }

  #groupNames(mode: string): string[] {
    const names = (this.#groups.all({ mode }) as { grp: string }[]).map((r) => r.grp);
    if (this.#hasUngrouped.get(mode) !== undefined) names.push(""); // jobs without a group
    return names;
  }

  #byGroup(scope: FlowScope): Map<string, Job[]> {
    const out = new Map<string, Job[]>();
    for (const row of scope.rows ?? []) {
      const job = scope.read(row);
      if (job === undefined) continue;
      const g = job.group ?? "";
      let list = out.get(g);
      if (list === undefined) out.set(g, (list = []));
      list.push(job);
    }
    return out;
  }
}
