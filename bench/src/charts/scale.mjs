// The scale bench's chart, from the JSON scale.mjs writes: cost per job against backlog size,
// one line per store, CPU and wall time side by side, with each store's 1.3× line (the target:
// flat within 1.3× of its smallest backlog). Pure: JSON in, a Vega-Lite spec out.
import { CONFIG, wrap } from "./peers.mjs";

/**
 * The fields of a scale JSON the chart reads.
 * @typedef {{ kind: "scale", date: string, command?: string, smoke?: boolean, machine: { cpus: number, cpuModel: string, node: string },
 *   load?: { start: number, end: number, max: number }, params: { concurrency: number },
 *   runs: import("../scale-report.mjs").ScaleRun[] }} ScaleJson
 */
/** One point: a store's per-job cost (µs) of one kind at one backlog size. @typedef {{ store: string, n: number, metric: string, value: number }} ScaleDatum */

const STORE_NAMES = /** @type {Record<string, string>} */ ({ sqlite: "SQLite", postgres: "PostgreSQL" });
const METRICS = /** @type {const} */ ([
  { field: "cpuUsPerJob", metric: "CPU µs per job (bench process)" },
  { field: "wallUsPerJob", metric: "wall µs per job (submit + drain)" },
]);

/**
 * The points of the chart: per measured store and size, CPU and wall µs per job.
 * @param {ScaleJson} json
 * @returns {ScaleDatum[]}
 */
export function scaleData(json) {
  return json.runs.flatMap((r) => {
    const s = r.status === "ok" ? r.result : undefined;
    if (!s) return [];
    return METRICS.map(({ field, metric }) => ({ store: STORE_NAMES[r.store] ?? r.store, n: r.n, metric, value: s[field] }));
  });
}

/**
 * Each store's 1.3× line per metric: 1.3 times its cost at its smallest measured backlog.
 * @param {ScaleDatum[]} data
 * @param {number} within
 */
function targetLines(data, within) {
  const keys = [...new Set(data.map((d) => `${d.store}\u0000${d.metric}`))];
  return keys.flatMap((key) => {
    const points = data.filter((d) => `${d.store}\u0000${d.metric}` === key).sort((a, b) => a.n - b.n);
    const first = points[0];
    const last = points.at(-1);
    if (!first || !last || points.length < 2) return [];
    return [first, last].map((p) => ({ store: p.store, metric: p.metric, n: p.n, value: first.value * within }));
  });
}

/**
 * The subtitle: what was run, when, where, how loaded; a smoke run says so first.
 * @param {ScaleJson} json
 */
function provenance(json) {
  const { machine, load } = json;
  // A size that was not measured is absent from the lines: the subtitle says which and why.
  const unmeasured = json.runs
    .filter((r) => r.status !== "ok")
    .map((r) => `${STORE_NAMES[r.store] ?? r.store} ${r.n.toLocaleString("en-US")} (${r.status}${r.reason ? `: ${r.reason}` : ""})`);
  const lines = [
    ...wrap(`${json.date.slice(0, 10)}, ${json.command ?? "node src/scale.mjs"} (from bench/)`, 90),
    `${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}` +
      (load ? `; load average ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end` : "") +
      `; concurrency ${json.params.concurrency}, no-op jobs`,
    "dashed: 1.3 × the store's cost at its smallest backlog (the target: flat within 1.3×)",
    "CPU: the bench process's (user + system), not the database server's",
    ...unmeasured.flatMap((u) => wrap(`not measured: ${u}`, 90)),
  ];
  return json.smoke ? ["SMOKE RUN (--quick): not results", ...lines] : lines;
}

/**
 * Cost per job against backlog size: log-scaled backlog on x, µs per job on y, a line and
 * points per store, one panel per metric, each store's 1.3× line dashed.
 *
 * @example
 * ```js
 * const { spec } = scaleChart(JSON.parse(readFileSync("bench-results/scale.json", "utf8")));
 * ```
 * @param {ScaleJson} json
 * @param {number} [within] the flatness target drawn as the dashed line
 * @returns {import("./peers.mjs").Chart}
 */
export function scaleChart(json, within = 1.3) {
  const values = scaleData(json);
  const sizes = [...new Set(values.map((d) => d.n))].sort((a, b) => a - b);
  const x = {
    field: "n",
    type: "quantitative",
    scale: { type: "log" },
    title: "backlog (jobs, log scale)",
    axis: { values: sizes, labelExpr: "format(datum.value, '~s')" },
  };
  const y = { field: "value", type: "quantitative", title: "µs per job", scale: { zero: true } };
  const color = { field: "store", type: "nominal", title: null, scale: { range: ["#2171b5", "#cb181d", "#238b45"] } };
  return {
    name: "cost",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: { text: "Cost per job against backlog size", subtitle: provenance(json) },
      config: CONFIG,
      resolve: { scale: { y: "independent" } },
      hconcat: METRICS.map(({ metric }) => ({
        title: { text: metric, fontSize: 12, subtitle: "" },
        width: 300,
        height: 220,
        layer: [
          {
            data: { values: values.filter((d) => d.metric === metric) },
            mark: { type: "line", point: { filled: true, size: 50 } },
            encoding: { x, y, color },
          },
          {
            data: { values: targetLines(values, within).filter((d) => d.metric === metric) },
            mark: { type: "line", strokeDash: [4, 3], strokeWidth: 1, opacity: 0.8 },
            encoding: { x, y, color, detail: { field: "store" } },
          },
        ],
      })),
    },
  };
}

/**
 * Every chart of a scale JSON: the cost chart, when any size was measured.
 * @param {ScaleJson} json
 * @returns {import("./peers.mjs").Chart[]}
 */
export function scaleCharts(json) {
  return scaleData(json).length > 0 ? [scaleChart(json)] : [];
}
