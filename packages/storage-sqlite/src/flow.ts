// The flow state of the SQLite store (migration 0009): window entries, holds and fair-queuing
// tags in the file, read and written inside the claim's immediate transaction, so every process
// on the file admits jobs against the same state. The decisions are the kit's planner; this file
// is the SQL it reads through (a `FlowReader`) and the writes of its plan.
import type { Job } from "@pyrexis/models";
import type { FlowGroupTag, FlowModeClock, FlowPlan, FlowReader, FlowWindowEntry } from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

const CLAIMABLE = "status IN ('pending', 'retrying')";
const SCAN_COLUMNS = "id, status, version, created_at, aging_key, mode, handler, data";
/** Candidates read per query of one group: most claims take a few jobs of each group. */
const CHUNK = 32;

/** Due candidates of one group after a keyset position, in claim order. Named parameters. */
const CONTINUE = "(@first = 1 OR aging_key < @key OR (aging_key = @key AND id > @id))";
const FILTERS =
  "run_at <= @now AND (@handlers IS NULL OR handler IN (SELECT value FROM json_each(@handlers)))" +
  " AND id NOT IN (SELECT value FROM json_each(@excluded))";

/** Grouped candidates: index `jobs_claim_group`. */
export const FLOW_GROUP_SCAN_SQL: string =
  `SELECT ${SCAN_COLUMNS} FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND flow_group IS NOT NULL` +
  ` AND mode = @mode AND flow_group = @grp AND ${FILTERS} AND ${CONTINUE} ORDER BY aging_key DESC, id LIMIT @limit`;

/** Candidates without a group: index `jobs_claim`, past the grouped rows of the mode. */
export const FLOW_UNGROUPED_SCAN_SQL: string =
  `SELECT ${SCAN_COLUMNS} FROM jobs INDEXED BY jobs_claim WHERE ${CLAIMABLE} AND mode = @mode AND flow_group IS NULL` +
  ` AND ${FILTERS} AND ${CONTINUE} ORDER BY aging_key DESC, id LIMIT @limit`;

/** The groups of a mode with claimable jobs: a skip scan of `jobs_claim_group` (one seek per group). */
export const FLOW_GROUPS_SQL: string =
  `WITH RECURSIVE g(grp) AS (` +
  `SELECT (SELECT min(flow_group) FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND flow_group IS NOT NULL AND mode = @mode)` +
  ` UNION ALL SELECT (SELECT min(flow_group) FROM jobs INDEXED BY jobs_claim_group WHERE ${CLAIMABLE} AND flow_group IS NOT NULL` +
  ` AND mode = @mode AND flow_group > g.grp) FROM g WHERE g.grp IS NOT NULL` +
  `) SELECT grp FROM g WHERE grp IS NOT NULL`;

/** A row the candidate scans read (as the claim scan's). */
export interface FlowScanRow {
  id: string;
  status: string;
  version: number;
  created_at: number;
  aging_key: number;
  mode: unknown;
  handler: unknown;
  data: unknown;
}

/** Where one group's candidates come from. */
interface Cursor {
  rows: FlowScanRow[];
  at: number;
  done: boolean;
  last: FlowScanRow | undefined;
}

/** One flow claim's reading of one mode: the candidate filters and how a row becomes a job. */
export interface FlowScope {
  readonly mode: string;
  readonly now: number;
  /** `ClaimRequest.handlers` as a JSON array, or `null`. */
  readonly handlers: string | null;
  /** Ids of corrupt rows to skip, a JSON array. */
  readonly excluded: () => string;
  /** Given instead of scans for a claim by ids: the due rows of the mode among them. */
  readonly rows?: readonly FlowScanRow[] | undefined;
  /** Parses a row; `undefined` for a corrupt one (reported and excluded by the caller). */
  readonly read: (row: FlowScanRow) => Job | undefined;
}

/** The flow tables' statements, prepared once per connection. */
export class SqliteFlow {
  readonly #groups: SqliteStatementLike;
  readonly #groupScan: SqliteStatementLike;
  readonly #ungroupedScan: SqliteStatementLike;
  readonly #tag: SqliteStatementLike;
  readonly #clock: SqliteStatementLike;
  readonly #pruneWindow: SqliteStatementLike;
  readonly #window: SqliteStatementLike;
  readonly #pruneHolds: SqliteStatementLike;
  readonly #running: SqliteStatementLike;
  readonly #insertWindow: SqliteStatementLike;
  readonly #insertHold: SqliteStatementLike;
  readonly #upsertTag: SqliteStatementLike;
  readonly #upsertClock: SqliteStatementLike;
  readonly #charge: SqliteStatementLike;

  constructor(db: SqliteDatabaseLike) {
    this.#groups = db.prepare(FLOW_GROUPS_SQL);
    this.#groupScan = db.prepare(FLOW_GROUP_SCAN_SQL);
    this.#ungroupedScan = db.prepare(FLOW_UNGROUPED_SCAN_SQL);
    this.#tag = db.prepare("SELECT finish, stamp FROM flow_groups WHERE mode = ? AND grp = ?");
    this.#clock = db.prepare("SELECT virtual, stamp FROM flow_modes WHERE mode = ?");
    this.#pruneWindow = db.prepare("DELETE FROM flow_window WHERE key = ? AND at <= ?");
    this.#window = db.prepare("SELECT at, units FROM flow_window INDEXED BY flow_window_key_at WHERE key = ? ORDER BY at");
    // A hold whose job left `running`, or was claimed again (another version), is gone for good;
    // one whose lease expired counts no more but stays until its job is reclaimed.
    this.#pruneHolds = db.prepare(
      "DELETE FROM flow_holds WHERE key = ? AND NOT EXISTS" +
        " (SELECT 1 FROM jobs j WHERE j.id = flow_holds.job_id AND j.version = flow_holds.version AND j.status = 'running')",
    );
    this.#running = db.prepare(
      "SELECT count(*) AS n FROM flow_holds h JOIN jobs j ON j.id = h.job_id WHERE h.key = ? AND j.lease_expires_at > ?",
    );
    this.#insertWindow = db.prepare("INSERT INTO flow_window (key, at, units, job_id, version) VALUES (?, ?, ?, ?, ?)");
    this.#insertHold = db.prepare("INSERT OR REPLACE INTO flow_holds (key, job_id, version) VALUES (?, ?, ?)");
    this.#upsertTag = db.prepare(
      "INSERT INTO flow_groups (mode, grp, finish, stamp) VALUES (?, ?, ?, ?)" +
        " ON CONFLICT (mode, grp) DO UPDATE SET finish = excluded.finish, stamp = excluded.stamp",
    );
    this.#upsertClock = db.prepare(
      "INSERT INTO flow_modes (mode, virtual, stamp) VALUES (?, ?, ?) ON CONFLICT (mode) DO UPDATE SET virtual = excluded.virtual, stamp = excluded.stamp",
    );
    this.#charge = db.prepare("UPDATE flow_window SET units = ? WHERE job_id = ? AND version = ? AND key = ?");
  }

  /** A reader for one mode of a flow claim (inside its transaction). */
  reader(scope: FlowScope): FlowReader {
    const cursors = new Map<string, Cursor>();
    const given = scope.rows === undefined ? undefined : this.#byGroup(scope);
    const fetch = (group: string, cursor: Cursor): void => {
      const last = cursor.last;
      const params = {
        mode: scope.mode,
        now: scope.now,
        handlers: scope.handlers,
        excluded: scope.excluded(),
        first: last === undefined ? 1 : 0,
        key: last?.aging_key ?? 0,
        id: last?.id ?? "",
        limit: CHUNK,
      };
      cursor.rows = (group === "" ? this.#ungroupedScan.all(params) : this.#groupScan.all({ ...params, grp: group })) as FlowScanRow[];
      cursor.at = 0;
      cursor.done = cursor.rows.length < CHUNK;
    };
    const next = (group: string): Job | undefined => {
      if (given !== undefined) {
        const list = given.get(group);
        return list?.shift();
      }
      let cursor = cursors.get(group);
      if (cursor === undefined) {
        cursor = { rows: [], at: 0, done: false, last: undefined };
        cursors.set(group, cursor);
        fetch(group, cursor);
      }
      for (;;) {
        if (cursor.at >= cursor.rows.length) {
          if (cursor.done) return undefined;
          fetch(group, cursor);
          continue;
        }
        const row = cursor.rows[cursor.at++] as FlowScanRow;
        cursor.last = row;
        const job = scope.read(row);
        if (job !== undefined) return job;
      }
    };
    return {
      groups: () => (given !== undefined ? given.keys() : this.#groupNames(scope.mode)),
      next,
      tag: (group) => this.#tag.get(scope.mode, group) as FlowGroupTag | undefined,
      clock: () => (this.#clock.get(scope.mode) as FlowModeClock | undefined) ?? { virtual: 0, stamp: 0 },
      window: (key, since) => {
        this.#pruneWindow.run(key, since);
        return (this.#window.all(key) as { at: number; units: number }[]).map((r): FlowWindowEntry => [r.at, r.units]);
      },
      running: (key, now) => {
        this.#pruneHolds.run(key);
        return Number((this.#running.get(key, now) as { n: number }).n);
      },
    };
  }

  /** Writes a plan's admissions and tags; `versions[i]` is the claimed version of `plan.picks[i]`. */
  apply(mode: string, plan: FlowPlan, versions: readonly number[], now: number): void {
    plan.picks.forEach((pick, i) => {
      const version = versions[i] as number;
      for (const a of pick.admissions) {
        if (a.rate) this.#insertWindow.run(a.key, now, a.units, pick.job.id, version);
        if (a.slot) this.#insertHold.run(a.key, pick.job.id, version);
      }
    });
    for (const [group, tag] of plan.tags) this.#upsertTag.run(mode, group, tag.finish, tag.stamp);
    if (plan.picks.length > 0) this.#upsertClock.run(mode, plan.clock.virtual, plan.clock.stamp);
  }

  /** Sets the units of a window entry; false when there is none. */
  charge(jobId: string, version: number, key: string, units: number): boolean {
    return Number(this.#charge.run(units, jobId, version, key).changes) > 0;
  }

  #groupNames(mode: string): string[] {
    const names = (this.#groups.all({ mode }) as { grp: string }[]).map((r) => r.grp);
    names.push(""); // jobs without a group: dropped by the planner when there are none
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
