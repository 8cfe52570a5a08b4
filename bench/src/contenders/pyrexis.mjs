// Pyrexis: the engine with the memory store, the SQLite store (group commit on and off), and
// thread mode for CPU-bound work. Imported lazily so a half-built workspace reports
// "unavailable: <reason>" instead of failing the whole run.
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as work from "../work.mjs";

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

/**
 * @param {{ store: "memory" | "sqlite", groupCommit?: boolean, mode?: "async" | "thread" }} options
 * @returns {import("./common.mjs").Variant["create"]}
 */
function makeCreate({ store: storeKind, groupCommit = true, mode = "async" }) {
  return function create(ctx) {
    /** @type {string | undefined} */
    let dir;
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
        } else {
          const { MemoryJobStore } = await import("@pyrexis/storage");
          store = new MemoryJobStore();
        }
        engine = new Engine({
          store,
          executors,
          handlerNames: HANDLER_NAMES,
          groupCommit,
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
    scenarios: ALL,
    notes: "WAL, synchronous=NORMAL",
    create: makeCreate({ store: "sqlite", groupCommit: true }),
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
    id: "pyrexis-thread",
    label: "Pyrexis (SQLite, thread mode)",
    pkg: "@pyrexis/engine",
    priority: "aging",
    scenarios: ["drain-c50", "cpu"],
    notes: "worker_threads, one per core",
    create: makeCreate({ store: "sqlite", groupCommit: true, mode: "thread" }),
  },
];
