// Pyrexis: the engine with the memory store, the SQLite store (group commit on and off), thread
// mode for CPU-bound work, the PostgreSQL store, and several worker processes on one SQLite file
// or one PostgreSQL schema (claims). Imported lazily so a half-built workspace reports
// "unavailable: <reason>" instead of failing the whole run. A PostgreSQL run gets a schema of its
// own (`pyrexis_bench_<run pid>_<hex>`), dropped in cleanup; a later one of the same run sweeps any a killed child left.
import { fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as work from "../work.mjs";
import { dropPgSchema, dropPgSchemasLike, pgRunPrefix, pgRunSchema, pgTarget, probeTcp } from "./common.mjs";

const HANDLERS_MODULE = fileURLToPath(new URL("../handlers.mjs", import.meta.url));
const HANDLER_NAMES = ["noop", "cpu", "sleep"];

/** @typedef {import("../work.mjs").Payload} Payload */

/**
 * The executors for `mode`: the async executor (handlers called in-process), plus worker
 * threads for thread mode, one per core.
 * @param {"async" | "thread"} mode
 */
async function makeExecutors(mode) {
  const { AsyncExecutor, ExecutorRouter, ThreadExecutor } = await import("@pyrexis/executors");
  const handlers = {
    noop: (/** @type {Payload} */ p) => work.runTask("noop", p),
    cpu: (/** @type {Payload} */ p) => work.runTask("cpu", p),
    sleep: (/** @type {Payload} */ p) => work.runTask("sleep", p),
  };
  const asyncExecutor = new AsyncExecutor({ handlers });
  return new ExecutorRouter(
    mode === "thread"
      ? { async: asyncExecutor, thread: new ThreadExecutor({ handlersModule: HANDLERS_MODULE, maxWorkers: availableParallelism() }) }
      : { async: asyncExecutor },
  );
}

/** Schema prefix of this benchmark run's PostgreSQL measurements: `pyrexis_bench_<run pid>_<hex>` each. */
const PG_SCHEMA_PREFIX = pgRunPrefix("pyrexis_bench");

/**
 * @param {{ store: "memory" | "sqlite" | "postgres", groupCommit?: boolean, mode?: "async" | "thread", prefetch?: number }} options
 * @returns {import("./common.mjs").Variant["create"]}
 */
function makeCreate({ store: storeKind, groupCommit = true, mode = "async", prefetch }) {
  return function create(ctx) {
    /** @type {string | undefined} */
    let dir;
    /** @type {{ schema: string, storeUrl: string } | undefined} the PostgreSQL run's schema, set by setup() */
    let pgRun;
    /** @type {import("@pyrexis/engine").Engine | undefined} set by setup(), cleared by stop() */
    let engine;
    /** @type {Promise<void> | undefined} */
    let loop;
    /** @type {Pick<import("./common.mjs").StartOptions, "onStart" | "onComplete"> | undefined} */
    let hooks;
    /** The engine, once setup() made it. */
    const running = () => {
      if (!engine) throw new Error("the Pyrexis driver was used before setup() or after stop()");
      return engine;
    };
    return {
      async setup() {
        const [{ Engine }, executors] = await Promise.all([import("@pyrexis/engine"), makeExecutors(mode)]);
        let store;
        const agingRate = ctx.agingRate;
        if (storeKind === "sqlite") {
          const { SqliteJobStore } = await import("@pyrexis/storage-sqlite");
          dir = mkdtempSync(join(tmpdir(), "pyrexis-bench-"));
          store = await SqliteJobStore.open({ path: join(dir, "jobs.db") }, agingRate === undefined ? {} : { agingRate });
        } else if (storeKind === "postgres") {
          const target = pgTarget();
          await probeTcp(target.host, target.port);
          const { PostgresJobStore } = await import("@pyrexis/storage-postgres");
          // What an earlier, killed child of this run left (see pgRunPrefix).
          await dropPgSchemasLike(PG_SCHEMA_PREFIX);
          pgRun = pgRunSchema(PG_SCHEMA_PREFIX);
          store = await PostgresJobStore.open(
            { connectionString: target.connectionString },
            { schema: pgRun.schema, ...(agingRate === undefined ? {} : { agingRate }) },
          );
        } else {
          const { MemoryJobStore } = await import("@pyrexis/storage");
          // The store orders the claims: it needs the scenario's aging rate too (the engine refuses a mismatch).
          store = new MemoryJobStore(agingRate === undefined ? {} : { agingRate });
        }
        engine = new Engine({
          store,
          executors,
          handlerNames: HANDLER_NAMES,
          groupCommit,
          // A store without claims sees jobs another process added only by rescanning (ignored with claims).
          ...(ctx.crossProcess ? { rescanIntervalMs: RESCAN_MS } : {}),
          ...(prefetch === undefined ? {} : { prefetch }),
          // Thread mode: one job per core is all the parallelism there is.
          concurrency: { [mode]: mode === "thread" ? Math.min(ctx.concurrency, availableParallelism()) : ctx.concurrency },
          ...(agingRate === undefined ? {} : { agingRate }),
        });
        // The payloads are the ones add() submitted.
        engine.on("job:started", ({ job }) => hooks?.onStart(/** @type {Payload} */ (job.payload)));
        engine.on("job:completed", ({ job }) => hooks?.onComplete(/** @type {Payload} */ (job.payload)));
        engine.on("engine:error", ({ error, context }) => {
          process.stderr.write(`pyrexis engine:error ${context}: ${error instanceof Error ? error.stack : String(error)}\n`);
        });
        await engine.start();
      },
      async add(jobs) {
        await running().submitJobs(
          jobs.map((job) => ({
            handler: ctx.task,
            payload: job.payload,
            mode,
            ...(job.priority === undefined ? {} : { priority: job.priority }),
          })),
        );
      },
      async start({ onStart, onComplete }) {
        // The concurrency limit and the handler were fixed at construction from ctx (same values).
        hooks = { onStart, onComplete };
        loop = running().runLoop();
      },
      async settle() {
        await running().flush();
      },
      share() {
        if (pgRun) return { store: pgRun.storeUrl };
        if (!dir) throw new Error("only the SQLite and PostgreSQL drivers can be shared with another process");
        return { store: join(dir, "jobs.db") };
      },
      async stop() {
        await running().shutdown({ graceMs: 1000 });
        await loop;
        engine = undefined;
      },
      async cleanup() {
        if (engine) {
          await engine.shutdown({ graceMs: 0 }).catch(() => {});
          await loop?.catch(() => {});
        }
        if (dir) rmSync(dir, { recursive: true, force: true });
        if (pgRun) await dropPgSchema(pgRun.schema);
      },
    };
  };
}

/** Rescan interval of a store without claims in the cross-process scenario (the engine's only way to see those jobs). */
const RESCAN_MS = 1000;

/**
 * Adds jobs from another process to the store a driver shares (a SQLite file or a PostgreSQL
 * URL with its schema): an engine that submits and never runs its loop (so it claims nothing).
 * @param {unknown} shared
 * @param {import("./common.mjs").Ctx} ctx
 * @returns {import("./common.mjs").Submitter}
 */
function storeSubmitter(shared, ctx) {
  const { store } = /** @type {{ store: string }} */ (shared);
  /** @type {import("@pyrexis/engine").Engine | undefined} */
  let engine;
  return {
    async open() {
      const { createEngine } = await import("@pyrexis/engine");
      engine = await createEngine({ store, handlers: Object.fromEntries(HANDLER_NAMES.map((h) => [h, () => null])) });
    },
    async add(jobs) {
      if (!engine) throw new Error("submitter used before open()");
      await engine.submitJobs(jobs.map((job) => ({ handler: ctx.task, payload: job.payload })));
    },
    async close() {
      await engine?.shutdown({ graceMs: 0 });
    },
  };
}

/**
 * `procs` worker processes (src/pyrexis-worker.mjs), each an engine on one SQLite file or one
 * PostgreSQL schema, draining the jobs this process adds through an engine that never runs its
 * loop. Workers start in setup() (outside the timing) and begin claiming on start().
 * @param {number} procs
 * @param {"sqlite" | "postgres"} storeKind
 * @returns {import("./common.mjs").Variant["create"]}
 */
function makeMultiProcess(procs, storeKind) {
  return function create(ctx) {
    /** @type {string | undefined} */
    let dir;
    /** @type {{ schema: string, storeUrl: string } | undefined} */
    let pgRun;
    /** @type {import("@pyrexis/engine").Engine | undefined} */
    let submitter;
    /** @type {import("node:child_process").ChildProcess[]} */
    let workers = [];
    /** @type {number[]} */
    const workerRss = [];
    /** @type {((count: number) => void) | undefined} */
    let completed;
    const WORKER = fileURLToPath(new URL("../pyrexis-worker.mjs", import.meta.url));
    return {
      async setup() {
        const { createEngine } = await import("@pyrexis/engine");
        /** @type {string} a SQLite path or a postgres:// URL with its schema, as createEngine takes it */
        let store;
        if (storeKind === "postgres") {
          const target = pgTarget();
          await probeTcp(target.host, target.port);
          // What an earlier, killed child of this run left (see pgRunPrefix).
          await dropPgSchemasLike(PG_SCHEMA_PREFIX);
          pgRun = pgRunSchema(PG_SCHEMA_PREFIX);
          store = pgRun.storeUrl;
        } else {
          dir = mkdtempSync(join(tmpdir(), "pyrexis-bench-"));
          store = join(dir, "jobs.db");
        }
        // Opened (and the schema migrated) before any worker starts, so the workers only wait on the lock.
        submitter = await createEngine({ store, handlers: Object.fromEntries(HANDLER_NAMES.map((h) => [h, () => null])) });
        if (!submitter.usesClaims) {
          throw Object.assign(new Error(`this build's ${storeKind} store has no claims: one engine per store only`), {
            code: "BENCH_UNAVAILABLE",
          });
        }
        const config = JSON.stringify({
          store,
          concurrency: ctx.concurrency,
          ...(ctx.agingRate === undefined ? {} : { agingRate: ctx.agingRate }),
        });
        workers = Array.from({ length: procs }, () => fork(WORKER, [config], { stdio: ["ignore", "inherit", "inherit", "ipc"] }));
        await Promise.all(
          workers.map(
            (w) =>
              /** @type {Promise<void>} */ (
                new Promise((resolve, reject) => {
                  w.on("message", (/** @type {import("../pyrexis-worker.mjs").WorkerMessage} */ m) => {
                    if (m.type === "ready") resolve();
                    else if (m.type === "completed") completed?.(m.count);
                    else if (m.type === "stopped") workerRss.push(m.maxRssMB);
                    else if (m.type === "error") reject(Object.assign(new Error(m.message), { code: m.code }));
                  });
                  w.once("exit", (code) => reject(new Error(`a Pyrexis worker process exited (${code}) before it was ready`)));
                })
              ),
          ),
        );
      },
      async add(jobs) {
        if (!submitter) throw new Error("the Pyrexis driver was used before setup()");
        await submitter.submitJobs(jobs.map((job) => ({ handler: ctx.task, payload: job.payload })));
      },
      async start({ onComplete }) {
        // Workers report counts, not payloads: the drain scenarios only count completions.
        const payload = work.makePayload(-1);
        completed = (count) => {
          for (let i = 0; i < count; i++) onComplete(payload);
        };
        for (const w of workers) w.send({ type: "go" });
      },
      async stop() {
        await Promise.all(
          workers.map(
            (w) =>
              new Promise((resolve) => {
                if (w.exitCode !== null) return resolve(undefined);
                w.once("exit", resolve);
                w.send({ type: "stop" });
              }),
          ),
        );
        if (workerRss.length > 0) ctx.note(`worker peak RSS MB: ${workerRss.map((x) => Math.round(x)).join(", ")}`);
      },
      async cleanup() {
        for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL");
        // Gone before the schema is dropped, so none of their connections holds a lock on it.
        const alive = workers.filter((w) => w.exitCode === null && w.signalCode === null);
        await Promise.all(alive.map((w) => new Promise((r) => w.once("exit", r))));
        await submitter?.shutdown({ graceMs: 0 }).catch(() => {});
        if (dir) rmSync(dir, { recursive: true, force: true });
        if (pgRun) await dropPgSchema(pgRun.schema);
      },
    };
  };
}

const ALL = ["drain-c1", "drain-c50", "latency", "cpu", "fairness"];

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "pyrexis-memory",
    label: "Pyrexis (memory store)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ALL,
    notes: "no durability",
    create: makeCreate({ store: "memory" }),
  },
  {
    id: "pyrexis-sqlite",
    label: "Pyrexis (SQLite, group commit)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: [...ALL, "latency-xproc"],
    notes: "WAL, synchronous=NORMAL",
    create: makeCreate({ store: "sqlite", groupCommit: true }),
    submitter: storeSubmitter,
  },
  {
    id: "pyrexis-sqlite-prefetch",
    label: "Pyrexis (SQLite, prefetch 500)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c1", "drain-c50", "latency"],
    notes: "claims 500 jobs ahead of free slots (graphile's localQueue.size 500)",
    create: makeCreate({ store: "sqlite", groupCommit: true, prefetch: 500 }),
  },
  {
    id: "pyrexis-sqlite-4proc",
    label: "Pyrexis (SQLite, 4 processes)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c50"],
    notes: "4 worker processes on one file (claims), concurrency c each",
    create: makeMultiProcess(4, "sqlite"),
  },
  {
    id: "pyrexis-sqlite-nogc",
    label: "Pyrexis (SQLite, no group commit)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c1", "drain-c50", "latency"],
    notes: "one store commit per transition",
    create: makeCreate({ store: "sqlite", groupCommit: false }),
  },
  {
    id: "pyrexis-postgres",
    label: "Pyrexis (PostgreSQL, group commit)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c1", "drain-c50", "latency", "latency-xproc"],
    notes: "claims, a schema per run; default pool (10)",
    create: makeCreate({ store: "postgres", groupCommit: true }),
    submitter: storeSubmitter,
  },
  {
    id: "pyrexis-postgres-prefetch",
    label: "Pyrexis (PostgreSQL, prefetch 500)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c1", "drain-c50", "latency"],
    notes: "claims 500 jobs ahead of free slots (graphile's localQueue.size 500)",
    create: makeCreate({ store: "postgres", groupCommit: true, prefetch: 500 }),
  },
  {
    id: "pyrexis-postgres-4proc",
    label: "Pyrexis (PostgreSQL, 4 processes)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c50"],
    notes: "4 worker processes on one schema (claims), concurrency c each",
    create: makeMultiProcess(4, "postgres"),
  },
  {
    id: "pyrexis-thread",
    label: "Pyrexis (SQLite, thread mode)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c50", "cpu"],
    notes: "worker_threads, one per core",
    create: makeCreate({ store: "sqlite", groupCommit: true, mode: "thread" }),
  },
];
