import pg from "pg";
import { CompiledQuery, Kysely, PostgresDialect, type Transaction } from "kysely";
import {
  CorruptRecordError,
  DuplicateJobError,
  JobNotFoundError,
  ResultExistsError,
  StaleVersionError,
  StoreClosedError,
  StoreFailureError,
  UnknownDependencyError,
  ValidationError,
  isPyrexisError,
  type Clock,
  type Job,
  type JobStatus,
  type RandomSource,
  type Result,
} from "@pyrexis/models";
import type {
  ClaimedJob,
  ClaimMethods,
  ClaimRequest,
  CommitBatch,
  FlowCharge,
  FlowClaimRequest,
  FlowClaimResult,
  FlowMethods,
  JobUpdate,
  JobStore,
  Lease,
  ListJobsPage,
  ListJobsQuery,
  PruneMethods,
  PruneReport,
  PruneRequest,
  PutScheduleOutcome,
  ReclaimReport,
  ReclaimRequest,
  RenewReport,
  RenewRequest,
  ScheduleMethods,
  ScheduleRecord,
  StoreCapabilities,
} from "@pyrexis/storage";
import {
  assertJobId,
  checkClaimRequest,
  checkCommitShape,
  checkFlowCharge,
  checkFlowClaimRequest,
  checkReclaimRequest,
  checkRenewRequest,
  DEFAULT_CLAIM_AGING_RATE,
  emptyStatusCounts,
  encodeListCursor,
  endedParentsOf,
  immutableChange,
  immutableFieldsOfRow,
  normalizeListQuery,
  normalizePruneRequest,
  orderDependentInserts,
  reclaimedRecord,
} from "@pyrexis/storage/kit";
import { PostgresDependencies } from "./dependencies.js";
import { PostgresFlow } from "./flow.js";
import { channelOf, checkSchemaName, DEFAULT_SCHEMA } from "./identifiers.js";
import { ChangeListener } from "./listener.js";
import { migrate } from "./migrations.js";
import type { PostgresPoolLike } from "./postgres-like.js";
import { columnParams, jobColumns, readJob, readResult, updateJobsParams, type JobColumns, type JobRow } from "./records.js";
import { PostgresSchedules } from "./schedules.js";
import { buildStatements, type Statements } from "./statements.js";
import { timedPool } from "./timed-pool.js";

/** Where the store's data lives: a connection string, a pool you made, or a kysely instance. */
export type PostgresJobStoreSource =
  | {
      /**
       * A `postgres://` URL. The store makes its own pool (see `poolSize`) and ends it on
       * `close()`. A `schema` query parameter (`…/db?schema=jobs`) sets the schema.
       */
      readonly connectionString: string;
      /** Connections of the store's pool, the listener's included. Default 10. */
      readonly poolSize?: number | undefined;
      /** How long a query waits for a free connection before failing with `StoreFailureError`. Default 10000 ms. */
      readonly connectionTimeoutMs?: number | undefined;
    }
  | {
      /** A pool (e.g. a `pg.Pool`). The store checks out one connection for its listener and never ends the pool. */
      readonly pool: PostgresPoolLike;
    }
  | {
      /**
       * A kysely instance on PostgreSQL (its dialect must be kysely's `PostgresDialect`). The
       * store never destroys it.
       */
      // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any kysely database type
      readonly kysely: Kysely<any>;
      /**
       * A pool to take the listener's connection from. Without it the store has no listener,
       * and `changeMark()` reads the change counter from the database on each call.
       */
      readonly pool?: PostgresPoolLike | undefined;
    };

/** Options of {@link PostgresJobStore.open}. */
export interface PostgresJobStoreOptions {
  /** The schema holding the store's tables (created when missing). Lowercase identifier; default `"pyrexis"`. */
  readonly schema?: string | undefined;
  /**
   * The clock that judges "due" and lease expiry. Default: PostgreSQL's `now()`, one clock for
   * every node. Give one only in tests (e.g. a `ManualClock`): its value is sent with each statement.
   */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Aging rate of the claim order (priority per second waited). Default 0.1, the scheduler's. */
  readonly agingRate?: number | undefined;
  /** Randomness of the backoff jitter of reclaimed jobs. Default `Math.random`. */
  readonly random?: RandomSource | undefined;
  /** Keep a `LISTEN` connection for `changeMark()`. Default true (when the source has a pool). */
  readonly listen?: boolean | undefined;
  /** Interval of the listener's heartbeat. Default 10000 ms. */
  readonly heartbeatMs?: number | undefined;
  /** How long a heartbeat may take before the listener's connection is replaced. Default 5000 ms. */
  readonly heartbeatTimeoutMs?: number | undefined;
  /**
   * How long a statement may wait for PostgreSQL's answer before it rejects with
   * `StoreFailureError` and its connection is destroyed (a half-open connection never answers).
   * Default 30000 ms. Applies to the `connectionString` and `pool` sources; a `kysely` source
   * brings its own driver.
   */
  readonly queryTimeoutMs?: number | undefined;
  /** Called for each corrupt row `listJobs`, `claim` or `reclaimExpired` skips. When absent, kept in {@link PostgresJobStore.corruptRecords}. */
  readonly onCorruptRecord?: ((error: CorruptRecordError) => void) | undefined;
  /** Called with errors of idle connections and of the listener (which the store survives). */
  readonly onConnectionError?: ((error: Error) => void) | undefined;
}

/** Corrupt records kept by {@link PostgresJobStore.corruptRecords} at most (newest kept). */
export const MAX_KEPT_CORRUPT_RECORDS = 1000;

const CAPABILITIES: StoreCapabilities = Object.freeze({
  persistent: true,
  shared: true,
  claims: true,
  prune: true,
  schedules: true,
  dependencies: true,
  flow: true,
});
const STATUS_SET: ReadonlySet<string> = new Set(Object.keys(emptyStatusCounts()));

const NO_JOBS: Job[] = [];

/** Tries of one store operation that PostgreSQL aborts for a deadlock or a serialization failure. */
const MAX_TRANSIENT_TRIES = 8;

/** True for `deadlock_detected` (40P01) and `serialization_failure` (40001): the transaction was rolled back, trying again is safe. */
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "40P01" || code === "40001";
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

function checkInt(value: unknown, name: string, min: number, max: number): void {
  if (value !== undefined && (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)) {
    throw invalid(`invalid PostgresJobStore option: ${name} must be an integer ${min}–${max}`, [name]);
  }
}

function checkFunction(value: unknown, name: string): void {
  if (value !== undefined && typeof value !== "function")
    throw invalid(`invalid PostgresJobStore option: ${name} must be a function`, [name]);
}

function checkOptions(options: unknown): PostgresJobStoreOptions {
  if (typeof options !== "object" || options === null) throw invalid("invalid PostgresJobStore options: must be an object", []);
  const o = options as PostgresJobStoreOptions;
  if (o.schema !== undefined) checkSchemaName(o.schema);
  if (o.agingRate !== undefined && (typeof o.agingRate !== "number" || !Number.isFinite(o.agingRate) || o.agingRate < 0)) {
    throw invalid("invalid PostgresJobStore option: agingRate must be a finite number >= 0", ["agingRate"]);
  }
  if (o.clock !== undefined && (typeof o.clock !== "object" || o.clock === null || typeof o.clock.now !== "function")) {
    throw invalid("invalid PostgresJobStore option: clock must have a now() method", ["clock"]);
  }
  if (o.listen !== undefined && typeof o.listen !== "boolean")
    throw invalid("invalid PostgresJobStore option: listen must be a boolean", ["listen"]);
  checkInt(o.heartbeatMs, "heartbeatMs", 10, 2_147_483_647);
  checkInt(o.heartbeatTimeoutMs, "heartbeatTimeoutMs", 10, 2_147_483_647);
  checkInt(o.queryTimeoutMs, "queryTimeoutMs", 10, 2_147_483_647);
  checkFunction(o.random, "random");
  checkFunction(o.onCorruptRecord, "onCorruptRecord");
  checkFunction(o.onConnectionError, "onConnectionError");
  return Object.freeze({ ...o });
}

/**
 * Takes a `schema` query parameter off a `postgres://` URL (the store's, not the driver's):
 * `postgres://host/db?schema=jobs` opens schema `jobs`. Other strings are left as they are.
 */
function schemaFromUrl(connectionString: unknown): { url: string; schema: string | undefined } {
  if (typeof connectionString !== "string" || !/^postgres(?:ql)?:\/\//.test(connectionString)) {
    return { url: connectionString as string, schema: undefined };
  }
  let parsed: URL;
  try {
    parsed = new URL(connectionString);
  } catch {
    return { url: connectionString, schema: undefined };
  }
  const schema = parsed.searchParams.get("schema");
  if (schema === null) return { url: connectionString, schema: undefined };
  parsed.searchParams.delete("schema");
  return { url: parsed.toString(), schema };
}

/** What `open` made of the source: the kysely to query through, the pool to listen on, what `close` frees. */
interface Connection {
  readonly kysely: Kysely<unknown>;
  readonly pool: PostgresPoolLike | undefined;
  /** Frees what the store made itself (never a caller's pool or kysely). */
  readonly release: () => Promise<void>;
}

/** Default of {@link PostgresJobStoreOptions.queryTimeoutMs}. */
const DEFAULT_QUERY_TIMEOUT_MS = 30_000;

function connect(source: PostgresJobStoreSource, schema: string, queryTimeoutMs: number, onError: (e: Error) => void): Connection {
  if (typeof source !== "object" || source === null)
    throw invalid("PostgresJobStore.open needs { connectionString }, { pool } or { kysely }", []);
  if ("connectionString" in source) {
    const url = source.connectionString;
    if (typeof url !== "string" || url.length === 0)
      throw invalid("PostgresJobStore.open: connectionString must be a non-empty string", ["connectionString"]);
    if (source.poolSize !== undefined && (!Number.isInteger(source.poolSize) || source.poolSize < 2 || source.poolSize > 1000)) {
      throw invalid("PostgresJobStore.open: poolSize must be an integer 2–1000 (one connection listens)", ["poolSize"]);
    }
    checkInt(source.connectionTimeoutMs, "connectionTimeoutMs", 1, 2_147_483_647);
    const pool = new pg.Pool({
      connectionString: url,
      max: source.poolSize ?? 10,
      connectionTimeoutMillis: source.connectionTimeoutMs ?? 10_000,
      application_name: `pyrexis:${schema}`,
    });
    // An idle connection that dies (a failover, pg_terminate_backend) is dropped by the pool and
    // replaced on the next query; without a handler its error would crash the process.
    pool.on("error", onError);
    watchClients(pool, onError);
    const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: timedPool(pool, queryTimeoutMs, true) as never }) });
    return { kysely, pool: pool, release: () => kysely.destroy() };
  }
  if ("pool" in source && !("kysely" in source)) {
    const pool = source.pool;
    if (typeof pool !== "object" || pool === null || typeof pool.connect !== "function") {
      throw invalid("PostgresJobStore.open: pool must be a pg.Pool-like object with connect()", ["pool"]);
    }
    watchClients(pool, onError);
    // kysely ends its pool when destroyed; the caller's pool is theirs to end.
    const kysely = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: timedPool(pool, queryTimeoutMs, false) as never }) });
    return { kysely, pool, release: () => kysely.destroy() };
  }
  if ("kysely" in source) {
    const kysely = source.kysely as unknown;
    if (!(kysely instanceof Kysely)) throw invalid("PostgresJobStore.open: kysely must be a Kysely instance", ["kysely"]);
    const pool = source.pool;
    if (pool !== undefined && (typeof pool !== "object" || pool === null || typeof pool.connect !== "function")) {
      throw invalid("PostgresJobStore.open: pool must be a pg.Pool-like object with connect()", ["pool"]);
    }
    return { kysely: kysely as Kysely<unknown>, pool, release: async () => undefined };
  }
  throw invalid("PostgresJobStore.open needs { connectionString }, { pool } or { kysely }", []);
}

/**
 * A connection killed while checked out (mid-transaction) makes its client emit `error` after the
 * failing query already rejected; with no listener that would crash the process. A `pg.Pool`
 * announces each new client with `connect`: give each one a listener. Pools without `on` are
 * left as they are.
 */
function watchClients(pool: unknown, onError: (e: Error) => void): void {
  const p = pool as { on?: (event: "connect", fn: (client: { on(event: "error", fn: (e: Error) => void): unknown }) => void) => unknown };
  if (typeof p.on === "function") p.on("connect", (client) => client.on("error", onError));
}

type Executor = Pick<Kysely<unknown>, "executeQuery"> | Transaction<unknown>;

async function run<R>(db: Executor, text: string, params: readonly unknown[]): Promise<R[]> {
  const r = await db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]));
  return r.rows;
}

interface ClaimRow extends JobRow {
  readonly expires_at: number;
}

interface ExpiredRow extends JobRow {
  readonly now: number;
}

/**
 * A {@link JobStore} on PostgreSQL with the `claims` capability: many engines, on many
 * machines, share one database without running a job twice.
 *
 * Records are JSON text beside indexed columns; a `commit` is one transaction of set-based
 * statements (inserts, compare-and-set updates, results: `unnest` of arrays, so a batch of a
 * thousand completions costs what a batch of one does) and one `pg_notify`: a batch of inserts
 * alone, or of updates and results alone, is a single statement. A claim is
 * one statement (`SELECT … FOR UPDATE SKIP LOCKED` feeding an `UPDATE … RETURNING`); lease
 * expiry is judged by the database's `now()`. A flow claim ({@link claimFlow}) is one
 * transaction, serialized with the schema's other flow claims by an advisory lock. One `LISTEN`
 * connection per instance feeds {@link changeMark}.
 *
 * @example
 * ```ts
 * const store = await PostgresJobStore.open({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
 * await store.commit({ insert: [job] });
 * const [claimed] = await store.claim({ owner: "worker-1", limit: 10, leaseMs: 30_000 });
 * await store.close();
 * ```
 */
export class PostgresJobStore implements JobStore, ClaimMethods, FlowMethods, PruneMethods, ScheduleMethods {
  /** Persistent, shared by any number of instances and processes, with claims and flow claims. */
  readonly capabilities: StoreCapabilities = CAPABILITIES;
  /** The schema holding this store's tables. */
  readonly schema: string;

  readonly #connection: Connection;
  readonly #statements: Statements;
  readonly #dependencies: PostgresDependencies;
  readonly #schedules: PostgresSchedules;
  readonly #flow: PostgresFlow;
  readonly #channel: string;
  readonly #clock: Pick<Clock, "now"> | undefined;
  readonly #agingRate: number;
  readonly #random: RandomSource;
  readonly #onCorruptRecord: ((error: CorruptRecordError) => void) | undefined;
  readonly #corrupt = new Map<string, CorruptRecordError>();
  #listener: ChangeListener | undefined;
  #closed = false;
  /** Bumped by this instance's writes and by every notification: {@link changeMark}. */
  #mark = 0;

  private constructor(connection: Connection, schema: string, options: PostgresJobStoreOptions) {
    this.#connection = connection;
    this.schema = schema;
    this.#statements = buildStatements(schema);
    this.#schedules = new PostgresSchedules(connection.kysely, schema);
    this.#flow = new PostgresFlow(schema);
    this.#channel = channelOf(schema);
    this.#clock = options.clock;
    this.#agingRate = options.agingRate ?? DEFAULT_CLAIM_AGING_RATE;
    this.claimAgingRate = this.#agingRate;
    this.#dependencies = new PostgresDependencies(schema, {
      updateJobs: this.#statements.updateJobs,
      insertResults: this.#statements.insertResults,
      agingRate: this.#agingRate,
      updateMissed: (trx, columns, expected, jobs, rows) => this.#updateMissed(trx, columns, expected, jobs, rows),
    });
    this.#random = options.random ?? Math.random;
    this.#onCorruptRecord = options.onCorruptRecord;
  }

  /**
   * Opens a store: creates or migrates its schema (once, however many nodes open at the same
   * moment) and starts its listener. A schema migrated by a newer version of this package, or
   * one holding foreign tables, is refused with `IncompatibleStoreError` and left untouched; an
   * unreachable database rejects with `StoreFailureError`.
   */
  static async open(source: PostgresJobStoreSource, options: PostgresJobStoreOptions = {}): Promise<PostgresJobStore> {
    let opts = checkOptions(options);
    if (typeof source === "object" && source !== null && "connectionString" in source) {
      const { url, schema: fromUrl } = schemaFromUrl(source.connectionString);
      if (fromUrl !== undefined) {
        if (opts.schema !== undefined && opts.schema !== fromUrl) {
          throw invalid(`PostgresJobStore.open: the URL names schema ${fromUrl} but options.schema is ${opts.schema}`, ["schema"]);
        }
        opts = Object.freeze({ ...opts, schema: checkSchemaName(fromUrl) });
        source = { ...source, connectionString: url };
      }
    }
    const schema = opts.schema ?? DEFAULT_SCHEMA;
    const onConnectionError = opts.onConnectionError ?? (() => undefined);
    const connection = connect(source, schema, opts.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS, onConnectionError);
    const store = new PostgresJobStore(connection, schema, opts);
    try {
      await migrate(connection.kysely, schema);
      if (opts.listen !== false && connection.pool !== undefined) {
        const listener = new ChangeListener(connection.pool, store.#channel, {
          heartbeatMs: opts.heartbeatMs ?? 10_000,
          heartbeatTimeoutMs: opts.heartbeatTimeoutMs ?? 5_000,
          applicationName: `pyrexis-listener:${schema}`,
          onChange: () => {
            store.#mark++;
          },
          onError: onConnectionError,
        });
        await listener.start();
        store.#listener = listener;
      }
      return store;
    } catch (e) {
      await store.#listener?.close();
      await connection.release().catch(() => undefined);
      if (isPyrexisError(e)) throw e;
      throw new StoreFailureError(`cannot open the PostgreSQL store (schema ${schema}): ${describe(e)}`, { cause: e });
    }
  }

  /**
   * `ClaimMethods.claimAgingRate`: the aging rate claims are ordered by (the `agingRate` option).
   * A field, not a getter: it stays readable through a `Proxy` of the store.
   */
  readonly claimAgingRate: number;

  /**
   * Corrupt rows that reads skipped (when no `onCorruptRecord` option is given), one per job,
   * newest last, at most {@link MAX_KEPT_CORRUPT_RECORDS}.
   */
  get corruptRecords(): readonly CorruptRecordError[] {
    return [...this.#corrupt.values()];
  }

  /** Runs one listener heartbeat now (the timer runs it every `heartbeatMs`); true when the listener answered. */
  async checkListener(): Promise<boolean> {
    this.#assertOpen();
    return (await this.#listener?.check()) ?? false;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError(`PostgreSQL store (schema ${this.schema}) is closed`);
  }

  #now(): number | null {
    return this.#clock === undefined ? null : this.#clock.now();
  }

  async #guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (isPyrexisError(e)) throw e;
        if (this.#closed) throw new StoreClosedError(`PostgreSQL store (schema ${this.schema}) closed during ${what}`);
        // PostgreSQL aborted this transaction to break a deadlock with another one (row locks
        // taken in different orders, e.g. a dependent's insert marking its parents while a
        // batch completes them): nothing of it was written, and the other one goes on, so the
        // whole operation is tried again.
        if (isTransient(e) && attempt < MAX_TRANSIENT_TRIES) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        throw new StoreFailureError(`${what} on PostgreSQL (schema ${this.schema}) failed: ${describe(e)}`, { cause: e });
      }
    }
  }

  /**
   * Writes the batch in one transaction: all of it, or nothing and the contract's typed error.
   * Arguments are checked first (`checkCommitShape`); stored state is checked by the statements
   * themselves (a conflict-free insert, a compare-and-set update, a guarded result insert), and
   * the first violation rolls everything back.
   */
  async commit(batch: CommitBatch): Promise<void> {
    this.#assertOpen();
    const b = checkCommitShape(batch);
    const inserts = b.insert ?? [];
    const updates = b.update ?? [];
    const results = b.results ?? [];
    if (inserts.length === 0 && updates.length === 0 && results.length === 0) return;
    const dependents = inserts.length > 0 ? orderDependentInserts(inserts) : NO_JOBS;
    const s = this.#statements;
    const ins = inserts.length > 0 ? jobColumns(inserts, this.#agingRate) : undefined;
    const upd =
      updates.length > 0
        ? jobColumns(
            updates.map((u) => u.job),
            this.#agingRate,
          )
        : undefined;
    const resultIds = results.map((r) => r.jobId);
    const resultData = results.map((r) => JSON.stringify(r));
    const expected = updates.map((u) => u.expectedVersion);
    /** Throws the contract's error when fewer jobs than asked were inserted. */
    const checkInserted = (c: JobColumns, ids: readonly string[]): void => {
      if (ids.length === inserts.length) return;
      const written = new Set(ids);
      throw new DuplicateJobError(c.id.find((id) => !written.has(id))!);
    };
    await this.#guard("commit", () =>
      this.#connection.kysely.transaction().execute(async (trx) => {
        // A batch of one kind is one statement with its notification (three round trips with
        // BEGIN and COMMIT): inserts alone (submissions), or updates and results (a group commit
        // of completions). A mixed batch runs them in turn, so an update or result sees the jobs
        // inserted before it.
        if (ins !== undefined && upd === undefined && results.length === 0 && dependents.length === 0) {
          const [row] = await run<{ inserted: string[] }>(trx, s.insertJobsNotify, [
            ...columnParams(ins),
            this.#channel,
            ins.group,
            ins.limits,
          ]);
          checkInserted(ins, row?.inserted ?? []);
          return;
        }
        if (ins === undefined) {
          // Results alone: the update's fifteen arrays are empty.
          const params = upd === undefined ? Array.from({ length: 15 }, (): unknown[] => []) : updateJobsParams(upd, expected);
          const [row] = await run<{ updated: string[]; parents: string[]; results: string[] }>(trx, s.updateJobsResultsNotify, [
            ...params,
            resultIds,
            resultData,
            this.#channel,
          ]);
          const updated = row?.updated ?? [];
          const parents = row?.parents ?? [];
          if (upd !== undefined && updated.length !== updates.length) {
            const repaired = await this.#updateMissed(
              trx,
              upd,
              expected,
              updates.map((u) => u.job),
              updated.map((id) => ({ id })),
            );
            for (const r of repaired) if (r.has_dependents) parents.push(r.id);
          }
          const written = row?.results ?? [];
          if (written.length !== results.length)
            await this.#resultFailure(
              trx,
              resultIds,
              written.map((job_id) => ({ job_id })),
            );
          if (parents.length > 0) await this.#settleUpdated(trx, updates, parents);
          return;
        }
        const inserted = await run<{ id: string }>(trx, s.insertJobs, [...columnParams(ins), ins.group, ins.limits]);
        checkInserted(
          ins,
          inserted.map((r) => r.id),
        );
        if (dependents.length > 0) {
          const unknown = await this.#dependencies.linkInserted(trx, dependents, this.#nowMs());
          if (unknown !== undefined) throw new UnknownDependencyError(unknown.jobId, unknown.parentId);
        }
        let parents: string[] = [];
        if (upd !== undefined) {
          const rows = await run<{ id: string; has_dependents: boolean }>(trx, s.updateJobs, updateJobsParams(upd, expected));
          if (rows.length !== updates.length)
            rows.push(
              ...(await this.#updateMissed(
                trx,
                upd,
                expected,
                updates.map((u) => u.job),
                rows,
              )),
            );
          parents = rows.filter((r) => r.has_dependents).map((r) => r.id);
        }
        if (results.length > 0) {
          const rows = await run<{ job_id: string }>(trx, s.insertResults, [resultIds, resultData]);
          if (rows.length !== results.length) await this.#resultFailure(trx, resultIds, rows);
        }
        if (parents.length > 0) await this.#settleUpdated(trx, updates, parents);
        await run(trx, s.notify, [this.#channel]);
      }),
    );
    this.#mark++;
  }

  /** Carries the batch's updates that ended a job with dependents (`parents`) to those dependents, in `trx`. */
  async #settleUpdated(trx: Transaction<unknown>, updates: readonly JobUpdate[], parents: readonly string[]): Promise<void> {
    const withDependents = new Set(parents);
    const ended = endedParentsOf(updates.filter((u) => withDependents.has(u.job.id)).map((u) => u.job));
    if (ended.length > 0) await this.#dependencies.settle(trx, ended, this.#nowMs());
  }

  /** The store's clock in epoch ms for records built here (the database's `now()` judges due-ness and leases). */
  #nowMs(): number {
    return this.#clock === undefined ? Date.now() : this.#clock.now();
  }

  /**
   * The updates the compare-and-set missed (`rows` are those it wrote): throws the contract's
   * error of the first in batch order (`StaleVersionError`, or `ValidationError` when it changes
   * an immutable field). The stored record is authoritative over the flow columns: when it agrees
   * with the update and only the columns differ (a row a migration did not backfill, or whose
   * record was unreadable then), the columns are repaired, the update runs again, and the rows it
   * wrote are returned. The stored rows are read `FOR UPDATE`: a concurrent writer of one of
   * them either committed before (a stale version here) or waits for this transaction.
   */
  async #updateMissed(
    trx: Transaction<unknown>,
    upd: JobColumns,
    expected: number[],
    jobs: readonly Job[],
    rows: readonly { id: string }[],
  ): Promise<{ id: string; has_dependents: boolean }[]> {
    const written = new Set(rows.map((r) => r.id));
    const missed: number[] = [];
    for (let i = 0; i < upd.id.length; i++) if (!written.has(upd.id[i]!)) missed.push(i);
    const stored = new Map(
      (
        await run<{ id: string; version: number; created_at: number; flow_group: string | null; flow_limits: string | null; data: string }>(
          trx,
          this.#statements.versionsOf,
          [missed.map((i) => upd.id[i])],
        )
      ).map((r) => [r.id, r]),
    );
    for (const i of missed) {
      const id = upd.id[i]!;
      const row = stored.get(id);
      if (row === undefined || row.version !== expected[i]) throw new StaleVersionError(id, expected[i]!, row?.version);
      const change = immutableChange(
        immutableFieldsOfRow({ createdAt: row.created_at, data: row.data, group: row.flow_group, limits: row.flow_limits }),
        jobs[i]!,
      );
      if (change !== undefined) throw invalid(change, ["update", i, "job"]);
    }
    const again = jobColumns(
      missed.map((i) => jobs[i]!),
      this.#agingRate,
    );
    await run(trx, this.#statements.setFlowColumns, [again.id, again.group, again.limits]);
    const repaired = await run<{ id: string; has_dependents: boolean }>(
      trx,
      this.#statements.updateJobs,
      updateJobsParams(
        again,
        missed.map((i) => expected[i]!),
      ),
    );
    if (repaired.length !== missed.length)
      throw new StoreFailureError("internal: an update missed its row after its flow columns were repaired");
    return repaired;
  }

  /** Throws the error of the first result (in batch order) that was not written. */
  async #resultFailure(trx: Transaction<unknown>, ids: string[], rows: { job_id: string }[]): Promise<never> {
    const written = new Set(rows.map((r) => r.job_id));
    const id = ids.find((x) => !written.has(x))!;
    const [state] = await run<{ id: string; job: boolean; result: boolean }>(trx, this.#statements.resultState, [[id]]);
    if (state?.result === true) throw new ResultExistsError(id);
    throw new JobNotFoundError(id);
  }

  /** The job, or `undefined`; throws {@link CorruptRecordError} when its row cannot be read. */
  async getJob(id: string): Promise<Job | undefined> {
    this.#assertOpen();
    assertJobId(id);
    const rows = await this.#guard("getJob", () => run<JobRow>(this.#connection.kysely, this.#statements.getJob, [id]));
    const row = rows[0];
    return row === undefined ? undefined : readJob(row);
  }

  /** The job's result, or `undefined`; throws {@link CorruptRecordError} when it cannot be read. */
  async getResult(jobId: string): Promise<Result | undefined> {
    this.#assertOpen();
    assertJobId(jobId, "result job id");
    const rows = await this.#guard("getResult", () => run<{ data: unknown }>(this.#connection.kysely, this.#statements.getResult, [jobId]));
    const row = rows[0];
    return row === undefined ? undefined : readResult(jobId, row.data);
  }

  /**
   * Keyset-paginated listing by `(createdAt, id)`. Corrupt rows are skipped and reported (so a
   * page may hold fewer than `limit` jobs while a `cursor` still follows); the cursor moves past
   * them, so paging never gets stuck.
   */
  async listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    this.#assertOpen();
    const { statuses, limit, order, after } = normalizeListQuery(query);
    const params: unknown[] = [limit + 1];
    const filter = statuses === undefined ? "all" : statuses.size === 1 ? "one" : "many";
    if (statuses !== undefined) params.push(statuses.size === 1 ? statuses.values().next().value : [...statuses]);
    if (after !== undefined) params.push(after.createdAt, after.id);
    const text = this.#statements.list(order, filter, after !== undefined);
    const rows = await this.#guard("listJobs", () => run<JobRow>(this.#connection.kysely, text, params));
    const page = rows.length > limit ? rows.slice(0, limit) : rows;
    const jobs: Job[] = [];
    for (const row of page) {
      const job = this.#readOrReport(row);
      if (job !== undefined) jobs.push(job);
    }
    const last = page[page.length - 1];
    return rows.length > limit && last !== undefined
      ? { jobs, cursor: encodeListCursor({ createdAt: last.created_at, id: last.id }, order) }
      : { jobs };
  }

  #readOrReport(row: JobRow): Job | undefined {
    try {
      return readJob(row);
    } catch (e) {
      if (!(e instanceof CorruptRecordError)) throw e;
      this.#reportCorrupt(e);
      return undefined;
    }
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
    this.#assertOpen();
    const rows = await this.#guard("countByStatus", () =>
      run<{ status: string; n: number }>(this.#connection.kysely, this.#statements.countByStatus, []),
    );
    const counts = emptyStatusCounts();
    for (const row of rows) if (STATUS_SET.has(row.status)) counts[row.status as JobStatus] = row.n;
    return counts;
  }

  /**
   * Claims up to `limit` due jobs in one statement: the claim order's first due rows that no
   * other claimer holds (`FOR UPDATE SKIP LOCKED`), written `running` with the attempt counted,
   * `updatedAt` and the lease expiry from the store's clock, and a notification, before it resolves.
   * A claimed row whose record is corrupt is reported and not handed out (it stays running
   * under the lease; reclaim skips it too, so it needs a person).
   */
  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    this.#assertOpen();
    const { owner, limit, leaseMs, modes, handlers, ids } = checkClaimRequest(request);
    const rows = await this.#guard("claim", () =>
      run<ClaimRow>(this.#connection.kysely, ids === undefined ? this.#statements.claim : this.#statements.claimIds, [
        this.#now(),
        modes ?? null,
        handlers ?? null,
        limit,
        owner,
        leaseMs,
        this.#channel,
        ids ?? null,
      ]),
    );
    if (rows.length === 0) return [];
    this.#mark++;
    const out: ClaimedJob[] = [];
    for (const row of rows) {
      const job = this.#readOrReport(row);
      if (job === undefined) continue;
      out.push({ job, lease: Object.freeze({ jobId: job.id, version: job.version, owner, expiresAt: row.expires_at }) });
    }
    return out;
  }

  /**
   * The flow capability (`FlowMethods.claimFlow`): one transaction that takes the schema's flow
   * lock (flow claims run one at a time; plain claims never wait for it), plans each mode with the
   * kit's planner over the due jobs, window entries, holds and group tags, and writes the claimed
   * records (as `claim` does) with the plan's admissions and tags. Candidate rows are locked
   * `FOR UPDATE SKIP LOCKED`, so a flow claim and plain claims never hand out one job twice. A
   * corrupt candidate is reported and left as it is.
   */
  async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    this.#assertOpen();
    const checked = checkFlowClaimRequest(request);
    const outcome = await this.#guard("claimFlow", () =>
      this.#connection.kysely
        .transaction()
        .execute((trx) => this.#flow.claim(trx, checked, this.#now(), this.#channel, (e) => this.#reportCorrupt(e))),
    );
    const claimed: ClaimedJob[] = [];
    for (const row of outcome.rows) {
      const job = this.#readOrReport(row);
      if (job === undefined) continue;
      claimed.push({ job, lease: Object.freeze({ jobId: job.id, version: job.version, owner: checked.owner, expiresAt: row.expires_at }) });
    }
    if (outcome.rows.length > 0) this.#mark++;
    return outcome.retryAt === undefined
      ? { claimed, refused: outcome.refused, waiting: outcome.waiting }
      : { claimed, refused: outcome.refused, waiting: outcome.waiting, retryAt: outcome.retryAt };
  }

  /** `FlowMethods.chargeFlow`: sets the units of the window entry the claim wrote (one statement); false when there is none. */
  async chargeFlow(charge: FlowCharge): Promise<boolean> {
    this.#assertOpen();
    const checked = checkFlowCharge(charge);
    const applied = await this.#guard("chargeFlow", () => this.#flow.charge(this.#connection.kysely, checked, this.#channel));
    if (applied) this.#mark++;
    return applied;
  }

  /** Extends many leases in one statement and reports, for each, renewed, cancelled or lost. */
  async renewLeases(request: RenewRequest): Promise<RenewReport> {
    this.#assertOpen();
    const { owner, leaseMs, leases } = checkRenewRequest(request);
    if (leases.length === 0) return { renewed: [], lost: [], cancelled: [] };
    const rows = await this.#guard("renewLeases", () =>
      run<{ id: string; version: number; expires_at: number | null; status: string | null }>(
        this.#connection.kysely,
        this.#statements.renew,
        [this.#now(), leases.map((l) => l.jobId), leases.map((l) => l.version), owner, leaseMs],
      ),
    );
    const renewed: Lease[] = [];
    const lost: string[] = [];
    const cancelled: string[] = [];
    for (const row of rows) {
      if (row.expires_at !== null) renewed.push(Object.freeze({ jobId: row.id, version: row.version, owner, expiresAt: row.expires_at }));
      else if (row.status === "cancelled") cancelled.push(row.id);
      else lost.push(row.id);
    }
    return { renewed, lost, cancelled };
  }

  /**
   * Takes back up to `limit` running jobs whose lease expired (by the store's clock), that have
   * no lease, or whose owner is named dead, in one transaction: each attempt counts as
   * interrupted (the kit's `reclaimedRecord`): `retrying` with backoff, or `failed` with its result.
   */
  async reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
    this.#assertOpen();
    const { limit, deadOwners } = checkReclaimRequest(request);
    const s = this.#statements;
    const report = await this.#guard("reclaimExpired", () =>
      this.#connection.kysely.transaction().execute(async (trx) => {
        const rows = await run<ExpiredRow>(trx, s.expired, [this.#now(), deadOwners ?? [], limit]);
        const retried: Job[] = [];
        const failed: Job[] = [];
        if (rows.length === 0) return { retried, failed };
        const next: Job[] = [];
        const expected: number[] = [];
        const resultIds: string[] = [];
        const resultData: string[] = [];
        for (const row of rows) {
          const job = this.#readOrReport(row);
          if (job === undefined) continue;
          const r = reclaimedRecord(job, row.now, this.#random);
          next.push(r.job);
          expected.push(row.version);
          if (r.result === undefined) retried.push(r.job);
          else {
            failed.push(r.job);
            resultIds.push(r.result.jobId);
            resultData.push(JSON.stringify(r.result));
          }
        }
        if (next.length === 0) return { retried, failed };
        const c = jobColumns(next, this.#agingRate);
        // The rows are locked by this transaction, so the version check cannot miss; it is a guard.
        await run(trx, s.reclaimJobs, [c.id, c.status, c.attempts, c.updatedAt, c.runAt, c.agingKey, c.data, c.version, expected]);
        if (resultIds.length > 0) await run(trx, s.reclaimResults, [resultIds, resultData]);
        if (failed.length > 0) await this.#dependencies.settle(trx, endedParentsOf(failed), rows[0]!.now);
        await run(trx, s.notify, [this.#channel]);
        return { retried, failed };
      }),
    );
    if (report.retried.length + report.failed.length > 0) this.#mark++;
    return report;
  }

  /**
   * The `prune` capability (see `PruneMethods`): one statement deletes up to `limit` finished
   * jobs and their results (a bounded range of the partial index `jobs_finished`, rows taken
   * `FOR UPDATE SKIP LOCKED`, so engines pruning at once never wait on or fail because of each
   * other). The space of the deleted rows is reused once autovacuum has passed; nothing else to run.
   */
  async pruneFinished(request: PruneRequest): Promise<PruneReport> {
    this.#assertOpen();
    const q = normalizePruneRequest(request);
    const rows = await this.#guard("pruneFinished", () =>
      run<{ id: string; found: number }>(this.#connection.kysely, this.#statements.prune, [
        q.statuses,
        // updated_at is an integer: `< t` is `< ceil(t)`; clamped into bigint's range.
        q.finishedBefore === undefined
          ? null
          : Math.min(Number.MAX_SAFE_INTEGER, Math.max(-Number.MAX_SAFE_INTEGER, Math.ceil(q.finishedBefore))),
        q.keepLatest ?? null,
        q.limit,
      ]),
    );
    if (rows.length > 0) this.#mark++;
    return { deleted: rows.map((r) => r.id), more: (rows[0]?.found ?? 0) > q.limit };
  }

  /** Distinct owners holding a lease now (expired or not). */
  async leaseOwners(): Promise<string[]> {
    this.#assertOpen();
    const rows = await this.#guard("leaseOwners", () =>
      run<{ lease_owner: string }>(this.#connection.kysely, this.#statements.leaseOwners, []),
    );
    return rows.map((r) => r.lease_owner);
  }

  /**
   * A number that changes whenever the data may have changed: this instance's writes and every
   * notification on the schema's channel (any instance's commit, claim or reclaim), plus one
   * after each listener reconnection (notifications may have been missed). No query while the
   * listener runs; without one, reads the database's change counter.
   */
  async changeMark(): Promise<number> {
    this.#assertOpen();
    if (this.#listener !== undefined) return this.#mark;
    const rows = await this.#guard("changeMark", () =>
      run<{ value: number; is_called: boolean }>(this.#connection.kysely, this.#statements.changeSeq, []),
    );
    const row = rows[0];
    return row === undefined || !row.is_called ? 0 : row.value;
  }

  /** The schedules capability (see `./schedules.ts`): creates a schedule or returns the identical stored one. */
  async putSchedule(record: ScheduleRecord): Promise<PutScheduleOutcome> {
    this.#assertOpen();
    return this.#guard("putSchedule", () => this.#schedules.put(record));
  }

  /** The schedule of this name, or `undefined`. */
  async getSchedule(name: string): Promise<ScheduleRecord | undefined> {
    this.#assertOpen();
    return this.#guard("getSchedule", () => this.#schedules.get(name));
  }

  /** Every schedule, in name order. */
  async listSchedules(): Promise<ScheduleRecord[]> {
    this.#assertOpen();
    return this.#guard("listSchedules", () => this.#schedules.list());
  }

  /** Removes a schedule; `true` when there was one. */
  async deleteSchedule(name: string): Promise<boolean> {
    this.#assertOpen();
    return this.#guard("deleteSchedule", () => this.#schedules.delete(name));
  }

  /** Raises the schedule's last tick to `tickAt` (never lowers it); `false` when there is no such schedule. */
  async recordScheduleTick(name: string, tickAt: number): Promise<boolean> {
    this.#assertOpen();
    return this.#guard("recordScheduleTick", () => this.#schedules.recordTick(name, tickAt));
  }

  /** Stops the listener and frees the connections the store made. Idempotent; later calls reject `StoreClosedError`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#listener?.close();
      await this.#connection.release();
    } catch (e) {
      throw new StoreFailureError(`closing the PostgreSQL store (schema ${this.schema}) failed: ${describe(e)}`, { cause: e });
    }
  }
}
