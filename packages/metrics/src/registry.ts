import { TimingHistogram, type TimingSnapshot } from "./histogram.js";

/** Label names and values of one series, e.g. `{ mode: "thread" }`. */
export type Labels = Readonly<Record<string, string>>;

interface Series<T> {
  name: string;
  labels: Labels | undefined;
  value: T;
}

/**
 * Key of a series: `name` or `name{a="x",b="y"}` (labels sorted, values escaped as in
 * Prometheus text, so `{a: 'x",b="y'}` and `{a: "x", b: "y"}` stay two series).
 */
export function seriesKey(name: string, labels?: Labels): string {
  if (!labels) return name;
  const keys = Object.keys(labels);
  if (keys.length === 0) return name;
  keys.sort();
  return `${name}{${keys.map((k) => `${k}="${escapeLabelValue(labels[k] ?? "")}"`).join(",")}}`;
}

/** A private copy, so a caller mutating its labels object later cannot rename a series. */
function copyLabels(labels: Labels | undefined): Labels | undefined {
  return labels && Object.keys(labels).length > 0 ? Object.freeze({ ...labels }) : undefined;
}

/**
 * A metrics registry: counters (only go up), gauges (set to a value) and timings (bounded-memory
 * histograms). Reads return snapshots.
 *
 * @example
 * ```ts
 * const metrics = new MetricsRegistry();
 * metrics.increment("job.completed");
 * metrics.setGauge("queue.depth", 12);
 * await metrics.time("job.execution", () => runTheJob());
 * metrics.getTimings()["job.execution"]; // { count, avg, min, max, p50, p95, p99, sum }
 * console.log(metrics.toPrometheus());
 * ```
 */
export class MetricsRegistry {
  readonly #counters = new Map<string, Series<number>>();
  readonly #gauges = new Map<string, Series<number>>();
  readonly #timings = new Map<string, Series<TimingHistogram>>();

  /** Adds `by` (default 1, must be ≥ 0) to a counter. */
  increment(name: string, by = 1, labels?: Labels): void {
    if (!(by >= 0)) throw new RangeError(`counter ${name}: increment must be >= 0, got ${by}`);
    const key = seriesKey(name, labels);
    const s = this.#counters.get(key);
    if (s) s.value += by;
    else this.#counters.set(key, { name, labels: copyLabels(labels), value: by });
  }

  /** Sets a gauge to `value`. */
  setGauge(name: string, value: number, labels?: Labels): void {
    const key = seriesKey(name, labels);
    const s = this.#gauges.get(key);
    if (s) s.value = value;
    else this.#gauges.set(key, { name, labels: copyLabels(labels), value });
  }

  /** Adds `delta` (may be negative) to a gauge. */
  adjustGauge(name: string, delta: number, labels?: Labels): void {
    const key = seriesKey(name, labels);
    const s = this.#gauges.get(key);
    if (s) s.value += delta;
    else this.#gauges.set(key, { name, labels: copyLabels(labels), value: delta });
  }

  /** Records one duration (ms) in a timing. */
  observe(name: string, ms: number, labels?: Labels): void {
    const key = seriesKey(name, labels);
    let s = this.#timings.get(key);
    if (!s) {
      s = { name, labels: copyLabels(labels), value: new TimingHistogram() };
      this.#timings.set(key, s);
    }
    s.value.observe(ms);
  }

  /**
   * Runs `fn` and records its duration under `name`, also when it throws or rejects.
   * Returns what `fn` returns (a promise for async work).
   */
  time<T>(name: string, fn: () => T, labels?: Labels): T {
    const start = performance.now();
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.observe(name, performance.now() - start, labels);
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => this.observe(name, performance.now() - start, labels)) as T;
    }
    this.observe(name, performance.now() - start, labels);
    return result;
  }

  /** Counter values by series key. */
  getCounters(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.#counters) out[k] = s.value;
    return out;
  }

  /** Gauge values by series key. */
  getGauges(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, s] of this.#gauges) out[k] = s.value;
    return out;
  }

  /** Timing snapshots (ms) by series key. */
  getTimings(): Record<string, TimingSnapshot> {
    const out: Record<string, TimingSnapshot> = {};
    for (const [k, s] of this.#timings) out[k] = s.value.snapshot();
    return out;
  }

  /** Counters, gauges and timings in one snapshot. */
  snapshot(): MetricsSnapshot {
    return { counters: this.getCounters(), gauges: this.getGauges(), timings: this.getTimings() };
  }

  /** Prometheus text exposition (format 0.0.4) of every series; see {@link toPrometheusText}. */
  toPrometheus(options?: PrometheusOptions): string {
    return toPrometheusText(
      {
        counters: [...this.#counters.values()],
        gauges: [...this.#gauges.values()],
        timings: [...this.#timings.values()].map((s) => ({ name: s.name, labels: s.labels, value: s.value.snapshot() })),
      },
      options,
    );
  }

  /** Clears every series. */
  reset(): void {
    this.#counters.clear();
    this.#gauges.clear();
    this.#timings.clear();
  }
}

/** Everything a registry holds, as plain data. */
export interface MetricsSnapshot {
  counters: Record<string, number>;
  gauges: Record<string, number>;
  timings: Record<string, TimingSnapshot>;
}

/** Options of the Prometheus exposition. */
export interface PrometheusOptions {
  /** Prepended to every metric name, e.g. `"pyrexis_"`. Default none. */
  prefix?: string;
}

/** One series as {@link toPrometheusText} takes it: source name, labels and value. */
export interface SeriesData<T> {
  name: string;
  labels: Labels | undefined;
  value: T;
}

/** Maps a dotted name to Prometheus's metric-name character set `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
export function toPrometheusName(name: string): string {
  const mapped = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[a-zA-Z_:]/.test(mapped) ? mapped : `_${mapped}`;
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
 * Prometheus text exposition: counters as `<name>_total` (type counter), gauges as-is, timings
 * as summaries in seconds (`<name>_seconds` with quantiles 0.5/0.95/0.99, `_sum`, `_count`).
 */
export function toPrometheusText(
  data: {
    counters: readonly SeriesData<number>[];
    gauges: readonly SeriesData<number>[];
    timings: readonly SeriesData<TimingSnapshot>[];
  },
  options: PrometheusOptions = {},
): string {
  const prefix = options.prefix ?? "";
  const lines: string[] = [];
  for (const [base, series] of groupByName(data.counters, (n) => toPrometheusName(prefix + n).replace(/_total$/, ""))) {
    lines.push(`# TYPE ${base}_total counter`);
    for (const s of series) lines.push(`${base}_total${renderLabels(s.labels)} ${formatValue(s.value)}`);
  }
  for (const [base, series] of groupByName(data.gauges, (n) => toPrometheusName(prefix + n))) {
    lines.push(`# TYPE ${base} gauge`);
    for (const s of series) lines.push(`${base}${renderLabels(s.labels)} ${formatValue(s.value)}`);
  }
  for (const [base, series] of groupByName(data.timings, (n) => `${toPrometheusName(prefix + n)}_seconds`)) {
    lines.push(`# TYPE ${base} summary`);
    for (const s of series) {
      const t = s.value;
      for (const [q, v] of [
        ["0.5", t.p50],
        ["0.95", t.p95],
        ["0.99", t.p99],
      ] as const) {
        lines.push(`${base}${renderLabels(s.labels, { quantile: q })} ${formatValue(v / 1000)}`);
      }
      lines.push(`${base}_sum${renderLabels(s.labels)} ${formatValue(t.sum / 1000)}`);
      lines.push(`${base}_count${renderLabels(s.labels)} ${t.count}`);
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}
