import { existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect, sql, type RawBuilder } from "kysely";
import {
  CorruptRecordError,
  DuplicateJobError,
  JobNotFoundError,
  ResultExistsError,
  StaleVersionError,
  StoreClosedError,
  StoreFailureError,
  ValidationError,
  isPyrexisError,
  parseJob,
  parseResult,
  systemClock,
  type Clock,
  type Job,
  type JobStatus,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import {
  type ClaimedJob,
  type ClaimMethods,
  type ClaimRequest,
  type CommitBatch,
  type FlowCharge,
  type FlowClaimRequest,
  type FlowClaimResult,
  type FlowMethods,
  type JobStore,
  type JobUpdate,
  type ListJobsPage,
  type ListJobsQuery,
  type PruneMethods,
  type PruneReport,
  type PruneRequest,
  type PutScheduleOutcome,
  type QueryJobsQuery,
  type ReclaimReport,
  type ReclaimRequest,
  type RenewReport,
  type RenewRequest,
  type ScheduleMethods,
  type ScheduleRecord,
  type StoreCapabilities,
} from "@pyrexis/storage";
import {
  assertJobId,
  assertKnownParents,
  checkCommitShape,
  orderDependentInserts,
  emptyStatusCounts,
  immutableChange,
  immutableFieldsOfRow,
  normalizeJobsQuery,
  storedLimitsText,
  normalizeListQuery,
  normalizePruneRequest,
  type NormalizedJobsQuery,
} from "@pyrexis/storage/kit";
import { SqliteClaims } from "./claims.js";
import { assertSqliteHeader, inspectDatabase } from "./inspect.js";
import { looksLikeJob } from "./job-shape.js";
import { finishedAt, SqlitePrune } from "./prune.js";
import { runJobsQuery } from "./query.js";
import { SqliteSchedules } from "./schedules.js";
import { MIGRATION_LOCK_TABLE, MIGRATION_TABLE, migrationProvider, type StoreSchema } from "./schema.js";
import { SqliteDependencies } from "./dependencies.js";
import type { SqliteDatabaseLike, SqliteStatementLike, SqliteTransactionLike } from "./sqlite-database-like.js";

/** Where the store keeps its data: a file path (or `":memory:"`), or a connection you made. */
export type SqliteJobStoreSource =
  | {
      /** Path of the database file (created when missing), or `":memory:"`. */
      readonly path: string;
    }
  | {
      /**
       * An open connection (e.g. a better-sqlite3 `Database`) or a function returning one. The
       * store takes ownership: `close()` closes it.
       */
      readonly database: SqliteDatabaseLike | (() => SqliteDatabaseLike);
    };

/** Options of {@link SqliteJobStore.open}. */
export interface SqliteJobStoreOptions {
  /**
   * `"NORMAL"` (default): in WAL mode a commit survives a process crash but the last commits may
   * be lost on an OS crash or power loss. `"FULL"`: fsync on every commit, survives power loss.
   */
  readonly synchronous?: "NORMAL" | "FULL" | undefined;
  /** How long a write waits for another connection's lock before failing. Default 5000 ms. */
  readonly busyTimeoutMs?: number | undefined;
  /**
   * WAL pages after which a commit checkpoints (copies the WAL into the database file):
   * SQLite's `wal_autocheckpoint`. Default 10,000 (about 40 MB with 4 KiB pages; SQLite's own
   * default is 1,000), which drains 5–15 % faster in the engine bench; 0 turns automatic
   * checkpoints off (then the application must checkpoint).
   */
  readonly walAutocheckpointPages?: number | undefined;
  /**
   * Aging rate (priority per second waited) used for the `aging_key` column,
   * `priority − agingRate · runAt / 1000`. Default 0.1; use the scheduler's rate.
   */
  readonly agingRate?: number | undefined;
  /**
   * Called for each corrupt row that `listJobs` skips. When absent, the store collects them in
   * {@link SqliteJobStore.corruptRecords}.
   */
  readonly onCorruptRecord?: ((error: CorruptRecordError) => void) | undefined;
  /**
   * How jobs read back are checked. `"full"` (default): zod `parseJob`, every rule of the schema.
   * `"shape"`: `JSON.parse` plus a cheap structural check (types, status, integer bounds, no
   * unknown keys), about 2× faster listing; a row that fails it is still re-checked with zod, so
   * the `CorruptRecordError` names the exact field.
   */
  readonly readValidation?: "full" | "shape" | undefined;
  /**
   * The store's clock: what "due" (a claim hands out jobs with `runAt <= now`) and lease expiry
   * are judged by. Default `systemClock`. Every process sharing a file should use the same
   * time source (the system clock of one machine).
   */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Randomness of the backoff jitter of reclaimed jobs. Default `Math.random`. */
  readonly random?: RandomSource | undefined;
}

/** Corrupt records kept by {@link SqliteJobStore.corruptRecords} at most (newest kept). */
export const MAX_KEPT_CORRUPT_RECORDS = 1000;

const STATUS_SET: ReadonlySet<string> = new Set(Object.keys(emptyStatusCounts()));

const NO_JOBS: Job[] = [];

/** The queryJobs filters a `listJobs` query leaves unset. */
const NO_QUERY_FILTERS = Object.freeze({
  handlers: undefined,
  modes: undefined,
  minPriority: undefined,
  maxPriority: undefined,
  createdFrom: undefined,
  createdTo: undefined,
  errorCodes: undefined,
});

/** Runs tasks one after another, in call order (a failed task does not hold up the next). */
class Turns {
  #last: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.#last.then(task);
    this.#last = next.catch(() => undefined);
    return next;
  }
}

/** The migration step of every open in this process, one at a time (see `open`). */
const migrationTurns = new Turns();

/** Default of {@link SqliteJobStoreOptions.walAutocheckpointPages}. */
const DEFAULT_WAL_AUTOCHECKPOINT_PAGES = 10_000;
/** The WAL file is truncated back to this size after a checkpoint (SQLite's `journal_size_limit`). */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

interface JobRow {
  id: string;
  status: string;
  version: number;
  created_at: number;
  data: unknown;
}

/** Hot-path statements, prepared once at open. */
interface Statements {
  insertJob: SqliteStatementLike;
  updateJob: SqliteStatementLike;
  versionOf: SqliteStatementLike;
  /** The stored fields an update may not change, with the record that is authoritative over the flow columns. */
  immutableOf: SqliteStatementLike;
  /** Rewrites a row's flow columns (a row a migration did not backfill). */
  setFlowColumns: SqliteStatementLike;
  insertResult: SqliteStatementLike;
  resultExists: SqliteStatementLike;
  getJob: SqliteStatementLike;
  getResult: SqliteStatementLike;
  countByStatus: SqliteStatementLike;
}

/** A named parameter (`@name`): bound from an object by name, or turned into `?` by `preparePositional` (which checks the order). */
function param<T>(name: string): RawBuilder<T> {
  return sql.raw<T>(`@${name}`);
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

/**
 * Prepares a write of the commit path with positional parameters: binding arguments is about a
 * microsecond cheaper per statement than binding an object by name. The query is still written
 * with named parameters (readable, checked by kysely); `order` is the argument order the caller
 * passes, checked against the compiled SQL here, once, so a reordered query cannot bind wrong.
 */
function preparePositional(db: SqliteDatabaseLike, query: { compile(): { sql: string } }, order: readonly string[]): SqliteStatementLike {
  const text = query.compile().sql;
  const names = Array.from(text.matchAll(/@(\w+)/g), (m) => m[1]);
  if (names.join(",") !== order.join(",")) {
    throw new TypeError(`internal: statement parameters are (${names.join(", ")}), expected (${order.join(", ")}): ${text}`);
  }
  return db.prepare(text.replace(/@\w+/g, "?"));
}

/** Argument order of `insertJob`. */
const INSERT_JOB_ORDER = [
  "id",
  "created_at",
  "status",
  "priority",
  "run_at",
  "version",
  "aging_key",
  "data",
  "mode",
  "handler",
  "finished_at",
  "flow_group",
  "flow_limits",
] as const;
/** Argument order of `updateJob`. */
const UPDATE_JOB_ORDER = [
  "status",
  "priority",
  "run_at",
  "version",
  "aging_key",
  "data",
  "mode",
  "handler",
  "finished_at",
  "keep_lease",
  "keep_lease",
  "id",
  "expected",
  "created_at",
  "flow_group",
  "flow_limits",
] as const;

/** Compiles the hot-path queries with kysely once and prepares them once. */
function prepareStatements(db: SqliteDatabaseLike, k: Kysely<StoreSchema>): Statements {
  const prepare = (query: { compile(): { sql: string } }): SqliteStatementLike => db.prepare(query.compile().sql);
  const jobColumns = {
    status: param<string>("status"),
    priority: param<number>("priority"),
    run_at: param<number>("run_at"),
    version: param<number>("version"),
    aging_key: param<number>("aging_key"),
    data: param<string>("data"),
    mode: param<string>("mode"),
    handler: param<string>("handler"),
    finished_at: param<number | null>("finished_at"),
  };
  return {
    insertJob: preparePositional(
      db,
      k
        .insertInto("jobs")
        // A job's group and limits never change (an update compares them): the insert writes
        // `flow_group` and `flow_limits`, and only a repair of a row a migration left stale rewrites them.
        .values({
          id: param<string>("id"),
          created_at: param<number>("created_at"),
          ...jobColumns,
          flow_group: param<string | null>("flow_group"),
          flow_limits: param<string | null>("flow_limits"),
        })
        .onConflict((oc) => oc.column("id").doNothing()),
      INSERT_JOB_ORDER,
    ),
    // createdAt, group and limits are immutable (the listing order and the flow columns depend on
    // them): a changed one matches no row, and #writeUpdate says which.
    updateJob: preparePositional(
      db,
      k
        .updateTable("jobs")
        .set({
          ...jobColumns,
          // A job that leaves `running` leaves its claim: the lease ends with the committed move.
          lease_owner: sql<string | null>`CASE WHEN @keep_lease THEN lease_owner END`,
          lease_expires_at: sql<number | null>`CASE WHEN @keep_lease THEN lease_expires_at END`,
        })
        .where("id", "=", param<string>("id"))
        .where("version", "=", param<number>("expected"))
        .where("created_at", "=", param<number>("created_at"))
        .where(sql<boolean>`flow_group IS @flow_group`)
        .where(sql<boolean>`flow_limits IS @flow_limits`),
      UPDATE_JOB_ORDER,
    ),
    versionOf: prepare(k.selectFrom("jobs").select(["version", "created_at"]).where("id", "=", param<string>("id"))),
    immutableOf: prepare(
      k.selectFrom("jobs").select(["version", "created_at", "flow_group", "flow_limits", "data"]).where("id", "=", param<string>("id")),
    ),
    setFlowColumns: prepare(
      k
        .updateTable("jobs")
        .set({ flow_group: param<string | null>("flow_group"), flow_limits: param<string | null>("flow_limits") })
        .where("id", "=", param<string>("id")),
    ),
    // Inserts only when the job exists; `changes === 0` then means "no job" or "result exists".
    insertResult: preparePositional(
      db,
      k
        .insertInto("results")
        .columns(["job_id", "data"])
        .expression(
          k
            .selectNoFrom([param<string>("job_id").as("job_id"), param<string>("data").as("data")])
            .where((eb) => eb.exists(eb.selectFrom("jobs").select("id").where("id", "=", param<string>("job_id")))),
        )
        .onConflict((oc) => oc.column("job_id").doNothing()),
      ["job_id", "data", "job_id"],
    ),
    resultExists: prepare(k.selectFrom("results").select("job_id").where("job_id", "=", param<string>("job_id"))),
    getJob: prepare(k.selectFrom("jobs").select(["id", "status", "version", "created_at", "data"]).where("id", "=", param<string>("id"))),
    getResult: prepare(k.selectFrom("results").select(["job_id", "data"]).where("job_id", "=", param<string>("job_id"))),
    countByStatus: prepare(
      k
        .selectFrom("jobs")
        .select(["status", (eb) => eb.fn.countAll<number>().as("n")])
        .groupBy("status"),
    ),
  };
}

function checkPositiveInt(value: unknown, name: string, min: number, max: number): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)) {
    throw invalid(`invalid SqliteJobStore option: ${name} must be an integer ${min}–${max}`, [name]);
  }
}

/**
 * A {@link JobStore} on SQLite: better-sqlite3 through kysely, WAL mode, one immediate
 * transaction per `commit`, hot-path statements compiled by kysely and prepared once.
 *
 * Records are stored as JSON beside indexed columns (`status`, `priority`, `run_at`,
 * `created_at`, `version`, `aging_key`) and validated with `parseJob`/`parseResult` on read.
 * A row that fails validation makes `getJob`/`getResult` throw {@link CorruptRecordError} naming
 * the job; `listJobs` skips it, reports it (see {@link SqliteJobStoreOptions.onCorruptRecord})
 * and returns the others.
 *
 * @example
 * ```ts
 * const store = await SqliteJobStore.open({ path: "pyrexis.db" });
 * await store.commit({ insert: [job] });
 * const page = await store.listJobs({ status: "pending", limit: 50 });
 * await store.close();
 * ```
 */
export class SqliteJobStore implements JobStore, ClaimMethods, FlowMethods, PruneMethods, ScheduleMethods {
  /** Persistent for files, shared safely by several instances or processes on one file; claims always. */
  readonly capabilities: StoreCapabilities;
  /** Where the data lives (the file path, or `":memory:"`), for messages. */
  readonly location: string;

  #db: SqliteDatabaseLike | undefined;
  readonly #statements: Statements;
  readonly #commitTx: SqliteTransactionLike;
  readonly #agingRate: number;
  readonly #onCorruptRecord: ((error: CorruptRecordError) => void) | undefined;
  readonly #shapeOnly: boolean;
  readonly #corrupt = new Map<string, CorruptRecordError>();
  readonly #claims: SqliteClaims;
  readonly #prune: SqlitePrune;
  readonly #schedules: SqliteSchedules;
  readonly #dependencies: SqliteDependencies;
  readonly #clock: Pick<Clock, "now">;
  #batch: CommitBatch | undefined;
  /** The batch's inserts that have dependencies, parents first (from `orderDependentInserts`). */
  #dependents: Job[] = [];

  private constructor(
    db: SqliteDatabaseLike,
    statements: Statements,
    location: string,
    persistent: boolean,
    options: SqliteJobStoreOptions,
  ) {
    this.#db = db;
    this.#statements = statements;
    this.location = location;
    this.capabilities = Object.freeze({
      persistent,
      shared: persistent,
      claims: true,
      flow: true,
      queryJobs: true,
      prune: true,
      schedules: true,
      dependencies: true,
    });
    this.#clock = options.clock ?? systemClock;
    this.#dependencies = new SqliteDependencies(db, {
      job: (id) => {
        const row = statements.getJob.get({ id }) as JobRow | undefined;
        return row === undefined ? undefined : this.#readJob(row, true);
      },
      write: (job) => this.#writeUpdate(job, job.version - 1),
      writeResult: (result) => this.#writeResult(result),
    });
    this.#schedules = new SqliteSchedules(db);
    this.#agingRate = options.agingRate ?? 0.1;
    this.claimAgingRate = this.#agingRate;
    this.#onCorruptRecord = options.onCorruptRecord;
    this.#shapeOnly = options.readValidation === "shape";
    this.#claims = new SqliteClaims({
      db,
      location,
      clock: options.clock ?? systemClock,
      random: options.random ?? Math.random,
      agingKey: (job) => this.#agingKey(job),
      // Claims read back rows engines wrote and hand them straight to a handler: the cheap shape
      // check first (zod only for a row that fails it, so the error still names the field).
      readJob: (row) => this.#readJob(row, true),
      reportCorrupt: (error) => this.#reportCorrupt(error),
      settleFailed: (failed, now) => this.#dependencies.settleWritten(failed, now),
    });
    this.#prune = new SqlitePrune({ db, location });
    // Prepared once; the batch travels through a field so no closure is made per commit.
    this.#commitTx = db.transaction(() => this.#applyBatch());
  }

  /**
   * Opens (and creates or migrates) a store. A database that is not a Pyrexis store, or one
   * written by a newer version, is refused with `IncompatibleStoreError` and left untouched.
   */
  static async open(source: SqliteJobStoreSource, options: SqliteJobStoreOptions = {}): Promise<SqliteJobStore> {
    if (typeof source !== "object" || source === null || (!("path" in source) && !("database" in source))) {
      throw invalid("SqliteJobStore.open needs { path } or { database }", []);
    }
    if (typeof options !== "object" || options === null) throw invalid("invalid SqliteJobStore options: must be an object", []);
    if (options.synchronous !== undefined && options.synchronous !== "NORMAL" && options.synchronous !== "FULL") {
      throw invalid(`invalid SqliteJobStore option: synchronous must be "NORMAL" or "FULL"`, ["synchronous"]);
    }
    checkPositiveInt(options.busyTimeoutMs, "busyTimeoutMs", 0, 2_147_483_647);
    checkPositiveInt(options.walAutocheckpointPages, "walAutocheckpointPages", 0, 2_147_483_647);
    if (
      options.agingRate !== undefined &&
      (typeof options.agingRate !== "number" || !Number.isFinite(options.agingRate) || options.agingRate < 0)
    ) {
      throw invalid("invalid SqliteJobStore option: agingRate must be a finite number >= 0", ["agingRate"]);
    }
    if (options.readValidation !== undefined && options.readValidation !== "full" && options.readValidation !== "shape") {
      throw invalid(`invalid SqliteJobStore option: readValidation must be "full" or "shape"`, ["readValidation"]);
    }
    if (options.onCorruptRecord !== undefined && typeof options.onCorruptRecord !== "function") {
      throw invalid("invalid SqliteJobStore option: onCorruptRecord must be a function", ["onCorruptRecord"]);
    }
    if (
      options.clock !== undefined &&
      (typeof options.clock !== "object" || options.clock === null || typeof options.clock.now !== "function")
    ) {
      throw invalid("invalid SqliteJobStore option: clock must be an object with a now() method", ["clock"]);
    }
    if (options.random !== undefined && typeof options.random !== "function") {
      throw invalid("invalid SqliteJobStore option: random must be a function returning [0, 1)", ["random"]);
    }
    const opts: SqliteJobStoreOptions = Object.freeze({ ...options });

    let db: SqliteDatabaseLike;
    let location: string;
    if ("path" in source) {
      const path = source.path;
      if (typeof path !== "string" || path.length === 0) throw invalid("SqliteJobStore.open: path must be a non-empty string", ["path"]);
      location = path;
      if (path !== ":memory:" && existsSync(path) && statSync(path).size > 0) {
        // SQLite treats a file shorter than its header as empty and would take it over: any
        // non-empty file must start with the SQLite magic to be ours to open.
        assertSqliteHeader(path);
        // Inspect through a read-only connection first: a foreign file must not even get a WAL.
        const probe = SqliteJobStore.#connect(path, { readonly: true, fileMustExist: true });
        try {
          inspectDatabase(probe, path);
        } finally {
          probe.close();
        }
      }
      db = SqliteJobStore.#connect(path, {});
    } else {
      try {
        db = typeof source.database === "function" ? source.database() : source.database;
      } catch (e) {
        throw new StoreFailureError(`SqliteJobStore.open: the database factory threw: ${describe(e)}`, { cause: e });
      }
      if (typeof db !== "object" || db === null || typeof db.prepare !== "function") {
        throw invalid("SqliteJobStore.open: database must be a better-sqlite3-like connection", ["database"]);
      }
      location = "the given database";
    }

    try {
      // Reads only, before any pragma that writes (journal_mode=WAL rewrites the header).
      inspectDatabase(db, location);
      db.exec(`PRAGMA busy_timeout = ${opts.busyTimeoutMs ?? 5000}`);
      // A new file gives pages back after prunes (src/prune.ts): the mode can only be chosen
      // before the first table exists, so it is set here, before the migrations. Only on an
      // empty database: on an existing one the pragma would rewrite the header (a read command
      // must leave the file byte-for-byte unchanged); see `vacuum()` for converting one.
      if ((db.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n === 0) {
        db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      }
      db.exec("PRAGMA journal_mode = WAL");
      db.exec(`PRAGMA synchronous = ${opts.synchronous ?? "NORMAL"}`);
      // Fewer, larger checkpoints: a busy queue rewrites the same pages (the newest jobs' rows and
      // index leaves) over and over, and each checkpoint copies a page once however often it
      // changed since the last one. The limit truncates the WAL back after a checkpoint.
      db.exec(`PRAGMA wal_autocheckpoint = ${opts.walAutocheckpointPages ?? DEFAULT_WAL_AUTOCHECKPOINT_PAGES}`);
      db.exec(`PRAGMA journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
      const file =
        (db.prepare("PRAGMA database_list").all() as { name: string; file: string }[]).find((d) => d.name === "main")?.file ?? "";

      const kysely = new Kysely<StoreSchema>({ dialect: new SqliteDialect({ database: db }) });
      const migrator = new Migrator({
        db: kysely,
        provider: migrationProvider,
        migrationTableName: MIGRATION_TABLE,
        migrationLockTableName: MIGRATION_LOCK_TABLE,
      });
      // kysely runs SQLite migrations outside a transaction and without a cross-process lock:
      // the write lock, taken here, makes processes opening one file at once migrate one after
      // another (the later ones find nothing to do), and a crash mid-migration leaves no half.
      // Opens in one process take turns first: the migrator awaits while holding the lock, and
      // a second open's BEGIN IMMEDIATE would wait for it synchronously (busy_timeout blocks the
      // thread), so the first could never finish: both would fail with "database is locked".
      await migrationTurns.run(async () => {
        db.exec("BEGIN IMMEDIATE");
        const { error } = await migrator.migrateToLatest();
        if (error !== undefined) {
          db.exec("ROLLBACK");
          throw new StoreFailureError(`cannot migrate ${location}: ${describe(error)}`, { cause: error });
        }
        db.exec("COMMIT");
      });
      return new SqliteJobStore(db, prepareStatements(db, kysely), location, file !== "", opts);
    } catch (e) {
      try {
        db.close();
      } catch {
        // The open error is the one worth reporting.
      }
      if (isPyrexisError(e)) throw e;
      throw new StoreFailureError(`cannot open ${location}: ${describe(e)}`, { cause: e });
    }
  }

  static #connect(path: string, options: { readonly?: boolean; fileMustExist?: boolean }): SqliteDatabaseLike {
    try {
      return new Database(path, options);
    } catch (e) {
      throw new StoreFailureError(`cannot open ${path}: ${describe(e)}`, { cause: e });
    }
  }

  /**
   * `ClaimMethods.claimAgingRate`: the aging rate claims are ordered by (the `agingRate` option).
   * A field, not a getter: it stays readable through a `Proxy` of the store.
   */
  readonly claimAgingRate: number;

  /**
   * Corrupt rows `listJobs` skipped (when no `onCorruptRecord` option is given), one per job,
   * newest last, at most {@link MAX_KEPT_CORRUPT_RECORDS}.
   */
  get corruptRecords(): readonly CorruptRecordError[] {
    return [...this.#corrupt.values()];
  }

  #open(): SqliteDatabaseLike {
    if (this.#db === undefined) throw new StoreClosedError(`store ${this.location} is closed`);
    return this.#db;
  }

  #agingKey(job: Job): number {
    return job.priority - (this.#agingRate * job.runAt) / 1000;
  }

  // Runs inside the immediate transaction; any throw rolls the whole batch back.
  #applyBatch(): void {
    const batch = this.#batch!;
    const s = this.#statements;
    const { insert, update, results } = batch;
    if (insert) {
      for (let i = 0; i < insert.length; i++) {
        const job = insert[i] as Job;
        // INSERT_JOB_ORDER
        const changes = s.insertJob.run(
          job.id,
          job.createdAt,
          job.status,
          job.priority,
          job.runAt,
          job.version,
          this.#agingKey(job),
          JSON.stringify(job),
          job.mode,
          job.handler,
          finishedAt(job),
          job.group ?? null,
          storedLimitsText(job.limits),
        ).changes;
        if (changes === 0) throw new DuplicateJobError(job.id);
      }
    }
    const dependents = this.#dependents;
    if (dependents.length > 0) assertKnownParents(dependents, (id) => s.versionOf.get({ id }) !== undefined);
    if (update)
      for (let i = 0; i < update.length; i++) this.#writeUpdate((update[i] as JobUpdate).job, (update[i] as JobUpdate).expectedVersion, i);
    if (results) for (let i = 0; i < results.length; i++) this.#writeResult(results[i] as Result);
    if (dependents.length > 0 || update !== undefined) {
      const now = this.#clock.now();
      if (dependents.length > 0) this.#dependencies.linkInserted(dependents, now);
      if (update !== undefined && update.length > 0)
        this.#dependencies.settleWritten(
          update.map((u) => u.job),
          now,
        );
    }
  }

  /** One compare-and-set update inside the write transaction; the contract's error when it misses. */
  #writeUpdate(job: Job, expectedVersion: number, index?: number): void {
    const group = job.group ?? null;
    const limits = storedLimitsText(job.limits);
    let changes = this.#runUpdate(job, expectedVersion, group, limits);
    if (changes === 0 && this.#explainMiss(job, expectedVersion, group, limits, index))
      changes = this.#runUpdate(job, expectedVersion, group, limits);
    if (changes === 0)
      throw new StoreFailureError(`internal: the update of job ${job.id} missed its row after the flow columns were repaired`);
    if (job.status !== "running" && job.limits !== undefined) this.#claims.leftRunning(job);
  }

  #runUpdate(job: Job, expectedVersion: number, group: string | null, limits: string | null): number | bigint {
    // UPDATE_JOB_ORDER
    return this.#statements.updateJob.run(
      job.status,
      job.priority,
      job.runAt,
      job.version,
      this.#agingKey(job),
      JSON.stringify(job),
      job.mode,
      job.handler,
      finishedAt(job),
      job.status === "running" ? 1 : 0,
      job.status === "running" ? 1 : 0,
      job.id,
      expectedVersion,
      job.createdAt,
      group,
      limits,
    ).changes;
  }

  /**
   * Why the update of `job` matched no row: throws `StaleVersionError`, or `ValidationError` when
   * it changes an immutable field. The stored record is authoritative over the flow columns: when
   * it agrees with the update and only the columns differ (a row a migration did not backfill, or
   * whose record was unreadable then), the columns are repaired and true returned (update again).
   */
  #explainMiss(job: Job, expectedVersion: number, group: string | null, limits: string | null, index: number | undefined): boolean {
    const s = this.#statements;
    const row = s.immutableOf.get({ id: job.id }) as
      { version: number; created_at: number; flow_group: string | null; flow_limits: string | null; data: string } | undefined;
    if (row === undefined || row.version !== expectedVersion) throw new StaleVersionError(job.id, expectedVersion, row?.version);
    const change = immutableChange(
      immutableFieldsOfRow({ createdAt: row.created_at, data: row.data, group: row.flow_group, limits: row.flow_limits }),
      job,
    );
    if (change !== undefined) {
      throw new ValidationError(change, [{ path: index === undefined ? ["update"] : ["update", index, "job"], message: change }]);
    }
    s.setFlowColumns.run({ flow_group: group, flow_limits: limits, id: job.id });
    return true;
  }

  /** One write-once result inside the write transaction; the contract's error when it cannot be written. */
  #writeResult(result: Result): void {
    const s = this.#statements;
    if (s.insertResult.run(result.jobId, JSON.stringify(result), result.jobId).changes === 0) {
      if (s.resultExists.get({ job_id: result.jobId }) !== undefined) throw new ResultExistsError(result.jobId);
      throw new JobNotFoundError(result.jobId);
    }
  }

  /** Writes the batch in one `BEGIN IMMEDIATE` transaction: all of it, or nothing and a typed error. */
  async commit(batch: CommitBatch): Promise<void> {
    this.#open();
    const checked = checkCommitShape(batch);
    this.#dependents = checked.insert === undefined ? NO_JOBS : orderDependentInserts(checked.insert);
    this.#batch = checked;
    try {
      this.#commitTx.immediate();
    } catch (e) {
      if (isPyrexisError(e)) throw e;
      throw new StoreFailureError(`commit to ${this.location} failed: ${describe(e)}`, { cause: e });
    } finally {
      this.#batch = undefined;
      this.#dependents = NO_JOBS;
    }
    this.#claims.noteWrite();
    if (batch.update !== undefined) this.#claims.rewritten(batch.update.map((u) => u.job.id));
  }

  /** Claims up to `limit` due jobs in one immediate transaction (see `ClaimMethods` for the rules). */
  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    this.#open();
    return this.#claims.claim(request);
  }

  /** Claims up to `limit` due jobs that fit their limits, by group shares, in one immediate transaction (see `FlowMethods`). */
  async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    this.#open();
    return this.#claims.claimFlow(request);
  }

  /** Sets a running job's units of a rate admission (`ctx.charge`); false when it holds no such admission. */
  async chargeFlow(charge: FlowCharge): Promise<boolean> {
    this.#open();
    return this.#claims.chargeFlow(charge);
  }

  /** Extends the caller's leases in one immediate transaction; reports lost and cancelled jobs. */
  async renewLeases(request: RenewRequest): Promise<RenewReport> {
    this.#open();
    return this.#claims.renewLeases(request);
  }

  /** Takes back running jobs whose lease expired (or that have none, or whose owner is dead), in one immediate transaction. */
  async reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
    this.#open();
    return this.#claims.reclaimExpired(request);
  }

  /** Distinct owners holding a lease now (expired or not). */
  async leaseOwners(): Promise<string[]> {
    this.#open();
    return this.#claims.leaseOwners();
  }

  /**
   * Changes whenever this file may have changed: `PRAGMA data_version` (which SQLite bumps when
   * another connection, in any process, commits) and this instance's own writes. No transaction.
   */
  async changeMark(): Promise<string> {
    this.#open();
    return this.#claims.changeMark();
  }

  /**
   * The `prune` capability (see `PruneMethods`): one immediate transaction deletes up to `limit`
   * finished jobs and their results, found by a range scan of the `jobs_finished` index. On a
   * file in incremental auto-vacuum mode (every file this version creates), free pages above half
   * of the file are then given back; see {@link SqliteJobStore.vacuum} for older files.
   */
  async pruneFinished(request: PruneRequest): Promise<PruneReport> {
    this.#open();
    const report = this.#prune.prune(normalizePruneRequest(request));
    if (report.deleted.length > 0) this.#claims.noteWrite();
    return report;
  }

  /**
   * Rewrites the whole file compactly (`VACUUM`) and switches it to incremental auto-vacuum, so
   * later prunes give space back. For files created before this version (auto-vacuum off):
   * their freed pages are reused by new jobs but the file never shrinks. Takes the write lock
   * for as long as the copy takes and needs free disk for a second copy: run it when no engine
   * is busy (e.g. `pyrexis prune --vacuum`). Resolves with the file's page counts before and after.
   */
  async vacuum(): Promise<{ readonly pagesBefore: number; readonly pagesAfter: number }> {
    const db = this.#open();
    return this.#guard("vacuum", () => {
      const pages = (): number => Number((db.prepare("PRAGMA page_count").get() as { page_count: number }).page_count);
      const pagesBefore = pages();
      db.exec("PRAGMA auto_vacuum = INCREMENTAL");
      db.exec("VACUUM");
      this.#claims.noteWrite();
      return { pagesBefore, pagesAfter: pages() };
    });
  }

  #readJob(row: JobRow, shapeFirst: boolean = this.#shapeOnly): Job {
    if (typeof row.data !== "string") throw new CorruptRecordError(row.id, "data column is not text");
    let value: unknown;
    try {
      value = JSON.parse(row.data);
    } catch (e) {
      throw new CorruptRecordError(row.id, `data is not JSON: ${describe(e)}`, { cause: e });
    }
    let job: Job;
    if (shapeFirst && looksLikeJob(value)) {
      job = value as Job;
    } else {
      try {
        job = parseJob(value, "stored job");
      } catch (e) {
        throw new CorruptRecordError(row.id, describe(e), { cause: e });
      }
    }
    if (job.id !== row.id || job.status !== row.status || job.version !== row.version || job.createdAt !== row.created_at) {
      throw new CorruptRecordError(row.id, "record disagrees with its indexed columns (id, status, version or createdAt)");
    }
    return job;
  }

  #guard<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (isPyrexisError(e)) throw e;
      throw new StoreFailureError(`${what} on ${this.location} failed: ${describe(e)}`, { cause: e });
    }
  }

  /** The job, or `undefined`; throws {@link CorruptRecordError} when its row cannot be read. */
  async getJob(id: string): Promise<Job | undefined> {
    this.#open();
    assertJobId(id);
    return this.#guard("getJob", () => {
      const row = this.#statements.getJob.get({ id }) as JobRow | undefined;
      return row === undefined ? undefined : this.#readJob(row);
    });
  }

  /** The job's result, or `undefined`; throws {@link CorruptRecordError} when it cannot be read. */
  async getResult(jobId: string): Promise<Result | undefined> {
    this.#open();
    assertJobId(jobId, "result job id");
    return this.#guard("getResult", () => {
      const row = this.#statements.getResult.get({ job_id: jobId }) as { job_id: string; data: unknown } | undefined;
      if (row === undefined) return undefined;
      let result: Result;
      try {
        if (typeof row.data !== "string") throw new TypeError("data column is not text");
        result = parseResult(JSON.parse(row.data), "stored result");
      } catch (e) {
        throw new CorruptRecordError(jobId, `result: ${describe(e)}`, { cause: e });
      }
      if (result.jobId !== jobId) throw new CorruptRecordError(jobId, `result names job ${result.jobId}`);
      return Object.freeze(result);
    });
  }

  /**
   * Keyset-paginated listing by `(createdAt, id)`. Corrupt rows are skipped and reported (so a
   * page may hold fewer than `limit` jobs while a `cursor` still follows); the cursor moves past
   * them, so paging never gets stuck.
   */
  async listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    const db = this.#open();
    // A query by status alone: served as queryJobs is (see `./query.ts` for the indexes).
    const q: NormalizedJobsQuery = { ...normalizeListQuery(query), ...NO_QUERY_FILTERS };
    return this.#guard("listJobs", () => runJobsQuery(db, q, (row) => this.#readListed(row)));
  }

  /** A listed row as a job, or `undefined` for a corrupt one (reported, then skipped). */
  #readListed(row: JobRow): Job | undefined {
    try {
      return this.#readJob(row);
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) throw e;
      this.#reportCorrupt(e);
      return undefined;
    }
  }

  /** The `queryJobs` capability (see `./query.ts`); corrupt rows are skipped and reported as in {@link listJobs}. */
  async queryJobs(query?: QueryJobsQuery): Promise<ListJobsPage> {
    const db = this.#open();
    const q = normalizeJobsQuery(query);
    return this.#guard("queryJobs", () => runJobsQuery(db, q, (row) => this.#readListed(row)));
  }

  #reportCorrupt(error: CorruptRecordError): void {
    if (this.#onCorruptRecord !== undefined) {
      this.#onCorruptRecord(error);
      return;
    }
    this.#corrupt.delete(error.jobId);
    this.#corrupt.set(error.jobId, error);
    if (this.#corrupt.size > MAX_KEPT_CORRUPT_RECORDS) {
      const oldest = this.#corrupt.keys().next().value;
      if (oldest !== undefined) this.#corrupt.delete(oldest);
    }
  }

  /** Jobs per status, from the indexed column (corrupt rows count under their stored status). */
  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.#open();
    return this.#guard("countByStatus", () => {
      const counts = emptyStatusCounts();
      for (const row of this.#statements.countByStatus.all() as { status: string; n: number }[]) {
        if (STATUS_SET.has(row.status)) counts[row.status as JobStatus] = row.n;
      }
      return counts;
    });
  }

  /** The schedules capability (see `./schedules.ts`): creates a schedule or returns the identical stored one. */
  async putSchedule(record: ScheduleRecord): Promise<PutScheduleOutcome> {
    this.#open();
    return this.#guard("putSchedule", () => this.#schedules.put(record));
  }

  /** The schedule of this name, or `undefined`. */
  async getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    this.#open();
    return this.#guard("getSchedule", () => this.#schedules.get(name));
  }

  /** Every schedule, in name order. */
  async listSchedules(): Promise<ScheduleRecord[]> {
    this.#open();
    return this.#guard("listSchedules", () => this.#schedules.list());
  }

  /** Removes a schedule; `true` when there was one. */
  async deleteSchedule(name: string): Promise<boolean> {
    this.#open();
    return this.#guard("deleteSchedule", () => this.#schedules.delete(name));
  }

  /** Raises the schedule's last tick to `tickAt` (never lowers it); `false` when there is no such schedule. */
  async recordScheduleTick(name: string, tickAt: number): Promise<boolean> {
    this.#open();
    return this.#guard("recordScheduleTick", () => this.#schedules.recordTick(name, tickAt));
  }

  /** Closes the connection (checkpointing the WAL). Idempotent; later calls reject `StoreClosedError`. */
  async close(): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    try {
      db.close();
    } catch (e) {
      throw new StoreFailureError(`closing ${this.location} failed: ${describe(e)}`, { cause: e });
    }
  }
}
