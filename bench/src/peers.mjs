#!/usr/bin/env node
// pnpm --filter @pyrexis/bench bench:peers [--n 20000] [--runs 3] [--only a,b] [--scenarios a,b] [--json path] [--quick]
//
// Runs the same workloads against Pyrexis and its peers on this machine, one measurement per
// fresh child process (an untimed warm-up of the workload first, kept as the cold figure),
// contenders alternated round-robin across runs; prints markdown tables (median, min–max) and
// writes the raw measurements as JSON. Exits non-zero only when a contender crashed (or the
// harness itself failed), never because a number is slow.
import { fork } from "node:child_process";
import { cpus, loadavg, totalmem } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { writeCharts } from "./charts/index.mjs";
import { variants as allVariants } from "./contenders/index.mjs";
import { versionOf } from "./contenders/common.mjs";
import { renderMarkdown, summarize, writeJson } from "./report.mjs";
import { WARMED_UP } from "./scenarios.mjs";
import { calibrateCpu } from "./work.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const benchDir = join(here, "..");

const ALL_SCENARIOS = ["drain-c1", "drain-c50", "latency", "latency-xproc", "cpu", "fairness"];
// pnpm 10 passes the "--" of `pnpm --filter @pyrexis/bench bench:peers -- --n 5000` on to the script.
const argv = process.argv[2] === "--" ? process.argv.slice(3) : process.argv.slice(2);
const { values: args } = parseArgs({
  args: argv,
  options: {
    n: { type: "string" },
    runs: { type: "string" },
    only: { type: "string" },
    scenarios: { type: "string" },
    json: { type: "string" },
    charts: { type: "string" },
    timeout: { type: "string" },
    quick: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help) {
  console.log(
    "usage: node src/peers.mjs [--n 20000] [--runs 3] [--only id,id] [--scenarios s,s] [--json bench-results/peers.json] [--charts dir (default: the JSON's)] [--timeout s (per drain; default 30 per 20,000 jobs)] [--quick]",
  );
  console.log(`contenders: ${allVariants.map((v) => v.id).join(", ")}`);
  console.log(`scenarios: ${ALL_SCENARIOS.join(", ")}`);
  process.exit(0);
}

/** `raw` as a positive integer, `fallback` when absent; exits 2 on anything else. @param {string | undefined} raw @param {string} name @param {number} fallback */
const positiveInt = (raw, name, fallback) => {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) {
    console.error(`--${name} must be a positive integer, got "${raw}"`);
    process.exit(2);
  }
  return v;
};

const quick = args.quick;
const n = positiveInt(args.n, "n", quick ? 500 : 20_000);
/** The default cap on one drain: 30 s per 20,000 jobs (never less than 30 s), so a larger N gets as long per job. */
const defaultTimeoutS = quick ? 3 : Math.max(30, Math.ceil((30 * n) / 20_000));
/** @type {import("./scenarios.mjs").Params} */
const params = {
  n,
  runs: positiveInt(args.runs, "runs", quick ? 1 : 3),
  // Cap on one drain: a polling peer at its defaults would otherwise take hours; its rate is still shown.
  drainTimeoutMs: positiveInt(args.timeout, "timeout", defaultTimeoutS) * 1000,
  latency: quick ? { rate: 100, seconds: 0.5, graceMs: 500 } : { rate: 200, seconds: 5, graceMs: 5000 },
  cpu: { n: quick ? 100 : 2000, targetMs: 2, iterations: calibrateCpu(2) },
  // agingRate 2 → a priority-0 job is overtaken for at most (10 − 0) / 2 = 5 s.
  fairness: quick
    ? { seconds: 1.5, concurrency: 4, backlog: 100, sleepMs: 10, agingRate: 10 }
    : { seconds: 15, concurrency: 4, backlog: 100, sleepMs: 10, agingRate: 2 },
};

let variants = allVariants;
if (args.only) {
  const wanted = args.only
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((id) => !allVariants.some((v) => v.id === id || v.id.startsWith(`${id}-`) || v.pkg === id));
  if (unknown.length > 0) {
    console.error(`unknown contender(s): ${unknown.join(", ")}; known: ${allVariants.map((v) => v.id).join(", ")}`);
    process.exit(2);
  }
  // "pyrexis" or "graphile-worker" selects every variant of that family.
  variants = allVariants.filter((v) => wanted.some((id) => v.id === id || v.id.startsWith(`${id}-`) || v.pkg === id));
}
const wantedScenarios = args.scenarios
  ?.split(",")
  .map((s) => s.trim())
  .filter(Boolean);
const unknownScenarios = (wantedScenarios ?? []).filter((s) => !ALL_SCENARIOS.includes(s));
if (unknownScenarios.length > 0) {
  console.error(`unknown scenario(s): ${unknownScenarios.join(", ")}; known: ${ALL_SCENARIOS.join(", ")}`);
  process.exit(2);
}
const SCENARIOS = wantedScenarios ? ALL_SCENARIOS.filter((s) => wantedScenarios.includes(s)) : ALL_SCENARIOS;
const jsonPath = resolve(benchDir, args.json ?? "bench-results/peers.json");
const chartsDir = args.charts === undefined ? dirname(jsonPath) : resolve(benchDir, args.charts);
const versions = Object.fromEntries([...new Set(variants.map((v) => v.pkg))].map((pkg) => [pkg, versionOf(pkg)]));

/**
 * Upper bound on one scenario in a child (its warm-up included), after which the child is killed
 * and reported crashed. @param {string} scenario
 */
function budgetMs(scenario) {
  const slack = 45_000;
  const runs = WARMED_UP.includes(scenario) ? 2 : 1;
  // Setup, the bulk add and cleanup grow with N too (the drain itself is capped by drainTimeoutMs, twice with settle).
  if (scenario.startsWith("drain")) return runs * (2 * params.drainTimeoutMs + slack * Math.max(1, params.n / 20_000));
  if (scenario === "cpu") return runs * (2 * params.drainTimeoutMs + slack);
  if (scenario.startsWith("latency")) return runs * (params.latency.seconds * 1000 + params.latency.graceMs + slack);
  if (scenario === "fairness") return runs * (params.fairness.seconds * 1000 + slack);
  return slack;
}

/** @typedef {import("./report.mjs").Message} Message */

/** @type {import("node:child_process").ChildProcess | undefined} the child being waited on, so SIGINT can stop it */
let current;
/**
 * Runs `scenarios` of `contender` in a fresh child; a scenario the child did not report is a crash.
 * @param {string} contender
 * @param {string[]} scenarios
 * @returns {Promise<{ messages: Message[], killed: boolean, stderr: string }>}
 */
function runChild(contender, scenarios) {
  return new Promise((resolveRun) => {
    /** @type {Message[]} */
    const messages = [];
    const child = fork(join(here, "runner.mjs"), [JSON.stringify({ contender, scenarios, params })], {
      stdio: ["ignore", "inherit", "pipe", "ipc"],
      // runner.mjs collects the warm-up's garbage before the measured run.
      execArgv: [...process.execArgv, "--expose-gc"],
    });
    current = child;
    let stderr = "";
    child.stderr?.on("data", (d) => {
      stderr = (stderr + d).slice(-4000);
    });
    const budget = scenarios.reduce((t, s) => t + budgetMs(s), 0);
    const timer = setTimeout(() => {
      stderr += `\nkilled after ${budget} ms`;
      child.kill("SIGKILL");
    }, budget);
    child.on("message", (m) => messages.push(/** @type {Message} */ (m)));
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      current = undefined;
      for (const s of scenarios) {
        if (!messages.some((m) => m.scenario === s)) {
          const tail = stderr.trim().split("\n").slice(-1)[0] ?? "";
          messages.push({ contender, scenario: s, status: "crashed", reason: `child exited (${signal ?? code}) ${tail}`.slice(0, 200) });
        }
      }
      resolveRun({ messages, killed: signal !== null || code !== 0, stderr });
    });
  });
}

process.on("SIGINT", () => {
  if (current) current.kill("SIGKILL");
  console.error("interrupted; run `node src/peers.mjs --only <id> --n 1 --runs 1` to clean a contender's leftovers");
  process.exit(130);
});

const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model?.trim() ?? "?",
  memGB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform}-${process.arch}`,
};
const loadStart = /** @type {number} */ (loadavg()[0]);
let loadMax = loadStart;
console.error(
  `peers: n=${params.n} runs=${params.runs}${quick ? " (quick: a smoke run, not results)" : ""}; ${variants.length} contenders; ` +
    `drains capped at ${params.drainTimeoutMs / 1000} s; cpu work ${params.cpu.iterations} rounds ≈ ${params.cpu.targetMs} ms; load average ${loadStart.toFixed(2)}`,
);
console.error(
  `versions: ${Object.entries(versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);

/** @type {import("./report.mjs").Measurement[]} */
const measurements = [];
let crashed = 0;
const stacksShown = new Set();
const started = Date.now();
for (let run = 0; run < params.runs; run++) {
  // Round-robin: each run starts one contender later, so none always goes first (cold caches) or last.
  const order = variants.map((_, i) => /** @type {import("./contenders/common.mjs").Variant} */ (variants[(i + run) % variants.length]));
  // --quick runs all of a contender's scenarios in one child to stay within a CI minute.
  const batches = quick
    ? order.map((v) => ({ v, scenarios: SCENARIOS.filter((s) => v.scenarios.includes(s)) }))
    : SCENARIOS.flatMap((s) => order.filter((v) => v.scenarios.includes(s)).map((v) => ({ v, scenarios: [s] })));
  for (const { v, scenarios } of batches) {
    if (scenarios.length === 0) continue;
    const t0 = Date.now();
    const { messages, killed, stderr } = await runChild(v.id, scenarios);
    // The machine is shared: the load next to each figure says how far to trust it.
    const load1 = /** @type {number} */ (loadavg()[0]);
    loadMax = Math.max(loadMax, load1);
    for (const m of messages) {
      measurements.push({ run, load1, ...m });
      if (m.status === "crashed") {
        crashed++;
        console.error(`  ✗ ${v.id} ${m.scenario}: ${m.reason}${m.stack && !stacksShown.has(v.id) ? `\n${m.stack}` : ""}`);
        stacksShown.add(v.id);
      }
    }
    const brief = messages.map((m) => `${m.scenario}:${m.status}`).join(" ");
    console.error(`run ${run + 1}/${params.runs} ${v.id} [${brief}] ${((Date.now() - t0) / 1000).toFixed(1)} s, load ${load1.toFixed(2)}`);
    if (killed) {
      if (stderr.trim()) console.error(stderr.trim().split("\n").slice(-5).join("\n"));
      // The child may have died before its cleanup: run setup+cleanup in a fresh one.
      await runChild(v.id, ["cleanup"]);
    }
  }
}

const loadEnd = /** @type {number} */ (loadavg()[0]);
const load = { start: loadStart, end: loadEnd, max: Math.max(loadMax, loadEnd) };
const summary = summarize(measurements, variants);
const markdown = renderMarkdown({ summary, variants, versions, params, machine, load });
// Relative to bench/, as the README's commands are: no machine path lands in a saved JSON or a doc.
const commandLine = `node src/peers.mjs${argv.length ? ` ${argv.join(" ")}` : ""}`;
const command = `\`${commandLine}\``;
if (quick) {
  // A quick run only proves every contender still runs; its tables must not read as results.
  console.log(`## Smoke run of the peer benchmark, not results (${command})\n`);
  console.log(
    `> **Smoke run (--quick): these numbers are not results.** N = ${params.n}, ${params.runs} run${params.runs === 1 ? "" : "s"}, ` +
      `drains capped at ${params.drainTimeoutMs / 1000} s, a ${params.fairness.seconds} s starvation window with agingRate ${params.fairness.agingRate}: ` +
      `too small and too short to compare throughput or to show a bound being kept or a peer starving. ` +
      `For results, run \`pnpm bench:peers\` without --quick.\n`,
  );
} else {
  console.log(`## Pyrexis and peers (${command})\n`);
}
console.log(markdown);
const results = {
  kind: "peers",
  date: new Date().toISOString(),
  command: commandLine,
  // A quick run only proves every contender still runs; whatever reads this file must not show it as results.
  smoke: quick,
  machine,
  load,
  params,
  warmUp: WARMED_UP.filter((s) => SCENARIOS.includes(s)),
  versions,
  // So the JSON names its contenders by itself: charts.mjs draws from it alone.
  contenders: variants.map(({ id, label, pkg }) => ({ id, label, pkg })),
  measurements,
  elapsedS: (Date.now() - started) / 1000,
};
writeJson(jsonPath, results);
// The pictures come from what was just written, as `pnpm --filter @pyrexis/bench charts` would draw them.
/** @type {string[]} */
let charts = [];
let chartsFailed = false;
try {
  charts = await writeCharts(results, { dir: chartsDir, prefix: basename(jsonPath, ".json") });
} catch (error) {
  // A harness failure, so the exit code says so; the JSON is written and charts.mjs can redraw from it.
  console.error(`charts: ${error instanceof Error ? error.stack : String(error)}`);
  chartsFailed = true;
}
console.error(
  `\nwrote ${[jsonPath, ...charts].map((p) => relative(process.cwd(), p)).join(", ")} in ${((Date.now() - started) / 1000).toFixed(0)} s; ${crashed} crash(es)${quick ? "; a smoke run, not results" : ""}`,
);
process.exitCode = crashed > 0 || chartsFailed ? 1 : 0;
