// The pure parts of the scale bench (src/scale.mjs): its options, the flatness check (per-job
// cost at the largest backlog against the smallest, per store, flagged above 1.3×), the time
// estimate that decides whether a size fits the run's budget, and the markdown table. No I/O,
// so each is tested with plain values.
import { parseArgs } from "node:util";

/** The stores the scale bench knows. */
export const SCALE_STORES = /** @type {const} */ (["sqlite", "postgres"]);
/** The target: per-job cost at the largest backlog within this factor of the smallest's. */
export const FLAT_WITHIN = 1.3;

/**
 * The scale bench's options.
 * @typedef {{ sizes: number[], stores: ("sqlite" | "postgres")[], concurrency: number, batch: number, warmup: number, json: string,
 *   charts: string | undefined, maxMinutes: number, cpuProf: string | undefined, quick: boolean, help: boolean }} ScaleOptions
 */
/**
 * One measurement as the JSON keeps it: ok with its result, skipped (it would not fit the
 * budget) or crashed, with the 1-minute load average after it.
 * @typedef {{ store: string, n: number, status: "ok" | "skipped" | "crashed", reason?: string, load1?: number,
 *   result?: import("./scale-child.mjs").ScaleResult }} ScaleRun
 */
/**
 * Flatness of one store: per-job CPU and wall time at its largest measured size against its
 * smallest, and whether either is above {@link FLAT_WITHIN}.
 * @typedef {{ store: string, fromN: number, toN: number, cpuRatio: number, wallRatio: number, cpuFlagged: boolean,
 *   wallFlagged: boolean }} ScaleRatio
 */

/**
 * A comma-separated list of positive integers (`10000,1e5,1_000_000` style is not accepted: digits only).
 * @param {string} raw
 * @param {string} name the option, for the error
 */
function intList(raw, name) {
  const values = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number);
  if (values.length === 0 || values.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new TypeError(`--${name} takes positive integers separated by commas, got "${raw}"`);
  }
  return values;
}

/**
 * `raw` as an integer of at least `min`, `fallback` when absent.
 * @param {string | undefined} raw
 * @param {string} name
 * @param {number} fallback
 * @param {number} [min]
 */
function int(raw, name, fallback, min = 1) {
  if (raw === undefined) return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new TypeError(`--${name} must be an integer ≥ ${min}, got "${raw}"`);
  return v;
}

/**
 * Parses the scale bench's command line (after pnpm's "--", if any). `--quick` is a smoke run:
 * sizes 1,000 and 5,000 and a warm-up of 500 jobs unless `--sizes` / `--warmup` say otherwise. Throws a TypeError naming the bad option.
 *
 * @example
 * ```js
 * parseScaleArgs(["--sizes", "10000,100000", "--stores", "sqlite"]).sizes; // [10000, 100000]
 * ```
 * @param {string[]} argv
 * @returns {ScaleOptions}
 */
export function parseScaleArgs(argv) {
  const { values } = parseArgs({
    args: argv[0] === "--" ? argv.slice(1) : argv,
    options: {
      sizes: { type: "string" },
      stores: { type: "string" },
      concurrency: { type: "string" },
      batch: { type: "string" },
      warmup: { type: "string" },
      json: { type: "string" },
      charts: { type: "string" },
      "max-minutes": { type: "string" },
      "cpu-prof": { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const quick = values.quick ?? false;
  const sizes = [...new Set(intList(values.sizes ?? (quick ? "1000,5000" : "10000,100000,1000000"), "sizes"))].sort((a, b) => a - b);
  const stores = (values.stores ?? SCALE_STORES.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = stores.filter((s) => !(/** @type {readonly string[]} */ (SCALE_STORES).includes(s)));
  if (stores.length === 0 || unknown.length > 0) {
    throw new TypeError(`--stores takes ${SCALE_STORES.join(", ")}; got "${values.stores}"`);
  }
  return {
    sizes,
    stores: /** @type {ScaleOptions["stores"]} */ ([...new Set(stores)]),
    concurrency: int(values.concurrency, "concurrency", 50),
    batch: int(values.batch, "batch", 1000),
    // 0: none (the smallest size then carries the process's JIT warm-up in its per-job cost).
    warmup: int(values.warmup, "warmup", quick ? 500 : 5000, 0),
    json: values.json ?? (quick ? "bench-results/scale-quick.json" : "bench-results/scale.json"),
    charts: values.charts,
    // 0: no limit (the long run a quiet machine allows).
    maxMinutes: int(values["max-minutes"], "max-minutes", 15, 0),
    cpuProf: values["cpu-prof"],
    quick,
    help: values.help ?? false,
  };
}

/**
 * Minutes one size is expected to take from the store's previous (smaller) size: its wall time
 * per job, scaled to `n` jobs and padded by {@link FLAT_WITHIN} in case the cost grows. Undefined
 * without an earlier size to go by (the first size always runs).
 * @param {ScaleRun[]} runs the measurements so far
 * @param {string} store
 * @param {number} n
 */
export function estimateMinutes(runs, store, n) {
  const previous = runs.filter((r) => r.store === store && r.status === "ok" && r.result && r.n < n).at(-1);
  if (!previous?.result) return undefined;
  return (previous.result.wallUsPerJob * n * FLAT_WITHIN) / 60e6;
}

/**
 * Per store with at least two measured sizes: per-job CPU and wall time at the largest against
 * the smallest, flagged above {@link FLAT_WITHIN}.
 * @param {ScaleRun[]} runs
 * @returns {ScaleRatio[]}
 */
export function costRatios(runs) {
  const stores = [...new Set(runs.map((r) => r.store))];
  return stores.flatMap((store) => {
    const ok = runs.filter((r) => r.store === store && r.status === "ok" && r.result).sort((a, b) => a.n - b.n);
    const first = ok[0]?.result;
    const last = ok.at(-1)?.result;
    if (!first || !last || ok.length < 2) return [];
    const cpuRatio = last.cpuUsPerJob / first.cpuUsPerJob;
    const wallRatio = last.wallUsPerJob / first.wallUsPerJob;
    return [
      {
        store,
        fromN: first.n,
        toN: last.n,
        cpuRatio,
        wallRatio,
        cpuFlagged: cpuRatio > FLAT_WITHIN,
        wallFlagged: wallRatio > FLAT_WITHIN,
      },
    ];
  });
}

const num = (/** @type {number} */ x, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
/** Bytes as MB, with a decimal below 10 MB. @param {number} bytes */
const mb = (bytes) => `${num(bytes / 2 ** 20, bytes < 10 * 2 ** 20 ? 1 : 0)} MB`;
/** A size as the table's rows name it: 10k, 100k, 1M. @param {number} n */
export const sizeLabel = (n) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : num(n));

/**
 * The table of a run (one row per store and size) and, below it, each store's ratio line.
 * @param {ScaleRun[]} runs
 * @param {ScaleRatio[]} ratios
 * @returns {string}
 */
export function renderScaleTable(runs, ratios) {
  const head = [
    "store",
    "backlog",
    "submit jobs/s",
    "first dispatch",
    "drain jobs/s",
    "CPU µs/job (submit + drain)",
    "wall µs/job",
    "peak RSS",
    "DB size (backlog → drained)",
  ];
  const rows = runs.map((r) => {
    const s = r.result;
    // Why it was not measured goes below the table, where a long reason does not widen a column.
    if (r.status !== "ok" || !s) return [r.store, num(r.n), r.status, "–", "–", "–", "–", "–", "–"];
    return [
      r.store,
      num(r.n),
      num(s.submitRate),
      `${num(s.firstDispatchMs)} ms`,
      num(s.drainRate),
      `${num(s.cpuUsPerJob, 1)} (${num(s.cpuSubmitUsPerJob, 1)} + ${num(s.cpuDrainUsPerJob, 1)})`,
      num(s.wallUsPerJob, 1),
      `${num(s.maxRssMB)} MB`,
      `${mb(s.dbBytesAfterSubmit)} → ${mb(s.dbBytesAfterDrain)}`,
    ];
  });
  const right = [false, true, true, true, true, true, true, true, true];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (/** @type {string[]} */ cells) =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (right[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  const table = [line(head), rule, ...rows.map(line)].join("\n");
  const unmeasured = runs.filter((r) => r.status !== "ok").map((r) => `- ${r.store} ${num(r.n)}: ${r.status}: ${r.reason ?? ""}`);
  const flatness = ratios.map(
    (q) =>
      `- ${q.store}: per-job cost at ${sizeLabel(q.toN)} against ${sizeLabel(q.fromN)}: CPU ${q.cpuRatio.toFixed(2)}×` +
      `${q.cpuFlagged ? ` (above ${FLAT_WITHIN}×: NOT flat)` : ` (within ${FLAT_WITHIN}×)`}, wall ${q.wallRatio.toFixed(2)}×` +
      `${q.wallFlagged ? ` (above ${FLAT_WITHIN}×)` : ` (within ${FLAT_WITHIN}×)`}`,
  );
  const notes = [...unmeasured, ...flatness];
  return notes.length > 0 ? `${table}\n\n${notes.join("\n")}\n` : `${table}\n`;
}
