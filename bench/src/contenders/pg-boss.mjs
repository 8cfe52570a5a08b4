// pg-boss 10 on PostgreSQL, in its own schema (queue emptied before, schema dropped after).
// pg-boss polls: a worker fetches, runs the batch, then sleeps out the rest of its polling
// interval (default 2 s, minimum 0.5 s) even when more jobs wait. Two variants: defaults (one
// `work()` per unit of concurrency, batchSize 1, 2 s polling) and its throughput setting (one
// `work()` with batchSize 500 and 0.5 s polling, the batch run with concurrency c).
import PgBoss from "pg-boss";
import { runTask } from "../work.mjs";
import { mapLimit, pgTarget, probeTcp } from "./common.mjs";

const SCHEMA = "pgboss_bench";
const QUEUE = "peers";

/** @param {boolean} fast batchSize 500 and 0.5 s polling, or the defaults */
function makeCreate(fast) {
  /** @returns {import("./common.mjs").Driver} */
  return function create() {
    const target = pgTarget();
    /** @type {PgBoss} set by setup() */
    let boss;
    const sql = (/** @type {string} */ text, /** @type {unknown[]} */ values = []) => boss.getDb().executeSql(text, values);
    return {
      async setup() {
        await probeTcp(target.host, target.port);
        boss = new PgBoss({ connectionString: target.connectionString, schema: SCHEMA, supervise: false, schedule: false, max: 20 });
        boss.on("error", () => {});
        await boss.start();
        await boss.deleteQueue(QUEUE).catch(() => {});
        await boss.createQueue(QUEUE);
      },
      async add(jobs) {
        // insert(): one statement for the whole batch (its documented bulk path).
        await boss.insert(
          jobs.map((job) => ({ name: QUEUE, data: job.payload, ...(job.priority === undefined ? {} : { priority: job.priority }) })),
        );
      },
      async start({ concurrency, task, onStart, onComplete }) {
        const runOne = async (/** @type {import("pg-boss").Job<import("./common.mjs").Payload>} */ job) => {
          onStart(job.data);
          await runTask(task, job.data);
        };
        // pg-boss completes the batch after the handler resolves; settle() waits for that write.
        if (fast) {
          await boss.work(
            QUEUE,
            { batchSize: 500, pollingIntervalSeconds: 0.5 },
            async (/** @type {import("pg-boss").Job<import("./common.mjs").Payload>[]} */ jobs) => {
              await mapLimit(jobs, concurrency, async (job) => {
                await runOne(job);
                onComplete(job.data);
              });
            },
          );
        } else {
          for (let i = 0; i < concurrency; i++) {
            await boss.work(QUEUE, async (/** @type {import("pg-boss").Job<import("./common.mjs").Payload>[]} */ jobs) => {
              for (const job of jobs) {
                await runOne(job);
                onComplete(job.data);
              }
            });
          }
        }
      },
      async settle() {
        for (;;) {
          const { rows } = await sql(`SELECT count(*)::int AS n FROM ${SCHEMA}.job WHERE name = $1 AND state <> 'completed'`, [QUEUE]);
          if (/** @type {{ n: number }} */ (rows[0]).n === 0) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      },
      async stop() {
        await boss.offWork(QUEUE);
      },
      async cleanup() {
        if (!boss) return;
        // Stop every worker before dropping the schema. pg-boss can still have a fetch or
        // completion in flight that then fails with "relation does not exist" (42P01) outside any
        // promise we hold; that one is an artifact of our DROP, so it alone is ignored.
        process.on("unhandledRejection", (error) => {
          if (/** @type {{ code?: string } | undefined} */ (error)?.code !== "42P01") throw error;
        });
        await boss.stop({ graceful: false, wait: true, close: false }).catch(() => {});
        await sql(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => {});
        // pg-boss's own pool has close() (stop was told not to close it), though its types omit it.
        const db = /** @type {{ close?: () => Promise<void> }} */ (boss.getDb());
        await db.close?.().catch?.(() => {});
      },
    };
  };
}

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "pg-boss-defaults",
    label: "pg-boss (PostgreSQL, defaults)",
    pkg: "pg-boss",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness"],
    notes: "insert; c × work(), batchSize 1, polling 2 s",
    create: makeCreate(false),
  },
  {
    id: "pg-boss-fast",
    label: "pg-boss (PostgreSQL, batchSize 500)",
    pkg: "pg-boss",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness"],
    notes: "insert; one work(), batchSize 500, polling 0.5 s",
    create: makeCreate(true),
  },
];
