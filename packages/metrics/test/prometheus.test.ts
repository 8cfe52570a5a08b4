import { describe, expect, it } from "vitest";
import { DEFAULT_NAMESPACE, escapeLabelValue, MetricsRegistry, toPrometheusName, toPrometheusText } from "../src/index.js";

const METRIC_NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
// A label value: anything but a raw backslash, quote or newline, or one of their escapes.
const LABEL_VALUE = String.raw`"(?:[^"\\\n]|\\[\\"n])*"`;
const LABEL = `${LABEL_NAME}=${LABEL_VALUE}`;
const VALUE = String.raw`(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|NaN|[+-]Inf)`;
const SAMPLE = new RegExp(`^(${METRIC_NAME})(?:\\{(?:${LABEL}(?:,${LABEL})*,?)?\\})? ${VALUE}(?: -?\\d+)?$`);
const TYPE = new RegExp(`^# TYPE (${METRIC_NAME}) (counter|gauge|summary|histogram|untyped)$`);
const HELP = new RegExp(`^# HELP (${METRIC_NAME}) .*$`);

/** Checks every line against the text exposition grammar; returns TYPE by metric name. */
function validate(text: string): Map<string, string> {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const lines = text.slice(0, -1).split("\n");
  for (const line of lines) {
    const type = TYPE.exec(line);
    if (type) {
      expect(types.has(type[1]!), `duplicate TYPE line for ${type[1]}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (HELP.test(line)) continue;
    const sample = SAMPLE.exec(line);
    expect(sample, `not a valid exposition line: ${JSON.stringify(line)}`).not.toBeNull();
    const name = sample![1]!;
    const family = [...types.keys()].find(
      (t) => name === t || (types.get(t) === "summary" && (name === `${t}_sum` || name === `${t}_count`)),
    );
    expect(family, `sample ${name} has no TYPE line before it`).toBeDefined();
  }
  return types;
}

/** Many kinds of series; namespace `""` by default so the mapping of each name shows as is. */
function busyRegistry(namespace = ""): MetricsRegistry {
  const m = new MetricsRegistry({ namespace });
  m.increment("job.retries", 3);
  m.increment("job.completed", 2, { mode: "thread" });
  m.increment("job.completed", 5, { mode: "async" });
  m.increment("job.completed");
  m.increment("requests_total", 7);
  m.setGauge("queue.depth", 12, { queue: "default" });
  m.setGauge("queue.depth", 3, { queue: "gpu" });
  m.setGauge("ratio", Number.NaN);
  m.setGauge("limit", Number.POSITIVE_INFINITY);
  m.setGauge("floor", Number.NEGATIVE_INFINITY);
  m.setGauge("tiny", 1e-21);
  for (let i = 1; i <= 100; i++) m.observe("job.execution", i * 10, { mode: "thread" });
  m.observe("job.execution", 1_500);
  m.increment("weird-name.with/chars", 1, { "label.with-dots": 'quote " backslash \\ newline \n end', "1st": "x" });
  m.increment("9lives");
  return m;
}

describe("Prometheus text exposition", () => {
  it("every line matches the exposition grammar and each metric has one TYPE line", () => {
    const types = validate(busyRegistry().toPrometheus());
    expect(types.get("job_retries_total")).toBe("counter");
    expect(types.get("job_completed_total")).toBe("counter");
    expect(types.get("requests_total")).toBe("counter");
    expect(types.get("queue_depth")).toBe("gauge");
    expect(types.get("job_execution_seconds")).toBe("summary");
  });

  it("counters end in _total (never _total_total) with # TYPE … counter", () => {
    const text = busyRegistry().toPrometheus();
    expect(text).toContain("# TYPE job_retries_total counter\njob_retries_total 3\n");
    expect(text).toContain("requests_total 7\n");
    expect(text).not.toContain("_total_total");
  });

  it("labelled series of one metric share one TYPE line", () => {
    const text = busyRegistry().toPrometheus();
    expect(text.match(/# TYPE job_completed_total /g)).toHaveLength(1);
    expect(text).toContain('job_completed_total{mode="thread"} 2\n');
    expect(text).toContain('job_completed_total{mode="async"} 5\n');
    expect(text).toContain("job_completed_total 1\n");
    expect(text.match(/# TYPE queue_depth /g)).toHaveLength(1);
  });

  it("source names that map to one exposed name still get one TYPE line", () => {
    const m = new MetricsRegistry({ namespace: "" });
    m.increment("a.b");
    m.increment("a_b", 2, { k: "v" });
    m.increment("a_b_total", 3, { k: "w" });
    m.setGauge("g.x", 1);
    m.setGauge("g-x", 2, { k: "v" });
    const text = m.toPrometheus();
    validate(text);
    expect(text.match(/# TYPE a_b_total counter/g)).toHaveLength(1);
  });

  it("timings are summaries in seconds with quantiles, _sum and _count", () => {
    const text = busyRegistry().toPrometheus();
    const lines = text.split("\n").filter((l) => l.startsWith("job_execution_seconds"));
    expect(lines).toContain('job_execution_seconds_count{mode="thread"} 100');
    expect(lines).toContain('job_execution_seconds_sum{mode="thread"} 50.5');
    expect(lines).toContain("job_execution_seconds_count 1");
    expect(lines).toContain("job_execution_seconds_sum 1.5");
    expect(lines).toContain('job_execution_seconds{quantile="0.5"} 1.5');
    const q = (quantile: string): number =>
      Number(lines.find((l) => l.startsWith(`job_execution_seconds{mode="thread",quantile="${quantile}"}`))!.split(" ")[1]);
    expect(q("0.5")).toBeCloseTo(0.5, 2);
    expect(q("0.95")).toBeCloseTo(0.95, 2);
    expect(q("0.99")).toBeCloseTo(0.99, 2);
  });

  it("escapes label values (backslash, quote, newline) and maps names to the allowed characters", () => {
    const text = busyRegistry().toPrometheus();
    expect(text).toContain(String.raw`weird_name_with_chars_total{label_with_dots="quote \" backslash \\ newline \n end",_1st="x"} 1`);
    expect(text).toContain("_9lives_total 1\n");
    expect(escapeLabelValue('a\\b"c\nd')).toBe(String.raw`a\\b\"c\nd`);
    expect(toPrometheusName("job.execution")).toBe("job_execution");
    expect(toPrometheusName("ns:sub.metric")).toBe("ns:sub_metric");
    expect(toPrometheusName("0day")).toBe("_0day");
    expect(toPrometheusName("émoji🙂")).toMatch(new RegExp(`^${METRIC_NAME}$`));
  });

  it("renders NaN and infinities the Prometheus way", () => {
    const text = busyRegistry().toPrometheus();
    expect(text).toContain("ratio NaN\n");
    expect(text).toContain("limit +Inf\n");
    expect(text).toContain("floor -Inf\n");
  });

  it("is empty for an empty registry and can render plain data", () => {
    expect(new MetricsRegistry().toPrometheus()).toBe("");
    const text = toPrometheusText({ counters: [{ name: "x", labels: undefined, value: 1 }], gauges: [], timings: [] }, { namespace: "" });
    expect(text).toBe("# TYPE x_total counter\nx_total 1\n");
  });
});

describe("one namespace on every exposed name", () => {
  it("a registry exposes every metric under pyrexis_ unless told otherwise", () => {
    expect(DEFAULT_NAMESPACE).toBe("pyrexis");
    const m = busyRegistry(DEFAULT_NAMESPACE);
    expect(new MetricsRegistry().namespace).toBe("pyrexis");
    const text = new MetricsRegistry().toPrometheus() + m.toPrometheus();
    validate(m.toPrometheus());
    for (const line of text.trimEnd().split("\n")) expect(line.replace(/^# TYPE /, "")).toMatch(/^pyrexis_/);
    expect(text).toContain("# TYPE pyrexis_job_retries_total counter\npyrexis_job_retries_total 3\n");
    expect(text).toContain("pyrexis_requests_total 7\n");
    expect(text).toContain('pyrexis_queue_depth{queue="gpu"} 3\n');
    expect(text).toContain('pyrexis_job_execution_seconds_count{mode="thread"} 100\n');
    // A leading digit needs no escape behind the namespace.
    expect(text).toContain("pyrexis_9lives_total 1\n");
  });

  it('plain data is exposed under pyrexis_ by default, under any valid namespace, or bare with ""', () => {
    const data = { counters: [{ name: "job.done", labels: undefined, value: 1 }], gauges: [], timings: [] };
    expect(toPrometheusText(data)).toBe("# TYPE pyrexis_job_done_total counter\npyrexis_job_done_total 1\n");
    expect(toPrometheusText(data, { namespace: "acme_jobs" })).toBe(
      "# TYPE acme_jobs_job_done_total counter\nacme_jobs_job_done_total 1\n",
    );
    expect(toPrometheusText(data, { namespace: "" })).toBe("# TYPE job_done_total counter\njob_done_total 1\n");
    expect(new MetricsRegistry({ namespace: "acme" }).namespace).toBe("acme");
    expect(toPrometheusName("job.execution", "pyrexis")).toBe("pyrexis_job_execution");
  });

  it("a namespace that would make invalid names is refused with a TypeError naming it", () => {
    for (const bad of ["pyrexis_ ", "9lives", "a:b", "with-dash", "pyrexis.", " "]) {
      expect(() => new MetricsRegistry({ namespace: bad }), bad).toThrow(TypeError);
      expect(() => new MetricsRegistry({ namespace: bad }), bad).toThrow(JSON.stringify(bad));
      expect(() => toPrometheusText({ counters: [], gauges: [], timings: [] }, { namespace: bad }), bad).toThrow(TypeError);
    }
    // From JavaScript, a non-string is refused the same way.
    expect(() => new MetricsRegistry({ namespace: 42 as unknown as string })).toThrow(TypeError);
  });
});

describe("seconds without float noise", () => {
  /** The value of the exposition line starting with `prefix`. */
  function valueOf(text: string, prefix: string): string {
    const line = text.split("\n").find((l) => l.startsWith(prefix));
    expect(line, `no line starting with ${prefix}`).toBeDefined();
    return line!.slice(line!.lastIndexOf(" ") + 1);
  }

  it("quantiles and sums are seconds rounded to the microsecond", () => {
    const m = new MetricsRegistry();
    // The durations performance.now() differences produce: ms with binary-fraction noise.
    m.observe("t", 0.9801129999999602);
    const text = m.toPrometheus();
    for (const q of ["0.5", "0.95", "0.99"]) expect(valueOf(text, `pyrexis_t_seconds{quantile="${q}"}`)).toBe("0.00098");
    expect(valueOf(text, "pyrexis_t_seconds_sum")).toBe("0.00098");
    expect(valueOf(text, "pyrexis_t_seconds_count")).toBe("1");

    const many = new MetricsRegistry();
    for (let i = 0; i < 1000; i++) many.observe("t", 0.1);
    // The float sum of a thousand 0.1 ms drifted below 100 ms; the exposition says 0.1 s.
    expect(many.getTimings().t!.sum / 1000).not.toBe(0.1);
    expect(valueOf(many.toPrometheus(), "pyrexis_t_seconds_sum")).toBe("0.1");
  });

  it("every seconds value of a noisy series has at most six decimals and stays within 0.5 µs of the exact value", () => {
    const m = new MetricsRegistry();
    let x = 0.1;
    for (let i = 0; i < 500; i++) {
      x = (x * 1.37 + 0.000731) % 3000; // deterministic, irregular ms values with long fractions
      m.observe("noisy", x);
    }
    const t = m.getTimings().noisy!;
    const text = m.toPrometheus();
    const sum = valueOf(text, "pyrexis_noisy_seconds_sum");
    expect(sum).toMatch(/^\d+(\.\d{1,6})?$/);
    expect(Math.abs(Number(sum) - t.sum / 1000)).toBeLessThanOrEqual(5e-7);
    for (const [q, ms] of [
      ["0.5", t.p50],
      ["0.95", t.p95],
      ["0.99", t.p99],
    ] as const) {
      const v = valueOf(text, `pyrexis_noisy_seconds{quantile="${q}"}`);
      expect(v).toMatch(/^\d+(\.\d{1,6})?$/);
      expect(Math.abs(Number(v) - ms / 1000)).toBeLessThanOrEqual(5e-7);
    }
  });

  it("a large sum keeps microsecond resolution (rate() over it stays exact)", () => {
    const m = new MetricsRegistry();
    m.observe("long", 3_000_000_000.001); // 34 days and one microsecond
    expect(valueOf(m.toPrometheus(), "pyrexis_long_seconds_sum")).toBe("3000000.000001");
  });
});
