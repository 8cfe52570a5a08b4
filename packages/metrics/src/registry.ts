// The registry: named series of counters, gauges and timings, keyed by name and labels, read as
// snapshots or as Prometheus text (rendered by prometheus.ts).
import { TimingHistogram, type TimingSnapshot } from "./histogram.js";
import { checkNamespace, DEFAULT_NAMESPACE, escapeLabelValue, toPrometheusText } from "./prometheus.js";

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
 * A counter series bound once ({@link MetricsRegistry.counter}): `add` updates the series without
 * building its key from the labels, for counters a hot path moves per job.
 */
export interface CounterHandle {
  /** Adds `by` (default 1, must be ≥ 0). */
  add(by?: number): void;
}

/** Options of a {@link MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Prepended with `_` to every exposed metric name (`job.submitted` → `pyrexis_job_submitted_total`).
   * Default {@link DEFAULT_NAMESPACE}; `""` exposes the names as they are.
   */
  namespace?: string | undefined;
}

/**
 * A metrics registry: counters (only go up), gauges (set to a value) and timings (bounded-memory
 * histograms). Reads return snapshots; the Prometheus exposition prefixes every name with the
 * registry's namespace (`pyrexis_` by default).
 *
 * @example
 * ```ts
 * const metrics = new MetricsRegistry();
 * metrics.increment("job.completed");
 * metrics.setGauge("queue.depth", 12);
 * await metrics.time("job.execution", () => runTheJob());
 * metrics.getTimings()["job.execution"]; // { count, avg, min, max, p50, p95, p99, sum }
 * console.log(metrics.toPrometheus()); // pyrexis_job_completed_total 1, …
 * ```
 */
export class MetricsRegistry {
  /** The namespace of the exposition (validated at construction). */
  readonly namespace: string;
  readonly #counters = new Map<string, Series<number>>();
  readonly #gauges = new Map<string, Series<number>>();
  readonly #timings = new Map<string, Series<TimingHistogram>>();
  /** Bumped by {@link reset}: a handle bound before it finds (or makes) its series again. */
  #generation = 0;

  /** @throws TypeError when `options.namespace` is not `""` or a Prometheus name without colons. */
  constructor(options: MetricsRegistryOptions = {}) {
    this.namespace = checkNamespace(options.namespace ?? DEFAULT_NAMESPACE);
  }

  /** Adds `by` (default 1, must be ≥ 0) to a counter. */
  increment(name: string, by = 1, labels?: Labels): void {
    if (!(by >= 0)) throw new RangeError(`counter ${name}: increment must be >= 0, got ${by}`);
    const key = seriesKey(name, labels);
    const s = this.#counters.get(key);
    if (s) s.value += by;
    else this.#counters.set(key, { name, labels: copyLabels(labels), value: by });
  }

  /**
   * A handle on the counter `name` with `labels`: the same series {@link increment} moves, with
   * the key built once here. The series appears on the first `add`; after {@link reset} the
   * handle starts a new one.
   *
   * @example
   * ```ts
   * const dispatched = metrics.counter("flow.dispatched", { group: "tenant-a" });
   * dispatched.add(); // per job: no labels object, no key
   * ```
   */
  counter(name: string, labels?: Labels): CounterHandle {
    const key = seriesKey(name, labels);
    const frozen = copyLabels(labels);
    let series: Series<number> | undefined;
    let generation = -1;
    return {
      add: (by = 1): void => {
        if (!(by >= 0)) throw new RangeError(`counter ${name}: increment must be >= 0, got ${by}`);
        if (generation !== this.#generation || series === undefined) {
          series = this.#counters.get(key);
          if (series === undefined) {
            series = { name, labels: frozen, value: 0 };
            this.#counters.set(key, series);
          }
          generation = this.#generation;
        }
        series.value += by;
      },
    };
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

  /**
   * Prometheus text exposition (format 0.0.4) of every series, names prefixed with
   * {@link MetricsRegistry.namespace}; see {@link toPrometheusText}.
   */
  toPrometheus(): string {
    return toPrometheusText(
      {
        counters: [...this.#counters.values()],
        gauges: [...this.#gauges.values()],
        timings: [...this.#timings.values()].map((s) => ({ name: s.name, labels: s.labels, value: s.value.snapshot() })),
      },
      { namespace: this.namespace },
    );
  }

  /** Clears every series. */
  reset(): void {
    this.#generation++;
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
