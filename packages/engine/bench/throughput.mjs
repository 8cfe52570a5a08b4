// Engine throughput: N no-op async jobs submitted in bulk and drained, per store and group
// commit setting, beside p-queue running the same no-op functions. Each contender runs in a
// fresh child process (so peak RSS is its own); contenders alternate; median of --runs.
//
//   node bench/throughput.mjs [--n 100000] [--runs 3] [--concurrency 64] [--only p-queue,pyrexis-memory]
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** @type {Record<string, string | undefined>} */
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc),
      /** @type {[string, string | undefined][]} */ ([]),
    ),
);
// Children get the settings through the environment.
const N = Number(args.n ?? process.env.BENCH_N ?? 100_000);
const RUNS = Number(args.runs ?? 3);
const CONCURRENCY = Number(args.concurrency ?? process.env.BENCH_CONCURRENCY ?? 64);
const SUBMIT_BATCH = 1000;

const ALL_CONTENDERS = ["p-queue", "pyrexis-memory", "pyrexis-sqlite-group", "pyrexis-sqlite-nogroup"];
// p-queue is the baseline of every ratio, so it always runs.
const only = args.only?.split(",");
const CONTENDERS = only ? ALL_CONTENDERS.filter((c) => c === "p-queue" || only.includes(c)) : ALL_CONTENDERS;

/**
 * What one contender's child reports.
 * @typedef {{ name: string, n: number, jobsPerSecond: number, latencyP50: number, latencyP99: number, peakRssMb: number }} Sample
 */

/**
 * Runs one contender in this process.
 * @param {string} name
 * @returns {Promise<Sample>}
 */
async function runContender(name) {
  const dir = mkdtempSync(join(tmpdir(), "pyrexis-bench-"));
  const n = name === "pyrexis-sqlite-nogroup" ? Math.min(N, 20_000) : N;
  try {
    const { PQueue } = await import("p-queue").then((m) => ({ PQueue: m.default }));
    const noop = () => null;
    const latencies = new Float64Array(n);
    // Module loading, opening the store and recovery are set-up, not throughput: each contender
    // is timed from its first submission (p-queue's imports are done by now too).
    const { Engine } = await import("@pyrexis/engine");
    const { MemoryJobStore } = await import("@pyrexis/storage");
    const { SqliteJobStore } = await import("@pyrexis/storage-sqlite");
    const { AsyncExecutor, ExecutorRouter } = await import("@pyrexis/executors");
    let t0;
    let drained;
    if (name === "p-queue") {
      t0 = performance.now();
      const queue = new PQueue({ concurrency: CONCURRENCY });
      for (let i = 0; i < n; i++) {
        const enq = performance.now();
        void queue.add(() => {
          latencies[i] = performance.now() - enq;
          return noop();
        });
      }
      await queue.onIdle();
      drained = performance.now();
    } else {
      const enqueuedAt = new Float64Array(n);
      const store = name === "pyrexis-memory" ? new MemoryJobStore() : await SqliteJobStore.open({ path: join(dir, "bench.db") });
      const engine = new Engine({
        store,
        executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers: { noop } }) }),
        handlerNames: ["noop"],
        concurrency: { async: CONCURRENCY },
        groupCommit: name !== "pyrexis-sqlite-nogroup",
      });
      await engine.start();
      let done = 0;
      const finished = /** @type {Promise<void>} */ (
        new Promise((resolve) => {
          engine.on("job:completed", () => {
            if (++done === n) resolve();
          });
        })
      );
      engine.on("job:started", ({ job }) => {
        const i = /** @type {number} */ (job.payload);
        latencies[i] = performance.now() - /** @type {number} */ (enqueuedAt[i]);
      });
      const loop = engine.runLoop();
      t0 = performance.now();
      for (let start = 0; start < n; start += SUBMIT_BATCH) {
        const specs = [];
        const now = performance.now();
        for (let i = start; i < Math.min(n, start + SUBMIT_BATCH); i++) {
          enqueuedAt[i] = now;
          specs.push({ handler: "noop", payload: i });
        }
        await engine.submitJobs(specs);
      }
      await finished;
      drained = performance.now();
      await engine.shutdown();
      await loop;
    }
    const seconds = (drained - t0) / 1000;
    const sorted = Array.from(latencies).sort((a, b) => a - b);
    const at = (/** @type {number} */ q) => /** @type {number} */ (sorted[Math.floor(n * q)]);
    return {
      name,
      n,
      jobsPerSecond: n / seconds,
      latencyP50: at(0.5),
      latencyP99: at(0.99),
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--child") {
  if (!process.send) throw new Error("--child runs only as a child forked by this bench (with an IPC channel)");
  const result = await runContender(process.argv[3] ?? "");
  process.send(result);
  process.exit(0);
}

/**
 * Runs one contender in a fresh child process.
 * @param {string} name
 * @returns {Promise<Sample>}
 */
function inChild(name) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", name], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, BENCH_N: String(N), BENCH_CONCURRENCY: String(CONCURRENCY) },
      execArgv: process.env.BENCH_PROFILE === name ? ["--cpu-prof", "--cpu-prof-dir=bench-results/prof"] : [],
    });
    /** @type {Sample | undefined} */
    let result;
    child.on("message", (m) => (result = /** @type {Sample} */ (m)));
    child.on("exit", (code) => (code === 0 && result ? resolve(result) : reject(new Error(`${name} exited ${code}`))));
  });
}

const median = (/** @type {number[]} */ xs) => /** @type {number} */ ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
/** @type {Record<string, Sample[]>} */
const samples = Object.fromEntries(CONTENDERS.map((c) => [c, []]));
const samplesOf = (/** @type {string} */ name) => /** @type {Sample[]} */ (samples[name]);
for (let run = 0; run < RUNS; run++) {
  const order = CONTENDERS.map((_, i) => /** @type {string} */ (CONTENDERS[(i + run) % CONTENDERS.length]));
  for (const name of order) {
    samplesOf(name).push(await inChild(name));
    process.stderr.write(".");
  }
}
process.stderr.write("\n");

// Ratios are taken within each run (the contenders of one run ran back to back) and then the
// median is reported: this shared machine's speed drifts over minutes, which moves a whole run.
/** Per-run ratios of `name`'s throughput to `base`'s. @param {string} name @param {string} base */
const ratiosTo = (name, base) =>
  samplesOf(name).map((x, run) => x.jobsPerSecond / /** @type {Sample} */ (samplesOf(base)[run]).jobsPerSecond);
const rows = CONTENDERS.map((name) => {
  const s = samplesOf(name);
  const ratios = ratiosTo(name, "p-queue");
  return {
    name,
    n: /** @type {Sample} */ (s[0]).n,
    jobsPerSecond: median(s.map((x) => x.jobsPerSecond)),
    min: Math.min(...s.map((x) => x.jobsPerSecond)),
    max: Math.max(...s.map((x) => x.jobsPerSecond)),
    latencyP50: median(s.map((x) => x.latencyP50)),
    latencyP99: median(s.map((x) => x.latencyP99)),
    peakRssMb: median(s.map((x) => x.peakRssMb)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
});
const fmt = (/** @type {number} */ x, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const lines = [
  `N = ${N} no-op async jobs, concurrency ${CONCURRENCY}, submitted in batches of ${SUBMIT_BATCH}; median of ${RUNS} (min–max); ratios: median of the per-run ratios (min–max); Node ${process.version}, ${process.platform}/${process.arch}`,
  "",
  "| contender | jobs | jobs/s (min–max) | ratio to p-queue | enqueue→start p50 | p99 | peak RSS |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${fmt(r.n)} | ${fmt(r.jobsPerSecond)} (${fmt(r.min)}–${fmt(r.max)}) | ${fmt(r.ratio, 2)}× (${fmt(r.ratioMin, 2)}–${fmt(r.ratioMax, 2)}) | ${fmt(r.latencyP50, 1)} ms | ${fmt(r.latencyP99, 1)} ms | ${fmt(r.peakRssMb)} MB |`,
  ),
];
if (CONTENDERS.includes("pyrexis-sqlite-group") && CONTENDERS.includes("pyrexis-sqlite-nogroup")) {
  const speedups = ratiosTo("pyrexis-sqlite-group", "pyrexis-sqlite-nogroup");
  lines.push(
    "",
    `group commit speed-up (SQLite): ${fmt(median(speedups), 1)}× (${fmt(Math.min(...speedups), 1)}–${fmt(Math.max(...speedups), 1)}, per run)`,
  );
}
console.log(lines.join("\n"));
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/throughput.json",
  JSON.stringify({ n: N, runs: RUNS, concurrency: CONCURRENCY, node: process.version, rows, samples }, null, 2),
);
