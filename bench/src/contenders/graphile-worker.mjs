// graphile-worker on PostgreSQL, in its own schema (dropped before and after). Two variants:
// its defaults, and the batching settings its performance page uses (localQueue, batched
// completion), see https://worker.graphile.org/docs/performance.
import { EventEmitter } from "node:events";
import { Logger, makeWorkerUtils, run } from "graphile-worker";
import { runTask } from "../work.mjs";
import { pgTarget, probeTcp } from "./common.mjs";

const SCHEMA = "graphile_worker_bench";
const quiet = new Logger(() => () => {});

/** Pyrexis priority 0–10 (higher first) → graphile-worker priority (numerically smaller first). */
const toGraphile = (/** @type {number | undefined} */ p) => (p === undefined ? undefined : 10 - p);

/** @param {boolean} fast the batching settings, or the defaults */
function makeCreate(fast) {
  /** @returns {import("./common.mjs").Driver} */
  return function create() {
    const target = pgTarget();
    /** @type {import("graphile-worker").WorkerUtils} set by setup() */
    let utils;
    /** @type {import("graphile-worker").Runner | undefined} set by start() */
    let runner;
    const dropSchema = () => utils.withPgClient((client) => client.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
    return {
      async setup() {
        await probeTcp(target.host, target.port);
        utils = await makeWorkerUtils({ connectionString: target.connectionString, schema: SCHEMA, logger: quiet });
        await dropSchema();
        await utils.migrate();
      },
      async add(jobs) {
        // addJobs: one round trip for the whole batch (its documented bulk path).
        await utils.addJobs(
          jobs.map((job) => ({
            identifier: "noop",
            payload: job.payload,
            ...(job.priority === undefined ? {} : { priority: toGraphile(job.priority) }),
          })),
        );
      },
      async start({ concurrency, task, onStart, onComplete }) {
        const events = new EventEmitter();
        events.on("job:complete", ({ job, error }) => {
          if (!error) onComplete(job.payload);
        });
        const preset = fast
          ? {
              worker: {
                maxPoolSize: concurrency + 2,
                localQueue: { size: 500 },
                completeJobBatchDelay: 0,
                failJobBatchDelay: 0,
              },
            }
          : { worker: { maxPoolSize: Math.max(10, concurrency + 2) } };
        runner = await run({
          connectionString: target.connectionString,
          schema: SCHEMA,
          concurrency,
          noHandleSignals: true,
          logger: quiet,
          events,
          preset,
          taskList: {
            noop: async (payload) => {
              // The payloads are the ones add() gave it.
              const p = /** @type {import("./common.mjs").Payload} */ (payload);
              onStart(p);
              await runTask(task, p);
            },
          },
        });
      },
      share() {
        return {};
      },
      async settle() {
        // Completed jobs are deleted; with batched completion that happens a moment later.
        for (;;) {
          const { rows } = await utils.withPgClient((c) => c.query(`SELECT count(*)::int AS n FROM ${SCHEMA}._private_jobs`));
          if (/** @type {{ n: number }} */ (rows[0]).n === 0) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      async stop() {
        await runner?.stop();
        runner = undefined;
      },
      async cleanup() {
        await runner?.stop().catch(() => {});
        // graphile-worker can still write a batch of completions after stop() resolved; landing
        // after our DROP it fails with 42P01 ("relation does not exist") outside any promise we
        // hold. That one is an artifact of the DROP, so it alone is ignored (as for pg-boss).
        process.on("unhandledRejection", (error) => {
          if (/** @type {{ code?: string } | undefined} */ (error)?.code !== "42P01") throw error;
        });
        if (utils) {
          await dropSchema();
          await utils.release();
        }
      },
    };
  };
}

/**
 * Adds jobs from another process: its own WorkerUtils on the same schema, addJobs as add() does.
 * @returns {import("./common.mjs").Submitter}
 */
function submitter() {
  const target = pgTarget();
  /** @type {import("graphile-worker").WorkerUtils | undefined} */
  let utils;
  return {
    async open() {
      utils = await makeWorkerUtils({ connectionString: target.connectionString, schema: SCHEMA, logger: quiet });
    },
    async add(jobs) {
      if (!utils) throw new Error("submitter used before open()");
      await utils.addJobs(jobs.map((job) => ({ identifier: "noop", payload: job.payload })));
    },
    async close() {
      await utils?.release();
    },
  };
}

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "graphile-worker-defaults",
    label: "graphile-worker (PostgreSQL, defaults)",
    pkg: "graphile-worker",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness", "latency-xproc"],
    notes: "addJobs; concurrency = c",
    create: makeCreate(false),
    submitter,
  },
  {
    id: "graphile-worker-fast",
    label: "graphile-worker (PostgreSQL, batching)",
    pkg: "graphile-worker",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness", "latency-xproc"],
    notes: "localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0",
    create: makeCreate(true),
    submitter,
  },
];
