// Engine throughput: N no-op async jobs submitted in bulk and drained, per store and group
// commit setting, beside p-queue running the same no-op functions. Each contender runs in a
// fresh child process (so peak RSS is its own); contenders alternate; median of --runs.
//
//   node bench/throughput.mjs [--n 100000] [--runs 3] [--concurrency 64] [--only p-queue,pyrexis-memory] [--prefetch 0,64]
//
// --prefetch n passes `prefetch: n` to every engine (default: the engine's default); a list
// (--prefetch 0,64) runs every Pyrexis contender once per value, in the same run, and reports
// the per-run speed-up of each value over the first. The -noclaims contenders run the engine on
// the same store with its claims capability hidden (the engine's path for stores without
// claims), so the cost of dispatching through claims is measured within one run.
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

const ALL_CONTENDERS = [
  "p-queue",
  "pyrexis-memory",
  "pyrexis-memory-noclaims",
  "pyrexis-sqlite-group",
  "pyrexis-sqlite-noclaims",
  "pyrexis-sqlite-nogroup",
  "pyrexis-memory-flow",
  "pyrexis-sqlite-flow",
  "pyrexis-memory-traced",
  "pyrexis-sqlite-traced",
  "pyrexis-memory-traced-sampled",
  "pyrexis-sqlite-traced-sampled",
];
// p-queue is the baseline of every ratio, so it always runs.
const only = args.only?.split(",");
const BASE_CONTENDERS = only ? ALL_CONTENDERS.filter((c) => c === "p-queue" || only.includes(c)) : ALL_CONTENDERS;
/** Prefetch values to run (`undefined`: the engine's default). */
const PREFETCHES = args.prefetch === undefined ? [undefined] : args.prefetch.split(",").map(Number);
for (const p of PREFETCHES)
  if (p !== undefined && (!Number.isInteger(p) || p < 0)) throw new TypeError(`--prefetch: not an integer >= 0: ${p}`);
const SEP = "/prefetch=";
/** Contenders that prefetch applies to (it is a claims setting; the slow no-group-commit row runs once). */
const prefetching = (/** @type {string} */ c) => c === "pyrexis-memory" || c === "pyrexis-sqlite-group";
// With several prefetch values those contenders run once per value, named `<contender>/prefetch=<n>`.
const CONTENDERS = BASE_CONTENDERS.flatMap((c) =>
  !prefetching(c) || PREFETCHES.length === 1 ? [c] : PREFETCHES.map((p) => `${c}${SEP}${p}`),
);
/** The prefetch of contender `name` (its suffix, else the single --prefetch, else undefined). @param {string} name */
const prefetchOf = (name) =>
  name.includes(SEP) ? Number(name.slice(name.indexOf(SEP) + SEP.length)) : prefetching(name) ? PREFETCHES[0] : undefined;
/** The contender without its prefetch suffix. @param {string} name */
const baseOf = (name) => (name.includes(SEP) ? name.slice(0, name.indexOf(SEP)) : name);

/**
 * What one contender's child reports.
 * @typedef {{ name: string, n: number, usesClaims: boolean, jobsPerSecond: number, latencyP50: number, latencyP99: number, cpuUsPerJob: number, peakRssMb: number }} Sample
 */

/** Share of traces the `-sampled` contenders record (a parent-based ratio sampler, as high-volume services run). */
const SAMPLED_RATIO = 0.1;

/**
 * Engine tracing on the OpenTelemetry SDK, spans batched and dropped; with `ratio`, a
 * `ParentBased(TraceIdRatioBased(ratio))` sampler (unsampled jobs still carry their context).
 * @param {number | undefined} ratio
 */
async function benchTracing(ratio) {
  const { BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } =
    await import("@opentelemetry/sdk-trace-base");
  const { openTelemetryTracing } = await import("@pyrexis/engine/tracing");
  /** @type {import("@opentelemetry/sdk-trace-base").SpanExporter} */
  const exporter = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {} };
  const provider = new BasicTracerProvider({
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65_536, maxExportBatchSize: 4096 })],
    ...(ratio === undefined ? {} : { sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }) }),
  });
  return openTelemetryTracing({ tracer: provider.getTracer("bench") });
}

/**
 * Runs one contender in this process.
 * @param {string} fullName
 * @returns {Promise<Sample>}
 */
async function runContender(fullName) {
  const name = baseOf(fullName);
  const prefetch = prefetchOf(fullName);
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
    // The -traced contenders: OpenTelemetry with a real SDK and a batch processor whose exporter
    // drops the spans (what a production set-up costs the engine's thread, without the network).
    const tracing = name.endsWith("-traced")
      ? await benchTracing(undefined)
      : name.endsWith("-traced-sampled")
        ? await benchTracing(SAMPLED_RATIO)
        : undefined;
    const flow = name.endsWith("-flow");
    let t0;
    let drained;
    let usesClaims = false;
    /** @type {NodeJS.CpuUsage | undefined} */
    let cpu0;
    /** CPU of the process (all its threads: GC, SQLite) from the first submission to the last completion. */
    let cpu = { user: 0, system: 0 };
    if (name === "p-queue") {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
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
      cpu = process.cpuUsage(cpu0);
    } else {
      const enqueuedAt = new Float64Array(n);
      const opened = name.startsWith("pyrexis-memory") ? new MemoryJobStore() : await SqliteJobStore.open({ path: join(dir, "bench.db") });
      const store = name.endsWith("-noclaims") ? withoutClaims(opened) : opened;
      const engine = new Engine({
        store,
        executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers: { noop } }) }),
        handlerNames: ["noop"],
        concurrency: { async: CONCURRENCY },
        groupCommit: name !== "pyrexis-sqlite-nogroup",
        ...(prefetch === undefined ? {} : { prefetch }),
        ...(tracing === undefined ? {} : { tracing }),
        // The -flow contenders: every job uses a limit and names one of four groups; the limit
        // never binds (what flow control costs, not what waiting for it takes).
        ...(flow
          ? { limits: { api: { rate: { units: 1_000_000_000, perMs: 60_000 }, maxConcurrent: 1_000_000 } }, groupWeights: { g0: 2 } }
          : {}),
      });
      if (engine.usesClaims && name.endsWith("-noclaims"))
        throw new Error(`${fullName}: the engine ${engine.usesClaims ? "uses" : "does not use"} claims`);
      usesClaims = engine.usesClaims;
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
      cpu0 = process.cpuUsage();
      for (let start = 0; start < n; start += SUBMIT_BATCH) {
        const specs = [];
        const now = performance.now();
        for (let i = start; i < Math.min(n, start + SUBMIT_BATCH); i++) {
          enqueuedAt[i] = now;
          specs.push(
            flow ? { handler: "noop", payload: i, limits: [{ key: "api" }], group: `g${i % 4}` } : { handler: "noop", payload: i },
          );
        }
        await engine.submitJobs(specs);
      }
      await finished;
      drained = performance.now();
      cpu = process.cpuUsage(cpu0);
      await engine.shutdown();
      await loop;
    }
    const seconds = (drained - t0) / 1000;
    const sorted = Array.from(latencies).sort((a, b) => a - b);
    const at = (/** @type {number} */ q) => /** @type {number} */ (sorted[Math.floor(n * q)]);
    return {
      name: fullName,
      n,
      usesClaims,
      jobsPerSecond: n / seconds,
      latencyP50: at(0.5),
      latencyP99: at(0.99),
      cpuUsPerJob: (cpu.user + cpu.system) / n,
      peakRssMb: process.resourceUsage().maxRSS / 1024,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The store with its claims capability hidden: the engine takes its path for stores without claims.
 * @template {import("@pyrexis/storage").JobStore} S
 * @param {S} store
 * @returns {import("@pyrexis/storage").JobStore}
 */
function withoutClaims(store) {
  return new Proxy(store, {
    get(target, key) {
      if (key === "capabilities") return { ...target.capabilities, claims: false };
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
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
    usesClaims: /** @type {Sample} */ (s[0]).usesClaims,
    n: /** @type {Sample} */ (s[0]).n,
    jobsPerSecond: median(s.map((x) => x.jobsPerSecond)),
    min: Math.min(...s.map((x) => x.jobsPerSecond)),
    max: Math.max(...s.map((x) => x.jobsPerSecond)),
    latencyP50: median(s.map((x) => x.latencyP50)),
    latencyP99: median(s.map((x) => x.latencyP99)),
    cpuUsPerJob: median(s.map((x) => x.cpuUsPerJob)),
    peakRssMb: median(s.map((x) => x.peakRssMb)),
    ratio: median(ratios),
    ratioMin: Math.min(...ratios),
    ratioMax: Math.max(...ratios),
  };
});
const fmt = (/** @type {number} */ x, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const lines = [
  `N = ${N} no-op async jobs, concurrency ${CONCURRENCY}, submitted in batches of ${SUBMIT_BATCH}; prefetch ${args.prefetch ?? "the engine's default"}; median of ${RUNS} (min–max); ratios: median of the per-run ratios (min–max); CPU/job: the process's CPU time (user + system, all threads) over the drain, per job; Node ${process.version}, ${process.platform}/${process.arch}`,
  "",
  "| contender | claims | jobs | jobs/s (min–max) | ratio to p-queue | enqueue→start p50 | p99 | CPU/job | peak RSS |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.name === "p-queue" ? "–" : r.usesClaims ? "yes" : "no"} | ${fmt(r.n)} | ${fmt(r.jobsPerSecond)} (${fmt(r.min)}–${fmt(r.max)}) | ${fmt(r.ratio, 2)}× (${fmt(r.ratioMin, 2)}–${fmt(r.ratioMax, 2)}) | ${fmt(r.latencyP50, 1)} ms | ${fmt(r.latencyP99, 1)} ms | ${fmt(r.cpuUsPerJob, 1)} µs | ${fmt(r.peakRssMb)} MB |`,
  ),
];
/** Per-run ratios of `name`'s CPU per job to `base`'s. @param {string} name @param {string} base */
const cpuRatiosTo = (name, base) =>
  samplesOf(name).map((x, run) => x.cpuUsPerJob / /** @type {Sample} */ (samplesOf(base)[run]).cpuUsPerJob);
/**
 * "label: a/b throughput, then CPU per job, per-run ratio medians (min–max)" when both ran. The
 * CPU ratio of each run pairs two back-to-back measurements, so it drifts less with the machine
 * than the ratio of the two columns' medians.
 * @param {string} label @param {string} a @param {string} b
 */
const compare = (label, a, b) => {
  if (!CONTENDERS.includes(a) || !CONTENDERS.includes(b)) return;
  const r = ratiosTo(a, b);
  const c = cpuRatiosTo(a, b);
  lines.push(
    `${label}: ${fmt(median(r), 2)}× (${fmt(Math.min(...r), 2)}–${fmt(Math.max(...r), 2)}, per run); CPU per job ${fmt(median(c), 2)}× (${fmt(Math.min(...c), 2)}–${fmt(Math.max(...c), 2)}, per run)`,
  );
};
lines.push("");
/** The name a contender runs under for the first prefetch value. @param {string} c */
const first = (c) => (prefetching(c) && PREFETCHES.length > 1 ? `${c}${SEP}${PREFETCHES[0]}` : c);
compare("group commit speed-up (SQLite)", first("pyrexis-sqlite-group"), "pyrexis-sqlite-nogroup");
for (const p of PREFETCHES.length > 1 ? PREFETCHES : [PREFETCHES[0]]) {
  const at = (/** @type {string} */ c) => (PREFETCHES.length > 1 ? `${c}${SEP}${p}` : c);
  const what = p === undefined ? "" : ` (prefetch ${p})`;
  compare(`claims against no claims, memory store${what}`, at("pyrexis-memory"), "pyrexis-memory-noclaims");
  compare(`claims against no claims, SQLite${what}`, at("pyrexis-sqlite-group"), "pyrexis-sqlite-noclaims");
}
compare("flow control (a limit and a group per job) on against off, memory store", "pyrexis-memory-flow", first("pyrexis-memory"));
compare("flow control (a limit and a group per job) on against off, SQLite", "pyrexis-sqlite-flow", first("pyrexis-sqlite-group"));
compare("tracing on against off, memory store", "pyrexis-memory-traced", first("pyrexis-memory"));
compare("tracing on against off, SQLite", "pyrexis-sqlite-traced", first("pyrexis-sqlite-group"));
compare(
  `tracing on, ${SAMPLED_RATIO * 100}% of traces sampled, against off, memory store`,
  "pyrexis-memory-traced-sampled",
  first("pyrexis-memory"),
);
compare(
  `tracing on, ${SAMPLED_RATIO * 100}% of traces sampled, against off, SQLite`,
  "pyrexis-sqlite-traced-sampled",
  first("pyrexis-sqlite-group"),
);
for (const p of PREFETCHES.slice(1)) {
  for (const c of ["pyrexis-memory", "pyrexis-sqlite-group"]) {
    compare(`prefetch ${p} against ${PREFETCHES[0]}, ${c}`, `${c}${SEP}${p}`, `${c}${SEP}${PREFETCHES[0]}`);
  }
}
console.log(lines.join("\n"));
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/throughput.json",
  JSON.stringify({ n: N, runs: RUNS, concurrency: CONCURRENCY, prefetch: PREFETCHES, node: process.version, rows, samples }, null, 2),
);
