#!/usr/bin/env node
// pnpm --filter @pyrexis/bench bench:scale [-- --sizes 10000,100000,1000000] [--stores sqlite,postgres]
//   [--json bench-results/scale.json] [--charts dir] [--concurrency 50] [--batch 1000] [--warmup 5000] [--max-minutes 15]
//   [--cpu-prof dir] [--quick]
//
// Per-job cost against backlog size: for each store and size, a fresh child (src/scale-child.mjs)
// warms up on a small backlog of its own, then submits the backlog in batches, starts an engine
// and drains it. Prints a table, writes JSON
// (machine, load average at the start and end) and the cost-per-job chart as SVG beside it.
// A size whose estimate (from the store's previous size) exceeds --max-minutes is skipped and
// said so; --max-minutes 0 runs everything. Exits non-zero only when a child crashed.
import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { writeCharts } from "./charts/index.mjs";
import { dropPgSchema, dropPgSchemasLike, pgTarget, probeTcp, versionOf } from "./contenders/common.mjs";
import { writeJson } from "./report.mjs";
import { costRatios, estimateMinutes, parseScaleArgs, renderScaleTable } from "./scale-report.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, "..");
const argv = process.argv[2] === "--" ? process.argv.slice(3) : process.argv.slice(2);

/** @type {import("./scale-report.mjs").ScaleOptions} */
let options;
try {
  options = parseScaleArgs(argv);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(2);
}
if (options.help) {
  console.log(
    "usage: node src/scale.mjs [--sizes 10000,100000,1000000] [--stores sqlite,postgres] [--json bench-results/scale.json] " +
      "[--charts dir (default: the JSON's)] [--concurrency 50] [--batch 1000] [--warmup 5000 (0: none)] [--max-minutes 15 (0: no limit)] [--cpu-prof dir] [--quick]",
  );
  process.exit(0);
}
const jsonPath = resolve(benchDir, options.json);
const chartsDir = options.charts === undefined ? dirname(jsonPath) : resolve(benchDir, options.charts);
// This run's schemas: a later size of the same run sweeps what a killed child left under it.
const PG_PREFIX = `pyrexis_scale_${process.pid}`;

/** @type {import("node:child_process").ChildProcess | undefined} */
let current;
/** @type {(() => Promise<void>) | undefined} removes the store of the measurement under way */
let removeCurrent;
process.on("SIGINT", () => {
  current?.kill("SIGKILL");
  // The child is gone (its connections with it), so its store can go too.
  void (removeCurrent?.() ?? Promise.resolve()).finally(() => process.exit(130));
});

/**
 * Runs one measurement in a fresh child, killed after `budgetMs`.
 * @param {import("./scale-child.mjs").ScaleChildConfig} config
 * @param {number} budgetMs
 * @returns {Promise<import("./scale-child.mjs").ScaleResult>}
 */
function runChild(config, budgetMs) {
  return new Promise((resolveRun, reject) => {
    const profile = options.cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", resolve(benchDir, options.cpuProf)];
    const child = fork(join(here, "scale-child.mjs"), [JSON.stringify(config)], {
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      // scale-child.mjs collects the submit phase's garbage before timing the drain.
      execArgv: [...process.execArgv, "--expose-gc", ...profile],
    });
    current = child;
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + d).slice(-4000);
      process.stderr.write(d);
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), budgetMs);
    /** @type {import("./scale-child.mjs").ScaleResult | undefined} */
    let result;
    child.on("message", (m) => (result = /** @type {import("./scale-child.mjs").ScaleResult} */ (m)));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      if (result && code === 0) resolveRun(result);
      else {
        const tail = stderr.trim().split("\n").at(-1) ?? "";
        reject(
          new Error(
            `child exited (${signal ?? code})${signal === "SIGKILL" ? ` past its ${budgetMs / 1000} s budget` : ""} ${tail}`.trim(),
          ),
        );
      }
    });
  });
}

/**
 * One store at one size: a store of its own (a temp directory, or a PostgreSQL schema), removed
 * whatever the child did.
 * @param {"sqlite" | "postgres"} store
 * @param {number} n
 * @param {number} budgetMs
 */
async function measure(store, n, budgetMs) {
  const base = { kind: store, n, concurrency: options.concurrency, batch: options.batch, warmup: options.warmup };
  if (store === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "pyrexis-scale-"));
    removeCurrent = async () => rmSync(dir, { recursive: true, force: true });
    try {
      return await runChild({ ...base, store: join(dir, "jobs.db"), warmStore: join(dir, "warm.db") }, budgetMs);
    } finally {
      await removeCurrent();
      removeCurrent = undefined;
    }
  }
  const target = pgTarget();
  await probeTcp(target.host, target.port);
  await dropPgSchemasLike(PG_PREFIX);
  const schema = `${PG_PREFIX}_${randomBytes(4).toString("hex")}`;
  /** The store URL of a schema: the store's own `schema` query parameter. @param {string} name */
  const storeUrl = (name) => {
    const url = new URL(target.connectionString);
    url.searchParams.set("schema", name);
    return url.toString();
  };
  removeCurrent = async () => {
    await dropPgSchema(schema);
    await dropPgSchema(`${schema}_warm`);
  };
  try {
    const config = {
      ...base,
      store: storeUrl(schema),
      schema,
      connectionString: target.connectionString,
      warmStore: storeUrl(`${schema}_warm`),
    };
    return await runChild(config, budgetMs);
  } finally {
    await removeCurrent();
    removeCurrent = undefined;
  }
}

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model?.trim() ?? "?",
  memGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
const versions = Object.fromEntries(
  ["@pyrexis/engine", "@pyrexis/storage-sqlite", "@pyrexis/storage-postgres"].map((pkg) => [pkg, versionOf(pkg)]),
);
const loadStart = /** @type {number} */ (loadavg()[0]);
let loadMax = loadStart;
console.error(
  `scale: sizes ${options.sizes.join(", ")} on ${options.stores.join(", ")}${options.quick ? " (quick: a smoke run, not results)" : ""}; ` +
    `concurrency ${options.concurrency}, batches of ${options.batch}, a warm-up of ${options.warmup} jobs per child; ` +
    `${options.maxMinutes === 0 ? "no time limit" : `a size estimated above ${options.maxMinutes} min is skipped`}; load average ${loadStart.toFixed(2)}`,
);
if (options.cpuProf !== undefined) mkdirSync(resolve(benchDir, options.cpuProf), { recursive: true });

/** @type {import("./scale-report.mjs").ScaleRun[]} */
const runs = [];
let crashed = 0;
const started = Date.now();
for (const store of options.stores) {
  for (const n of options.sizes) {
    const estimate = estimateMinutes(runs, store, n);
    if (options.maxMinutes > 0 && estimate !== undefined && estimate > options.maxMinutes) {
      const reason = `estimated ${estimate.toFixed(0)} min > --max-minutes ${options.maxMinutes}`;
      runs.push({ store, n, status: "skipped", reason });
      console.error(`${store} ${n}: skipped, ${reason}`);
      continue;
    }
    // Twice the estimate (and at least 10 min) before the child is killed: slow is reported, a hang is not waited out.
    const budgetMs = Math.max(10, 2 * (estimate ?? 5)) * 60_000;
    const t0 = Date.now();
    try {
      const result = await measure(store, n, budgetMs);
      const load1 = /** @type {number} */ (loadavg()[0]);
      loadMax = Math.max(loadMax, load1);
      if (result.left !== 0) throw new Error(`${result.left} of ${n} jobs not completed in the store after the drain`);
      runs.push({ store, n, status: "ok", load1, result });
      console.error(
        `${store} ${n}: submit ${result.submitRate.toFixed(0)} jobs/s, first dispatch ${result.firstDispatchMs.toFixed(0)} ms, ` +
          `drain ${result.drainRate.toFixed(0)} jobs/s, ${result.cpuUsPerJob.toFixed(1)} µs CPU/job, peak ${result.maxRssMB.toFixed(0)} MB; ` +
          `${((Date.now() - t0) / 1000).toFixed(0)} s, load ${load1.toFixed(2)}`,
      );
    } catch (error) {
      crashed++;
      const reason = (error instanceof Error ? error.message : String(error)).split("\n")[0]?.slice(0, 200) ?? "";
      runs.push({ store, n, status: "crashed", reason, load1: /** @type {number} */ (loadavg()[0]) });
      console.error(`${store} ${n}: crashed: ${reason}`);
    }
  }
}

const loadEnd = /** @type {number} */ (loadavg()[0]);
const load = { start: loadStart, end: loadEnd, max: Math.max(loadMax, loadEnd) };
const ratios = costRatios(runs);
// Relative to bench/, as the README's commands are: no machine path lands in a saved JSON or a doc.
const command = `node src/scale.mjs${argv.length ? ` ${argv.join(" ")}` : ""}`;
console.log(
  options.quick
    ? `## Smoke run of the scale bench, not results (\`${command}\`)\n\n> **Smoke run (--quick): these numbers are not results.** Backlogs this small say nothing about scale.\n`
    : `## Scale: per-job cost against backlog size (\`${command}\`)\n`,
);
console.log(
  `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}; load average ${load.start.toFixed(2)} at the start, ${load.end.toFixed(2)} at the end (${load.max.toFixed(2)} at most); ` +
    `concurrency ${options.concurrency}, batches of ${options.batch}, an untimed warm-up of ${options.warmup} jobs in each child first; ` +
    `CPU is the bench process's, not the database server's.\n`,
);
console.log(renderScaleTable(runs, ratios));
const results = {
  kind: "scale",
  date: new Date().toISOString(),
  command,
  // Whatever reads this file must not show a smoke run as results.
  smoke: options.quick,
  machine,
  load,
  params: {
    sizes: options.sizes,
    stores: options.stores,
    concurrency: options.concurrency,
    batch: options.batch,
    warmup: options.warmup,
    maxMinutes: options.maxMinutes,
  },
  versions,
  runs,
  ratios,
  elapsedS: (Date.now() - started) / 1000,
};
writeJson(jsonPath, results);
/** @type {string[]} */
let charts = [];
try {
  charts = await writeCharts(results, { dir: chartsDir, prefix: basename(jsonPath, ".json") });
} catch (error) {
  console.error(`charts: ${error instanceof Error ? error.stack : String(error)}`);
  crashed++;
}
console.error(
  `\nwrote ${[jsonPath, ...charts].map((p) => relative(process.cwd(), p)).join(", ")} in ${((Date.now() - started) / 1000).toFixed(0)} s; ${crashed} failure(s)`,
);
process.exitCode = crashed > 0 ? 1 : 0;
