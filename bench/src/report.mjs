// Aggregation (median, min, max over runs) and rendering: markdown tables and JSON.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * What one scenario measured (throughput, latency or fairness fields), as runScenario returns it.
 * @typedef {{ addRate?: number, drainRate?: number, timedOut?: boolean, p50?: number, p99?: number, max?: number,
 *   started?: number, added?: number, lowStarted?: number, lowAdded?: number, lowMaxWaitS?: number, highRate?: number,
 *   notes?: string[] }} ScenarioResult
 */
/**
 * A child's report of one scenario: the measured run's `result` and, for a scenario with a
 * warm-up, the warm-up's own figures as `cold` (the first workload of a fresh process). A
 * measurement is a report with the run it belongs to and the 1-minute load average when it ended.
 * @typedef {{ contender: string, scenario: string, status: "ok" | "unreachable" | "unavailable" | "crashed",
 *   result?: ScenarioResult, cold?: ScenarioResult, reason?: string, stack?: string, maxRssMB?: number }} Message
 * @typedef {Message & { run: number, load1?: number }} Measurement
 */
/**
 * The results and problems of one contender in one scenario: `ok` the measured runs, `cold` the
 * warm-ups of those runs.
 * @typedef {{ ok: ScenarioResult[], cold: ScenarioResult[], problems: string[], maxRssMB: number }} Cell
 */
/** Cells by contender id, then scenario. @typedef {Record<string, Record<string, Cell>>} Summary */
/** The scenarios' parameters. @typedef {import("./scenarios.mjs").Params} Params */
/** @typedef {import("./contenders/common.mjs").Variant} Variant */

/** The median, or undefined for no values. @param {readonly number[]} values */
export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  const mid = /** @type {number} */ (s[m]);
  const below = /** @type {number} */ (s[m - 1]);
  return s.length % 2 ? mid : (below + mid) / 2;
}

const fmtNum = (/** @type {number | undefined} */ v, digits = 0) =>
  v === undefined || Number.isNaN(v) ? "–" : v >= 100 || digits === 0 ? Math.round(v).toLocaleString("en-US") : v.toFixed(digits);

/** "median (min–max)" when there are several runs, else the single value. @param {number[]} values */
function cell(values, digits = 0) {
  if (values.length === 0) return "–";
  const med = fmtNum(median(values), digits);
  if (values.length === 1) return med;
  return `${med} (${fmtNum(Math.min(...values), digits)}–${fmtNum(Math.max(...values), digits)})`;
}

/**
 * Groups raw measurements by contender and scenario.
 * @param {Measurement[]} measurements
 * @param {Variant[]} variants
 * @returns {Summary}
 */
export function summarize(measurements, variants) {
  /** @type {Summary} */
  const out = {};
  for (const v of variants) {
    /** @type {Record<string, Cell>} */
    const byScenario = {};
    out[v.id] = byScenario;
    for (const m of measurements.filter((x) => x.contender === v.id)) {
      const s = (byScenario[m.scenario] ??= { ok: [], cold: [], problems: [], maxRssMB: 0 });
      if (m.status === "ok" && m.result) s.ok.push(m.result);
      else s.problems.push(`${m.status}: ${m.reason}`);
      if (m.cold) s.cold.push(m.cold);
      s.maxRssMB = Math.max(s.maxRssMB, m.maxRssMB ?? 0);
    }
  }
  return out;
}

/** The first problem of a cell that has no result, shortened for a table; undefined when it has results. @param {Cell | undefined} s */
function problemOf(s) {
  if (!s) return "n/a";
  const first = s.problems[0];
  if (s.ok.length === 0 && first !== undefined) {
    const p = first.replaceAll("|", "/");
    return p.length > 90 ? `${p.slice(0, 88)}…` : p;
  }
  return undefined;
}

/** @typedef {"addRate" | "drainRate" | "p50" | "p99" | "max" | "lowMaxWaitS" | "highRate"} Field */
/** The values of a numeric field over a cell's measured runs. @param {Cell | undefined} s @param {Field} key */
const pick = (s, key) => (s ? s.ok.map((r) => r[key]).filter((x) => x !== undefined) : []);
/** The values of a numeric field over a cell's warm-ups (cold starts). @param {Cell | undefined} s @param {Field} key */
const pickCold = (s, key) => (s ? s.cold.map((r) => r[key]).filter((x) => x !== undefined) : []);

/** @param {string[]} headers @param {string[][]} rows */
function table(headers, rows) {
  const line = (/** @type {string[]} */ cells) => `| ${cells.join(" | ")} |`;
  return [line(headers), line(headers.map(() => "---")), ...rows.map(line)].join("\n");
}

/** @param {number | undefined} value @param {number | undefined} base */
function ratio(value, base) {
  if (value === undefined || base === undefined || base === 0) return "–";
  return `${(value / base).toFixed(2)}×`;
}

/**
 * The markdown report.
 * @param {{ summary: Summary, variants: Variant[], versions: Record<string, string>, params: Params,
 *   machine: { cpus: number, cpuModel: string, memGB: number, node: string, platform: string },
 *   load?: { start: number, end: number, max: number } }} report
 */
export function renderMarkdown({ summary, variants, versions, params, machine, load }) {
  /** @type {string[]} */
  const parts = [];
  const label = (/** @type {Variant} */ v) => `${v.label} ${versions[v.pkg] ?? ""}`.trim();
  const rss = (/** @type {(Cell | undefined)[]} */ ...ss) => {
    const m = Math.max(0, ...ss.map((s) => s?.maxRssMB ?? 0));
    return m > 0 ? fmtNum(m) : "–";
  };
  /** @param {ScenarioResult[] | undefined} results */
  const timedOutNote = (results = []) =>
    results.some((r) => r.timedOut)
      ? ` ⏱ ${results.filter((r) => r.timedOut).length} run(s) hit the ${params.drainTimeoutMs / 1000} s cap`
      : "";

  parts.push(
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGB} GB, Node ${machine.node}, ${machine.platform}. ` +
      `Runs: ${params.runs} (median, min–max in brackets), contenders alternated round-robin, each measurement in a fresh child process` +
      `${load ? `; load average (1 min) ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end, ${load.max.toFixed(1)} at most between measurements` : ""}.`,
  );
  parts.push(
    "\nEvery drain and latency figure is the second run of its workload in its process, after an untimed warm-up of the same workload " +
      "(a driver of its own, so the queue starts empty both times); the warm-up, the first workload of a fresh process, is the cold column.",
  );

  const base = median(pick(summary["pyrexis-sqlite"]?.["drain-c50"], "drainRate"));
  const tMark = parts.length;
  parts.push(`\n### Throughput: ${params.n.toLocaleString("en-US")} no-op jobs (jobs/s)\n`);
  parts.push(
    "Bulk add = one bulk call for all jobs, until it resolves. Drain = from starting the consumers until every completion is recorded. " +
      "Cold = the same drain as the first workload of a fresh process (the warm-up). Ratio = drain c=50 against Pyrexis (SQLite, group commit).\n",
  );
  /** The cells of `v`. @param {Variant} v */
  const cellsOf = (v) => summary[v.id] ?? {};
  const tRows = [];
  for (const v of variants) {
    const s1 = cellsOf(v)["drain-c1"];
    const s50 = cellsOf(v)["drain-c50"];
    if (!s1 && !s50) continue;
    const p1 = problemOf(s1);
    const p50 = problemOf(s50);
    tRows.push([
      label(v),
      p50 ?? cell(pick(s50, "addRate")),
      (p1 ?? cell(pick(s1, "drainRate"))) + timedOutNote(s1?.ok),
      (p50 ?? cell(pick(s50, "drainRate"))) + timedOutNote(s50?.ok),
      s50 && s50.cold.length > 0 ? cell(pickCold(s50, "drainRate")) + timedOutNote(s50.cold) : (p50 ?? "–"),
      p50 ? "–" : ratio(median(pick(s50, "drainRate")), base),
      rss(s1, s50),
      v.notes ?? "",
    ]);
  }
  parts.push(table(["Contender", "bulk add", "drain c=1", "drain c=50", "drain c=50 cold", "ratio", "peak RSS MB", "notes"], tRows));
  if (tRows.length === 0) parts.length = tMark;
  for (const [id, one, where] of /** @type {const} */ ([
    ["pyrexis-sqlite-4proc", "pyrexis-sqlite", "one SQLite file"],
    ["pyrexis-postgres-4proc", "pyrexis-postgres", "one PostgreSQL schema"],
  ])) {
    const multi = summary[id]?.["drain-c50"];
    if (!multi) continue;
    const oneRate = median(pick(summary[one]?.["drain-c50"], "drainRate"));
    const problem = problemOf(multi);
    // "worker peak RSS MB: a, b, c, d" per run → the range over every worker of every run.
    const workerRss = multi.ok
      .flatMap((r) => r.notes ?? [])
      .filter((n) => n.startsWith("worker peak RSS MB:"))
      .flatMap((n) =>
        n
          .slice(n.indexOf(":") + 1)
          .split(",")
          .map(Number),
      );
    parts.push(
      problem
        ? `\n4 processes on ${where}: ${problem}.`
        : `\n4 processes on ${where} (drain c=50 each, aggregate): ${fmtNum(median(pick(multi, "drainRate")))} jobs/s against ` +
            `${fmtNum(oneRate)} for one process, ${ratio(median(pick(multi, "drainRate")), oneRate)} (medians; the peak RSS column is the ` +
            `submitting process's; ${workerRss.length > 0 ? `each worker's peak RSS ${fmtNum(Math.min(...workerRss))}–${fmtNum(Math.max(...workerRss))} MB` : "worker RSS not reported"}).`,
    );
  }
  const pgOne = summary["pyrexis-postgres"]?.["drain-c50"];
  if (pgOne && !problemOf(pgOne)) {
    const pgRate = median(pick(pgOne, "drainRate"));
    const graphile = median(pick(summary["graphile-worker-fast"]?.["drain-c50"], "drainRate"));
    // pg-boss's best: the faster of its variants at this scenario.
    const boss = ["pg-boss-defaults", "pg-boss-fast"]
      .map((id) => median(pick(summary[id]?.["drain-c50"], "drainRate")))
      .filter((x) => x !== undefined);
    const bossBest = boss.length > 0 ? Math.max(...boss) : undefined;
    parts.push(
      `\nPyrexis on PostgreSQL, one process (drain c=50, medians): ${fmtNum(pgRate)} jobs/s; ${ratio(pgRate, graphile)} graphile-worker with batching ` +
        `(${fmtNum(graphile)}), ${ratio(pgRate, bossBest)} pg-boss's best (${fmtNum(bossBest)}).`,
    );
  }

  const lMark = parts.length;
  parts.push(
    `\n### Enqueue → start latency: ${params.latency.rate} jobs/s for ${params.latency.seconds} s, one add() per job, concurrency 50 (ms)\n`,
  );
  const lRows = [];
  for (const v of variants) {
    const s = cellsOf(v).latency;
    if (!s) continue;
    const p = problemOf(s);
    const started = s.ok.map((r) => `${r.started}/${r.added}`);
    lRows.push([
      label(v),
      p ?? cell(pick(s, "p50"), 2),
      p ? "–" : cell(pick(s, "p99"), 2),
      p ? "–" : cell(pick(s, "max"), 2),
      s.cold.length > 0 ? cell(pickCold(s, "p99"), 2) : "–",
      p ? "–" : started.join(", "),
      rss(s),
    ]);
  }
  parts.push(table(["Contender", "p50", "p99", "max", "p99 cold", "started/added", "peak RSS MB"], lRows));
  if (lRows.length === 0) parts.length = lMark;

  if (variants.some((v) => cellsOf(v)["latency-xproc"])) {
    parts.push(
      `\n### Cross-process enqueue → start latency: another process adds ${params.latency.rate} jobs/s for ${params.latency.seconds} s, one add() per job, concurrency 50 (ms)\n`,
    );
    parts.push(
      "From `Date.now()` at the add() call in the submitting process to `Date.now()` when the handler starts in the consuming process (one machine, 1 ms resolution). " +
        "Pyrexis on a store without claims sees such jobs only by rescanning (`rescanIntervalMs` 1000 here).\n",
    );
    const xRows = [];
    for (const v of variants) {
      const s = cellsOf(v)["latency-xproc"];
      if (!s) continue;
      const p = problemOf(s);
      xRows.push([
        label(v),
        p ?? cell(pick(s, "p50"), 2),
        p ? "–" : cell(pick(s, "p99"), 2),
        p ? "–" : cell(pick(s, "max"), 2),
        s.cold.length > 0 ? cell(pickCold(s, "p99"), 2) : "–",
        p ? "–" : s.ok.map((r) => `${r.started}/${r.added}`).join(", "),
        rss(s),
      ]);
    }
    parts.push(table(["Contender", "p50", "p99", "max", "p99 cold", "started/added", "peak RSS MB"], xRows));
  }

  const cpuBase = median(pick(summary["pyrexis-thread"]?.cpu, "drainRate"));
  const cMark = parts.length;
  parts.push(
    `\n### CPU-bound mix: ${params.cpu.n.toLocaleString("en-US")} jobs × ~${params.cpu.targetMs} ms of CPU (${params.cpu.iterations.toLocaleString("en-US")} hash rounds each), concurrency 50 (jobs/s)\n`,
  );
  parts.push("Ratio against Pyrexis thread mode. Peers run CPU work on their event loop, so one core does it all.\n");
  const cRows = [];
  for (const v of variants) {
    const s = cellsOf(v).cpu;
    if (!s) continue;
    const p = problemOf(s);
    cRows.push([
      label(v),
      (p ?? cell(pick(s, "drainRate"))) + timedOutNote(s.ok),
      s.cold.length > 0 ? cell(pickCold(s, "drainRate")) + timedOutNote(s.cold) : "–",
      p ? "–" : ratio(median(pick(s, "drainRate")), cpuBase),
      rss(s),
    ]);
  }
  parts.push(table(["Contender", "jobs/s", "jobs/s cold", "ratio", "peak RSS MB"], cRows));
  if (cRows.length === 0) parts.length = cMark;

  const f = params.fairness;
  const bound = (10 - 0) / f.agingRate;
  const fMark = parts.length;
  parts.push(
    `\n### Starvation: ~${f.backlog} priority-10 jobs kept waiting (each sleeps ${f.sleepMs} ms, concurrency ${f.concurrency}) plus one priority-0 job per second, for ${f.seconds} s\n`,
  );
  parts.push(
    `Longest wait of a priority-0 job (s). A job that never started counts its wait up to the end of the window, shown as "≥". ` +
      `Pyrexis runs with agingRate ${f.agingRate}, so its stated bound is (10 − 0) / ${f.agingRate} = ${bound} s of being overtaken, plus the time to run the backlog already ahead of it.\n`,
  );
  const fRows = [];
  for (const v of variants) {
    const s = cellsOf(v).fairness;
    const model =
      v.priority === "aging"
        ? `aging, bound ${bound} s`
        : v.priority === "strict"
          ? "strict priority: p0 runs only when no p10 waits"
          : "no priorities";
    if (!s) {
      if (v.priority === "none") fRows.push([label(v), "n/a", "–", model, "–", "–"]);
      continue;
    }
    const p = problemOf(s);
    const never = s.ok.some((r) => (r.lowStarted ?? 0) < (r.lowAdded ?? 0));
    fRows.push([
      label(v),
      p ?? `${never ? "≥ " : ""}${cell(pick(s, "lowMaxWaitS"), 1)}`,
      p ? "–" : s.ok.map((r) => `${r.lowStarted}/${r.lowAdded}`).join(", "),
      model,
      p ? "–" : cell(pick(s, "highRate")),
      rss(s),
    ]);
  }
  parts.push(table(["Contender", "p0 max wait (s)", "p0 started/added", "priority model", "p10 jobs/s", "peak RSS MB"], fRows));
  if (!variants.some((v) => cellsOf(v).fairness)) parts.length = fMark;
  return parts.join("\n");
}

/** Writes `data` as indented JSON, making the directory. @param {string} path @param {unknown} data */
export function writeJson(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + "\n");
}
