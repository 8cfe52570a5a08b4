import { sql, type Kysely, type Migration, type MigrationProvider } from "kysely";

/** Row of the `jobs` table. Indexed fields are columns; the record itself is JSON. */
export interface JobsTable {
  id: string;
  status: string;
  priority: number;
  run_at: number;
  created_at: number;
  version: number;
  /** `priority − agingRate · run_at / 1000`: the scheduler's fixed heap key, as an index. */
  aging_key: number;
  data: string;
  /** The job's `mode` (migration 0003): the claim index's first column. */
  mode: string;
  /** The job's `handler` (migration 0003): a claim's `handlers` filter. */
  handler: string;
  /** Who holds the claim of this `running` job; `NULL` when unclaimed (migration 0003). */
  lease_owner: string | null;
  /** When that lease expires, epoch ms by the store's clock; `NULL` when unclaimed (migration 0003). */
  lease_expires_at: number | null;
  /** The finish time (`updatedAt`) of a `completed`, `failed` or `cancelled` job; `NULL` otherwise (migration 0005). */
  finished_at: number | null;
  /** The job's `group` (migration 0009), `NULL` without one: flow claims find each group's jobs by it. */
  flow_group: string | null;
  /**
   * The job's `limits` as JSON (migration 0011), `NULL` without any: a flow claim that holds a
   * limit reads the candidates behind it by these, without their records.
   */
  flow_limits: string | null;
}

/** Row of the `results` table. */
export interface ResultsTable {
  job_id: string;
  data: string;
}

/** Row of the `schedules` table (migration 0005): a cron schedule and its last tick. */
export interface SchedulesTable {
  name: string;
  /** The definition as JSON: `{ cron, timezone, spec, catchUp, catchUpLimit }`. */
  definition: string;
  created_at: number;
  /** The latest tick submitted, epoch ms; `NULL` until the first. */
  last_tick_at: number | null;
}

/** The kysely database type of the store. */
export interface StoreSchema {
  jobs: JobsTable;
  results: ResultsTable;
  schedules: SchedulesTable;
}

/** Name of the kysely Migrator's bookkeeping table; its presence marks a Pyrexis database. */
export const MIGRATION_TABLE = "pyrexis_migration";
/** Name of the kysely Migrator's lock table. */
export const MIGRATION_LOCK_TABLE = "pyrexis_migration_lock";

// Migrations are append-only: never edit one that shipped, add the next name instead.
const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  "0001_jobs_and_results": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("jobs")
        .addColumn("id", "text", (c) => c.primaryKey().notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull())
        .addColumn("run_at", "integer", (c) => c.notNull())
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("version", "integer", (c) => c.notNull())
        .addColumn("aging_key", "real", (c) => c.notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .execute();
      // listJobs by status, listJobs unfiltered, and a future SQL claim in scheduler order
      // (that last one dropped by 0002 until a claim query exists).
      await db.schema.createIndex("jobs_status_created_id").on("jobs").columns(["status", "created_at", "id"]).execute();
      await db.schema.createIndex("jobs_created_id").on("jobs").columns(["created_at", "id"]).execute();
      await db.schema.createIndex("jobs_status_aging_id").on("jobs").columns(["status", "aging_key", "id"]).execute();
      await db.schema
        .createTable("results")
        .addColumn("job_id", "text", (c) => c.primaryKey().notNull())
        .addColumn("data", "text", (c) => c.notNull())
        .execute();
    },
  },
  // The (status, aging_key, id) index was made for a claim query that does not exist yet; every
  // insert and status change paid for it (~27% of the store's write cost per job, measured).
  // A shared store's claim will add the index its query needs. The aging_key column stays.
  "0002_drop_unused_aging_index": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex("jobs_status_aging_id").ifExists().execute();
    },
  },
  // The claims capability (many engines on one file): the mode and handler a claim filters by,
  // the lease of a claimed `running` job, and the two indexes of the hot queries. Both indexes
  // are partial, so a job pays for them only while it is claimable or running.
  "0003_claims": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE jobs ADD COLUMN mode TEXT NOT NULL DEFAULT ''`.execute(db);
      await sql`ALTER TABLE jobs ADD COLUMN handler TEXT NOT NULL DEFAULT ''`.execute(db);
      await sql`ALTER TABLE jobs ADD COLUMN lease_owner TEXT`.execute(db);
      await sql`ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER`.execute(db);
      // Existing rows: copy mode and handler out of the record. A row whose data is not JSON
      // keeps '' (json_extract would throw on it); reading it reports it corrupt as before.
      // Existing `running` rows get no lease: reclaimable at once (a single-process engine wrote them).
      await sql`UPDATE jobs SET mode = coalesce(json_extract(data, '$.mode'), ''), handler = coalesce(json_extract(data, '$.handler'), '')
        WHERE typeof(data) = 'text' AND json_valid(data)`.execute(db);
      // claim: due jobs of one mode in claim order (aging key descending, then id).
      await sql`CREATE INDEX jobs_claim ON jobs (mode, aging_key DESC, id) WHERE status IN ('pending', 'retrying')`.execute(db);
      // reclaimExpired (expired first) and leaseOwners: running jobs by lease expiry.
      await sql`CREATE INDEX jobs_lease ON jobs (lease_expires_at, lease_owner) WHERE status = 'running'`.execute(db);
    },
  },
  // queryJobs (src/query.ts) filters by handler (and mode), the columns 0003 added: two indexes
  // give each (status?, handler) pair a range scan in listing order. Mode has few values, so it
  // stays a residual filter and costs no index on writes.
  "0004_query_indexes": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex("jobs_handler_created_id").on("jobs").columns(["handler", "created_at", "id"]).execute();
      await db.schema.createIndex("jobs_status_handler_created_id").on("jobs").columns(["status", "handler", "created_at", "id"]).execute();
    },
  },
  // The prune capability (src/prune.ts): the finish time of terminal jobs as a column, and a
  // partial index in finish order that only terminal rows pay for. Existing terminal rows get
  // their record's updatedAt (a row whose data is not JSON keeps NULL: it is never pruned).
  "0005_prune": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE jobs ADD COLUMN finished_at INTEGER`.execute(db);
      await sql`UPDATE jobs SET finished_at = json_extract(data, '$.updatedAt')
        WHERE status IN ('completed', 'failed', 'cancelled') AND typeof(data) = 'text' AND json_valid(data)`.execute(db);
      await sql`CREATE INDEX jobs_finished ON jobs (finished_at, id) WHERE status IN ('completed', 'failed', 'cancelled')`.execute(db);
    },
  },
  // The schedules capability (src/schedules.ts): one row per cron schedule, its definition as
  // JSON (the store compares it, never parses the cron expression) and its last tick.
  "0006_schedules": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("schedules")
        .addColumn("name", "text", (c) => c.primaryKey().notNull())
        .addColumn("definition", "text", (c) => c.notNull())
        .addColumn("created_at", "integer", (c) => c.notNull())
        .addColumn("last_tick_at", "integer")
        .execute();
    },
  },
  // The dependencies capability (src/dependencies.ts): an edge from each parent that has not
  // finished to each `waiting` job that depends on it. Edges go as their parents end, so the
  // table holds only graphs in flight; by parent (the primary key) when one ends, by child when
  // a dependent is released or ends.
  "0007_dependencies": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE job_dependencies (
        parent_id TEXT NOT NULL,
        child_id TEXT NOT NULL,
        PRIMARY KEY (parent_id, child_id)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX job_dependencies_child ON job_dependencies (child_id)`.execute(db);
    },
  },
  // One status index instead of two: every status change moved a job in both
  // (status, created_at, id) and (status, handler, created_at, id), the largest index cost of a
  // drain. Listing by status alone now walks the second one handler by handler (src/query.ts),
  // and counting by status reads it too. Named 0008, the next free number: kysely's Migrator
  // refuses a database whose executed migrations are not a prefix of the known ones, so a number
  // left free below this one could never be used.
  "0008_one_status_index": {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropIndex("jobs_status_created_id").ifExists().execute();
    },
  },
  // The flow capability (src/flow.ts): limits, concurrency keys and group shares kept in the
  // file, so they hold across every process on it. `flow_group` (a job's group never changes
  // after insert; NULL without one) and a claim index by mode and group, ungrouped jobs included:
  // a flow claim must find the first ungrouped job of a mode without walking past grouped ones. Window entries by key and time, with their sum per key; holds by
  // key; tags per mode.
  "0009_flow": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE jobs ADD COLUMN flow_group TEXT`.execute(db);
      // A corrupt row (not JSON) keeps no group: reading it fails anyway, and the migration must not.
      await sql`UPDATE jobs SET flow_group = json_extract(data, '$.group')
        WHERE json_valid(data) AND json_type(data, '$.group') = 'text'`.execute(db);
      await sql`CREATE INDEX jobs_claim_group ON jobs (mode, flow_group, aging_key DESC, id)
        WHERE status IN ('pending', 'retrying')`.execute(db);
      // Keyed by admission (a charge finds its entry by it), ordered by time within a key by the
      // index (pruning and the retry time read a range of it).
      await sql`CREATE TABLE flow_window (
        key TEXT NOT NULL,
        job_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        at INTEGER NOT NULL,
        units INTEGER NOT NULL,
        PRIMARY KEY (key, job_id, version)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE INDEX flow_window_key_at ON flow_window (key, at, units)`.execute(db);
      // The units in each key's window, kept with the entries: a claim reads one row, not the window.
      await sql`CREATE TABLE flow_sums (key TEXT NOT NULL PRIMARY KEY, units INTEGER NOT NULL) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE flow_holds (
        key TEXT NOT NULL,
        job_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (key, job_id)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE flow_groups (
        mode TEXT NOT NULL,
        grp TEXT NOT NULL,
        finish REAL NOT NULL,
        stamp INTEGER NOT NULL,
        PRIMARY KEY (mode, grp)
      ) WITHOUT ROWID`.execute(db);
      await sql`CREATE TABLE flow_modes (
        mode TEXT NOT NULL PRIMARY KEY,
        virtual REAL NOT NULL,
        stamp INTEGER NOT NULL
      ) WITHOUT ROWID`.execute(db);
    },
  },
  // Flow claims with different windows for one key (a rolling change of `perMs`): each key's
  // entries are kept for the longest window any claim has counted for it, so a claim with a
  // shorter window no longer drops entries a longer one counts. 0 until a claim counts the key.
  "0010_flow_retention": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE flow_sums ADD COLUMN keep_ms INTEGER NOT NULL DEFAULT 0`.execute(db);
    },
  },
  // A job's limits beside its record (written at insert: limits never change), so that a
  // flow claim holding a limit reads the candidates behind it by their limits alone, not by
  // parsing every record (in SQL or in JavaScript): a full cap over a deep backlog costs a claim
  // about half as much. Backfilled for the jobs that can still be claimed (a finished one never
  // is again: a redrive inserts a new job); a row that is not JSON keeps none (reading it fails anyway).
  // A row left without them (a dependent `waiting` then, say) is repaired by its next update,
  // which finds the column disagreeing with the record (`#writeUpdate`).
  "0011_flow_limits": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`ALTER TABLE jobs ADD COLUMN flow_limits TEXT`.execute(db);
      await sql`UPDATE jobs SET flow_limits = data -> '$.limits'
        WHERE status IN ('pending', 'retrying', 'running') AND json_valid(data) AND json_type(data, '$.limits') = 'array'`.execute(db);
    },
  },
  // One window entry per key and claim instead of one per admitted job: a claim of 64 jobs wrote
  // 64 rows in two b-trees (the table and its (key, at, units) index) and a later claim deleted
  // them again, a sixth of the WAL pages of a flow drain. The entries are summed by (key, at);
  // what a charge needs of its own admission (the claim's time and the job's units) moves to the
  // job's hold row, which now exists for every admission while the job runs (`slot` says whether
  // it holds a slot of the key) and goes with the write that moves the job out of `running`.
  // The holds of jobs running now get their window entries' time and units (the newest claim's).
  "0012_flow_window_per_claim": {
    async up(db: Kysely<unknown>): Promise<void> {
      await sql`CREATE TABLE flow_window_per_claim (
        key TEXT NOT NULL,
        at INTEGER NOT NULL,
        units INTEGER NOT NULL,
        PRIMARY KEY (key, at)
      ) WITHOUT ROWID`.execute(db);
      await sql`INSERT INTO flow_window_per_claim (key, at, units)
        SELECT key, at, sum(units) FROM flow_window GROUP BY key, at`.execute(db);
      await sql`ALTER TABLE flow_holds ADD COLUMN slot INTEGER NOT NULL DEFAULT 1`.execute(db);
      await sql`ALTER TABLE flow_holds ADD COLUMN at INTEGER`.execute(db);
      await sql`ALTER TABLE flow_holds ADD COLUMN units INTEGER`.execute(db);
      await sql`INSERT INTO flow_holds (key, job_id, version, slot, at, units)
        SELECT w.key, w.job_id, w.version, 0, w.at, w.units FROM flow_window w JOIN jobs j ON j.id = w.job_id AND j.status = 'running'
        WHERE w.version = (SELECT max(x.version) FROM flow_window x WHERE x.key = w.key AND x.job_id = w.job_id)
        ON CONFLICT (key, job_id) DO UPDATE SET at = excluded.at, units = excluded.units WHERE flow_holds.version = excluded.version`.execute(
        db,
      );
      await sql`DROP TABLE flow_window`.execute(db);
      await sql`ALTER TABLE flow_window_per_claim RENAME TO flow_window`.execute(db);
    },
  },
});

/** Every migration name this version of the store knows, oldest first. */
export const KNOWN_MIGRATIONS: readonly string[] = Object.freeze(Object.keys(migrations).sort());

/** In-code migrations for kysely's `Migrator`. */
export const migrationProvider: MigrationProvider = {
  getMigrations: async (): Promise<Record<string, Migration>> => ({ ...migrations }),
};
