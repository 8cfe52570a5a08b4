// What a batching handler adds to latency, against the same work done one job per call. Jobs
// arrive at a steady rate (submitted one at a time, as requests would come); the handler's work
// is a fixed wait per call (an inference server's round trip), so batching saves calls and the
// price is the wait for a batch to fill. Measures submit→result latency per job (the result is
// durable when `job:completed` fires), p50/p99, and the number of handler calls. Both contenders
// run in this process, alternating, median of --runs; the target is p99(batch) − p99(plain) ≤
// maxWaitMs + 5 ms.
//
//   node bench/batching.mjs [--rate 200] [--seconds 5] [--runs 3] [--max-size 32] [--max-wait-ms 10] [--call-ms 2] [--store memory|sqlite]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { batchHandler, createEngine } from "../dist/index.js";

/** @type {Record<string, string | undefined>} */
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc),
      /** @type {[string, string | undefined][]} */ ([]),
    ),
);
const RATE = Number(args["rate"] ?? 200);
const SECONDS = Number(args["seconds"] ?? 5);
const RUNS = Number(args["runs"] ?? 3);
const MAX_SIZE = Number(args["max-size"] ?? 32);
const MAX_WAIT_MS = Number(args["max-wait-ms"] ?? 10);
const CALL_MS = Number(args["call-ms"] ?? 2);
const STORE = args["store"] ?? "memory";

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One measured stream of jobs through one contender.
 * @param {"plain" | "batch"} kind
 * @returns {Promise<{ p50: number, p99: number, calls: number, jobs: number }>}
 */
async function measure(kind) {
  const dir = STORE === "sqlite" ? mkdtempSync(join(tmpdir(), "pyrexis-batch-bench-")) : undefined;
  let calls = 0;
  const handlers =
    kind === "plain"
      ? {
          infer: async (/** @type {number} */ n) => {
            calls++;
            await sleep(CALL_MS);
            return n;
          },
        }
      : {
          infer: batchHandler({ maxSize: MAX_SIZE, maxWaitMs: MAX_WAIT_MS }, async (items) => {
            calls++;
            await sleep(CALL_MS);
            return items.map((item) => item.payload);
          }),
        };
  const engine = await createEngine({
    handlers,
    concurrency: { async: 256 },
    ...(dir ? { store: join(dir, "jobs.db") } : {}),
  });
  /** @type {Map<string, number>} */
  const submittedAt = new Map();
  /** @type {number[]} */
  const latencies = [];
  engine.on("job:completed", ({ job }) => {
    const at = submittedAt.get(job.id);
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  const loop = engine.runLoop();
  const total = RATE * SECONDS;
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    // Steady arrivals: the i-th job is due at t0 + i / RATE seconds.
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    const at = performance.now();
    const job = await engine.submitJob({ handler: "infer", payload: i });
    submittedAt.set(job.id, at);
  }
  while (latencies.length < total) await sleep(5);
  await engine.shutdown();
  await loop;
  if (dir) rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const at = (/** @type {number} */ q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), calls, jobs: total };
}

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

// One untimed warm-up of each, then alternate.
await measure("plain");
await measure("batch");
/** @type {Record<"plain" | "batch", Awaited<ReturnType<typeof measure>>[]>} */
const samples = { plain: [], batch: [] };
for (let r = 0; r < RUNS; r++) {
  samples.plain.push(await measure("plain"));
  samples.batch.push(await measure("batch"));
}
/** @param {Awaited<ReturnType<typeof measure>>[]} runs */
const summarize = (runs) => ({
  p50: median(runs.map((s) => s.p50)),
  p99: median(runs.map((s) => s.p99)),
  calls: median(runs.map((s) => s.calls)),
  jobs: runs[0]?.jobs ?? 0,
});
const summary = { plain: summarize(samples.plain), batch: summarize(samples.batch) };
// The price per adjacent pair (plain then batch, back to back), then its median: load that comes
// and goes on a shared machine moves both members of a pair alike.
const addedPerPair = samples.batch.map((b, i) => b.p99 - (samples.plain[i]?.p99 ?? 0));
const added = median(addedPerPair);
const fmt = (/** @type {number} */ x, d = 1) => x.toFixed(d);
console.log(
  `\nBatching vs one job per call: ${RATE} jobs/s for ${SECONDS} s, ${STORE} store, maxSize ${MAX_SIZE}, maxWaitMs ${MAX_WAIT_MS}, ${CALL_MS} ms per call, median of ${RUNS}\n`,
);
console.log("| contender | jobs | handler calls | submit→result p50 | p99 |");
console.log("|---|---|---|---|---|");
for (const k of /** @type {const} */ (["plain", "batch"])) {
  const s = summary[k];
  console.log(`| ${k === "plain" ? "one job per call" : "batchHandler"} | ${s.jobs} | ${s.calls} | ${fmt(s.p50)} ms | ${fmt(s.p99)} ms |`);
}
console.log(
  `\np99 added by batching (median over ${RUNS} back-to-back pairs; ${addedPerPair.map((x) => fmt(x)).join(", ")}): ${fmt(added)} ms (target ≤ maxWaitMs + 5 = ${MAX_WAIT_MS + 5} ms): ${added <= MAX_WAIT_MS + 5 ? "met" : "NOT met"}`,
);
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/batching.json",
  JSON.stringify(
    {
      rate: RATE,
      seconds: SECONDS,
      runs: RUNS,
      store: STORE,
      maxSize: MAX_SIZE,
      maxWaitMs: MAX_WAIT_MS,
      callMs: CALL_MS,
      summary,
      samples,
      addedP99PerPairMs: addedPerPair,
      addedP99Ms: added,
    },
    null,
    2,
  ),
);
