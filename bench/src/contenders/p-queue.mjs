// p-queue: an in-memory promise queue. No durability, no retries; the ceiling for "just run
// functions with a concurrency limit" in one process.
import PQueue from "p-queue";
import { runTask } from "../work.mjs";

/** @typedef {import("./common.mjs").Job} Job */

/** @returns {import("./common.mjs").Driver} */
function create() {
  /** @type {PQueue} set by setup() */
  let queue;
  /** @type {Omit<import("./common.mjs").StartOptions, "concurrency">} set by start() */
  let hooks;
  // Jobs added before start() are parked here and handed to p-queue at start, so add() measures
  // what p-queue does on add (allocation + heap insert) and drain measures running them.
  const enqueue = (/** @type {Job} */ job) =>
    queue
      .add(
        async () => {
          hooks.onStart(job.payload);
          await runTask(hooks.task, job.payload);
        },
        { priority: job.priority ?? 0 },
      )
      .then(() => hooks.onComplete(job.payload));
  return {
    async setup() {
      queue = new PQueue({ concurrency: 1, autoStart: false });
    },
    async add(jobs) {
      for (const job of jobs) void enqueue(job);
    },
    async start({ concurrency, task, onStart, onComplete }) {
      hooks = { task, onStart, onComplete };
      queue.concurrency = concurrency;
      queue.start();
    },
    async stop() {
      queue.pause();
      queue.clear();
    },
    async cleanup() {
      queue?.clear();
    },
  };
}

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "p-queue",
    label: "p-queue (in memory)",
    pkg: "p-queue",
    priority: "strict",
    scenarios: ["drain-c1", "drain-c50", "latency", "cpu", "fairness"],
    notes: "no durability",
    create,
  },
];
