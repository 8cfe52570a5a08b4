// The Prometheus text exposition (format 0.0.4): name mapping under one namespace, label
// escaping, seconds without float noise. Plain data in, text out, so any source can use it.
import type { TimingSnapshot } from "./histogram.js";
import type { Labels } from "./registry.js";

/** The namespace every exposition starts its metric names with unless told otherwise. */
export const DEFAULT_NAMESPACE = "pyrexis";

/** Options of the Prometheus exposition. */
export interface PrometheusOptions {
  /** Prepended with `_` to every metric name. Default {@link DEFAULT_NAMESPACE}; `""` for none. */
  namespace?: string | undefined;
}

/** A namespace is one Prometheus name segment: colons are reserved for recording rules. */
const NAMESPACE = /^(?:[a-zA-Z_][a-zA-Z0-9_]*)?$/;

/** Returns `namespace` if it is valid; throws a TypeError naming it otherwise. */
export function checkNamespace(namespace: string): string {
  if (typeof namespace !== "string" || !NAMESPACE.test(namespace)) {
    throw new TypeError(`metrics namespace must be "" or match [a-zA-Z_][a-zA-Z0-9_]*, got ${JSON.stringify(namespace)}`);
  }
  return namespace;
}

/** One series as {@link toPrometheusText} takes it: source name, labels and value. */
export interface SeriesData<T> {
  name: string;
  labels: Labels | undefined;
  value: T;
}

/**
 * Maps a dotted name to Prometheus's metric-name character set `[a-zA-Z_:][a-zA-Z0-9_:]*`,
 * behind `namespace_` when a namespace is given (`("job.execution", "pyrexis")` →
 * `pyrexis_job_execution`).
 */
export function toPrometheusName(name: string, namespace = ""): string {
  const mapped = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  const full = namespace ? `${namespace}_${mapped}` : mapped;
  return /^[a-zA-Z_:]/.test(full) ? full : `_${full}`;
}

function toLabelName(name: string): string {
  const mapped = name.replace(/[^a-zA-Z0-9_]/g, "_");
  return /^[a-zA-Z_]/.test(mapped) ? mapped : `_${mapped}`;
}

/** Escapes a label value: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function renderLabels(labels: Labels | undefined, extra?: Record<string, string>): string {
  const all = { ...labels, ...extra };
  const keys = Object.keys(all);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${toLabelName(k)}="${escapeLabelValue(all[k] ?? "")}"`).join(",")}}`;
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/**
 * Milliseconds as seconds, rounded to the microsecond the histogram records: `0.980113 ms` →
 * `0.00098`, not `0.0009801129999999602`. Fixed resolution rather than significant digits, so a
 * large `_sum` keeps every microsecond and `rate(x_sum)` stays exact.
 */
function formatSeconds(ms: number): string {
  if (!Number.isFinite(ms)) return formatValue(ms);
  // An integer count of µs divided by 1e6 prints as its shortest decimal: at most six places.
  return formatValue(Math.round(ms * 1000) / 1_000_000);
}

/**
 * Groups series by their exposed name, so one metric gets one `# TYPE` line even when several
 * source names map to it (`job.done` and `job_done`, or `x` and `x_total` for counters).
 */
function groupByName<T>(series: readonly SeriesData<T>[], exposedName: (name: string) => string): Map<string, SeriesData<T>[]> {
  const groups = new Map<string, SeriesData<T>[]>();
  for (const s of series) {
    const name = exposedName(s.name);
    const list = groups.get(name);
    if (list) list.push(s);
    else groups.set(name, [s]);
  }
  return groups;
}

/**
 * Prometheus text exposition: names behind `namespace_` (default `pyrexis_`), counters as
 * `<name>_total` (type counter), gauges as-is, timings as summaries in seconds rounded to the
 * microsecond (`<name>_seconds` with quantiles 0.5/0.95/0.99, `_sum`, `_count`).
 *
 * @throws TypeError when `options.namespace` is not `""` or a Prometheus name without colons.
 */
export function toPrometheusText(
  data: {
    counters: readonly SeriesData<number>[];
    gauges: readonly SeriesData<number>[];
    timings: readonly SeriesData<TimingSnapshot>[];
  },
  options: PrometheusOptions = {},
): string {
  const namespace = checkNamespace(options.namespace ?? DEFAULT_NAMESPACE);
  const lines: string[] = [];
  for (const [base, series] of groupByName(data.counters, (n) => toPrometheusName(n, namespace).replace(/_total$/, ""))) {
    lines.push(`# TYPE ${base}_total counter`);
    for (const s of series) lines.push(`${base}_total${renderLabels(s.labels)} ${formatValue(s.value)}`);
  }
  for (const [base, series] of groupByName(data.gauges, (n) => toPrometheusName(n, namespace))) {
    lines.push(`# TYPE ${base} gauge`);
    for (const s of series) lines.push(`${base}${renderLabels(s.labels)} ${formatValue(s.value)}`);
  }
  for (const [base, series] of groupByName(data.timings, (n) => `${toPrometheusName(n, namespace)}_seconds`)) {
    lines.push(`# TYPE ${base} summary`);
    for (const s of series) {
      const t = s.value;
      for (const [q, v] of [
        ["0.5", t.p50],
        ["0.95", t.p95],
        ["0.99", t.p99],
      ] as const) {
        lines.push(`${base}${renderLabels(s.labels, { quantile: q })} ${formatSeconds(v)}`);
      }
      lines.push(`${base}_sum${renderLabels(s.labels)} ${formatSeconds(t.sum)}`);
      lines.push(`${base}_count${renderLabels(s.labels)} ${t.count}`);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
