import { quoteIdent } from "./migrations.js";
import { JOB_COLUMNS } from "./records.js";

// The SQL text of every statement the store runs, built once per schema. Parameters are
// positional; each statement's comment lists them. `$now` is the store's clock: a bound epoch-ms
// value when the store was given a clock (tests), else NULL and PostgreSQL's `now()`.

/** `now` in epoch ms: the bound clock value, or the database's transaction time. */
const NOW = (param: string): string => `COALESCE(${param}::bigint, floor(extract(epoch FROM now()) * 1000)::bigint)`;

/** The statements of one schema. */
export interface Statements {
  /** $1..$12 the columns of the jobs (arrays), $13 their flow groups (NULL for none). Returns the ids it inserted. */
  readonly insertJobs: string;
  /**
   * $1..$12 the new columns (arrays), $13 expected versions, $14 and $15 the flow groups and
   * limits (which must equal the stored ones: {@link updateJobsParams}). Returns the ids it
   * updated and whether each has dependents.
   */
  readonly updateJobs: string;
  /** $1 ids. The stored version, creation time, flow columns and record of each id that exists, locked (`FOR UPDATE`). */
  readonly versionsOf: string;
  /** $1 ids, $2 flow groups, $3 flow limits: rewrites the flow columns of rows a migration did not backfill. */
  readonly setFlowColumns: string;
  /** $1 job ids, $2 data. Inserts results of jobs that exist and have none; returns their ids. */
  readonly insertResults: string;
  /** $1 job ids. Which of them exist as jobs, and which have results. */
  readonly resultState: string;
  /**
   * insertJobs and the batch's notification in one statement (a batch of inserts only): $1..$12
   * as insertJobs, $13 channel, $14 and $15 the flow groups and limits. One row: `inserted`, the ids it inserted.
   */
  readonly insertJobsNotify: string;
  /**
   * updateJobs, insertResults and the batch's notification in one statement (a batch without
   * inserts, such as a group commit of completions): $1..$15 as updateJobs, $16 result job ids,
   * $17 result data, $18 channel. One row: `updated` (job ids), `parents` (those of them with dependents) and `results` (result job ids).
   * Its parts share one snapshot, so a result sees the jobs as they were before the statement:
   * they exist either way, which is all insertResults asks.
   */
  readonly updateJobsResultsNotify: string;
  /** $1 channel. Bumps the change sequence and notifies its value. */
  readonly notify: string;
  /** Current value of the change sequence. */
  readonly changeSeq: string;
  /** $1 id. */
  readonly getJob: string;
  /** $1 job id. */
  readonly getResult: string;
  readonly countByStatus: string;
  /** $1 now, $2 modes or NULL, $3 handlers or NULL, $4 limit, $5 owner, $6 lease ms, $7 channel, $8 NULL (no ids). */
  readonly claim: string;
  /** As {@link Statements.claim} with $8 the ids (an array): a claim of given jobs. */
  readonly claimIds: string;
  /** $1 now, $2 ids, $3 versions, $4 owner, $5 lease ms. One row per requested lease, in order. */
  readonly renew: string;
  /** $1 now, $2 dead owners (array, may be empty), $3 limit. Locks the expired running rows. */
  readonly expired: string;
  /** $1 ids, $2 statuses, $3 attempts, $4 updated_at, $5 run_at, $6 aging keys, $7 data, $8 versions, $9 expected versions. */
  readonly reclaimJobs: string;
  /** $1 job ids, $2 data. */
  readonly reclaimResults: string;
  readonly leaseOwners: string;
  /**
   * $1 statuses (terminal, array), $2 finished before or NULL, $3 keepLatest or NULL, $4 limit.
   * Deletes up to $4 finished jobs and their results; one row per deleted job (oldest finish
   * first) with `found`, how many candidates the bounded scan saw (up to $4 + 1).
   */
  readonly prune: string;
  /**
   * listJobs, by (order, status filter, has cursor): $1 limit, then $2 the status (`"one"`) or
   * statuses (`"many"`, an array), then the cursor's created_at and id.
   */
  list(order: "asc" | "desc", statuses: "all" | "one" | "many", cursor: boolean): string;
}

/** Builds the statements of `schema` (a name `checkSchemaName` accepted). */
export function buildStatements(schema: string): Statements {
  const s = quoteIdent(schema);
  const jobs = `${s}.jobs`;
  const results = `${s}.results`;
  const seq = `'${s}.changes'::regclass`;
  const listCache = new Map<string, string>();
  // `flow` is the first of the parameters of the jobs' flow groups and limits (NULL for a job
  // without): $13 and $14 alone, $14 and $15 after the notification's channel.
  const insertJobsAt = (
    flow: number,
  ): string => `INSERT INTO ${jobs} (id, status, mode, handler, priority, run_at, created_at, updated_at, attempts, version, aging_key, data, flow_group, flow_limits)
      SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::bigint[], $11::float8[], $12::text[], $${flow}::text[], $${flow + 1}::text[])
      ON CONFLICT (id) DO NOTHING RETURNING id`;
  const insertJobs = insertJobsAt(13);
  // createdAt, group and limits are immutable (the listing order and the flow columns depend on
  // them): a changed one matches no row, and the store says which.
  // Moving out of `running` ends the lease (the claims contract's fencing rule).
  const updateJobs = `UPDATE ${jobs} AS j SET status = u.status, mode = u.mode, handler = u.handler, priority = u.priority,
        run_at = u.run_at, updated_at = u.updated_at, attempts = u.attempts, version = u.version, aging_key = u.aging_key, data = u.data,
        lease_owner = CASE WHEN u.status = 'running' THEN j.lease_owner END,
        lease_expires_at = CASE WHEN u.status = 'running' THEN j.lease_expires_at END
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[], $7::bigint[], $8::bigint[], $9::int[], $10::bigint[], $11::float8[], $12::text[], $13::bigint[], $14::text[], $15::text[])
        AS u(id, status, mode, handler, priority, run_at, created_at, updated_at, attempts, version, aging_key, data, expected, flow_group, flow_limits)
      WHERE j.id = u.id AND j.version = u.expected AND j.created_at = u.created_at
        AND j.flow_group IS NOT DISTINCT FROM u.flow_group AND j.flow_limits IS NOT DISTINCT FROM u.flow_limits
      RETURNING j.id, j.has_dependents`;
  const insertResults = (ids: string, data: string): string => `INSERT INTO ${results} (job_id, data)
      SELECT r.job_id, r.data FROM unnest(${ids}::text[], ${data}::text[]) AS r(job_id, data)
      WHERE EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = r.job_id)
      ON CONFLICT (job_id) DO NOTHING RETURNING job_id`;
  // A SELECT in a WITH runs only when read, so the final SELECT reads `n` to send the notification.
  const notifyCte = (channel: string): string => `n AS (SELECT pg_notify(${channel}, nextval(${seq})::text) AS sent)`;
  // One statement: pick due jobs in scheduler order, skipping rows another claimer holds,
  // write `running`, the attempt, the version and the lease, and notify once if any.
  // The notify CTE is volatile, so PostgreSQL evaluates it once (never inlined), and only
  // reads `u` when a row was claimed. The update finds the picked rows by `= ANY(array)`, a
  // primary-key lookup whatever the statistics (a join with c may become a hash join over a
  // sequential scan of the table when it has none).
  const claim = (pick: string): string => `WITH t AS (SELECT ${NOW("$1")} AS now),
      c AS (${pick}),
      u AS (
        UPDATE ${jobs} j SET status = 'running', attempts = j.attempts + 1, updated_at = t.now, version = j.version + 1,
          lease_owner = $5, lease_expires_at = t.now + $6::bigint
        FROM t WHERE j.id = ANY(ARRAY(SELECT id FROM c))
        RETURNING j.id, j.status, j.attempts, j.updated_at::float8 AS updated_at, j.version::float8 AS version,
          j.created_at::float8 AS created_at, j.data, j.aging_key, j.lease_expires_at::float8 AS expires_at
      ),
      n AS (SELECT pg_notify($7, nextval(${seq})::text) AS sent FROM (SELECT 1 FROM u LIMIT 1) AS one)
      SELECT u.*, (SELECT count(*) FROM n) AS notified FROM u ORDER BY u.aging_key DESC, u.id`;
  return {
    insertJobs,
    updateJobs,
    versionsOf: `SELECT id, version::float8 AS version, created_at::float8 AS created_at, flow_group, flow_limits, data
      FROM ${jobs} WHERE id = ANY($1::text[]) FOR UPDATE`,
    setFlowColumns: `UPDATE ${jobs} AS j SET flow_group = u.flow_group, flow_limits = u.flow_limits
      FROM unnest($1::text[], $2::text[], $3::text[]) AS u(id, flow_group, flow_limits) WHERE j.id = u.id`,
    insertResults: insertResults("$1", "$2"),
    insertJobsNotify: `WITH ins AS (${insertJobsAt(14)}), ${notifyCte("$13")}
      SELECT ARRAY(SELECT id FROM ins) AS inserted, (SELECT count(*) FROM n)::int AS notified`,
    updateJobsResultsNotify: `WITH upd AS (${updateJobs}), res AS (${insertResults("$16", "$17")}), ${notifyCte("$18")}
      SELECT ARRAY(SELECT id FROM upd) AS updated, ARRAY(SELECT id FROM upd WHERE has_dependents) AS parents,
        ARRAY(SELECT job_id FROM res) AS results, (SELECT count(*) FROM n)::int AS notified`,
    resultState: `SELECT r.id, EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = r.id) AS job,
        EXISTS (SELECT 1 FROM ${results} x WHERE x.job_id = r.id) AS result
      FROM unnest($1::text[]) AS r(id)`,
    notify: `SELECT pg_notify($1, nextval(${seq})::text)`,
    changeSeq: `SELECT last_value::float8 AS value, is_called FROM ${s}.changes`,
    getJob: `SELECT ${JOB_COLUMNS} FROM ${jobs} WHERE id = $1`,
    getResult: `SELECT data FROM ${results} WHERE job_id = $1`,
    countByStatus: `SELECT status, count(*)::int AS n FROM ${jobs} GROUP BY status`,
    // The pick (c) of a claim without ids goes through claim_due (migration 0005), planned so
    // that it always walks jobs_claim whatever the statistics say.
    claim: claim(`SELECT c.id FROM t, ${s}.claim_due(t.now, $2::text[], $3::text[], $4::integer) AS c(id)
        WHERE $8::text[] IS NULL`),
    // A claim of given ids: a primary-key lookup of each, then a sort of those few rows.
    claimIds: claim(`SELECT j.id FROM ${jobs} j, t
        WHERE j.status IN ('pending', 'retrying') AND j.run_at <= t.now
          AND ($2::text[] IS NULL OR j.mode = ANY($2::text[]))
          AND ($3::text[] IS NULL OR j.handler = ANY($3::text[]))
          AND j.id = ANY($8::text[])
        ORDER BY j.aging_key DESC, j.id
        LIMIT $4
        FOR UPDATE OF j SKIP LOCKED`),
    // One statement for the batch: extend what the owner still holds, and report every
    // requested lease (renewed, or the job's current status to tell cancelled from lost).
    renew: `WITH t AS (SELECT ${NOW("$1")} AS now),
      r AS (SELECT * FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS r(id, version, ord)),
      u AS (
        UPDATE ${jobs} j SET lease_expires_at = t.now + $5::bigint FROM r, t
        WHERE j.id = r.id AND j.version = r.version AND j.status = 'running' AND j.lease_owner = $4
        RETURNING j.id, j.version, j.lease_expires_at::float8 AS expires_at
      )
      SELECT r.id, r.version::float8 AS version, u.expires_at, j.status
      FROM r LEFT JOIN u ON u.id = r.id AND u.version = r.version LEFT JOIN ${jobs} j ON j.id = r.id ORDER BY r.ord`,
    expired: `WITH t AS (SELECT ${NOW("$1")} AS now)
      SELECT ${JOB_COLUMNS.split(", ")
        .map((c) => `j.${c}`)
        .join(", ")}, t.now::float8 AS now
      FROM ${jobs} j, t
      WHERE j.status = 'running' AND (j.lease_expires_at IS NULL OR j.lease_expires_at <= t.now OR j.lease_owner = ANY($2::text[]))
      ORDER BY j.lease_expires_at NULLS FIRST
      LIMIT $3
      FOR UPDATE OF j SKIP LOCKED`,
    reclaimJobs: `UPDATE ${jobs} AS j SET status = u.status, attempts = u.attempts, updated_at = u.updated_at, run_at = u.run_at,
        aging_key = u.aging_key, data = u.data, version = u.version, lease_owner = NULL, lease_expires_at = NULL
      FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::float8[], $7::text[], $8::bigint[], $9::bigint[])
        AS u(id, status, attempts, updated_at, run_at, aging_key, data, version, expected)
      WHERE j.id = u.id AND j.version = u.expected AND j.status = 'running'
      RETURNING j.id`,
    reclaimResults: `INSERT INTO ${results} (job_id, data) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (job_id) DO NOTHING`,
    // One statement, so the jobs and their results go in one transaction. The candidate scan is
    // one range of the partial index jobs_finished (updated_at, id), in delete order, bounded by
    // LIMIT $4 + 1 (the extra row tells whether more remain). `keep` is the newest row
    // keepLatest spares last (none when fewer exist: then nothing is deleted). FOR UPDATE SKIP
    // LOCKED lets engines prune at once: each deletes rows the others did not take, and a row
    // another pruner deleted meanwhile is re-checked away, so no id is reported twice. The
    // terminal status literals let the planner use the partial index; the DELETE repeats them,
    // so an unfinished row is never deleted. Dead tuples are left to autovacuum (the table's
    // scale factor is 0.02, set by migration 0001).
    prune: `WITH keep AS (
        SELECT updated_at, id FROM ${jobs}
        WHERE status IN ('completed', 'failed', 'cancelled') AND status = ANY($1::text[]) AND $3::int > 0
        ORDER BY updated_at DESC, id DESC OFFSET greatest($3::int - 1, 0) LIMIT 1
      ),
      c AS (
        SELECT j.id, j.updated_at FROM ${jobs} j
        WHERE j.status IN ('completed', 'failed', 'cancelled') AND j.status = ANY($1::text[])
          AND ($2::bigint IS NULL OR j.updated_at < $2::bigint)
          AND (coalesce($3::int, 0) = 0 OR (j.updated_at, j.id) < (SELECT k.updated_at, k.id FROM keep k))
        ORDER BY j.updated_at, j.id
        LIMIT $4::int + 1
        FOR UPDATE OF j SKIP LOCKED
      ),
      chosen AS (SELECT id FROM c ORDER BY updated_at, id LIMIT $4::int),
      r AS (DELETE FROM ${results} x USING chosen WHERE x.job_id = chosen.id),
      d AS (
        DELETE FROM ${jobs} j USING chosen WHERE j.id = chosen.id AND j.status IN ('completed', 'failed', 'cancelled')
        RETURNING j.id, j.updated_at
      )
      SELECT d.id, (SELECT count(*) FROM c)::int AS found FROM d ORDER BY d.updated_at, d.id`,
    leaseOwners: `SELECT DISTINCT lease_owner FROM ${jobs} WHERE status = 'running' AND lease_owner IS NOT NULL`,
    list(order, statuses, cursor) {
      const key = `${order}:${statuses}:${cursor}`;
      let text = listCache.get(key);
      if (text === undefined) {
        const where: string[] = [];
        let p = 2;
        // One status as an equality: the (status, created_at, id) index then yields rows in
        // order. Several cannot be merged in order by PostgreSQL 15, so any index will do.
        if (statuses === "one") where.push(`status = $${p++}::text`);
        else if (statuses === "many") where.push(`status = ANY($${p++}::text[])`);
        // Row-value comparison: one index range scan on (created_at, id).
        if (cursor) where.push(`(created_at, id) ${order === "asc" ? ">" : "<"} ($${p++}::bigint, $${p++}::text)`);
        const dir = order === "asc" ? "ASC" : "DESC";
        // ORDER BY names the table's columns (j.), not the float8 output aliases of the same
        // names: sorting by the cast would not use the index (the plans test catches this).
        text = `SELECT ${JOB_COLUMNS} FROM ${jobs} AS j${where.length > 0 ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY j.created_at ${dir}, j.id ${dir} LIMIT $1`;
        listCache.set(key, text);
      }
      return text;
    },
  };
}
