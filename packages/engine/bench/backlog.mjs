// Engine start and drain over a backlog: N pending no-op jobs already in one SQLite file, then
// an engine in a fresh process opens it, starts and drains it. Measures how long the engine takes
// to be ready (open, `start()`), how long until the first handler call, the drain rate, and the
// process's RSS (sampled every 50 ms from outside, plus the kernel's peak). With claims the engine
// holds a bounded window of claimed jobs; without them `start()` loads every pending job.
//
//   node bench/backlog.mjs [--sizes 10000,100000,1000000] [--runs 1] [--concurrency 64] [--prefetch n] [--claims both|on|off]
//
// --claims off (and the second row of each size with the default `both`) opens the same file
// with the store's claims capability hidden, so the engine takes its path for stores without
// claims (recovery queues every pending job): the before-and-after of claims in one run.
//
// Each size's file is built once per invocation (inserts through `SqliteJobStore.commit` in
// batches of 10,000, outside the measurement) and copied fresh for every run; temp files are
// removed at the end.
import { fork } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
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

/**
 * What the child is asked to do.
 * @typedef {{ path: string, n: number, concurrency: number, prefetch: number | undefined, hideClaims: boolean }} ChildConfig
 */
/**
 * What the child reports (times in ms; `FromProcessStart` ones are `performance.now()`, i.e. since
 * the process's time origin; `importMs`: loading the engine and SQLite store modules; `openMs`:
 * `createEngine` without `start()`, i.e. opening the store).
 * @typedef {{
 *   n: number, completed: number, usesClaims: boolean, importMs: number, openMs: number, startMs: number,
 *   firstCallFromProcessStartMs: number, firstCallFromCreateMs: number, drainMs: number, jobsPerSecond: number,
 *   rssAfterStartMb: number, maxRssMb: number, stillPending: number,
 * }} ChildReport
 */

if (process.argv[2] === "--child") {
  if (!process.send) throw new Error("--child runs only as a child forked by this bench (with an IPC channel)");
  const config = /** @type {ChildConfig} */ (JSON.parse(process.argv[3] ?? "{}"));
  process.send(await runChild(config));
  process.exit(0);
}

/**
 * One measurement, in this (fresh) process.
 * @param {ChildConfig} config
 * @returns {Promise<ChildReport>}
 */
async function runChild({ path, n, concurrency, prefetch, hideClaims }) {
  const tImport = performance.now();
  const { createEngine } = await import("@pyrexis/engine");
  // The store module createEngine loads for a path, loaded here so that "open" is the store's own time.
  const { SqliteJobStore } = await import("@pyrexis/storage-sqlite");
  const tCreate = performance.now();
  /** @type {number | undefined} */
  let firstCall;
  const noop = () => {
    firstCall ??= performance.now();
    return null;
  };
  const engine = await createEngine({
    store: hideClaims ? withoutClaims(await SqliteJobStore.open({ path })) : path,
    handlers: { noop },
    start: false,
    concurrency: { async: concurrency },
    ...(prefetch === undefined ? {} : { prefetch }),
  });
  const tOpened = performance.now();
  await engine.start();
  const tStarted = performance.now();
  const rssAfterStartMb = process.memoryUsage.rss() / 2 ** 20;
  let completed = 0;
  const finished = /** @type {Promise<void>} */ (
    new Promise((resolve) => {
      engine.on("job:completed", () => {
        if (++completed === n) resolve();
      });
    })
  );
  engine.on("engine:error", ({ error, context }) => {
    process.stderr.write(`engine:error ${context}: ${error instanceof Error ? error.message : String(error)}\n`);
  });
  const tLoop = performance.now();
  const loop = engine.runLoop();
  await finished;
  const tDrained = performance.now();
  const counts = await engine.store.countByStatus();
  await engine.shutdown();
  await loop;
  return {
    n,
    completed,
    usesClaims: engine.usesClaims,
    importMs: tCreate - tImport,
    openMs: tOpened - tCreate,
    startMs: tStarted - tOpened,
    firstCallFromProcessStartMs: firstCall ?? Number.NaN,
    firstCallFromCreateMs: (firstCall ?? Number.NaN) - tCreate,
    drainMs: tDrained - tLoop,
    jobsPerSecond: n / ((tDrained - tLoop) / 1000),
    rssAfterStartMb,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    stillPending: counts.pending + counts.retrying + counts.running,
  };
}

/**
 * The store with its claims capability hidden: the engine takes its path for stores without claims.
 * @param {import("@pyrexis/storage").JobStore} store
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

// --- the parent: build the files, run the children, report ---

const SIZES = (args.sizes ?? "10000,100000,1000000").split(",").map(Number);
const RUNS = Number(args.runs ?? 1);
const CONCURRENCY = Number(args.concurrency ?? 64);
const PREFETCH = args.prefetch === undefined ? undefined : Number(args.prefetch);
const CLAIMS = args.claims ?? "both";
if (!["both", "on", "off"].includes(CLAIMS)) throw new TypeError(`--claims: both, on or off, not ${CLAIMS}`);
/** Whether each row hides the store's claims (in the order they run within a size). */
const MODES = CLAIMS === "both" ? [false, true] : [CLAIMS === "off"];
const INSERT_BATCH = 10_000;
for (const n of SIZES) if (!Number.isInteger(n) || n < 1) throw new TypeError(`--sizes: not a positive integer: ${n}`);

/**
 * Writes `n` pending no-op jobs into a new SQLite file at `path` (outside any measurement).
 * @param {string} path
 * @param {number} n
 */
async function buildFile(path, n) {
  const { SqliteJobStore } = await import("@pyrexis/storage-sqlite");
  const { createJob, parseJobSpec } = await import("@pyrexis/models");
  const store = await SqliteJobStore.open({ path });
  const now = Date.now();
  for (let start = 0; start < n; start += INSERT_BATCH) {
    const insert = [];
    for (let i = start; i < Math.min(n, start + INSERT_BATCH); i++)
      insert.push(createJob(parseJobSpec({ handler: "noop", payload: i }), now));
    await store.commit({ insert });
  }
  // Closing checkpoints the WAL into the main file: the copy of the .db alone is the whole store.
  await store.close();
}

/** The file's size with its WAL, in MB. @param {string} path */
function fileMb(path) {
  let bytes = 0;
  for (const p of [path, `${path}-wal`]) if (existsSync(p)) bytes += statSync(p).size;
  return bytes / 2 ** 20;
}

/**
 * Runs one measurement in a fresh child, sampling its RSS every 50 ms from here (/proc, Linux).
 * @param {ChildConfig} config
 * @returns {Promise<ChildReport & { sampledPeakRssMb: number }>}
 */
function inChild(config) {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ["--child", JSON.stringify(config)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let peak = 0;
    const sample = setInterval(() => {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // not on Linux, or the child is gone: the child's own maxRSS still reports the peak
      }
    }, 50);
    /** @type {ChildReport | undefined} */
    let result;
    child.on("message", (m) => (result = /** @type {ChildReport} */ (m)));
    child.on("exit", (code) => {
      clearInterval(sample);
      if (code === 0 && result) resolve({ ...result, sampledPeakRssMb: peak });
      else reject(new Error(`backlog child (n = ${config.n}) exited ${code}`));
    });
  });
}

const median = (/** @type {number[]} */ xs) => /** @type {number} */ ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const dir = mkdtempSync(join(tmpdir(), "pyrexis-backlog-"));
/** @type {{ n: number, dbMb: number, buildS: number, hideClaims: boolean, samples: (ChildReport & { sampledPeakRssMb: number })[] }[]} */
const results = [];
try {
  for (const n of SIZES) {
    const template = join(dir, `template-${n}.db`);
    const tBuild = performance.now();
    await buildFile(template, n);
    const buildS = (performance.now() - tBuild) / 1000;
    const dbMb = fileMb(template);
    process.stderr.write(`built ${n.toLocaleString("en-US")} pending jobs in ${buildS.toFixed(1)} s (${dbMb.toFixed(0)} MB)\n`);
    /** @type {(ChildReport & { sampledPeakRssMb: number })[][]} */
    const samples = MODES.map(() => []);
    for (let run = 0; run < RUNS; run++) {
      // Alternate which setting goes first.
      const order = MODES.map((_, i) => (i + run) % MODES.length);
      for (const i of order) {
        const hideClaims = /** @type {boolean} */ (MODES[i]);
        const path = join(dir, `run-${n}.db`);
        copyFileSync(template, path);
        const s = await inChild({ path, n, concurrency: CONCURRENCY, prefetch: PREFETCH, hideClaims });
        if (s.completed !== n || s.stillPending !== 0)
          throw new Error(`n = ${n}: ${s.completed} completed, ${s.stillPending} left unfinished`);
        samples[i]?.push(s);
        for (const p of [path, `${path}-wal`, `${path}-shm`]) rmSync(p, { force: true });
        process.stderr.write(
          `  n = ${n}${hideClaims ? " (claims hidden)" : ""}: start ${s.startMs.toFixed(0)} ms, first call ${s.firstCallFromCreateMs.toFixed(0)} ms after createEngine, ${s.jobsPerSecond.toFixed(0)} jobs/s, peak ${Math.max(s.maxRssMb, s.sampledPeakRssMb).toFixed(0)} MB\n`,
        );
      }
    }
    MODES.forEach((hideClaims, i) => results.push({ n, dbMb, buildS, hideClaims, samples: samples[i] ?? [] }));
    rmSync(template, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const fmt = (/** @type {number} */ x, d = 0) => x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = results.map(({ n, dbMb, hideClaims, samples }) => {
  const m = (/** @type {(s: ChildReport & { sampledPeakRssMb: number }) => number} */ f) => median(samples.map(f));
  return {
    n,
    dbMb,
    hideClaims,
    usesClaims: samples.every((s) => s.usesClaims),
    importMs: m((s) => s.importMs),
    openMs: m((s) => s.openMs),
    startMs: m((s) => s.startMs),
    firstCallFromProcessStartMs: m((s) => s.firstCallFromProcessStartMs),
    firstCallFromCreateMs: m((s) => s.firstCallFromCreateMs),
    jobsPerSecond: m((s) => s.jobsPerSecond),
    rssAfterStartMb: m((s) => s.rssAfterStartMb),
    peakRssMb: m((s) => Math.max(s.maxRssMb, s.sampledPeakRssMb)),
  };
});
const lines = [
  `Backlog of N pending no-op jobs in one SQLite file; a fresh process opens it with createEngine({ store: path }) and drains it (claims "no": the store's claims hidden, the engine's path for stores without them); concurrency ${CONCURRENCY}, prefetch ${PREFETCH ?? "default"}; median of ${RUNS}; Node ${process.version}, ${process.platform}/${process.arch}`,
  "",
  "| backlog | claims | DB file | modules | open | start() | first handler call: from createEngine | from process start | drain jobs/s | RSS after start | peak RSS |",
  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${fmt(r.n)} | ${r.usesClaims ? "yes" : r.hideClaims ? "no (hidden)" : "no (store has none)"} | ${fmt(r.dbMb)} MB | ${fmt(r.importMs)} ms | ${fmt(r.openMs)} ms | ${fmt(r.startMs)} ms | ${fmt(r.firstCallFromCreateMs)} ms | ${fmt(r.firstCallFromProcessStartMs)} ms | ${fmt(r.jobsPerSecond)} | ${fmt(r.rssAfterStartMb)} MB | ${fmt(r.peakRssMb)} MB |`,
  ),
];
console.log(lines.join("\n"));
mkdirSync("bench-results", { recursive: true });
writeFileSync(
  "bench-results/backlog.json",
  JSON.stringify(
    {
      sizes: SIZES,
      runs: RUNS,
      claims: CLAIMS,
      concurrency: CONCURRENCY,
      prefetch: PREFETCH ?? null,
      node: process.version,
      rows,
      results,
    },
    null,
    2,
  ),
);
