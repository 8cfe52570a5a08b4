// The peer bench's charts, from the JSON peers.mjs writes: drain throughput per contender and
// scenario (warm and cold), and enqueue → start latency percentiles. Pure: JSON in, Vega-Lite
// specs out, so the figures a chart shows are tested without rendering it.
import { median } from "../report.mjs";

/** @typedef {import("../report.mjs").Measurement} Measurement */
/** @typedef {import("../report.mjs").ScenarioResult} ScenarioResult */
/**
 * How a peers JSON names a contender: `contenders` holds these since the charts came in; an
 * older JSON has only ids (see {@link peerCharts}'s `labels`).
 * @typedef {{ id: string, label: string, pkg: string }} ContenderInfo
 */
/**
 * The fields of a peers JSON the charts read.
 * @typedef {{ kind?: string, date: string, command?: string, smoke?: boolean, machine: { cpus: number, cpuModel: string, node: string },
 *   load?: { start: number, end: number, max: number }, params: { n: number, runs: number, drainTimeoutMs: number,
 *   latency: { rate: number, seconds: number } }, versions: Record<string, string>, contenders?: ContenderInfo[],
 *   measurements: Measurement[] }} PeersJson
 */
/**
 * One bar of the throughput chart or one point of the latency chart: the median over runs, its
 * range, and whether any of its runs hit the drain cap.
 * @typedef {{ contender: string, series: string, value: number, min: number, max: number, runs: number, capped: boolean }} Datum
 */
/** A chart to write: its file name's suffix and its Vega-Lite spec. @typedef {{ name: string, spec: Record<string, unknown> }} Chart */

/** The throughput chart's series, in legend order: scenario, which run of it, and its name. */
const THROUGHPUT_SERIES = /** @type {const} */ ([
  { scenario: "drain-c1", run: "result", series: "drain c=1" },
  { scenario: "drain-c50", run: "result", series: "drain c=50" },
  { scenario: "drain-c50", run: "cold", series: "drain c=50, cold (first in its process)" },
]);
/** The latency chart's panels and percentiles. */
const LATENCY_PANELS = /** @type {const} */ ([
  { scenario: "latency", panel: "added in the same process" },
  { scenario: "latency-xproc", panel: "added by another process" },
]);
const LATENCY_SERIES = /** @type {const} */ ([
  { run: "result", field: "p50", series: "p50" },
  { run: "result", field: "p99", series: "p99" },
  { run: "result", field: "max", series: "max" },
  { run: "cold", field: "p99", series: "p99, cold" },
]);

/** Sizes and fonts every chart shares (the scale chart's too), so the set reads as one. */
export const CONFIG = {
  font: "Helvetica, Arial, sans-serif",
  background: "white",
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11, gridColor: "#e5e5e5" },
  legend: { labelFontSize: 11, titleFontSize: 11, orient: "bottom", direction: "horizontal", labelLimit: 0 },
  title: { fontSize: 14, subtitleFontSize: 11, subtitleColor: "#555", anchor: "start" },
};

/**
 * A datum from the values of one field over runs; undefined when no run has it.
 * @param {Omit<Datum, "value" | "min" | "max" | "runs" | "capped">} key
 * @param {ScenarioResult[]} results
 * @param {"drainRate" | "p50" | "p99" | "max"} field
 * @returns {Datum | undefined}
 */
function datum(key, results, field) {
  const values = results.map((r) => r[field]).filter((v) => v !== undefined);
  const mid = median(values);
  if (mid === undefined) return undefined;
  return {
    ...key,
    value: mid,
    min: Math.min(...values),
    max: Math.max(...values),
    runs: values.length,
    capped: results.some((r) => r.timedOut),
  };
}

/**
 * The measured results (or warm-ups) of one contender in one scenario, over runs.
 * @param {Measurement[]} measurements
 * @param {string} contender
 * @param {string} scenario
 * @param {"result" | "cold"} run
 */
function resultsOf(measurements, contender, scenario, run) {
  return measurements
    .filter((m) => m.contender === contender && m.scenario === scenario && m.status === "ok")
    .map((m) => m[run])
    .filter((r) => r !== undefined);
}

/**
 * The contenders of a run in table order, each with the label its chart rows show.
 * @param {PeersJson} json
 * @param {ContenderInfo[]} labels what to call contenders the JSON does not describe itself
 */
function contendersOf(json, labels) {
  const ids = [...new Set(json.measurements.map((m) => m.contender))];
  const known = json.contenders ?? labels;
  // Table order where the JSON or the labels give one; a contender known to neither goes last.
  const order = (/** @type {string} */ id) => {
    const i = known.findIndex((c) => c.id === id);
    return i < 0 ? known.length : i;
  };
  return ids
    .sort((a, b) => order(a) - order(b))
    .map((id) => {
      const info = known.find((c) => c.id === id);
      const version = info ? json.versions[info.pkg] : undefined;
      return { id, name: info ? `${info.label}${version ? ` ${version}` : ""}` : id };
    });
}

/**
 * The bars of the throughput chart: per contender, the median drain rate at c=1 and c=50, and
 * of the cold drain at c=50.
 * @param {PeersJson} json
 * @param {ContenderInfo[]} [labels]
 * @returns {Datum[]}
 */
export function throughputData(json, labels = []) {
  return contendersOf(json, labels).flatMap(({ id, name }) =>
    THROUGHPUT_SERIES.map(({ scenario, run, series }) =>
      datum({ contender: name, series }, resultsOf(json.measurements, id, scenario, run), "drainRate"),
    ).filter((d) => d !== undefined),
  );
}

/**
 * The points of the latency chart: per panel (same process, another process) and contender, the
 * median p50, p99 and max of the measured runs and the p99 of the cold ones (ms).
 * @param {PeersJson} json
 * @param {ContenderInfo[]} [labels]
 * @returns {(Datum & { panel: string })[]}
 */
export function latencyData(json, labels = []) {
  const contenders = contendersOf(json, labels);
  return LATENCY_PANELS.flatMap(({ scenario, panel }) =>
    contenders.flatMap(({ id, name }) =>
      LATENCY_SERIES.map(({ run, field, series }) => {
        const d = datum({ contender: name, series }, resultsOf(json.measurements, id, scenario, run), field);
        // A quantile of 0 ms (1 ms clock, same millisecond) has no place on a log axis: shown at its resolution.
        return d && { ...d, value: Math.max(d.value, 0.01), panel };
      }).filter((d) => d !== undefined),
    ),
  );
}

/**
 * The subtitle lines every chart of a run carries: what was run, when, where, and how loaded.
 * @param {PeersJson} json
 * @returns {string[]}
 */
export function provenance(json) {
  const { machine, load, params } = json;
  const lines = [
    ...wrap(`${json.date.slice(0, 10)}, ${json.command ?? "node src/peers.mjs"} (from bench/)`, 100),
    `${params.runs === 1 ? "1 run" : `median of ${params.runs} runs`}; ${machine.cpus} × ${machine.cpuModel}, Node ${machine.node}` +
      (load ? `; load average ${load.start.toFixed(1)} at the start, ${load.max.toFixed(1)} at most` : ""),
  ];
  // A quick run's figures are too small to compare: the picture says so where it is seen.
  return json.smoke ? ["SMOKE RUN (--quick): not results", ...lines] : lines;
}

/**
 * `text` in lines of at most `width` characters, broken at spaces (a subtitle does not wrap itself).
 * @param {string} text
 * @param {number} width
 */
export function wrap(text, width) {
  const lines = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

/**
 * The powers of ten from below the smallest to above the largest value: the ticks of a log axis
 * (Vega's own put a label on every 1–9 multiple and crowd the axis).
 * @param {number[]} values
 */
function decades(values) {
  const lo = Math.floor(Math.log10(Math.min(...values)));
  const hi = Math.ceil(Math.log10(Math.max(...values)));
  return Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i));
}

/** The number format of the labels: thousands separated, no decimals above 10. */
const LABEL_FORMAT = "(datum.value >= 10 ? format(datum.value, ',.0f') : format(datum.value, '.2f'))";

/**
 * Drain throughput per contender: grouped horizontal bars on a log axis (p-queue and pg-boss at
 * its defaults are four orders of magnitude apart), the median labelled, min–max as a rule when
 * there were several runs, "(capped)" where a run hit the drain cap.
 * @param {PeersJson} json
 * @param {ContenderInfo[]} [labels]
 * @returns {Chart}
 */
export function throughputChart(json, labels = []) {
  const values = throughputData(json, labels);
  const y = { field: "contender", type: "nominal", sort: null, title: null, axis: { labelLimit: 0 } };
  const x = {
    field: "value",
    type: "quantitative",
    scale: { type: "log" },
    // Stacking would start each bar at 0, which a log scale has no place for.
    stack: null,
    title: "jobs/s (log scale)",
    // SI prefixes (10k, 1M), but no "m" for the milli of a rate below 1 job/s.
    axis: {
      values: decades(values.flatMap((d) => [d.value, d.min, d.max])),
      labelExpr: "datum.value < 1 ? format(datum.value, '~g') : format(datum.value, '~s')",
    },
  };
  const color = {
    field: "series",
    type: "nominal",
    title: null,
    sort: THROUGHPUT_SERIES.map((s) => s.series),
    scale: { range: ["#9ecae1", "#2171b5", "#fd8d3c"] },
  };
  const yOffset = { field: "series", sort: THROUGHPUT_SERIES.map((s) => s.series) };
  return {
    name: "throughput",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: `Drain throughput, ${json.params.n.toLocaleString("en-US")} no-op jobs (jobs/s)`,
        subtitle: [
          ...provenance(json),
          `"(capped)": a run hit the ${json.params.drainTimeoutMs / 1000} s cap on a drain; its rate is over the capped window`,
        ],
      },
      config: CONFIG,
      width: 520,
      height: { step: 13 },
      data: { values },
      encoding: { y, yOffset },
      layer: [
        { mark: { type: "bar", height: { band: 1 } }, encoding: { x, color } },
        {
          transform: [{ filter: "datum.runs > 1" }],
          mark: { type: "rule", color: "#333" },
          encoding: { x: { field: "min", type: "quantitative" }, x2: { field: "max" } },
        },
        {
          transform: [{ calculate: `${LABEL_FORMAT} + (datum.capped ? ' (capped)' : '')`, as: "label" }],
          mark: { type: "text", align: "left", dx: 3, fontSize: 9, color: "#333" },
          encoding: { x, text: { field: "label" } },
        },
      ],
    },
  };
}

/**
 * Enqueue → start latency per contender: p50, p99, max and the cold run's p99 as points on a
 * log axis (ms), joined by a rule from p50 to max; one panel per way of adding the jobs.
 * @param {PeersJson} json
 * @param {ContenderInfo[]} [labels]
 * @returns {Chart}
 */
export function latencyChart(json, labels = []) {
  const values = latencyData(json, labels);
  const { rate, seconds } = json.params.latency;
  const y = { field: "contender", type: "nominal", sort: null, title: null, axis: { labelLimit: 0 } };
  const x = {
    field: "value",
    type: "quantitative",
    scale: { type: "log" },
    title: "ms (log scale)",
    axis: { values: decades(values.map((d) => d.value)), labelExpr: "format(datum.value, datum.value < 1 ? '~g' : ',')" },
  };
  const series = LATENCY_SERIES.map((s) => s.series);
  // One panel per way of adding jobs, each with its own rows (fewer contenders feed another process).
  const panels = LATENCY_PANELS.map(({ panel }) => ({ panel, rows: values.filter((v) => v.panel === panel) })).filter(
    (p) => p.rows.length > 0,
  );
  return {
    name: "latency",
    spec: {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: {
        text: `Enqueue → start latency, ${rate} jobs/s for ${seconds} s, one add() per job, concurrency 50 (ms)`,
        subtitle: provenance(json),
      },
      config: CONFIG,
      // One x scale for both panels, so a millisecond is as long in each.
      resolve: { scale: { x: "shared" } },
      vconcat: panels.map(({ panel, rows }) => ({
        title: { text: panel, fontSize: 12, subtitle: "" },
        width: 520,
        height: { step: 18 },
        data: { values: rows },
        layer: [
          {
            // The spread of one contender's latencies: a line from its p50 to its max.
            transform: [{ filter: "datum.series === 'p50' || datum.series === 'max'" }],
            mark: { type: "line", color: "#bbb" },
            encoding: { y, x, detail: { field: "contender" } },
          },
          {
            mark: { type: "point", filled: true, size: 50, opacity: 0.9 },
            encoding: {
              y,
              x,
              color: {
                field: "series",
                type: "nominal",
                title: null,
                sort: series,
                scale: { domain: series, range: ["#2171b5", "#cb181d", "#525252", "#fd8d3c"] },
              },
              shape: {
                field: "series",
                type: "nominal",
                sort: series,
                scale: { domain: series, range: ["circle", "circle", "diamond", "triangle-up"] },
              },
            },
          },
        ],
      })),
    },
  };
}

/**
 * Every chart of a peers JSON.
 * @param {PeersJson} json
 * @param {ContenderInfo[]} [labels] names for contenders a JSON older than the charts does not describe
 * @returns {Chart[]}
 */
export function peerCharts(json, labels = []) {
  const charts = [];
  if (throughputData(json, labels).length > 0) charts.push(throughputChart(json, labels));
  if (latencyData(json, labels).length > 0) charts.push(latencyChart(json, labels));
  return charts;
}
