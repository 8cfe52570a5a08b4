// BullMQ on Redis. Our keys live under their own prefix, which is removed before and after.
import { Queue, Worker } from "bullmq";
import { runTask } from "../work.mjs";
import { probeTcp, redisTarget } from "./common.mjs";

const PREFIX = "pyrexis-bench";
const QUEUE = "peers";

/** Pyrexis priority 0–10 (higher first) → BullMQ priority (1 is highest, larger runs later). */
const toBull = (/** @type {number | undefined} */ p) => (p === undefined ? undefined : 11 - p);

/** @param {import("bullmq").IRedisClient} client */
async function deletePrefix(client) {
  let cursor = "0";
  do {
    const [next, keys] = await client.scan(cursor, { MATCH: `${PREFIX}:*`, COUNT: 1000 });
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== "0");
}

/** @returns {import("./common.mjs").Driver} */
function create() {
  const target = redisTarget();
  const connection = { host: target.host, port: target.port, db: target.db, maxRetriesPerRequest: null };
  /** @type {Queue} set by setup() */
  let queue;
  /** @type {Worker | undefined} set by start() */
  let worker;
  return {
    async setup() {
      await probeTcp(target.host, target.port);
      // bullmq 6 made its Redis client an optional peer; without one it cannot connect at all.
      await import("ioredis").catch(() => {
        throw Object.assign(new Error("ioredis (optional peer of bullmq 6) is not installed in bench/"), { code: "BENCH_UNAVAILABLE" });
      });
      queue = new Queue(QUEUE, { connection, prefix: PREFIX });
      await queue.waitUntilReady();
      await deletePrefix(await queue.getBackend().client);
    },
    async add(jobs) {
      await queue.addBulk(
        jobs.map((job) => ({
          name: "noop",
          data: job.payload,
          opts: job.priority === undefined ? {} : { priority: toBull(job.priority) },
        })),
      );
    },
    async start({ concurrency, task, onStart, onComplete }) {
      worker = new Worker(
        QUEUE,
        async (job) => {
          onStart(job.data);
          return runTask(task, job.data);
        },
        { connection, prefix: PREFIX, concurrency },
      );
      // "completed" fires after BullMQ has moved the job to its completed set in Redis.
      worker.on("completed", (job) => onComplete(job.data));
      worker.on("error", () => {});
      await worker.waitUntilReady();
    },
    async stop() {
      await worker?.close(true);
      worker = undefined;
    },
    async cleanup() {
      await worker?.close(true);
      if (queue) {
        await deletePrefix(await queue.getBackend().client);
        await queue.close();
      }
    },
  };
}

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "bullmq",
    label: "BullMQ (Redis)",
    pkg: "bullmq",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness"],
    notes: "addBulk; worker concurrency = c",
    create,
  },
];
