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

/**
 * Stand-in for @pyrexis/executors' async executor + router while that package is unfinished:
 * calls the handler in-process, exactly what an async executor does. Used only when the real
 * one is not exported; the report says so.
 */
class BenchAsyncRouter {
  modes = ["async"];
  #handlers;
  constructor(handlers) {
    this.#handlers = handlers;
  }
  get(mode) {
    if (mode !== "async") throw new TypeError(`no executor for mode ${mode}`);
    return {
      run: (task, opts) =>
        this.#handlers[task.handler](task.payload, {
          jobId: task.jobId,
          attempt: task.attempt,
          signal: opts.signal,
          progress: opts.onProgress,
        }),
      close: async () => {},
    };
  }
  async close() {}
}

/** Builds the executors for `mode`: @pyrexis/executors when it is ready, else the stand-in (async only). */
async function makeExecutors(mode) {
  const handlers = { noop: (p) => work.runTask("noop", p), cpu: (p) => work.runTask("cpu", p), sleep: (p) => work.runTask("sleep", p) };
  const ex = await import("@pyrexis/executors").catch(() => ({}));
  const ready = typeof ex.ExecutorRouter === "function" && typeof ex.AsyncExecutor === "function";
  if (!ready) {
    if (mode !== "async")
      throw Object.assign(new Error("@pyrexis/executors does not export ThreadExecutor yet"), { code: "BENCH_UNAVAILABLE" });
    return { executors: new BenchAsyncRouter(handlers), executor: "bench-local async executor" };
  }
  const executors = { async: new ex.AsyncExecutor({ handlers }) };
  if (mode === "thread") {
    if (typeof ex.ThreadExecutor !== "function")
      throw Object.assign(new Error("@pyrexis/executors does not export ThreadExecutor yet"), { code: "BENCH_UNAVAILABLE" });
    executors.thread = new ex.ThreadExecutor({ handlersModule: HANDLERS_MODULE, maxThreads: availableParallelism() });
  }
  return { executors: new ex.ExecutorRouter(executors), executor: "@pyrexis/executors" };
}

function makeCreate({ store: storeKind, groupCommit = true, mode = "async" }) {
  return function create(ctx) {
    let dir;
    let engine;
    let loop;
    let hooks;
    return {
      async setup() {
        const [{ Engine }, { executors, executor }] = await Promise.all([import("@pyrexis/engine"), makeExecutors(mode)]);
        ctx.note?.(`executor: ${executor}`);
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
        engine.on("job:started", ({ job }) => hooks?.onStart(job.payload));
        engine.on("job:completed", ({ job }) => hooks?.onComplete(job.payload));
        engine.on("engine:error", ({ error, context }) => {
          process.stderr.write(`pyrexis engine:error ${context}: ${error?.stack ?? error}\n`);
        });
        await engine.start();
      },
      async add(jobs) {
        await engine.submitJobs(
          jobs.map((job) => ({
            handler: ctx.task,
            payload: job.payload,
            mode,
            ...(job.priority === undefined ? {} : { priority: job.priority }),
          })),
        );
      },
      async start({ concurrency, task, onStart, onComplete }) {
        // The concurrency limit and the handler were fixed at construction from ctx (same values).
        void concurrency;
        void task;
        hooks = { onStart, onComplete };
        loop = engine.runLoop();
      },
      async settle() {
        await engine.flush();
      },
      async stop() {
        await engine.shutdown({ graceMs: 1000 });
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
