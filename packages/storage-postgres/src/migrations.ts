import { CompiledQuery, Migrator, sql, type Kysely, type Migration, type MigrationProvider } from "kysely";
import { IncompatibleStoreError, StoreFailureError } from "@pyrexis/models";
import { migrationLockKey } from "./identifiers.js";

// The store's schema and how it gets there. Migrations run through kysely's Migrator, on one
// connection that holds a session advisory lock keyed by the schema, so many nodes starting at
// once migrate once: the first takes the lock and migrates, the others wait, then find nothing
// to do. (kysely's own lock is taken inside the Migrator, after it has already created its
// bookkeeping tables; two nodes creating them at the same moment collide on the catalog.)
//
// A schema already at the latest version is left to itself without the Migrator: the Migrator's
// introspection lists the tables of every schema of the database and calls
// `has_schema_privilege` by name on each, which fails (3F000) when another client drops some
// other schema at that moment. On a fresh schema, where the Migrator must run, that failure is
// retried a few times.

/** Name of the kysely Migrator's bookkeeping table; its presence marks a Pyrexis schema. */
export const MIGRATION_TABLE = "pyrexis_migration";
/** Name of the kysely Migrator's lock table. */
export const MIGRATION_LOCK_TABLE = "pyrexis_migration_lock";

/** Quotes an identifier (already checked by `checkSchemaName`, so this is belt and braces). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

// Migrations are append-only: never edit one that shipped, add the next name instead (0006's
// backfill now goes through `backfillFromJson`: the same statements, which also skip rows that
// hold a \u0000 escape instead of failing on them).
function migrations(schema: string): Record<string, Migration> {
  const s = quoteIdent(schema);
  const run = async (db: Kysely<unknown>, text: string): Promise<void> => {
    await db.executeQuery(CompiledQuery.raw(text, []));
  };
  return {
    "0001_jobs_results_leases": {
      async up(db: Kysely<unknown>): Promise<void> {
        // Indexed fields are columns; the record is JSON text beside them (text, not jsonb:
        // jsonb refuses \u0000 and lone surrogates, which a payload may hold, and reorders keys).
        // `status`, `attempts`, `updated_at` and `version` are authoritative over the JSON: a
        // claim writes only columns, and a read lays them over the record.
        // ids use the "C" collation: byte order, which keyset paging and claim order rely on.
        await run(
          db,
          `CREATE TABLE ${s}.jobs (
            id text COLLATE "C" PRIMARY KEY,
            status text NOT NULL,
            mode text NOT NULL,
            handler text NOT NULL,
            priority integer NOT NULL,
            run_at bigint NOT NULL,
            created_at bigint NOT NULL,
            updated_at bigint NOT NULL,
            attempts integer NOT NULL,
            version bigint NOT NULL,
            aging_key double precision NOT NULL,
            lease_owner text,
            lease_expires_at bigint,
            data text NOT NULL
          ) WITH (fillfactor = 90, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)`,
        );
        // listJobs unfiltered, and by status.
        await run(db, `CREATE INDEX jobs_created_id ON ${s}.jobs (created_at, id)`);
        await run(db, `CREATE INDEX jobs_status_created_id ON ${s}.jobs (status, created_at, id)`);
        // claim: due jobs in scheduler order; only the claimable rows are in it.
        await run(db, `CREATE INDEX jobs_claim ON ${s}.jobs (aging_key DESC, id) WHERE status IN ('pending', 'retrying')`);
        // reclaimExpired and leaseOwners: only running rows (as many as the engines run at once).
        // lease_expires_at is in no index, so a renewal (which writes only it) is a HOT update
        // that touches no index; fillfactor 90 leaves the page room HOT needs. A queue table
        // turns over fast: vacuum it early (dead index entries slow the claim scan).
        await run(db, `CREATE INDEX jobs_running ON ${s}.jobs (lease_owner) WHERE status = 'running'`);
        await run(db, `CREATE TABLE ${s}.results (job_id text COLLATE "C" PRIMARY KEY, data text NOT NULL)`);
        // Bumped (and sent as the NOTIFY payload) by every write; changeMark reads it when the
        // store has no listener.
        await run(db, `CREATE SEQUENCE ${s}.changes`);
      },
    },
    // The prune capability: finished jobs in finish order (a terminal job's updated_at is when
    // it finished, and it is never written again), so a prune batch is one bounded index range.
    // Only terminal rows are in it; they pay for it once, when they finish. IF NOT EXISTS: an
    // operator may build it CONCURRENTLY by hand before upgrading a large table.
    "0002_prune": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(
          db,
          `CREATE INDEX IF NOT EXISTS jobs_finished ON ${s}.jobs (updated_at, id) WHERE status IN ('completed', 'failed', 'cancelled')`,
        );
      },
    },
    // The schedules capability (src/schedules.ts): one row per cron schedule, its definition as
    // JSON text (compared by the store, never parsed as cron here) and its last tick.
    "0003_schedules": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(
          db,
          `CREATE TABLE ${s}.schedules (
            name text COLLATE "C" PRIMARY KEY,
            definition text NOT NULL,
            created_at bigint NOT NULL,
            last_tick_at bigint
          )`,
        );
      },
    },
    // The dependencies capability (src/dependencies.ts): an edge from each parent that has not
    // finished to each `waiting` job that depends on it (edges go as their parents end), and a
    // flag on a parent row that its ending update returns, so only such updates look for edges.
    "0004_dependencies": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(db, `ALTER TABLE ${s}.jobs ADD COLUMN has_dependents boolean NOT NULL DEFAULT false`);
        await run(
          db,
          `CREATE TABLE ${s}.job_dependencies (
            parent_id text COLLATE "C" NOT NULL,
            child_id text COLLATE "C" NOT NULL,
            PRIMARY KEY (parent_id, child_id)
          )`,
        );
        await run(db, `CREATE INDEX job_dependencies_child ON ${s}.job_dependencies (child_id)`);
      },
    },
    // The claim's pick of due rows, planned with sorts, bitmap and sequential scans disabled so
    // that it always walks jobs_claim in claim order and stops after `lim` rows. Without this
    // a table with no statistics yet (a fresh table after a big backfill, before autovacuum's
    // analyze) gets a plan that reads and sorts every pending row: 1.95 s per claim at a
    // 1,000,000-job backlog. A function's SET clauses apply only while it runs, so no other
    // statement on the connection sees them; VOLATILE because it locks rows.
    "0005_claim_due": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(
          db,
          `CREATE OR REPLACE FUNCTION ${s}.claim_due(now bigint, modes text[], handlers text[], lim integer)
            RETURNS SETOF text LANGUAGE sql VOLATILE
            SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off
            AS $fn$
              SELECT j.id FROM ${s}.jobs j
              WHERE j.status IN ('pending', 'retrying') AND j.run_at <= now
                AND (modes IS NULL OR j.mode = ANY(modes))
                AND (handlers IS NULL OR j.handler = ANY(handlers))
              ORDER BY j.aging_key DESC, j.id
              LIMIT lim
              FOR UPDATE OF j SKIP LOCKED
            $fn$`,
        );
      },
    },
    // The flow capability (src/flow.ts). `flow_group` is the job's group, set at insert (a
    // job's group never changes) and NULL without one; jobs_flow_group holds only claimable
    // grouped rows, so jobs without a group pay nothing for it. The state the flow claims keep:
    // rate window entries, concurrency holds, and the fair-queuing tags per mode and group.
    "0006_flow": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(db, `ALTER TABLE ${s}.jobs ADD COLUMN flow_group text COLLATE "C"`);
        await backfillFromJson(db, s, "flow_group", "->> 'group'", `strpos(data, '"group"') > 0`);
        await run(
          db,
          `CREATE INDEX jobs_flow_group ON ${s}.jobs (mode, flow_group, aging_key DESC, id)
            WHERE status IN ('pending', 'retrying') AND flow_group IS NOT NULL`,
        );
        // No primary key: entries go by age (key, at); a charge finds its entry among its key's.
        await run(
          db,
          `CREATE TABLE ${s}.flow_window (
            key text COLLATE "C" NOT NULL,
            at bigint NOT NULL,
            units bigint NOT NULL,
            job_id text COLLATE "C" NOT NULL,
            version bigint NOT NULL
          )`,
        );
        await run(db, `CREATE INDEX flow_window_key_at ON ${s}.flow_window (key, at)`);
        await run(
          db,
          `CREATE TABLE ${s}.flow_holds (
            key text COLLATE "C" NOT NULL,
            job_id text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            PRIMARY KEY (key, job_id)
          )`,
        );
        await run(
          db,
          `CREATE TABLE ${s}.flow_tags (
            mode text COLLATE "C" NOT NULL,
            grp text COLLATE "C" NOT NULL,
            finish double precision NOT NULL,
            stamp bigint NOT NULL,
            PRIMARY KEY (mode, grp)
          )`,
        );
        await run(
          db,
          `CREATE TABLE ${s}.flow_clock (mode text COLLATE "C" PRIMARY KEY, virtual double precision NOT NULL, stamp bigint NOT NULL)`,
        );
        // The flow claim's reads, planned like claim_due (0005) so that they walk their index in
        // claim order whatever the statistics say. flow_due: a chunk of one group's due jobs
        // after a keyset cursor (grp NULL: the jobs without a group, along jobs_claim).
        // `aging_key <= after_key` bounds the index range; the id comparison settles ties.
        const due = (where: string): string => `SELECT j.* FROM ${s}.jobs j
              WHERE j.status IN ('pending', 'retrying') AND ${where} AND j.run_at <= now
                AND (handlers IS NULL OR j.handler = ANY(handlers))
                AND j.aging_key <= coalesce(after_key, 'Infinity'::float8)
                AND (after_id IS NULL OR j.aging_key < after_key OR j.id > after_id)
              ORDER BY j.aging_key DESC, j.id
              LIMIT lim
              FOR UPDATE OF j SKIP LOCKED`;
        const settings = "SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off";
        await run(
          db,
          `CREATE FUNCTION ${s}.flow_due(now bigint, m text, grp text, handlers text[], after_key float8, after_id text, lim integer)
            RETURNS SETOF ${s}.jobs LANGUAGE sql VOLATILE ${settings}
            AS $fn$ ${due("j.flow_group IS NOT NULL AND j.mode = m AND j.flow_group = grp")} $fn$`,
        );
        await run(
          db,
          `CREATE FUNCTION ${s}.flow_due_ungrouped(now bigint, m text, handlers text[], after_key float8, after_id text, lim integer)
            RETURNS SETOF ${s}.jobs LANGUAGE sql VOLATILE ${settings}
            AS $fn$ ${due("j.flow_group IS NULL AND j.mode = m")} $fn$`,
        );
        // The groups of a mode with claimable jobs (due or not): a skip scan of jobs_flow_group,
        // one index probe per group.
        await run(
          db,
          `CREATE FUNCTION ${s}.flow_groups(m text) RETURNS SETOF text LANGUAGE sql STABLE ${settings}
            AS $fn$
              WITH RECURSIVE g(grp) AS (
                (SELECT j.flow_group FROM ${s}.jobs j
                  WHERE j.status IN ('pending', 'retrying') AND j.flow_group IS NOT NULL AND j.mode = m
                  ORDER BY j.flow_group LIMIT 1)
                UNION ALL
                SELECT (SELECT j.flow_group FROM ${s}.jobs j
                  WHERE j.status IN ('pending', 'retrying') AND j.flow_group IS NOT NULL AND j.mode = m AND j.flow_group > g.grp
                  ORDER BY j.flow_group LIMIT 1)
                FROM g WHERE g.grp IS NOT NULL
              )
              SELECT grp FROM g WHERE grp IS NOT NULL
            $fn$`,
        );
      },
    },
    // One rate key counted over different windows (claimants with different `perMs`): a key's
    // retention, the longest `perMs` any flow claim has counted for it. A claim drops the key's
    // window entries older than that, not older than its own window, so a shorter window never
    // drops entries a longer one still counts. No rows at first: a key's retention starts at
    // the first claim that counts it.
    "0007_flow_keys": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(db, `CREATE TABLE ${s}.flow_keys (key text COLLATE "C" PRIMARY KEY, keep_ms bigint NOT NULL)`);
      },
    },
    // A job's limits beside its record (JSON text, NULL without any; written at insert, as
    // limits never change, and repaired by the next update of a row left without them): once a flow claim holds a limit, it reads the candidates behind it by
    // these alone (flow_due_limits: the walk of flow_due, without locking the rows, which are
    // mostly refused) and their records only when they may fit, so a full cap over a deep
    // backlog neither sends and parses nor locks every refused record. Backfilled as 0006
    // backfilled the groups, for the jobs that can still be claimed (a finished job never is
    // again: a redrive inserts a new one). The functions are replaced, not created: a test that takes a
    // schema back to an earlier migration drops only the column.
    "0008_flow_limits": {
      async up(db: Kysely<unknown>): Promise<void> {
        await run(db, `ALTER TABLE ${s}.jobs ADD COLUMN flow_limits text`);
        const dueLimits = (where: string): string => `SELECT j.id, j.aging_key, j.flow_limits FROM ${s}.jobs j
              WHERE j.status IN ('pending', 'retrying') AND ${where} AND j.run_at <= now
                AND (handlers IS NULL OR j.handler = ANY(handlers))
                AND j.aging_key <= coalesce(after_key, 'Infinity'::float8)
                AND (after_id IS NULL OR j.aging_key < after_key OR j.id > after_id)
              ORDER BY j.aging_key DESC, j.id
              LIMIT lim`;
        const settings = "SET enable_sort = off SET enable_bitmapscan = off SET enable_seqscan = off";
        const columns = `TABLE (id text, aging_key double precision, flow_limits text)`;
        await run(
          db,
          `CREATE OR REPLACE FUNCTION ${s}.flow_due_limits(now bigint, m text, grp text, handlers text[], after_key float8, after_id text, lim integer)
            RETURNS ${columns} LANGUAGE sql STABLE ${settings}
            AS $fn$ ${dueLimits("j.flow_group IS NOT NULL AND j.mode = m AND j.flow_group = grp")} $fn$`,
        );
        await run(
          db,
          `CREATE OR REPLACE FUNCTION ${s}.flow_due_limits_ungrouped(now bigint, m text, handlers text[], after_key float8, after_id text, lim integer)
            RETURNS ${columns} LANGUAGE sql STABLE ${settings}
            AS $fn$ ${dueLimits("j.flow_group IS NULL AND j.mode = m")} $fn$`,
        );
        await backfillFromJson(
          db,
          s,
          "flow_limits",
          "-> 'limits'",
          `status IN ('pending', 'retrying', 'running') AND strpos(data, '"limits"') > 0`,
        );
      },
    },
  };
}

/**
 * Fills `column` of the rows matching `where` from their JSON text (`data::json <path>`, as
 * text), in one statement; a row whose text is not JSON (the store reports such rows as corrupt
 * on read), or that holds a \u0000 escape (json refuses to decode it, SQLSTATE 22P05), would
 * abort it, so then row by row, leaving those NULL.
 */
async function backfillFromJson(db: Kysely<unknown>, s: string, column: string, path: string, where: string): Promise<void> {
  const value = (data: string): string => `(${data}::json ${path})::text`;
  const text = `DO $do$
    DECLARE r record;
    BEGIN
      BEGIN
        UPDATE ${s}.jobs SET ${column} = ${value("data")} WHERE ${where};
      EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN
        FOR r IN SELECT id, data FROM ${s}.jobs WHERE ${where} LOOP
          BEGIN
            UPDATE ${s}.jobs SET ${column} = ${value("r.data")} WHERE id = r.id;
          EXCEPTION WHEN invalid_text_representation OR untranslatable_character THEN NULL;
          END;
        END LOOP;
      END;
    END
    $do$`;
  await db.executeQuery(CompiledQuery.raw(text, []));
}

/** Every migration name this version of the store knows, oldest first. */
export const KNOWN_MIGRATIONS: readonly string[] = Object.freeze(Object.keys(migrations("x")).sort());

function provider(schema: string): MigrationProvider {
  return { getMigrations: async () => migrations(schema) };
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Creates or migrates `schema` to the latest version, serialized across every process by a
 * session advisory lock. Refuses (with `IncompatibleStoreError`, touching nothing) a schema
 * migrated by a newer version of this package, and a schema holding tables that are not a
 * Pyrexis store.
 */
export async function migrate(db: Kysely<unknown>, schema: string): Promise<void> {
  await db.connection().execute(async (conn) => {
    await conn.executeQuery(CompiledQuery.raw("SELECT pg_advisory_lock(hashtext($1))", [migrationLockKey(schema)]));
    try {
      const applied = await refuseForeign(conn, schema);
      if (KNOWN_MIGRATIONS.every((name) => applied.has(name))) return;
      const migrator = new Migrator({
        db: conn,
        provider: provider(schema),
        migrationTableSchema: schema,
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      for (let attempt = 1; ; attempt++) {
        const { error } = await migrator.migrateToLatest();
        if (error === undefined) break;
        if (attempt < SCHEMA_VANISHED_RETRIES && otherSchemaVanished(error)) continue;
        throw new StoreFailureError(`cannot migrate schema ${schema}: ${describe(error)}`, { cause: error });
      }
    } finally {
      await conn.executeQuery(CompiledQuery.raw("SELECT pg_advisory_unlock(hashtext($1))", [migrationLockKey(schema)]));
    }
  });
}

/** How many times the Migrator runs when another schema vanished under its introspection. */
const SCHEMA_VANISHED_RETRIES = 5;

/** True for `invalid_schema_name` (3F000): a schema named in the catalog was dropped meanwhile. */
function otherSchemaVanished(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "3F000";
}

/**
 * Throws `IncompatibleStoreError` for a schema this version must not touch; otherwise the names of
 * the migrations applied to it (none for a new or empty schema).
 */
async function refuseForeign(db: Kysely<unknown>, schema: string): Promise<ReadonlySet<string>> {
  const tables = await db.executeQuery<{ name: string }>(
    CompiledQuery.raw("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1", [schema]),
  );
  const names = new Set(tables.rows.map((r) => r.name));
  if (names.size === 0) return new Set();
  if (!names.has(MIGRATION_TABLE)) {
    throw new IncompatibleStoreError(
      `schema ${schema} holds tables (${[...names].sort().join(", ")}) but is not a Pyrexis store; choose another schema`,
    );
  }
  const applied = await db.executeQuery<{ name: string }>(
    sql`SELECT name FROM ${sql.table(`${schema}.${MIGRATION_TABLE}`)} ORDER BY name`.compile(db),
  );
  const known = new Set(KNOWN_MIGRATIONS);
  const unknown = applied.rows.map((r) => r.name).filter((n) => !known.has(n));
  if (unknown.length > 0) {
    throw new IncompatibleStoreError(
      `schema ${schema} was migrated by a newer version of @pyrexis/storage-postgres (unknown migrations: ${unknown.join(", ")}); upgrade this package`,
    );
  }
  return new Set(applied.rows.map((r) => r.name));
}
